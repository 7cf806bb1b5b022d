//! Action trees: every kind of action and the `Action` wrapper.
//!
//! Like Diego, the wrapper validates the first inner action that is set, in
//! field order (download, upload, run, timeout, emit_progress, try, parallel,
//! serial, codependent); further inner actions set on the same wrapper are
//! not looked at. A wrapper with nothing set is "Invalid field: inner-action".

use super::rules::is_known_checksum_algorithm;
use super::{Validate, ValidationError};
use crate::{
    Action, CodependentAction, DownloadAction, EmitProgressAction, ParallelAction, RunAction,
    SerialAction, TimeoutAction, TryAction, UploadAction,
};

/// The one inner action a wrapper carries, as Diego picks it.
pub enum InnerAction<'a> {
    Download(&'a DownloadAction),
    Upload(&'a UploadAction),
    Run(&'a RunAction),
    Timeout(&'a TimeoutAction),
    EmitProgress(&'a EmitProgressAction),
    Try(&'a TryAction),
    Parallel(&'a ParallelAction),
    Serial(&'a SerialAction),
    Codependent(&'a CodependentAction),
}

impl Action {
    /// The inner action Diego would use (the first one set), if any.
    pub fn inner(&self) -> Option<InnerAction<'_>> {
        if let Some(a) = &self.download_action {
            return Some(InnerAction::Download(a));
        }
        if let Some(a) = &self.upload_action {
            return Some(InnerAction::Upload(a));
        }
        if let Some(a) = &self.run_action {
            return Some(InnerAction::Run(a));
        }
        if let Some(a) = &self.timeout_action {
            return Some(InnerAction::Timeout(a));
        }
        if let Some(a) = &self.emit_progress_action {
            return Some(InnerAction::EmitProgress(a));
        }
        if let Some(a) = &self.try_action {
            return Some(InnerAction::Try(a));
        }
        if let Some(a) = &self.parallel_action {
            return Some(InnerAction::Parallel(a));
        }
        if let Some(a) = &self.serial_action {
            return Some(InnerAction::Serial(a));
        }
        if let Some(a) = &self.codependent_action {
            return Some(InnerAction::Codependent(a));
        }
        None
    }
}

impl Validate for InnerAction<'_> {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            InnerAction::Download(a) => a.validate(),
            InnerAction::Upload(a) => a.validate(),
            InnerAction::Run(a) => a.validate(),
            InnerAction::Timeout(a) => a.validate(),
            InnerAction::EmitProgress(a) => a.validate(),
            InnerAction::Try(a) => a.validate(),
            InnerAction::Parallel(a) => a.validate(),
            InnerAction::Serial(a) => a.validate(),
            InnerAction::Codependent(a) => a.validate(),
        }
    }
}

impl Validate for Action {
    fn validate(&self) -> Result<(), ValidationError> {
        match self.inner() {
            Some(inner) => inner.validate(),
            None => Err(ValidationError::single("Invalid field: inner-action")),
        }
    }
}

/// A wrapped child action (timeout, emit_progress, try): missing is
/// "Invalid field: action", otherwise the child's own problems.
fn check_child(errs: &mut ValidationError, child: Option<&Action>) {
    match child {
        None => errs.invalid_field("action"),
        Some(action) => errs.absorb(action.validate()),
    }
}

/// A list of child actions (parallel, serial, codependent): an empty list
/// is "Invalid field: actions"; an element with no inner action is
/// "Invalid field: action at index N".
fn check_children(errs: &mut ValidationError, children: &[Action]) {
    if children.is_empty() {
        errs.invalid_field("actions");
        return;
    }
    for (index, action) in children.iter().enumerate() {
        match action.inner() {
            None => errs.invalid_field(&format!("action at index {index}")),
            Some(inner) => errs.absorb(inner.validate()),
        }
    }
}

/// The checksum rules shared by downloads and cached dependencies.
pub(crate) fn check_checksum(errs: &mut ValidationError, algorithm: &str, value: &str) {
    if !value.is_empty() && algorithm.is_empty() {
        errs.invalid_field("checksum algorithm");
    }
    if value.is_empty() && !algorithm.is_empty() {
        errs.invalid_field("checksum value");
    }
    if !value.is_empty() && !algorithm.is_empty() && !is_known_checksum_algorithm(algorithm) {
        errs.invalid_field("invalid algorithm");
    }
}

impl Validate for DownloadAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.from.is_empty() {
            errs.invalid_field("from");
        }
        if self.to.is_empty() {
            errs.invalid_field("to");
        }
        if self.user.is_empty() {
            errs.invalid_field("user");
        }
        check_checksum(&mut errs, &self.checksum_algorithm, &self.checksum_value);
        errs.into_result()
    }
}

impl Validate for UploadAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.to.is_empty() {
            errs.invalid_field("to");
        }
        if self.from.is_empty() {
            errs.invalid_field("from");
        }
        if self.user.is_empty() {
            errs.invalid_field("user");
        }
        errs.into_result()
    }
}

impl Validate for RunAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        if self.path.is_empty() {
            errs.invalid_field("path");
        }
        if self.user.is_empty() {
            errs.invalid_field("user");
        }
        errs.into_result()
    }
}

