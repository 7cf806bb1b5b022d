//! When to re-emit the whole table (Diego's route broadcast scheduler, one
//! per external service: `router` for the routes, `service-discovery` for
//! the internal routes when the internal emitter is on): greet the service
//! (`SERVICE.greet` with a reply inbox) until one answers with its
//! `minimumRegisterIntervalInSeconds`, then re-emit at that interval; a
//! service that (re)starts announces `SERVICE.start`, and the table is
//! re-emitted after a random jitter. Ours also re-emits (after
//! the same jitter, coalesced) when a party other than a route-emitter
//! greets, so a late subscriber gets the table without waiting an interval;
//! route-emitters' own greetings, meant for routers, are ignored so that
//! starting emitters do not make every other emitter re-send its table.

use futures::StreamExt;
use rand::Rng;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The routers, for `router.register`.
pub const ROUTER: &str = "router";
/// Service discovery, for `service-discovery.register`.
pub const SERVICE_DISCOVERY: &str = "service-discovery";
const MAX_GREET_ATTEMPTS: u32 = 30;

#[derive(Debug, Deserialize)]
struct RouterStart {
    #[serde(rename = "minimumRegisterIntervalInSeconds", default)]
    minimum_register_interval_in_seconds: u64,
}

fn interval_of(payload: &[u8]) -> Option<Duration> {
    match serde_json::from_slice::<RouterStart>(payload) {
        Ok(s) if s.minimum_register_interval_in_seconds > 0 => {
            Some(Duration::from_secs(s.minimum_register_interval_in_seconds))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "received-invalid-router-start");
            None
        }
    }
}

pub struct Broadcast {
    /// [`ROUTER`] or [`SERVICE_DISCOVERY`].
    pub service: &'static str,
    pub nats: async_nats::Client,
    pub jitter_factor: f64,
    /// Used until a router tells its interval.
    pub default_interval: Duration,
    /// One pending request is enough: a re-emit already queued covers it.
    pub emit_all: mpsc::Sender<()>,
}

impl Broadcast {
    fn emit(&self) {
        let _ = self.emit_all.try_send(());
    }

    fn jitter(&self, interval: Duration) -> Duration {
        let max = interval.as_secs_f64() * self.jitter_factor;
        if max <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..max))
    }

    /// Subscribes before anything else runs, so no router start or
    /// greeting is missed.
    pub async fn subscribe(self) -> anyhow::Result<Subscribed> {
        let inbox = self.nats.new_inbox();
        let answers = self.nats.subscribe(inbox.clone()).await?;
        let starts = self
            .nats
            .subscribe(format!("{}.start", self.service))
            .await?;
        let greets = self
            .nats
            .subscribe(format!("{}.greet", self.service))
            .await?;
        self.nats.flush().await?;
        Ok(Subscribed {
            b: self,
            inbox,
            answers,
            starts,
            greets,
        })
    }
}

pub struct Subscribed {
    b: Broadcast,
    inbox: String,
    answers: async_nats::Subscriber,
    starts: async_nats::Subscriber,
    greets: async_nats::Subscriber,
}

impl Subscribed {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Subscribed {
            b: this,
            inbox,
            mut answers,
            mut starts,
            mut greets,
        } = self;
        let this = &this;
        let service = this.service;
        let greet = format!("{service}.greet");
        let mut interval = this.default_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let mut greet_timer = tokio::time::interval(Duration::from_secs(1));
        let mut greeting = true;
        let mut attempts = 0;
        // A re-emission asked for by greetings, not yet done.
        let mut greeted: Option<tokio::time::Instant> = None;
        loop {
            let greet_due = greeted;
            tokio::select! {
                _ = greet_timer.tick(), if greeting => {
                    attempts += 1;
                    if attempts > MAX_GREET_ATTEMPTS {
                        tracing::warn!(service, attempts = MAX_GREET_ATTEMPTS, "greeting-external-service.giving-up");
                        greeting = false;
                        continue;
                    }
                    tracing::info!(service, "greeting-external-service");
                    this.nats.publish_with_reply(greet.clone(), inbox.clone(), Vec::new().into()).await?;
                }
                Some(m) = answers.next() => {
                    greeting = false;
                    if let Some(i) = interval_of(&m.payload) {
                        interval = i;
                        tracing::info!(service, interval_s = i.as_secs(), "received-external-service-registry-interval");
                        ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
                    }
                }
                Some(m) = starts.next() => {
                    greeting = false;
                    if let Some(i) = interval_of(&m.payload) {
                        interval = i;
                    }
                    tracing::info!(service, interval_s = interval.as_secs(), "external-service-started");
                    tokio::time::sleep(this.jitter(interval)).await;
                    this.emit();
                    ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
                }
                Some(m) = greets.next() => {
                    let from_emitter = m
                        .reply
                        .as_deref()
                        .is_some_and(|r| r.starts_with(crate::nats::INBOX_PREFIX));
                    if !from_emitter && greeted.is_none() {
                        greeted = Some(tokio::time::Instant::now() + this.jitter(interval));
                    }
                }
                _ = async { tokio::time::sleep_until(greet_due.unwrap()).await }, if greet_due.is_some() => {
                    tracing::info!(service, "greeted; re-emitting routes");
                    greeted = None;
                    this.emit();
                }
                _ = ticker.tick() => this.emit(),
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
