//! Seccomp profiles given to the runtime (`linux.seccomp`).
//!
//! Unprivileged containers get Garden's default: an allow-list of the
//! system calls ordinary programs make (Docker's default set, less what
//! needs capabilities these containers lack), every other call failing
//! with EPERM. Refused among others: creating namespaces (unshare, setns,
//! clone with a CLONE_NEW* flag; clone3 answers ENOSYS so libc falls back
//! to clone, whose flags can be checked), mount and the new mount API,
//! keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd,
//! io_uring, module and kexec calls, open_by_handle_at, clock and swap
//! changes, quotactl, syslog. ptrace is allowed as Garden and Docker do on
//! kernels from 4.8: it reaches only the container's own processes (its
//! pid namespace) under the kernel's usual ptrace checks.
//!
//! Privileged containers keep every capability, so an allow-list would
//! only get in their way; their profile refuses what no container should
//! do to the host kernel: load modules, kexec, open files by handle, I/O
//! port access, swap and process accounting.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// Calls every unprivileged container may make, unconditionally. Names the
/// host's libseccomp does not know are skipped by the runtime (the
/// 32-bit-only ones on 64-bit hosts, for instance), and calls newer than
/// libseccomp answer ENOSYS.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
    "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64",
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
    "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set",
    "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
    "map_shadow_stack", "membarrier", "memfd_create", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
    "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
    "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket",
    "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
    "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
    "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
    "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
    "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
    "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
    "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
    "waitid", "waitpid", "write", "writev",
];

/// x86 only: thread-local storage and LDT setup.
const ALLOWED_X86: &[&str] = &["arch_prctl", "modify_ldt"];

/// personality(2) values that only pick an execution domain programs
/// commonly ask for (Linux, UNAME26, ADDR_NO_RANDOMIZE and their mix) or
/// query (0xffffffff).
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// clone(2) flags that make namespaces: NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
/// NEWUSER, NEWPID, NEWNET. A clone with any of them is refused.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// What privileged containers may not do either.
const DENIED_PRIVILEGED: &[&str] = &[
    "acct",
    "create_module",
    "delete_module",
    "finit_module",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "open_by_handle_at",
    "swapoff",
    "swapon",
];

/// The native ABI and its 32-bit compatibility ABI (32-bit programs keep
/// working, as on Garden). Unlike Garden, not x32: libseccomp's x86_64
/// filter refuses x32 call numbers by itself, most kernels are built
/// without the x32 ABI, and each architecture costs the runtime about
/// 10 ms of filter compilation per container (see garden-bench).
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86]
    }
}

fn syscalls(names: &[&str], action: LinuxSeccompAction) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names.iter().map(|n| n.to_string()).collect())
        .set_action(action);
    s
}

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    let b = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    match value_two {
        Some(v) => b.value_two(v),
        None => b,
    }
    .build()
    .expect("every field given")
}

/// Garden's default profile for unprivileged containers.
pub fn unprivileged() -> LinuxSeccomp {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = vec![syscalls(ALLOWED, allow)];
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        rules.push(syscalls(ALLOWED_X86, allow));
    }
    for &p in PERSONALITIES {
        let mut s = syscalls(&["personality"], allow);
        s.set_args(Some(vec![arg(0, p, None, LinuxSeccompOperator::ScmpCmpEq)]));
        rules.push(s);
    }
    // clone(flags, ...): allowed when (flags & NAMESPACE_FLAGS) == 0.
    let mut clone = syscalls(&["clone"], allow);
    let masked = arg(
        0,
        CLONE_NAMESPACE_FLAGS,
        Some(0),
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    );
    clone.set_args(Some(vec![masked]));
    rules.push(clone);
    // clone3 passes its flags in memory seccomp cannot read: ENOSYS makes
    // libc fall back to clone.
    let mut clone3 = syscalls(&["clone3"], LinuxSeccompAction::ScmpActErrno);
    clone3.set_errno_ret(Some(libc::ENOSYS as u32));
    rules.push(clone3);

    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(libc::EPERM as u32))
        .set_architectures(Some(architectures()))
        .set_syscalls(Some(rules));
    profile
}

/// The profile of privileged containers: everything but the calls that
/// change the host kernel itself.
pub fn privileged() -> LinuxSeccomp {
    let mut deny = syscalls(DENIED_PRIVILEGED, LinuxSeccompAction::ScmpActErrno);
    deny.set_errno_ret(Some(libc::EPERM as u32));
    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActAllow)
        .set_architectures(Some(architectures()))
        .set_syscalls(Some(vec![deny]));
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn the_unprivileged_profile_refuses_what_docker_refuses() {
        let p = unprivileged();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(libc::EPERM as u32));
        let allowed = allowed(&p);
        for denied in [
            "unshare",
            "setns",
            "mount",
            "umount2",
            "pivot_root",
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "init_module",
            "kexec_load",
            "open_by_handle_at",
            "fsopen",
            "move_mount",
            "open_tree",
            "clock_settime",
            "settimeofday",
            "swapon",
            "quotactl",
            "syslog",
            "reboot",
            "personality",
            "clone",
        ] {
            assert!(
                !allowed.contains(&denied.to_string()),
                "{denied} allowed unconditionally"
            );
        }
        for needed in ["read", "execve", "socket", "futex", "rseq", "faccessat2"] {
            assert!(allowed.contains(&needed.to_string()), "{needed}");
        }
        // No name twice (the runtime would add the rule twice).
        let mut sorted = allowed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), allowed.len());
    }

    #[test]
    fn clone_is_allowed_only_without_namespace_flags() {
        let v = serde_json::to_value(unprivileged()).unwrap();
        let clone = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["names"] == serde_json::json!(["clone"]))
            .unwrap();
        assert_eq!(clone["action"], "SCMP_ACT_ALLOW");
        assert_eq!(
            clone["args"],
            serde_json::json!([{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}])
        );
        let clone3 = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["names"] == serde_json::json!(["clone3"]))
            .unwrap();
        assert_eq!(clone3["errnoRet"], libc::ENOSYS);
        // CLONE_NEWUSER is among the refused flags.
        assert_ne!(CLONE_NAMESPACE_FLAGS & libc::CLONE_NEWUSER as u64, 0);
        assert_ne!(CLONE_NAMESPACE_FLAGS & libc::CLONE_NEWNET as u64, 0);
    }

    #[test]
    fn the_privileged_profile_allows_all_but_host_kernel_changes() {
        let p = privileged();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActAllow);
        let denied: Vec<String> = p.syscalls().as_ref().unwrap()[0].names().clone();
        assert!(denied.contains(&"init_module".to_string()));
        assert!(denied.contains(&"kexec_load".to_string()));
        assert!(!denied.contains(&"mount".to_string()));
    }
}