impl Validate for TimeoutAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_child(&mut errs, self.action.as_deref());
        if self.timeout_ms <= 0 {
            errs.invalid_field("timeout_ms");
        }
        errs.into_result()
    }
}

impl Validate for EmitProgressAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_child(&mut errs, self.action.as_deref());
        errs.into_result()
    }
}

impl Validate for TryAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_child(&mut errs, self.action.as_deref());
        errs.into_result()
    }
}

impl Validate for ParallelAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_children(&mut errs, &self.actions);
        errs.into_result()
    }
}

impl Validate for SerialAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_children(&mut errs, &self.actions);
        errs.into_result()
    }
}

impl Validate for CodependentAction {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        check_children(&mut errs, &self.actions);
        errs.into_result()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn run(path: &str, user: &str) -> Action {
        Action {
            run_action: Some(RunAction {
                path: path.into(),
                user: user.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn download(from: &str, to: &str, user: &str) -> DownloadAction {
        DownloadAction {
            from: from.into(),
            to: to.into(),
            user: user.into(),
            ..Default::default()
        }
    }

    fn msg(r: Result<(), ValidationError>) -> String {
        r.expect_err("expected invalid").to_string()
    }

    #[test]
    fn empty_wrapper_is_invalid() {
        assert_eq!(
            msg(Action::default().validate()),
            "Invalid field: inner-action"
        );
    }

    #[test]
    fn first_inner_action_wins() {
        let mut a = run("/bin/true", "vcap");
        a.upload_action = Some(UploadAction::default());
        // upload comes before run in Diego's order, so the bad upload counts.
        assert_eq!(
            msg(a.validate()),
            "Invalid field: to, Invalid field: from, Invalid field: user"
        );
    }

    #[test]
    fn run_rules() {
        assert!(run("/bin/true", "vcap").validate().is_ok());
        assert_eq!(
            msg(run("", "").validate()),
            "Invalid field: path, Invalid field: user"
        );
    }

    #[test]
    fn download_rules() {
        assert!(download("http://x", "/tmp", "vcap").validate().is_ok());
        assert_eq!(
            msg(download("", "", "").validate()),
            "Invalid field: from, Invalid field: to, Invalid field: user"
        );
        let mut d = download("http://x", "/tmp", "vcap");
        d.checksum_value = "abc".into();
        assert_eq!(msg(d.validate()), "Invalid field: checksum algorithm");
        let mut d = download("http://x", "/tmp", "vcap");
        d.checksum_algorithm = "md5".into();
        assert_eq!(msg(d.validate()), "Invalid field: checksum value");
        d.checksum_value = "abc".into();
        assert!(d.validate().is_ok());
        d.checksum_algorithm = "SHA256".into();
        assert!(d.validate().is_ok());
        d.checksum_algorithm = "sha512".into();
        assert_eq!(msg(d.validate()), "Invalid field: invalid algorithm");
    }

    #[test]
    fn upload_rules() {
        let u = UploadAction {
            from: "/tmp/x".into(),
            to: "http://x".into(),
            user: "vcap".into(),
            ..Default::default()
        };
        assert!(u.validate().is_ok());
    }

    #[test]
    fn timeout_rules() {
        let t = TimeoutAction {
            action: Some(Box::new(run("/bin/true", "vcap"))),
            timeout_ms: 10,
            ..Default::default()
        };
        assert!(t.validate().is_ok());
        let t = TimeoutAction::default();
        assert_eq!(
            msg(t.validate()),
            "Invalid field: action, Invalid field: timeout_ms"
        );
        let t = TimeoutAction {
            action: Some(Box::new(run("", "vcap"))),
            timeout_ms: -1,
            ..Default::default()
        };
        assert_eq!(
            msg(t.validate()),
            "Invalid field: path, Invalid field: timeout_ms"
        );
    }

    #[test]
    fn emit_progress_and_try_rules() {
        assert_eq!(
            msg(EmitProgressAction::default().validate()),
            "Invalid field: action"
        );
        assert_eq!(
            msg(TryAction::default().validate()),
            "Invalid field: action"
        );
        let t = TryAction {
            action: Some(Box::new(run("/bin/true", ""))),
            ..Default::default()
        };
        assert_eq!(msg(t.validate()), "Invalid field: user");
        let e = EmitProgressAction {
            action: Some(Box::new(run("/bin/true", "vcap"))),
            ..Default::default()
        };
        assert!(e.validate().is_ok());
    }

    #[test]
    fn list_rules() {
        assert_eq!(
            msg(ParallelAction::default().validate()),
            "Invalid field: actions"
        );
        assert_eq!(
            msg(SerialAction::default().validate()),
            "Invalid field: actions"
        );
        assert_eq!(
            msg(CodependentAction::default().validate()),
            "Invalid field: actions"
        );
        let s = SerialAction {
            actions: vec![run("/a", "u"), Action::default(), run("", "u")],
            ..Default::default()
        };
        assert_eq!(
            msg(s.validate()),
            "Invalid field: action at index 1, Invalid field: path"
        );
        let p = ParallelAction {
            actions: vec![run("/a", "u")],
            ..Default::default()
        };
        assert!(p.validate().is_ok());
    }
}
