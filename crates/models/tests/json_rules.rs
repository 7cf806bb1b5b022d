//! Go `encoding/json` rules as they apply to the models: escaping, omitted
//! and null members, promoted members, oneofs, enums, decoding leniency and
//! errors, and round trips.

use std::collections::BTreeMap;

use models::json::{from_go_json, GoJson, JsonError};
use models::*;

fn lrp() -> DesiredLrp {
    DesiredLrp {
        process_guid: "pg".into(),
        domain: "d".into(),
        root_fs: "docker:///a<b>&c".into(),
        instances: 1,
        action: Some(Action {
            run_action: Some(RunAction {
                path: "/bin/true".into(),
                resource_limits: Some(ResourceLimits {
                    optional_nofile: Some(resource_limits::OptionalNofile::Nofile(0)),
                    optional_nproc: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        routes: Some(ProtoRoutes {
            routes: BTreeMap::from([(
                "cf-router".to_string(),
                br#"[ {"hostnames": ["a&b"]} ]"#.to_vec(),
            )]),
        }),
        metric_tags: BTreeMap::from([(
            "idx".to_string(),
            MetricTagValue {
                r#static: String::new(),
                dynamic: metric_tag_value::DynamicValue::Index as i32,
            },
        )]),
        ..Default::default()
    }
}

#[test]
fn desired_lrp_encodes_like_go() {
    assert_eq!(
        lrp().to_go_json(),
        concat!(
            r#"{"process_guid":"pg","domain":"d","rootfs":"docker:///a\u003cb\u003e\u0026c","#,
            r#""instances":1,"env":null,"action":{"run":{"path":"/bin/true","#,
            r#""resource_limits":{"nofile":0},"user":"","suppress_log_output":false}},"#,
            r#""start_timeout_ms":0,"disk_mb":0,"memory_mb":0,"cpu_weight":0,"privileged":false,"#,
            r#""routes":{"cf-router":[{"hostnames":["a\u0026b"]}]},"log_source":"","log_guid":"","#,
            r#""metrics_guid":"","annotation":"","max_pids":0,"metric_tags":{"idx":{"dynamic":"INDEX"}}}"#
        )
    );
    assert!(lrp().to_go_json_line().ends_with("}\n"));
}

#[test]
fn empty_routes_pointer_is_null_and_missing_is_omitted() {
    let mut d = DesiredLrp {
        routes: Some(ProtoRoutes::default()),
        ..Default::default()
    };
    assert!(d.to_go_json().contains(r#""routes":null"#));
    d.routes = None;
    assert!(!d.to_go_json().contains("routes"));
}

#[test]
fn actual_lrp_promotes_embedded_members() {
    let a = ActualLrp {
        actual_lrp_key: Some(ActualLrpKey {
            process_guid: "p".into(),
            index: 3,
            domain: "d".into(),
        }),
        state: "RUNNING".into(),
        presence: actual_lrp::Presence::Evacuating as i32,
        ..Default::default()
    };
    assert_eq!(
        a.to_go_json(),
        concat!(
            r#"{"process_guid":"p","index":3,"domain":"d","instance_guid":"","cell_id":"","#,
            r#""address":"","ports":null,"preferred_address":"UNKNOWN","crash_count":0,"#,
            r#""state":"RUNNING","since":0,"modification_tag":{"epoch":"","index":0},"#,
            r#""presence":"EVACUATING","OptionalRoutable":null,"availability_zone":""}"#
        )
    );
    let back: ActualLrp = from_go_json(&a.to_go_json()).unwrap();
    assert_eq!(back.actual_lrp_key, a.actual_lrp_key);
    assert_eq!(back.presence, a.presence);
}

#[test]
fn task_without_definition_skips_its_members() {
    let t = Task {
        task_guid: "t".into(),
        state: task::State::Resolving as i32,
        ..Default::default()
    };
    let json = t.to_go_json();
    assert!(
        json.starts_with(r#"{"task_guid":"t","domain":"""#),
        "{json}"
    );
    assert!(json.contains(r#""state":"Resolving""#));
    let back: Task = from_go_json(&json).unwrap();
    assert_eq!(back, t);
}

#[test]
fn unknown_enum_values_fall_back_like_gogo() {
    let e = Error {
        r#type: 99,
        message: "m".into(),
    };
    assert_eq!(e.to_go_json(), r#"{"type":"99","message":"m"}"#);
    let e = Error {
        r#type: 13, // ResourceNotFound
        message: String::new(),
    };
    assert_eq!(
        e.to_go_json(),
        r#"{"type":"ResourceNotFound","message":""}"#
    );
    assert_eq!(from_go_json::<Error>(&e.to_go_json()).unwrap(), e);
}

#[test]
fn desired_lrp_update_writes_only_set_members() {
    let u = DesiredLrpUpdate {
        optional_instances: Some(desired_lrp_update::OptionalInstances::Instances(0)),
        optional_annotation: Some(desired_lrp_update::OptionalAnnotation::Annotation(
            String::new(),
        )),
        ..Default::default()
    };
    assert_eq!(u.to_go_json(), r#"{"instances":0,"annotation":""}"#);
    assert_eq!(
        from_go_json::<DesiredLrpUpdate>(&u.to_go_json()).unwrap(),
        u
    );
    assert_eq!(DesiredLrpUpdate::default().to_go_json(), "{}");
}

#[test]
fn cell_presence_round_trips() {
    let c = CellPresence {
        cell_id: "cell-1".into(),
        rep_address: "http://10.0.0.1:1800".into(),
        zone: "z1".into(),
        capacity: Some(CellCapacity {
            memory_mb: 1024,
            disk_mb: 2048,
            containers: 250,
        }),
        rootfs_providers: vec![Provider {
            name: "preloaded".into(),
            properties: vec!["cflinuxfs4".into()],
        }],
        rep_url: "https://cell-1:1801".into(),
        ..Default::default()
    };
    assert_eq!(
        c.to_go_json(),
        concat!(
            r#"{"cell_id":"cell-1","rep_address":"http://10.0.0.1:1800","zone":"z1","#,
            r#""capacity":{"memory_mb":1024,"disk_mb":2048,"containers":250},"#,
            r#""rootfs_provider_list":[{"name":"preloaded","properties":["cflinuxfs4"]}],"#,
            r#""rep_url":"https://cell-1:1801"}"#
        )
    );
    assert_eq!(from_go_json::<CellPresence>(&c.to_go_json()).unwrap(), c);
}

#[test]
fn desired_lrp_round_trips() {
    let d = lrp();
    let back: DesiredLrp = from_go_json(&d.to_go_json()).unwrap();
    // Routes come back as the compacted text Go wrote.
    let mut expected = d.clone();
    expected.routes.as_mut().unwrap().routes.insert(
        "cf-router".into(),
        br#"[{"hostnames":["a\u0026b"]}]"#.to_vec(),
    );
    assert_eq!(back, expected);
}

#[test]
fn decoding_is_lenient_where_go_is() {
    let d: DesiredLrp = from_go_json(
        r#"{"PROCESS_GUID":"p","Domain":"d","unknown":{"x":[1]},"rootfs":null,"instances":2,
            "env":null,"routes":{"r":  {"a" : 1}  }}"#,
    )
    .unwrap();
    assert_eq!(d.process_guid, "p");
    assert_eq!(d.domain, "d");
    assert_eq!(d.instances, 2);
    assert_eq!(d.routes.unwrap().routes["r"], br#"{"a" : 1}"#.to_vec());
    // Later duplicates win.
    let t: Task = from_go_json(r#"{"task_guid":"a","task_guid":"b"}"#).unwrap();
    assert_eq!(t.task_guid, "b");
}

#[test]
fn decoding_errors_read_like_go() {
    let err = from_go_json::<DesiredLrp>(r#"{"instances":"2"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal string into Go struct field DesiredLRP.instances of type int32"
    );
    let err = from_go_json::<DesiredLrp>(r#"{"instances":1.5}"#).unwrap_err();
    assert!(matches!(err, JsonError::Type { ref value, .. } if value == "number 1.5"));
    let err = from_go_json::<DesiredLrp>(r#"{"instances":3000000000}"#).unwrap_err();
    assert!(err.to_string().contains("number 3000000000"));
    let err = from_go_json::<ActualLrp>(r#"{"presence":"NOPE"}"#).unwrap_err();
    assert_eq!(err.to_string(), "invalid presence: NOPE");
    let err = from_go_json::<DesiredLrp>(r#"{"action":{"run":{"path":7}}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal number into Go struct field RunAction.action.run.path of type string"
    );
    let err = from_go_json::<DesiredLrp>("{").unwrap_err();
    assert_eq!(err.to_string(), "unexpected end of JSON input");
    assert!(from_go_json::<Task>("[]").is_err());
}

#[test]
fn strings_and_lists_print_like_cfdot() {
    assert_eq!(
        "goref-domain".to_string().to_go_json_line(),
        "\"goref-domain\"\n"
    );
    assert_eq!("<&>".to_string().to_go_json(), r#""\u003c\u0026\u003e""#);
    assert_eq!(Vec::<String>::new().to_go_json(), "null");
}
