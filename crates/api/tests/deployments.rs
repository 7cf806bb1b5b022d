//! Deployments against a real BBS, the cell played through the BBS's
//! internal API: rolling (new instances up max_in_flight at a time, the
//! old ones down as the new become routable, the old LRP gone at the
//! end), a crashing revision holding the rollout with the old instances
//! untouched, canary pause/continue and cancel, a push superseding a
//! deployment, and rollback to an earlier revision.

mod support;

use models::capi::*;
use support::{eventually, Db, Env};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Db::Sqlite, concat!(stringify!($name), " sqlite")).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Db::Postgres, concat!(stringify!($name), " postgres")).await
            }
        }
    };
}

fn deploy(app: &str, droplet: Option<&str>, strategy: &str) -> CreateDeployment {
    CreateDeployment {
        relationships: DeploymentRelationships {
            app: ToOne::to(app),
        },
        droplet: droplet.map(|d| GuidRef { guid: d.into() }),
        revision: None,
        strategy: Some(strategy.into()),
        options: None,
    }
}

async fn state(e: &Env, guid: &str) -> (String, String) {
    let d = e.client.deployment(guid).await.unwrap();
    (d.status.value, d.status.reason)
}

/// The instance counts of the app's web processes, oldest first.
async fn counts(e: &Env, app: &str) -> Vec<i32> {
    e.web(app).await.iter().map(|p| p.instances).collect()
}

both!(rolling_replaces_instances_one_at_a_time);
async fn rolling_replaces_instances_one_at_a_time(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("roll", 2).await;
    let old = e.web(&app.guid).await.remove(0);
    e.run_instances(&old.lrp_process_guid).await;
    let v2 = e.stage(&app.guid, "v2").await;
    let d = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v2), ROLLING), None)
        .await
        .unwrap();
    assert_eq!(
        (d.status.value.as_str(), d.status.reason.as_str()),
        (ACTIVE, "DEPLOYING")
    );
    assert_eq!(d.revision_version, 2);
    // One new instance beside both old ones; nothing moves until it runs.
    assert_eq!(counts(&e, &app.guid).await, [2, 1]);
    let new = e.web(&app.guid).await.pop().unwrap();
    assert_ne!(new.lrp_process_guid, old.lrp_process_guid);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(counts(&e, &app.guid).await, [2, 1]);
    assert_eq!(e.lrp(&old.lrp_process_guid).await.unwrap().instances, 2);
    // It runs: one old one goes, a second new one comes.
    e.run_instances(&new.lrp_process_guid).await;
    eventually("the second step", 10, || async {
        (counts(&e, &app.guid).await == [1, 2]).then_some(())
    })
    .await;
    // The API's processes change first, the BBS's LRPs right after.
    eventually("the LRPs to follow", 10, || async {
        let old_n = e.lrp(&old.lrp_process_guid).await.unwrap().instances;
        let new_n = e.lrp(&new.lrp_process_guid).await.unwrap().instances;
        (old_n == 1 && new_n == 2).then_some(())
    })
    .await;
    e.run_instances(&new.lrp_process_guid).await;
    eventually("the deployment to finish", 10, || async {
        (state(&e, &d.guid).await == (FINALIZED.into(), "DEPLOYED".into())).then_some(())
    })
    .await;
    assert_eq!(counts(&e, &app.guid).await, [2]);
    assert!(
        e.lrp(&old.lrp_process_guid).await.is_none(),
        "the old LRP is gone"
    );
    let app = e.client.app(&app.guid).await.unwrap();
    assert_eq!(app.revision, Some(2));
    assert_eq!(app.current_droplet_guid.as_deref(), Some(v2.as_str()));
}

both!(a_crashing_revision_holds_the_rollout_and_old_instances_serve);
async fn a_crashing_revision_holds_the_rollout_and_old_instances_serve(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("holdon", 2).await;
    let old = e.web(&app.guid).await.remove(0);
    e.run_instances(&old.lrp_process_guid).await;
    let v2 = e.stage(&app.guid, "v2").await;
    let d = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v2), ROLLING), None)
        .await
        .unwrap();
    let new = e.web(&app.guid).await.pop().unwrap();
    e.crash(
        &new.lrp_process_guid,
        0,
        "APP/PROC/WEB: Exited with status 1",
    )
    .await;
    let details = eventually("the crash in the status", 10, || async {
        let d = e.client.deployment(&d.guid).await.unwrap();
        (!d.status.details.is_empty()).then_some(d.status.details)
    })
    .await;
    assert!(details.contains("Exited with status 1"), "{details}");
    assert_eq!(
        state(&e, &d.guid).await,
        (ACTIVE.into(), "DEPLOYING".into())
    );
    assert_eq!(counts(&e, &app.guid).await, [2, 1]);
    assert_eq!(e.lrp(&old.lrp_process_guid).await.unwrap().instances, 2);
    // A fixed push supersedes it and finishes from where things stand.
    let v3 = e.stage(&app.guid, "v3").await;
    let d3 = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v3), ROLLING), None)
        .await
        .unwrap();
    assert_eq!(
        state(&e, &d.guid).await,
        (FINALIZED.into(), "SUPERSEDED".into())
    );
    assert_eq!(d3.instances_wanted, 2);
    let newest = e.web(&app.guid).await.pop().unwrap();
    for _ in 0..2 {
        e.run_instances(&newest.lrp_process_guid).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    eventually("the second deployment to finish", 10, || async {
        e.run_instances(&newest.lrp_process_guid).await;
        (state(&e, &d3.guid).await.1 == "DEPLOYED").then_some(())
    })
    .await;
    assert_eq!(counts(&e, &app.guid).await, [2]);
    assert!(e.lrp(&new.lrp_process_guid).await.is_none());
    assert!(e.lrp(&old.lrp_process_guid).await.is_none());
}

