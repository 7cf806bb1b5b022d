//! Steps that live and die together: the first to fail (or, with
//! `error_on_exit`, to end at all) cancels the others.

use super::*;
use futures::stream::{FuturesUnordered, StreamExt};

pub struct Codependent {
    pub steps: Vec<BoxStep>,
    /// A step ending successfully counts as a failure
    /// ("Codependent step exited"); true for the codependent action.
    pub error_on_exit: bool,
    /// A step ending successfully cancels the others.
    pub cancel_others_on_exit: bool,
}

#[async_trait]
impl Step for Codependent {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        let group = cancel.child_token();
        let mut readies = Vec::new();
        let mut runs: FuturesUnordered<_> = self
            .steps
            .into_iter()
            .map(|s| {
                let (r, rx) = Ready::pair();
                readies.push(rx);
                s.run(group.clone(), r)
            })
            .collect();
        ready.when_all(readies);
        let mut errors = Vec::new();
        while let Some(result) = runs.next().await {
            let result = match result {
                Ok(()) if self.error_on_exit => Err(StepError::CodependentExited),
                r => r,
            };
            match result {
                Ok(()) if self.cancel_others_on_exit => group.cancel(),
                Ok(()) => {}
                Err(e) => {
                    errors.push(e);
                    group.cancel();
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StepError::multi(errors))
        }
    }
}
