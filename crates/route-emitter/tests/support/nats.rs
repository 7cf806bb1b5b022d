//! The workspace's nats-server fixture.

pub use testkit::nats::NatsServer;
