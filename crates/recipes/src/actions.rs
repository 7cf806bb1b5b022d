//! Small builders for Diego actions (Cloud Controller's `ActionBuilder`).

use models::{
    Action, CodependentAction, DownloadAction, EmitProgressAction, ParallelAction, RunAction,
    SerialAction, TimeoutAction, TryAction, UploadAction,
};

pub fn run(run: RunAction) -> Action {
    Action {
        run_action: Some(run),
        ..Default::default()
    }
}

pub fn download(d: DownloadAction) -> Action {
    Action {
        download_action: Some(d),
        ..Default::default()
    }
}

pub fn upload(u: UploadAction) -> Action {
    Action {
        upload_action: Some(u),
        ..Default::default()
    }
}

pub fn serial(actions: Vec<Action>) -> Action {
    Action {
        serial_action: Some(SerialAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn parallel(actions: Vec<Action>) -> Action {
    Action {
        parallel_action: Some(ParallelAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn codependent(actions: Vec<Action>) -> Action {
    Action {
        codependent_action: Some(CodependentAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn try_action(action: Action) -> Action {
    Action {
        try_action: Some(Box::new(TryAction {
            action: Some(Box::new(action)),
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn timeout(action: Action, timeout_ms: i64) -> Action {
    Action {
        timeout_action: Some(Box::new(TimeoutAction {
            action: Some(Box::new(action)),
            timeout_ms,
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn emit_progress(action: Action, start: &str, success: &str, failure_prefix: &str) -> Action {
    Action {
        emit_progress_action: Some(Box::new(EmitProgressAction {
            action: Some(Box::new(action)),
            start_message: start.into(),
            success_message: success.into(),
            failure_message_prefix: failure_prefix.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}
