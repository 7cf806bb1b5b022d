//! Tests of the DesiredLRP family and of requests captured from a real
//! Diego BBS (testdata/ holds request bodies from the conformance corpus).

use std::collections::BTreeMap;

use prost::Message;

use super::actions::tests::run;
use super::rules::{MAX_ANNOTATION_BYTES, MAX_ROUTES_BYTES};
use super::{Validate, ValidationError};
use crate::desired_lrp_update::{
    OptionalAnnotation, OptionalImagePassword, OptionalImageUsername, OptionalInstances,
};
use crate::image_layer::{DigestAlgorithm, MediaType, Type as LayerType};
use crate::{
    CachedDependency, Check, CheckDefinition, DesireLrpRequest, DesireTaskRequest, DesiredLrp,
    DesiredLrpKey, DesiredLrpResource, DesiredLrpRunInfo, DesiredLrpSchedulingInfo,
    DesiredLrpUpdate, EnvironmentVariable, File, ImageLayer, LogRateLimit, MetricTagValue,
    ProtoRoutes, SecurityGroupRule, Sidecar, TaskGuidRequest, UpdateDesiredLrpRequest,
    UpsertDomainRequest, VolumeMount,
};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, MetricTagValue> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                MetricTagValue {
                    r#static: v.to_string(),
                    dynamic: 0,
                },
            )
        })
        .collect()
}

fn lrp() -> DesiredLrp {
    DesiredLrp {
        process_guid: "pg-1".into(),
        domain: "cf-apps".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances: 1,
        action: Some(run("/bin/app", "vcap")),
        metric_tags: tags(&[("source_id", "pg-1")]),
        ..Default::default()
    }
}

fn msg(r: Result<(), ValidationError>) -> String {
    r.expect_err("expected a validation failure").to_string()
}

#[test]
fn minimal_lrp_is_valid() {
    assert!(lrp().validate().is_ok());
    let mut l = lrp();
    l.metrics_guid = "pg-1".into();
    l.log_rate_limit = Some(LogRateLimit {
        bytes_per_second: -1,
    });
    l.image_username = "u".into();
    l.image_password = "p".into();
    l.check_definition = Some(CheckDefinition::default());
    assert!(l.validate().is_ok());
}

#[test]
fn process_guid_pattern() {
    for bad in ["", "a.b", "a/b", "a b"] {
        let mut l = lrp();
        l.process_guid = bad.into();
        assert_eq!(msg(l.validate()), "Invalid field: process_guid", "{bad:?}");
    }
}

#[test]
fn empty_record_lists_diego_problems_in_order() {
    // Domain and rootfs are each reported twice, as Diego does.
    assert_eq!(
        msg(DesiredLrp::default().validate()),
        "Invalid field: domain, Invalid field: rootfs, Invalid field: rootfs, \
         Invalid field: metric_tags, Invalid field: domain, Invalid field: process_guid, \
         invalid action type"
    );
}

#[test]
fn numeric_and_size_limits() {
    let mut l = lrp();
    l.root_fs = "cflinuxfs4".into();
    l.instances = -1;
    l.memory_mb = -1;
    l.disk_mb = -1;
    l.log_rate_limit = Some(LogRateLimit {
        bytes_per_second: -2,
    });
    l.annotation = "x".repeat(MAX_ANNOTATION_BYTES + 1);
    l.max_pids = -1;
    let mut routes = ProtoRoutes::default();
    routes
        .routes
        .insert("cf-router".into(), vec![b'x'; MAX_ROUTES_BYTES]);
    routes.routes.insert("tcp-router".into(), vec![b'y'; 1]);
    l.routes = Some(routes);
    assert_eq!(
        msg(l.validate()),
        "Invalid field: rootfs, Invalid field: instances, Invalid field: memory_mb, \
         Invalid field: disk_mb, Invalid field: log_rate_limit_bytes_per_second, \
         Invalid field: annotation, Invalid field: max_pids, Invalid field: routes, \
         Invalid field: log_rate_limit"
    );
    // Exactly at the limits is fine; cpu_weight is not limited by Diego.
    let mut l = lrp();
    l.annotation = "x".repeat(MAX_ANNOTATION_BYTES);
    l.cpu_weight = 1000;
    let mut routes = ProtoRoutes::default();
    routes
        .routes
        .insert("cf-router".into(), vec![b'x'; MAX_ROUTES_BYTES]);
    l.routes = Some(routes);
    assert!(l.validate().is_ok());
}

