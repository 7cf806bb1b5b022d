//! Run, attach and the output streams on their hijacked connections
//! (garden's `server/request_handling.go`: handleRun, handleAttach,
//! streamInput, streamProcess; `server/streamer`).

use crate::error::WireError;
use crate::hijack::{drain, hijacked_head, write_error, Request, Route};
use crate::processes::Attached;
use crate::routes::AppState;
use crate::wire::{ProcessPayload, ProcessSpec};
use axum::body::Bytes;
use httpserve::RawIo;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// The longest payload line read from a client (a stdin chunk of the Go
/// client is at most 32 KiB, escaped).
const MAX_PAYLOAD: u64 = 1024 * 1024;

pub async fn serve(state: Arc<AppState>, req: Request, mut io: RawIo) {
    // Run and attach hold the container's grace countdown for as long as
    // their connection streams the process (as Garden's handlers do).
    let _hold = match &req.route {
        Route::Run { handle } | Route::Attach { handle, .. } => Some(state.bombs.hold(handle)),
        Route::Output { .. } => None,
    };
    let result = match req.route {
        Route::Run { handle } => run(&state, &handle, &req.body).await,
        Route::Attach { handle, pid } => attach(&state, &handle, &pid).await,
        Route::Output { stream_id, stderr } => {
            output(&state, &stream_id, stderr, io).await;
            return;
        }
    };
    match result {
        Ok((attached, status)) => process(&state, attached, status, io).await,
        Err(e) => {
            let _ = write_error(&mut io, &e).await;
            drain(&mut io).await;
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    handle: &str,
    body: &[u8],
) -> Result<(Attached, u16), WireError> {
    let mut spec: ProcessSpec =
        serde_json::from_slice(body).map_err(|e| WireError::message(e.to_string()))?;
    tracing::info!(
        handle = %handle,
        id = %spec.id,
        path = %spec.path,
        image = %spec.image.uri,
        "garden-run"
    );
    let id = std::mem::take(&mut spec.id);
    let backend_spec = crate::spec::to_backend_process(spec)?;
    let attached = state
        .processes
        .run(state.backend.as_ref(), handle, id, backend_spec)
        .await?;
    tracing::info!(handle = %handle, id = %attached.entry.id, "garden-spawned");
    Ok((attached, 201))
}

async fn attach(
    state: &Arc<AppState>,
    handle: &str,
    pid: &str,
) -> Result<(Attached, u16), WireError> {
    // Garden looks the container up first: an unknown one is a
    // ContainerNotFoundError, an unknown process in it ProcessNotFound.
    state.backend.info(handle).await?;
    let attached = state
        .processes
        .attach(handle, pid)
        .ok_or_else(|| WireError::process_not_found(pid))?;
    tracing::info!(handle = %handle, id = %pid, "garden-attached");
    Ok((attached, 200))
}

fn line(p: &ProcessPayload) -> Vec<u8> {
    let mut v = serde_json::to_vec(p).unwrap_or_default();
    v.push(b'\n');
    v
}

/// streamProcess: the head and `{"process_id","stream_id"}`, then stdin,
/// signals and tty from the client while the process runs; its exit
/// status (or error) when it ends, and the connection closes. A client
/// that goes away leaves the process running.
async fn process(state: &Arc<AppState>, a: Attached, status: u16, io: RawIo) {
    let (rd, mut wr) = tokio::io::split(io);
    let first = ProcessPayload {
        process_id: a.entry.id.clone(),
        stream_id: a.stream_id.clone(),
        ..Default::default()
    };
    let mut hello = hijacked_head(status, Some("application/json"));
    hello.extend(line(&first));
    if wr.write_all(&hello).await.is_ok() {
        let (closed_tx, closed_rx) = oneshot::channel();
        let input = tokio::spawn(stream_input(rd, a.entry.clone(), a.stdin, closed_tx));
        tokio::select! {
            exit = a.entry.exited() => {
                let end = match exit {
                    Ok(code) => ProcessPayload {
                        process_id: a.entry.id.clone(),
                        exit_status: Some(code.into()),
                        ..Default::default()
                    },
                    Err(e) => ProcessPayload {
                        process_id: a.entry.id.clone(),
                        error: Some(e),
                        ..Default::default()
                    },
                };
                let _ = wr.write_all(&line(&end)).await;
            }
            // Only a connection that ended (not a closed stdin, which
            // drops the sender) stops the wait.
            Ok(()) = closed_rx => {
                tracing::debug!(id = %a.entry.id, "garden-process-client-gone");
            }
        }
        // Dropping the input task drops this connection's stdin sender.
        input.abort();
    }
    state.processes.stop(&a.stream_id);
    let _ = wr.shutdown().await;
}

/// streamInput: one payload per line until the connection ends (then
/// `closed` fires). Stdin data goes to the process; a stdin payload
/// without data closes this connection's stdin, as does anything not
/// understood (which also ends the reading).
async fn stream_input<R: AsyncRead + Unpin>(
    rd: R,
    entry: Arc<crate::processes::Entry>,
    mut stdin: Option<mpsc::Sender<Bytes>>,
    closed: oneshot::Sender<()>,
) {
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut rd)
            .take(MAX_PAYLOAD)
            .read_until(b'\n', &mut buf)
            .await;
        if !matches!(n, Ok(n) if n > 0) {
            let _ = closed.send(());
            return;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let p: ProcessPayload = match serde_json::from_slice(&buf) {
            Ok(p) => p,
            Err(_) => {
                let _ = closed.send(());
                return;
            }
        };
        if p.tty.is_some() {
            tracing::debug!(id = %entry.id, "garden-tty-ignored");
        } else if p.source.is_some() {
            let Some(data) = p.data else {
                return; // closes stdin (the sender drops)
            };
            if let Some(tx) = &stdin {
                if tx.send(Bytes::from(data)).await.is_err() {
                    stdin = None;
                }
            }
        } else if let Some(sig) = p.signal {
            let signal = match sig {
                0 => garden::Signal::Terminate,
                1 => garden::Signal::Kill,
                _ => {
                    tracing::warn!(id = %entry.id, signal = sig, "garden-unknown-signal");
                    return;
                }
            };
            tracing::info!(id = %entry.id, ?signal, "garden-process-signal");
            if let Err(e) = entry.signal(signal).await {
                tracing::warn!(id = %entry.id, error = %e, "garden-process-signal-failed");
            }
        } else {
            tracing::warn!(id = %entry.id, "garden-unknown-process-payload");
            return;
        }
    }
}

/// `.../attaches/:stream_id/stdout|stderr`: 200, then the raw bytes of
/// that output until it ends (or its run/attach call ended and what was
/// buffered is written); an unknown stream closes at once.
async fn output(state: &Arc<AppState>, stream_id: &str, stderr: bool, mut io: RawIo) {
    if io.write_all(&hijacked_head(200, None)).await.is_err() {
        return;
    }
    if let Some((mut rx, mut done)) = state.processes.take_output(stream_id, stderr) {
        loop {
            let next = tokio::select! {
                chunk = rx.recv() => chunk,
                _ = done.wait_for(|d| *d) => None,
            };
            let Some(c) = next else { break };
            if io.write_all(&c).await.is_err() {
                return;
            }
        }
        // The call ended: what was buffered still goes out.
        while let Ok(c) = rx.try_recv() {
            if io.write_all(&c).await.is_err() {
                return;
            }
        }
    }
    let _ = io.shutdown().await;
    drain(&mut io).await;
}
