//! Go `time.Duration` values in JSON config (the shared parser in models).

pub use models::go_duration::{parse_go_duration as parse, GoDuration};
