//! The routing table and its diffs, without I/O.

use route_emitter::diff::diff;
use route_emitter::events::LrpEvent;
use route_emitter::handler::apply;
use route_emitter::routing_table::RoutingTable;

fn desired(guid: &str, instances: i32, routes: &str, tag_index: u32) -> models::DesiredLrp {
    let mut r = models::ProtoRoutes::default();
    r.routes
        .insert("cf-router".into(), routes.as_bytes().to_vec());
    models::DesiredLrp {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        instances,
        log_guid: "log".into(),
        routes: Some(r),
        modification_tag: Some(models::ModificationTag {
            epoch: "e".into(),
            index: tag_index,
        }),
        ..Default::default()
    }
}

fn running(guid: &str, index: i32, ig: &str, port: u32, evacuating: bool) -> models::ActualLrp {
    models::ActualLrp {
        actual_lrp_key: Some(models::ActualLrpKey::new(guid, index, "cf-apps")),
        actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new(ig, "cell")),
        actual_lrp_net_info: Some(models::ActualLrpNetInfo {
            address: "10.0.0.1".into(),
            instance_address: "10.255.0.2".into(),
            ports: vec![models::PortMapping {
                container_port: 8080,
                host_port: port,
                ..Default::default()
            }],
            ..Default::default()
        }),
        state: "RUNNING".into(),
        since: 42,
        presence: if evacuating {
            models::actual_lrp::Presence::Evacuating as i32
        } else {
            0
        },
        ..Default::default()
    }
}

const ROUTE: &str = r#"[{"hostnames":["a.example.com","b.example.com"],"port":8080}]"#;

fn addrs(t: &RoutingTable, guid: &str) -> Vec<(String, u32)> {
    t.messages_for(guid)
        .values()
        .map(|m| (m.uris[0].clone(), m.port))
        .collect()
}

#[test]
fn one_registration_per_hostname_and_instance_within_the_desired_count() {
    let mut t = RoutingTable::new(false);
    t.set_desired(&desired("pg", 1, ROUTE, 1));
    t.add_endpoint(&running("pg", 0, "ig-0", 61000, false));
    t.add_endpoint(&running("pg", 1, "ig-1", 61001, false));
    assert_eq!(
        addrs(&t, "pg"),
        [
            ("a.example.com".into(), 61000),
            ("b.example.com".into(), 61000)
        ],
        "index 1 is beyond the desired count"
    );
    // Only the container port a route names is routed.
    t.set_desired(&desired(
        "pg",
        2,
        r#"[{"hostnames":["a.example.com"],"port":9999}]"#,
        2,
    ));
    assert!(addrs(&t, "pg").is_empty());
}

#[test]
fn stale_desired_updates_are_ignored() {
    let mut t = RoutingTable::new(false);
    t.set_desired(&desired("pg", 1, ROUTE, 5));
    t.set_desired(&desired("pg", 1, r#"[]"#, 4));
    t.add_endpoint(&running("pg", 0, "ig-0", 61000, false));
    assert_eq!(addrs(&t, "pg").len(), 2);
}

#[test]
fn evacuation_keeps_the_instance_until_its_evacuating_record_goes() {
    let mut t = RoutingTable::new(false);
    t.set_desired(&desired("pg", 1, ROUTE, 1));
    let ordinary = running("pg", 0, "ig-0", 61000, false);
    t.add_endpoint(&ordinary);
    let evacuating = running("pg", 0, "ig-0", 61000, true);
    let before = t.messages_for("pg");
    apply(
        &mut t,
        &LrpEvent::InstanceChanged {
            before: Box::new(ordinary.clone()),
            after: Box::new(evacuating.clone()),
        },
    );
    assert!(diff(&before, &t.messages_for("pg")).is_empty(), "no flap");
    apply(&mut t, &LrpEvent::InstanceRemoved(evacuating));
    let e = diff(&before, &t.messages_for("pg"));
    assert_eq!(e.unregister.len(), 2);
    assert!(e.register.is_empty());
}

#[test]
fn diffs_say_when_an_endpoint_is_new_and_re_register_changed_options() {
    let mut t = RoutingTable::new(false);
    t.set_desired(&desired("pg", 1, ROUTE, 1));
    let empty = t.messages_for("pg");
    t.add_endpoint(&running("pg", 0, "ig-0", 61000, false));
    let one = t.messages_for("pg");
    let e = diff(&empty, &one);
    assert_eq!(e.register.len(), 2);
    assert!(e.register.iter().all(|m| m.endpoint_updated_at_ns == 42));

    t.set_desired(&desired(
        "pg",
        1,
        r#"[{"hostnames":["a.example.com","b.example.com","c.example.com"],"port":8080,
             "options":{"loadbalancing":"least-connection"}}]"#,
        2,
    ));
    let e = diff(&one, &t.messages_for("pg"));
    assert!(e.unregister.is_empty());
    assert_eq!(
        e.register.len(),
        3,
        "two with new options, one new hostname"
    );
    assert!(e.register.iter().all(|m| m.endpoint_updated_at_ns == 0));
    assert!(e.register.iter().all(|m| m.options.is_some()));
}

#[test]
fn direct_instance_routes_and_preferred_address() {
    let mut t = RoutingTable::new(true);
    t.set_desired(&desired("pg", 1, r#"[{"hostnames":["a"],"port":8080}]"#, 1));
    let mut lrp = running("pg", 0, "ig-0", 61000, false);
    t.add_endpoint(&lrp);
    let m = t.messages_for("pg").into_values().next().unwrap();
    assert_eq!((m.host.as_str(), m.port), ("10.255.0.2", 8080));
    // An instance that prefers its host address overrides the default.
    lrp.actual_lrp_net_info.as_mut().unwrap().preferred_address =
        models::actual_lrp_net_info::PreferredAddress::Host as i32;
    lrp.modification_tag = Some(models::ModificationTag {
        epoch: "x".into(),
        index: 1,
    });
    t.add_endpoint(&lrp);
    let m = t.messages_for("pg").into_values().next().unwrap();
    assert_eq!((m.host.as_str(), m.port), ("10.0.0.1", 61000));
}

#[test]
fn a_sync_keeps_routes_of_domains_that_are_not_fresh() {
    let mut old = RoutingTable::new(false);
    old.set_desired(&desired("pg", 1, ROUTE, 1));
    let mut fresh = RoutingTable::new(false);
    fresh.add_endpoint(&running("pg", 0, "ig-0", 61000, false));
    old.keep_unfresh_routes(&mut fresh, &["other-domain".to_string()]);
    assert_eq!(addrs(&fresh, "pg").len(), 2);
    let mut fresh = RoutingTable::new(false);
    old.keep_unfresh_routes(&mut fresh, &["cf-apps".to_string()]);
    assert!(
        !fresh.has_desired("pg"),
        "a fresh domain's missing LRP is gone"
    );
}
