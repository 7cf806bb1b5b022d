//! `runtime exec --detach` under a waiter of our own, so a process's exit
//! status is known the moment it exits.
//!
//! A foreground `runc exec` copies the process's stdio through pipes of
//! its own and exits only when they reach end-of-file, i.e. when every
//! background child that inherited them has gone too. Detached, the runtime
//! hands our pipes to the process and leaves; the process is then adopted
//! by the nearest child subreaper above it. The waiter is that subreaper
//! (the role Garden's dadoo plays): it starts the runtime, waits for the
//! process named in the pid file and exits with its status (128+N when
//! killed by signal N).
//!
//! The waiter shares our memory (CLONE_VM) rather than copying it: a
//! forked copy living as long as the process would keep a private copy of
//! every page we write meanwhile. CLONE_VFORK holds the thread that made
//! it until it exits, so its writes to that thread's errno race nothing;
//! it makes raw system calls only, on its own stack and on data prepared
//! before.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libc::{c_char, c_int, c_void};
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

/// The waiter's stack: it only makes system calls.
const STACK_BYTES: usize = 256 * 1024;

/// A started process's stdio (ours ends) and its exit status to come.
pub(crate) struct Started {
    pub stdin: Option<pipe::Sender>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    pub status: oneshot::Receiver<i32>,
}

/// Which of the process's stdio are pipes to us (the others /dev/null).
#[derive(Clone, Copy)]
pub(crate) struct Pipes {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Host (uid, gid) the pipes are given to: the process's user. A pipe
    /// is a 0600 inode of its creator, and programs reopen their stdio by
    /// name (nginx's `access_log /dev/stdout`, `echo > /dev/stderr`); owned
    /// by host root, that is refused to any user of a user namespace and to
    /// non-root users elsewhere. runc's own (foreground) exec pipes are
    /// given to the process's user likewise.
    pub owner: (u32, u32),
}

/// Everything the waiter touches, prepared before it starts.
struct Prepared {
    program: CString,
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
    _env: Vec<CString>,
    envp: Vec<*const c_char>,
    pid_file: CString,
    /// The process's fds 0, 1, 2 (the waiter's copies of them).
    stdio: [OwnedFd; 3],
}

// SAFETY: the pointers point into the CStrings owned alongside, which are
// never changed while the waiter runs.
unsafe impl Send for Prepared {}

fn cstring(s: impl AsRef<[u8]>) -> std::io::Result<CString> {
    CString::new(s.as_ref()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

fn io_err(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Runs `exec` (a foreground `runtime [global flags] exec ... id`, or
/// `run ... id` for a container whose init is the process) detached,
/// under the waiter.
pub(crate) fn start(
    exec: &tokio::process::Command,
    pid_file: &Path,
    pipes: Pipes,
) -> std::io::Result<Started> {
    let std = exec.as_std();
    let mut args: Vec<OsString> = vec![std.get_program().to_owned()];
    let mut detached = false;
    for a in std.get_args() {
        args.push(a.to_owned());
        if (a == "exec" || a == "run") && !detached {
            args.push("--detach".into());
            detached = true;
        }
    }
    let null = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
    };
    let os_pipe = || {
        let (r, w) = os_pipe()?;
        // SAFETY: w is an open fd; fchown changes the pipe's inode, the
        // same for both ends.
        if unsafe { libc::fchown(w.as_raw_fd(), pipes.owner.0, pipes.owner.1) } != 0 {
            return Err(io_err("fchown pipe"));
        }
        Ok((r, w))
    };
    let (stdin, stdin_fd) = if pipes.stdin {
        let (r, w) = os_pipe()?;
        (Some(pipe::Sender::from_owned_fd(w)?), r)
    } else {
        (None, null()?)
    };
    let (stdout, stdout_fd) = if pipes.stdout {
        let (r, w) = os_pipe()?;
        (Some(pipe::Receiver::from_owned_fd(r)?), w)
    } else {
        (None, null()?)
    };
    let (stderr, stderr_fd) = if pipes.stderr {
        let (r, w) = os_pipe()?;
        (Some(pipe::Receiver::from_owned_fd(r)?), w)
    } else {
        (None, null()?)
    };
    let prepared = {
        let program = cstring(resolve(std.get_program()).as_os_str().as_bytes())?;
        let args = args
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let env = std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstring(kv)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut envp: Vec<*const c_char> = env.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        Prepared {
            program,
            _args: args,
            argv,
            _env: env,
            envp,
            pid_file: cstring(pid_file.as_os_str().as_bytes())?,
            stdio: [stdin_fd, stdout_fd, stderr_fd],
        }
    };
    let (tx, status) = oneshot::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("exec-waiter".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            let status = run_waiter(&prepared, &started_tx);
            // The waiter is gone: what it used can go too.
            drop(prepared);
            let _ = tx.send(status);
        })?;
    // The thread reports whether the waiter could be started at all.
    match started_rx.recv() {
        Ok(Ok(())) => Ok(Started {
            stdin,
            stdout,
            stderr,
            status,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("exec waiter thread went away")),
    }
}

fn os_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io_err("pipe2"));
    }
    // SAFETY: both were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The program's path as `execvp` would find it (searched for before the
/// waiter starts: the search allocates).
fn resolve(program: &std::ffi::OsStr) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if program.as_bytes().contains(&b'/') {
        return program.into();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| program.into())
}

