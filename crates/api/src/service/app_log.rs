//! Cloud Controller's app log lines (its `AppLogEmitter`): what happens to
//! an app through the API is also a line in the app's log, source type
//! `API`, instance 0 (`cf logs` shows `[API/0] OUT Created app with guid
//! ...`). The lines are Cloud Controller's own texts, one per audit event
//! that has one there (its event repositories emit a line beside most
//! `Event.create`), shipped by logs-client's buffered sender as the cell's
//! lines are.
//!
//! They are sent once the event is stored: [`Logged`] wraps the API's
//! store and emits the lines of the audit events among a transaction's
//! rows after it commits, so no operation can record an event and forget
//! its line, and a refused one logs nothing.

use crate::store::{Change, EventRec, Filter, Kind, Record, Row, Store, StoreResult};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Cloud Controller's source type and instance for its lines.
pub const SOURCE_TYPE: &str = "API";
const INSTANCE: &str = "0";

/// The store, emitting the app log line of every audit event written.
pub struct Logged {
    inner: Arc<dyn Store>,
    sender: logs_client::Sender,
}

impl Logged {
    pub fn wrap(inner: Arc<dyn Store>, sender: logs_client::Sender) -> Arc<dyn Store> {
        Arc::new(Logged { inner, sender })
    }

    fn emit(&self, changes: &[Change]) {
        for c in changes {
            let Change::Put(Kind::Events, row) = c else {
                continue;
            };
            let Ok(ev) = EventRec::from_row(row) else {
                continue;
            };
            if let Some(text) = line(&ev) {
                let tags = HashMap::from([("app_name".to_string(), ev.target_name.clone())]);
                let mut env = logs_client::envelope::log(
                    &ev.app_guid,
                    INSTANCE,
                    SOURCE_TYPE,
                    false,
                    text,
                    &tags,
                );
                // The event's time, so lines and events agree.
                env.timestamp = ev.created_at;
                self.sender.send(env);
            }
        }
    }
}

#[async_trait]
impl Store for Logged {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        self.inner.schema_version().await
    }

    async fn get(&self, kind: Kind, guid: &str) -> StoreResult<Option<Row>> {
        self.inner.get(kind, guid).await
    }

    async fn list(&self, kind: Kind, filter: &Filter) -> StoreResult<Vec<Row>> {
        self.inner.list(kind, filter).await
    }

    async fn apply(&self, changes: &[Change]) -> StoreResult<()> {
        self.inner.apply(changes).await?;
        self.emit(changes);
        Ok(())
    }
}

/// Cloud Controller's line for an audit event (None: it logs none).
pub fn line(ev: &EventRec) -> Option<String> {
    let g = &ev.app_guid;
    let process_type = || {
        let d = &ev.data;
        d["process_type"]
            .as_str()
            .or(d["type"].as_str())
            .unwrap_or("web")
            .to_string()
    };
    Some(match ev.kind.as_str() {
        "audit.app.create" => format!("Created app with guid {g}"),
        "audit.app.update" | "audit.app.droplet.mapped" => format!(
            "Updated app with guid {g} ({})",
            ruby_inspect(
                ev.data
                    .get("request")
                    .unwrap_or(&Value::Object(Default::default()))
            )
        ),
        "audit.app.start" => format!("Starting app with guid {g}"),
        "audit.app.stop" => format!("Stopping app with guid {g}"),
        "audit.app.delete-request" => format!("Deleted app with guid {g}"),
        "audit.app.process.update" => format!("Updating process: \"{}\"", process_type()),
        "audit.app.process.scale" => format!("Scaling process: \"{}\"", process_type()),
        "audit.app.process.crash" => {
            format!("Process has crashed with type: \"{}\"", process_type())
        }
        "audit.app.package.create" => format!("Adding app package for app with guid {g}"),
        "audit.app.package.upload" => format!("Uploading app package for app with guid {g}"),
        "audit.app.build.create" => format!("Creating build for app with guid {g}"),
        "audit.app.droplet.create" => format!("Creating droplet for app with guid {g}"),
        "audit.app.deployment.create" => format!("Creating deployment for app with guid {g}"),
        "audit.app.deployment.cancel" => format!("Cancelling deployment for app with guid {g}"),
        _ => return None,
    })
}

/// A JSON value as Ruby's `inspect` prints the request hash in Cloud
/// Controller's lines: `{"state"=>"STARTED"}`.
pub fn ruby_inspect(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(ruby_inspect).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}=>{}", Value::String(k.clone()), ruby_inspect(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Cloud Controller's censoring of what a line may not show.
pub const PRIVATE_DATA_HIDDEN: &str = "PRIVATE DATA HIDDEN";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, data: Value) -> EventRec {
        EventRec {
            guid: "e".into(),
            app_guid: "app-1".into(),
            kind: kind.into(),
            actor: "cli".into(),
            target_name: "hello".into(),
            data,
            created_at: 1,
        }
    }

    #[test]
    fn lines_are_cloud_controllers() {
        assert_eq!(
            line(&ev("audit.app.create", json!({}))).unwrap(),
            "Created app with guid app-1"
        );
        assert_eq!(
            line(&ev(
                "audit.app.update",
                json!({"request": {"name": "new", "routes": ["a.b"]}})
            ))
            .unwrap(),
            r#"Updated app with guid app-1 ({"name"=>"new", "routes"=>["a.b"]})"#
        );
        assert_eq!(
            line(&ev(
                "audit.app.process.scale",
                json!({"process_type": "web"})
            ))
            .unwrap(),
            r#"Scaling process: "web""#
        );
        assert!(line(&ev("audit.app.task.create", json!({}))).is_none());
        assert_eq!(
            ruby_inspect(&json!({"a": null, "b": 2})),
            r#"{"a"=>nil, "b"=>2}"#
        );
    }
}
