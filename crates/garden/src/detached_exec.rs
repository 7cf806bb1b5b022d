//! `runtime exec --detach` under a waiter of our own, so a process's exit
//! status is known the moment it exits.
//!
//! A foreground `runc exec` copies the process's stdio through pipes of
//! its own and exits only when they reach end-of-file, i.e. when every
//! background child that inherited them has gone too. Detached, the runtime
//! hands our pipes to the process and leaves; the process is then adopted
//! by the nearest child subreaper above it. The waiter is that subreaper:
//! a fork of ours (no binary to ship, the role Garden's dadoo plays) that
//! starts the runtime, waits for the process named in the pid file and
//! exits with its status (128+N when killed by signal N).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use libc::c_char;

/// Everything the forked waiter uses, prepared before the fork: after it,
/// a child of a threaded process may only make async-signal-safe calls.
struct Prepared {
    program: CString,
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
    pid_file: CString,
}

// SAFETY: the pointers point into `_args`' heap buffers, owned alongside
// and never changed.
unsafe impl Send for Prepared {}
unsafe impl Sync for Prepared {}

fn cstring(s: impl AsRef<[u8]>) -> std::io::Result<CString> {
    CString::new(s.as_ref()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// Turns `exec` (a foreground `runtime [global flags] exec ...`) into the
/// waiter's command: stdio set on it reaches the process; its exit status
/// is the process's (or the runtime's, when that failed).
pub(crate) fn waiter(
    exec: &tokio::process::Command,
    pid_file: &Path,
) -> std::io::Result<tokio::process::Command> {
    let std = exec.as_std();
    let mut args: Vec<OsString> = vec![std.get_program().to_owned()];
    for a in std.get_args() {
        args.push(a.to_owned());
        if a == "exec" {
            args.push("--detach".into());
        }
    }
    let prepared = {
        let program = cstring(resolve(std.get_program()).as_os_str().as_bytes())?;
        let args = args
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Prepared {
            program,
            _args: args,
            argv,
            pid_file: cstring(pid_file.as_os_str().as_bytes())?,
        }
    };
    let mut cmd = tokio::process::Command::new(std.get_program());
    // SAFETY: the closure only makes async-signal-safe calls on memory
    // prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let p = &prepared;
            run_waiter(p)
        });
    }
    Ok(cmd)
}

/// The program's path as `execvp` would find it (searched for before the
/// fork: the search allocates).
fn resolve(program: &std::ffi::OsStr) -> std::path::PathBuf {
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

/// In the forked child: never returns unless the runtime cannot be
/// started.
unsafe fn run_waiter(p: &Prepared) -> std::io::Result<()> {
    if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let runtime = libc::fork();
    if runtime < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if runtime == 0 {
        libc::execv(p.program.as_ptr(), p.argv.as_ptr());
        libc::_exit(127);
    }
    // The waiter holds none of the process's stdio (its end-of-file is the
    // process's and its children's business) nor the spawner's exec-status
    // pipe (spawn returns once that closes).
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

/// Waits for `pid` (only: an adopted process that exits while the runtime
/// is still running stays a zombie until its turn).
unsafe fn wait_for(pid: libc::pid_t) -> libc::c_int {
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

fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}
