//! Task state rules.

use crate::bbs_error::BbsError;
use crate::pb::task::State;
use crate::pb::Task;

impl Task {
    /// Diego's ValidateTransitionTo: Pending→Running→Completed→Resolving.
    pub fn validate_transition_to(&self, to: State) -> Result<(), BbsError> {
        let from = self.state();
        let valid = match to {
            State::Running => from == State::Pending,
            State::Completed => from == State::Running,
            State::Resolving => from == State::Completed,
            _ => false,
        };
        if valid {
            Ok(())
        } else {
            Err(BbsError::task_transition(from, to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_forward_transitions() {
        let all = [
            State::Invalid,
            State::Pending,
            State::Running,
            State::Completed,
            State::Resolving,
        ];
        for from in all {
            for to in all {
                let t = Task {
                    state: from as i32,
                    ..Default::default()
                };
                let ok = t.validate_transition_to(to).is_ok();
                let want = matches!(
                    (from, to),
                    (State::Pending, State::Running)
                        | (State::Running, State::Completed)
                        | (State::Completed, State::Resolving)
                );
                assert_eq!(ok, want, "{from:?} -> {to:?}");
            }
        }
    }
}