#[test]
fn metric_tags_rules() {
    let mut l = lrp();
    l.metric_tags.clear();
    assert_eq!(msg(l.validate()), "Invalid field: metric_tags");
    let mut l = lrp();
    l.metrics_guid = "other".into();
    assert_eq!(
        msg(l.validate()),
        "Invalid field: metric_tags, Invalid field: source_id should match metrics_guid"
    );
    let mut l = lrp();
    l.metric_tags.insert(
        "bad".into(),
        MetricTagValue {
            r#static: "x".into(),
            dynamic: 1,
        },
    );
    assert_eq!(
        msg(l.validate()),
        "Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic"
    );
}

#[test]
fn actions_setup_and_monitor() {
    let mut l = lrp();
    l.setup = Some(run("", "vcap"));
    l.action = Some(run("/x", ""));
    l.monitor = Some(crate::Action::default());
    assert_eq!(
        msg(l.validate()),
        "Invalid field: setup, Invalid field: path, Invalid field: action, \
         Invalid field: user, Invalid field: monitor, Invalid field: inner-action"
    );
    let mut l = lrp();
    l.action = None;
    assert_eq!(msg(l.validate()), "invalid action type");
}

#[test]
fn run_info_parts_in_order() {
    let mut l = lrp();
    l.environment_variables = vec![EnvironmentVariable::default()];
    l.egress_rules = vec![SecurityGroupRule {
        protocol: "bogus".into(),
        destinations: vec!["1.2.3.4".into()],
        ..Default::default()
    }];
    l.cached_dependencies = vec![CachedDependency {
        to: "/tmp".into(),
        ..Default::default()
    }];
    l.image_layers = vec![ImageLayer {
        url: "http://x".into(),
        destination_path: "/l".into(),
        layer_type: LayerType::Exclusive as i32,
        media_type: MediaType::Tgz as i32,
        digest_algorithm: DigestAlgorithm::Sha256 as i32,
        digest_value: "abc".into(),
        ..Default::default()
    }];
    l.sidecars = vec![Sidecar {
        action: None,
        ..Default::default()
    }];
    l.volume_mounts = vec![VolumeMount {
        driver: "nfs".into(),
        mode: "rw".into(),
        ..Default::default()
    }];
    l.volume_mounts.push(VolumeMount::default());
    l.image_password = "p".into();
    l.check_definition = Some(CheckDefinition {
        checks: vec![Check::default()],
        ..Default::default()
    });
    assert_eq!(
        msg(l.validate()),
        "invalid field: name cannot be blank, Invalid field: egress_rules, \
         Invalid field: protocol, Invalid field: cached_dependency, Invalid field: from, \
         Invalid field: legacy_download_user, Invalid field: sidecars, invalid action type, \
         invalid volume_mount driver, invalid volume_mount mode, \
         Invalid field: image_username, Invalid field: check_definition, Invalid field: port"
    );
    let mut l = lrp();
    l.image_username = "u".into();
    assert_eq!(msg(l.validate()), "Invalid field: image_password");
}

#[test]
fn volume_mounted_files_limit() {
    let mut l = lrp();
    l.volume_mounted_files = vec![
        File {
            path: "/a".into(),
            content: "x".repeat(1024 * 1024),
        },
        File {
            path: "/b".into(),
            content: "y".into(),
        },
    ];
    assert_eq!(
        msg(l.validate()),
        "Invalid field: volumeMountedFiles, Invalid field: volumeMountedFiles"
    );
    l.volume_mounted_files.pop();
    assert!(l.validate().is_ok());
}

