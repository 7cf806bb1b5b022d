//! The app commands, with cf's habits: `push`, `apps`, `app`, `start`,
//! `stop`, `restart`, `restage`, `scale`, `delete`, `env`, `set-env`,
//! `unset-env`, `events`, `run-task`, `tasks`, `logs`, `rollback`,
//! `continue-deployment`, `cancel-deployment`, `api`. They talk to the
//! app lifecycle API only (through `api-client`), found as `target`
//! says, so they work from any directory.

mod apps;
pub mod commands;
mod logs;
mod manifest;
mod package;
mod progress;
mod push;
pub mod target;
mod units;

pub use apps::{app, apps};
pub use logs::{bind_drain, logs, DEFAULT_LOGS_URL};
pub use push::{push, PushFlags};
