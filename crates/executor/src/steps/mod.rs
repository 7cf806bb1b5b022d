//! Diego's steps: what an action becomes when it runs in a container.
//!
//! A step runs until it finishes or its cancellation token fires (Diego's
//! interrupt signal), and says when it is *ready* (Diego's ifrit readiness:
//! a run step once its process started, a health check once healthy); the
//! container is running when its whole step tree is ready.

mod codependent;
mod download;
mod emit_progress;
pub(crate) mod error;
mod output_wrapper;
mod parallel;
mod run;
mod serial;
mod timeout;
mod transform;
mod try_step;
mod upload;

pub use codependent::Codependent;
pub use download::Download;
pub use emit_progress::EmitProgress;
pub use error::StepError;
pub use output_wrapper::OutputWrapper;
pub use parallel::Parallel;
pub use run::Run;
pub use serial::Serial;
pub use timeout::Timeout;
pub use transform::{monitor_step_for, step_for, StepContext};
pub use try_step::Try;
pub use upload::Upload;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

pub type BoxStep = Box<dyn Step>;

#[async_trait]
pub trait Step: Send {
    async fn run(self: Box<Self>, cancel: CancellationToken, ready: Ready)
        -> Result<(), StepError>;
}

/// Fired once when a step becomes ready; dropping it unfired means the
/// step never became ready.
pub struct Ready(Option<oneshot::Sender<()>>);

impl Ready {
    pub fn pair() -> (Ready, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Ready(Some(tx)), rx)
    }

    /// Nobody waits for this one.
    pub fn none() -> Ready {
        Ready(None)
    }

    pub fn fire(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }

    /// Ready once every one of `children` is; never if one of them ends
    /// without becoming ready.
    pub fn when_all(mut self, children: Vec<oneshot::Receiver<()>>) {
        if self.0.is_none() {
            return;
        }
        tokio::spawn(async move {
            for child in children {
                if child.await.is_err() {
                    return;
                }
            }
            self.fire();
        });
    }
}