#[test]
fn scheduling_and_run_info() {
    let s = DesiredLrpSchedulingInfo {
        desired_lrp_key: Some(DesiredLrpKey {
            process_guid: "pg".into(),
            domain: "d".into(),
            log_guid: String::new(),
        }),
        desired_lrp_resource: Some(DesiredLrpResource {
            root_fs: "docker:///busybox".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(s.validate().is_ok());
    let bad = DesiredLrpSchedulingInfo {
        instances: -1,
        annotation: "x".repeat(MAX_ANNOTATION_BYTES + 1),
        desired_lrp_resource: Some(DesiredLrpResource {
            memory_mb: -1,
            disk_mb: -1,
            max_pids: -1,
            root_fs: String::new(),
        }),
        ..Default::default()
    };
    assert_eq!(
        msg(bad.validate()),
        "Invalid field: domain, Invalid field: process_guid, Invalid field: rootfs, \
         Invalid field: memory_mb, Invalid field: disk_mb, Invalid field: max_pids, \
         Invalid field: instances, Invalid field: annotation"
    );
    assert_eq!(
        msg(DesiredLrpRunInfo::default().validate()),
        "Invalid field: domain, Invalid field: process_guid, invalid action type"
    );
    let r = DesiredLrpRunInfo {
        desired_lrp_key: s.desired_lrp_key.clone(),
        action: Some(run("/x", "u")),
        log_rate_limit: Some(LogRateLimit {
            bytes_per_second: -5,
        }),
        ..Default::default()
    };
    assert_eq!(msg(r.validate()), "Invalid field: log_rate_limit");
}

fn update() -> DesiredLrpUpdate {
    DesiredLrpUpdate {
        optional_instances: Some(OptionalInstances::Instances(3)),
        optional_annotation: Some(OptionalAnnotation::Annotation("a".into())),
        metric_tags: tags(&[("some-tag", "v")]),
        ..Default::default()
    }
}

#[test]
fn update_rules() {
    assert!(update().validate().is_ok());
    assert!(DesiredLrpUpdate::default().validate().is_ok());
    let mut u = update();
    u.optional_instances = Some(OptionalInstances::Instances(-1));
    u.optional_annotation = Some(OptionalAnnotation::Annotation(
        "x".repeat(MAX_ANNOTATION_BYTES + 1),
    ));
    let mut routes = ProtoRoutes::default();
    routes
        .routes
        .insert("r".into(), vec![0; MAX_ROUTES_BYTES + 1]);
    u.routes = Some(routes);
    u.metric_tags
        .insert("bad".into(), MetricTagValue::default());
    u.optional_image_username = Some(OptionalImageUsername::ImageUsername("u".into()));
    assert_eq!(
        msg(u.validate()),
        "Invalid field: instances, Invalid field: annotation, Invalid field: routes, \
         Invalid field: metric_tags, Invalid field: static, Invalid field: dynamic, \
         Invalid field: image_password"
    );
    let mut u = update();
    u.optional_image_password = Some(OptionalImagePassword::ImagePassword(String::new()));
    assert_eq!(msg(u.validate()), "Invalid field: image_username");
    u.optional_image_username = Some(OptionalImageUsername::ImageUsername(String::new()));
    assert!(u.validate().is_ok());
}

#[test]
fn lrp_requests() {
    assert_eq!(
        msg(DesireLrpRequest::default().validate()),
        "Invalid field: desired_lrp"
    );
    assert!(DesireLrpRequest {
        desired_lrp: Some(lrp())
    }
    .validate()
    .is_ok());
    assert_eq!(
        msg(UpdateDesiredLrpRequest::default().validate()),
        "Invalid field: process_guid"
    );
    let mut u = update();
    u.optional_instances = Some(OptionalInstances::Instances(-2));
    assert_eq!(
        msg(UpdateDesiredLrpRequest {
            process_guid: "pg".into(),
            update: Some(u)
        }
        .validate()),
        "Invalid field: instances"
    );
    assert_eq!(
        msg(crate::RemoveDesiredLrpRequest::default().validate()),
        "Invalid field: process_guid"
    );
    assert_eq!(
        msg(crate::DesiredLrpByProcessGuidRequest::default().validate()),
        "Invalid field: process_guid"
    );
    assert!(crate::DesiredLrPsRequest::default().validate().is_ok());
}

// --- requests captured from a real Diego BBS ---------------------------------

#[test]
fn conformance_invalid_desired_lrp_message() {
    let body = include_bytes!("testdata/22-create-desired-lrp-invalid.request.bin");
    let req = DesireLrpRequest::decode(&body[..]).unwrap();
    let err = req.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid field: metric_tags, Invalid field: source_id should match metrics_guid"
    );
    let bbs: crate::BbsError = err.into();
    assert_eq!(bbs.kind, crate::pb::error::Type::InvalidRequest);
}

#[test]
fn conformance_valid_requests() {
    let body = include_bytes!("testdata/03-create-desired-lrp.request.bin");
    let req = DesireLrpRequest::decode(&body[..]).unwrap();
    assert_eq!(req.validate(), Ok(()));

    let body = include_bytes!("testdata/08-create-task.request.bin");
    let req = DesireTaskRequest::decode(&body[..]).unwrap();
    assert_eq!(req.validate(), Ok(()));

    let body = include_bytes!("testdata/15-update-desired-lrp.request.bin");
    let req = UpdateDesiredLrpRequest::decode(&body[..]).unwrap();
    assert_eq!(req.validate(), Ok(()));

    let body = include_bytes!("testdata/01-set-domain.request.bin");
    let req = UpsertDomainRequest::decode(&body[..]).unwrap();
    assert_eq!(req.validate(), Ok(()));

    for body in [
        &include_bytes!("testdata/11-cancel-task.request.bin")[..],
        &include_bytes!("testdata/13-delete-task.request.bin")[..],
        &include_bytes!("testdata/13-delete-task.request-2.bin")[..],
    ] {
        let req = TaskGuidRequest::decode(body).unwrap();
        assert_eq!(req.validate(), Ok(()));
    }
}
