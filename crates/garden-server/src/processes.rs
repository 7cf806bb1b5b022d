//! The processes run through the API, by container and Garden process id,
//! so attach finds them; and the output streams of each run or attach
//! call, by stream id, for the stdout/stderr requests that follow it
//! (garden's `server/streamer`).

use crate::error::WireError;
use crate::stdio::{self, Output, OutputWriter};
use axum::body::Bytes;
use garden::{Backend, GardenError, Process, ProcessIo};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long a stopped stream can still be fetched (garden's streamer
/// grace time), so a client that connects late gets what was buffered.
const STREAM_GRACE: Duration = Duration::from_secs(60);

/// Exited processes kept per container for attach to report their exit
/// (guardian keeps a process's exit code until its directory goes).
const EXITED_KEPT: usize = 64;

/// How a process ended: its exit status, or why it could not be waited for.
pub type Exit = Result<i32, String>;

pub struct Entry {
    pub id: String,
    seq: u64,
    process: Box<dyn Process>,
    /// Feeds the process's stdin while any connection holds a sender.
    stdin: mpsc::WeakSender<Bytes>,
    stdout: Arc<Output>,
    stderr: Arc<Output>,
    exit: watch::Receiver<Option<Exit>>,
}

impl Entry {
    pub async fn exited(&self) -> Exit {
        let mut rx = self.exit.clone();
        let exit = rx.wait_for(|e| e.is_some()).await.map(|e| e.clone());
        match exit {
            Ok(e) => e.expect("some"),
            Err(_) => Err("process waiter went away".into()),
        }
    }

    fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    pub async fn signal(&self, signal: garden::Signal) -> Result<(), GardenError> {
        self.process.signal(signal).await
    }
}

/// A run or attach call's hold on a process.
pub struct Attached {
    pub entry: Arc<Entry>,
    pub stream_id: String,
    /// This connection's stdin (None: the process's stdin already ended).
    pub stdin: Option<mpsc::Sender<Bytes>>,
}

struct Stream {
    stdout: Option<mpsc::Receiver<Bytes>>,
    stderr: Option<mpsc::Receiver<Bytes>>,
    done: watch::Sender<bool>,
}

#[derive(Default)]
pub struct Processes {
    containers: Mutex<HashMap<String, HashMap<String, Arc<Entry>>>>,
    streams: Mutex<HashMap<String, Stream>>,
    next_stream: AtomicU64,
    next_seq: AtomicU64,
}

impl Processes {
    /// Runs `spec` in `handle` as process `id` (empty: a fresh UUID) with
    /// a stream for the caller, registered before the process starts so
    /// none of its output is lost.
    pub async fn run(
        self: &Arc<Self>,
        backend: &dyn Backend,
        handle: &str,
        id: String,
        spec: garden::ProcessSpec,
    ) -> Result<Attached, WireError> {
        let id = if id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            id
        };
        if self.lookup(handle, &id).is_some_and(|e| !e.has_exited()) {
            // guardian's process depot refuses a process dir that exists.
            return Err(WireError::message(format!(
                "process ID '{id}' already in use"
            )));
        }
        let (stdout, stderr) = (Arc::new(Output::default()), Arc::new(Output::default()));
        let (out_rx, err_rx) = (stdout.subscribe(), stderr.subscribe());
        let (stdin_tx, stdin_rx) = stdio::stdin();
        let io = ProcessIo {
            stdin: Some(stdin_rx),
            stdout: Some(Box::new(OutputWriter(stdout.clone()))),
            stderr: Some(Box::new(OutputWriter(stderr.clone()))),
        };
        let process = backend.run(handle, spec, io).await?;
        let (exit_tx, exit_rx) = watch::channel(None);
        let entry = Arc::new(Entry {
            id: id.clone(),
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            process,
            stdin: stdin_tx.downgrade(),
            stdout,
            stderr,
            exit: exit_rx,
        });
        let waiter = entry.clone();
        tokio::spawn(async move {
            let exit = waiter.process.wait().await.map_err(|e| e.to_string());
            tracing::info!(id = %waiter.id, exit = ?exit, "garden-process-exited");
            let _ = exit_tx.send(Some(exit));
        });
        self.insert(handle, entry.clone());
        let stream_id = self.stream(out_rx, err_rx);
        Ok(Attached {
            entry,
            stream_id,
            stdin: Some(stdin_tx),
        })
    }

    /// Attaches to process `id` of `handle`: its output from now on.
    pub fn attach(self: &Arc<Self>, handle: &str, id: &str) -> Option<Attached> {
        let entry = self.lookup(handle, id)?;
        let stream_id = self.stream(entry.stdout.subscribe(), entry.stderr.subscribe());
        Some(Attached {
            stdin: entry.stdin.upgrade(),
            entry,
            stream_id,
        })
    }

    /// The ids of `handle`'s processes still running (ContainerInfo's
    /// ProcessIDs).
    pub fn running(&self, handle: &str) -> Vec<String> {
        let containers = self.containers.lock().unwrap();
        let mut ids: Vec<String> = containers
            .get(handle)
            .map(|m| {
                m.values()
                    .filter(|e| !e.has_exited())
                    .map(|e| e.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// The container is gone: so are its processes.
    pub fn forget(&self, handle: &str) {
        self.containers.lock().unwrap().remove(handle);
    }

    fn lookup(&self, handle: &str, id: &str) -> Option<Arc<Entry>> {
        let containers = self.containers.lock().unwrap();
        containers.get(handle)?.get(id).cloned()
    }

    fn insert(&self, handle: &str, entry: Arc<Entry>) {
        let mut containers = self.containers.lock().unwrap();
        let procs = containers.entry(handle.to_string()).or_default();
        procs.insert(entry.id.clone(), entry);
        let mut exited: Vec<(u64, String)> = procs
            .values()
            .filter(|e| e.has_exited())
            .map(|e| (e.seq, e.id.clone()))
            .collect();
        if exited.len() > EXITED_KEPT {
            exited.sort();
            for (_, id) in &exited[..exited.len() - EXITED_KEPT] {
                procs.remove(id);
            }
        }
    }

    fn stream(&self, stdout: mpsc::Receiver<Bytes>, stderr: mpsc::Receiver<Bytes>) -> String {
        // Garden's stream ids count up from 1.
        let id = (self.next_stream.fetch_add(1, Ordering::Relaxed) + 1).to_string();
        let (done, _) = watch::channel(false);
        self.streams.lock().unwrap().insert(
            id.clone(),
            Stream {
                stdout: Some(stdout),
                stderr: Some(stderr),
                done,
            },
        );
        id
    }

    /// A stream's stdout (or stderr) for the one request that reads it,
    /// and a signal that the stream stopped; None if unknown or taken.
    pub fn take_output(
        &self,
        stream_id: &str,
        stderr: bool,
    ) -> Option<(mpsc::Receiver<Bytes>, watch::Receiver<bool>)> {
        let mut streams = self.streams.lock().unwrap();
        let s = streams.get_mut(stream_id)?;
        let rx = if stderr {
            s.stderr.take()
        } else {
            s.stdout.take()
        }?;
        Some((rx, s.done.subscribe()))
    }

    /// The run or attach call ended: its output requests finish what is
    /// buffered and close; the stream goes after the grace time.
    pub fn stop(self: &Arc<Self>, stream_id: &str) {
        if let Some(s) = self.streams.lock().unwrap().get(stream_id) {
            s.done.send_replace(true);
        }
        let this = Arc::downgrade(self);
        let id = stream_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(STREAM_GRACE).await;
            if let Some(this) = this.upgrade() {
                this.streams.lock().unwrap().remove(&id);
            }
        });
    }
}
