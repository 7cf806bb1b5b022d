//! Steps side by side; all run to the end and their failures combine.

use super::*;

pub struct Parallel {
    pub steps: Vec<BoxStep>,
}

#[async_trait]
impl Step for Parallel {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        let mut readies = Vec::new();
        let runs: Vec<_> = self
            .steps
            .into_iter()
            .map(|s| {
                let (r, rx) = Ready::pair();
                readies.push(rx);
                s.run(cancel.clone(), r)
            })
            .collect();
        ready.when_all(readies);
        let errors: Vec<_> = futures::future::join_all(runs)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StepError::multi(errors))
        }
    }
}
