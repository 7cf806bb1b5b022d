//! Stored records in their wire form (`models::capi`).

use crate::clock::rfc3339;
use crate::store::*;
use models::capi;

pub fn app(a: &AppRec, revision: Option<i64>) -> capi::App {
    capi::App {
        guid: a.guid.clone(),
        name: a.name.clone(),
        state: a.state.clone(),
        lifecycle: a.lifecycle.clone(),
        routes: a.routes.clone(),
        current_droplet_guid: a.droplet_guid.clone(),
        revision,
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
    }
}

fn sha(s: &Option<String>) -> Option<capi::Checksum> {
    s.as_ref().map(|v| capi::Checksum {
        kind: "sha256".into(),
        value: v.clone(),
    })
}

pub fn package(p: &PackageRec) -> capi::Package {
    capi::Package {
        guid: p.guid.clone(),
        app_guid: p.app_guid.clone(),
        kind: p.kind.clone(),
        state: p.state.clone(),
        image: p.image.clone(),
        checksum: sha(&p.sha256),
        size: p.size,
        created_at: rfc3339(p.created_at),
    }
}

pub fn build(b: &BuildRec) -> capi::Build {
    capi::Build {
        guid: b.guid.clone(),
        app_guid: b.app_guid.clone(),
        package_guid: b.package_guid.clone(),
        state: b.state.clone(),
        error: b.error.clone(),
        droplet_guid: b.droplet_guid.clone(),
        created_at: rfc3339(b.created_at),
    }
}

pub fn droplet(d: &DropletRec) -> capi::Droplet {
    capi::Droplet {
        guid: d.guid.clone(),
        app_guid: d.app_guid.clone(),
        package_guid: d.package_guid.clone(),
        state: d.state.clone(),
        process_types: d.process_types.clone(),
        execution_metadata: d.execution_metadata.clone(),
        image: d.image.clone(),
        checksum: sha(&d.sha256),
        stack: d.stack.clone(),
        buildpacks: d.buildpacks.clone(),
        created_at: rfc3339(d.created_at),
    }
}

pub fn revision(r: &RevisionRec) -> capi::Revision {
    capi::Revision {
        guid: r.guid.clone(),
        app_guid: r.app_guid.clone(),
        version: r.version,
        droplet_guid: r.droplet_guid.clone(),
        processes: r.commands.clone(),
        description: r.description.clone(),
        created_at: rfc3339(r.created_at),
    }
}

pub fn process(p: &ProcessRec) -> capi::Process {
    capi::Process {
        guid: p.guid.clone(),
        kind: p.kind.clone(),
        app_guid: p.app_guid.clone(),
        instances: p.instances,
        memory_in_mb: p.memory_mb,
        disk_in_mb: p.disk_mb,
        command: p.command.clone(),
        health_check: p.health_check.clone(),
        revision_guid: p.revision_guid.clone(),
        lrp_process_guid: p.lrp_guid(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

pub fn deployment(d: &DeploymentRec) -> capi::Deployment {
    capi::Deployment {
        guid: d.guid.clone(),
        app_guid: d.app_guid.clone(),
        state: d.state.clone(),
        status: capi::DeploymentStatus {
            value: d.state.clone(),
            reason: d.reason.clone(),
            details: d.details.clone(),
        },
        strategy: d.strategy.clone(),
        options: capi::DeploymentOptions {
            max_in_flight: d.max_in_flight,
        },
        droplet_guid: d.droplet_guid.clone(),
        previous_droplet_guid: d.previous_droplet_guid.clone(),
        revision_guid: d.revision_guid.clone(),
        revision_version: d.revision_version,
        new_processes: vec![capi::NewProcess {
            guid: d.process_guid.clone(),
            kind: capi::WEB.into(),
        }],
        new_instances_routable: d.routable,
        instances_wanted: d.instances_wanted,
        created_at: rfc3339(d.created_at),
        updated_at: rfc3339(d.updated_at),
    }
}

pub fn event(e: &EventRec) -> capi::AuditEvent {
    capi::AuditEvent {
        guid: e.guid.clone(),
        kind: e.kind.clone(),
        actor: capi::AuditActor {
            kind: if e.actor == "diego" { "system" } else { "user" }.into(),
            name: e.actor.clone(),
        },
        target: capi::AuditTarget {
            kind: "app".into(),
            guid: e.app_guid.clone(),
            name: e.target_name.clone(),
        },
        data: e.data.clone(),
        created_at: rfc3339(e.created_at),
    }
}

pub fn task(t: &TaskRec) -> capi::Task {
    capi::Task {
        guid: t.guid.clone(),
        app_guid: t.app_guid.clone(),
        name: t.name.clone(),
        command: t.command.clone(),
        state: t.state.clone(),
        sequence_id: t.sequence_id,
        memory_in_mb: t.memory_mb,
        disk_in_mb: t.disk_mb,
        failure_reason: t.failure_reason.clone(),
        created_at: rfc3339(t.created_at),
    }
}
