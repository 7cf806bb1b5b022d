//! The operator's commands of `diego dev`: `push`, `apps`, `scale`,
//! `delete`, `logs`. They talk to the dev system's BBS (through
//! `bbs_client`), read logs from its reps (through `rep_client`) and put
//! app packages where its file server serves them.

mod apps;
mod bbs;
mod delete;
mod desired_lrp;
mod docker_lrp;
mod logs;
mod package;
mod progress;
mod push;
mod scale;

pub use apps::apps;
pub use delete::delete;
pub use desired_lrp::DEFAULT_MEMORY_MB;
pub use logs::logs;
pub use push::{push, PushArgs, PushSource};
pub use scale::scale;

/// Every dev app lives in this domain.
pub const DOMAIN: &str = "diego-dev";
/// The dev system's BBS (`diego dev`'s fixed address).
pub const DEFAULT_BBS_URL: &str = "http://127.0.0.1:8889";
/// Where the dev file server serves `<data-dir>/static`.
pub const FILE_SERVER_STATIC_URL: &str = "http://127.0.0.1:8084/v1/static/";

/// The app's address through the dev router.
pub fn app_url(app: &str) -> String {
    format!("http://{app}.localhost:8080")
}