/// On the thread that starts the waiter: blocks until the waiter exits,
/// then reaps it; its exit status.
fn run_waiter(p: &Prepared, started: &std::sync::mpsc::Sender<std::io::Result<()>>) -> i32 {
    // SAFETY: an anonymous mapping of our own; unmapped only after the
    // waiter has exited.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        let _ = started.send(Err(io_err("mmap")));
        return 255;
    }
    // The waiter cannot say it started (this thread is held until it
    // exits); clone fails only before it runs.
    let _ = started.send(Ok(()));
    // SAFETY: the waiter runs on its own stack, touches only `p` (alive
    // until this returns) and makes system calls; CLONE_VFORK holds this
    // thread meanwhile.
    let pid = unsafe {
        let top = (stack as *mut u8).add(STACK_BYTES) as *mut c_void;
        libc::clone(
            waiter_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            p as *const Prepared as *mut c_void,
        )
    };
    let status = if pid < 0 {
        tracing::warn!("exec waiter: {}", io_err("clone"));
        255
    } else {
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                break exit_code(status);
            }
            if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break 255;
            }
        }
    };
    // SAFETY: the waiter has exited; nothing uses its stack.
    unsafe { libc::munmap(stack, STACK_BYTES) };
    status
}

/// The waiter (its own process in our memory): never returns.
extern "C" fn waiter_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Prepared that run_waiter keeps alive; only
    // system calls follow.
    unsafe {
        let p = &*(arg as *const Prepared);
        // No handler of ours may run here (they would run on our memory
        // as if they were us).
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            libc::_exit(255);
        }
        for (target, fd) in p.stdio.iter().enumerate() {
            if libc::dup2(fd.as_raw_fd(), target as RawFd) < 0 {
                libc::_exit(255);
            }
        }
        // A plain fork (no handlers, unlike fork()): the child only
        // restores the signal mask and execs.
        let runtime = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0);
        if runtime == 0 {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::execve(p.program.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr());
            libc::_exit(127);
        }
        if runtime < 0 {
            libc::_exit(255);
        }
        let runtime = runtime as libc::pid_t;
        // The waiter holds none of the process's stdio: its end-of-file is
        // the process's (and its children's) business.
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..1024 {
                libc::close(fd);
            }
        }
        let status = wait_for(runtime);
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            libc::_exit(exit_code(status));
        }
        let Some(pid) = read_pid(&p.pid_file) else {
            libc::_exit(255);
        };
        libc::_exit(exit_code(wait_for(pid)))
    }
}

/// Waits for `pid` (only: an adopted process that exits while the runtime
/// is still running stays a zombie until its turn).
unsafe fn wait_for(pid: libc::pid_t) -> c_int {
    loop {
        let mut status = 0;
        let r = libc::waitpid(pid, &mut status, 0);
        if r == pid {
            return status;
        }
        if r < 0 && *libc::__errno_location() != libc::EINTR {
            // Not ours after all: its status is lost.
            return 255 << 8;
        }
    }
}

unsafe fn read_pid(file: &CString) -> Option<libc::pid_t> {
    let fd = libc::open(file.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 32];
    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
    libc::close(fd);
    if n <= 0 {
        return None;
    }
    let mut pid: libc::pid_t = 0;
    for &b in &buf[..n as usize] {
        match b {
            b'0'..=b'9' => {
                pid = pid
                    .checked_mul(10)?
                    .checked_add(libc::pid_t::from(b - b'0'))?
            }
            _ => break,
        }
    }
    (pid > 0).then_some(pid)
}

fn exit_code(status: c_int) -> c_int {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}