both!(canary_pauses_then_continues_or_cancels);
async fn canary_pauses_then_continues_or_cancels(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("bird", 2).await;
    let old = e.web(&app.guid).await.remove(0);
    e.run_instances(&old.lrp_process_guid).await;

    // Paused, then cancelled: the old process is all that is left.
    let v2 = e.stage(&app.guid, "v2").await;
    let d = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v2), CANARY), None)
        .await
        .unwrap();
    let canary = e.web(&app.guid).await.pop().unwrap();
    assert_eq!(canary.instances, 1);
    e.run_instances(&canary.lrp_process_guid).await;
    eventually("the canary to pause", 10, || async {
        (state(&e, &d.guid).await.1 == "PAUSED").then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(counts(&e, &app.guid).await, [2, 1], "paused: nothing moves");
    let c = e.client.deployment_action(&d.guid, "cancel").await.unwrap();
    assert_eq!(
        (c.status.value.as_str(), c.status.reason.as_str()),
        (FINALIZED, "CANCELED")
    );
    assert_eq!(counts(&e, &app.guid).await, [2]);
    assert!(e.lrp(&canary.lrp_process_guid).await.is_none());
    assert_eq!(e.lrp(&old.lrp_process_guid).await.unwrap().instances, 2);
    let a = e.client.app(&app.guid).await.unwrap();
    assert_ne!(
        a.current_droplet_guid.as_deref(),
        Some(v2.as_str()),
        "droplet restored"
    );
    let err = e
        .client
        .deployment_action(&d.guid, "continue")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));

    // Paused, then continued: it rolls on to the end.
    let d = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v2), CANARY), None)
        .await
        .unwrap();
    let canary = e.web(&app.guid).await.pop().unwrap();
    e.run_instances(&canary.lrp_process_guid).await;
    eventually("the canary to pause", 10, || async {
        (state(&e, &d.guid).await.1 == "PAUSED").then_some(())
    })
    .await;
    e.client
        .deployment_action(&d.guid, "continue")
        .await
        .unwrap();
    eventually("the deployment to finish", 10, || async {
        e.run_instances(&canary.lrp_process_guid).await;
        (state(&e, &d.guid).await.1 == "DEPLOYED").then_some(())
    })
    .await;
    assert_eq!(counts(&e, &app.guid).await, [2]);
    let kinds: Vec<String> = e
        .client
        .events(&app.guid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "audit.app.deployment.create",
        "audit.app.deployment.cancel",
        "audit.app.deployment.continue",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

both!(rollback_deploys_an_earlier_revision);
async fn rollback_deploys_an_earlier_revision(db: Db, test: &str) {
    let Some(e) = support::env(db, test).await else {
        return;
    };
    let app = e.push("back", 1).await;
    let v1 = e
        .client
        .app(&app.guid)
        .await
        .unwrap()
        .current_droplet_guid
        .unwrap();
    let v2 = e.stage(&app.guid, "v2").await;
    let d = e
        .client
        .create_deployment(&deploy(&app.guid, Some(&v2), ROLLING), None)
        .await
        .unwrap();
    eventually("v2", 10, || async {
        e.run_instances(&e.web(&app.guid).await.pop().unwrap().lrp_process_guid)
            .await;
        (state(&e, &d.guid).await.1 == "DEPLOYED").then_some(())
    })
    .await;
    let revs = e.client.revisions(&app.guid).await.unwrap();
    let mut req = deploy(&app.guid, None, ROLLING);
    req.revision = Some(GuidRef {
        guid: revs[0].guid.clone(),
    });
    let d = e.client.create_deployment(&req, None).await.unwrap();
    assert_eq!(d.revision_version, 3);
    assert_eq!(d.droplet_guid, v1);
    eventually("the rollback", 10, || async {
        e.run_instances(&e.web(&app.guid).await.pop().unwrap().lrp_process_guid)
            .await;
        (state(&e, &d.guid).await.1 == "DEPLOYED").then_some(())
    })
    .await;
    let revs = e.client.revisions(&app.guid).await.unwrap();
    assert_eq!(
        revs.last().unwrap().description,
        "Rolled back to revision 1."
    );
    assert_eq!(
        e.client.app(&app.guid).await.unwrap().current_droplet_guid,
        Some(v1)
    );
    // Scaling waits for no deployment now; during one it is refused.
    let v3 = e.stage(&app.guid, "v3").await;
    e.client
        .create_deployment(&deploy(&app.guid, Some(&v3), ROLLING), None)
        .await
        .unwrap();
    let p = e.web(&app.guid).await.remove(0);
    let err = e
        .client
        .scale(
            &p.guid,
            &Scale {
                instances: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("deployment in flight"), "{err}");
}
