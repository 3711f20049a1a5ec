//! The child side of a launch (see [`super::launch`]): everything a forked child runs between
//! fork and exec, kept together in this one file so that it can be read as a whole for the one
//! rule that governs it — only async-signal-safe syscalls on memory prepared before the fork
//! (no allocation, formatting, locks or unwinding). `ChildSetup::run` is the launched child's
//! whole life until exec; a kept launch's child becomes the keeper there and hands over to
//! [`super::keeper`]. Also the reset of inherited signal state for children that std's
//! `Command` starts ([`reset_inherited_state`], from its `pre_exec`).

use std::ffi::CString;
use std::os::fd::RawFd;

/// What the keeper of a kept launch needs: its status pipe and svc's PID.
pub(super) struct KeeperSetup {
    pub(super) status_r: RawFd,
    pub(super) status_w: RawFd,
    pub(super) parent: libc::pid_t,
}

/// What the child needs, as raw pointers and numbers prepared by the parent.
pub(super) struct ChildSetup<'a> {
    pub(super) path: &'a CString,
    pub(super) argv: &'a [*const libc::c_char],
    pub(super) envp: &'a [*const libc::c_char],
    pub(super) workdir: &'a CString,
    pub(super) stdin: RawFd,
    pub(super) stdout: RawFd,
    /// stderr.
    pub(super) out: RawFd,
    /// Becomes fd 3 when not -1.
    pub(super) fd3: RawFd,
    /// The service's cgroup directory when not -1: the launcher is born in it.
    pub(super) cgroup_dir: RawFd,
    /// The service's `cgroup.procs` (open for writing) when not -1: written to before exec by
    /// a child that was not born in the cgroup.
    pub(super) cgroup: RawFd,
    pub(super) umask: libc::mode_t,
    pub(super) limits: &'a [(libc::__rlimit_resource_t, libc::rlimit)],
    pub(super) nice: Option<i32>,
    pub(super) drop_to: Option<(libc::uid_t, libc::gid_t, &'a [libc::gid_t])>,
    pub(super) go_r: RawFd,
    pub(super) go_w: RawFd,
    pub(super) err_r: RawFd,
    pub(super) err_w: RawFd,
    /// Set for a kept launch: this child becomes the keeper and forks the launcher.
    pub(super) keeper: Option<KeeperSetup>,
}

impl ChildSetup<'_> {
    /// Reports the failed step and errno to the parent, then exits.
    ///
    /// # Safety
    /// Only in the forked child: write and _exit are async-signal-safe.
    unsafe fn die(&self, step: usize) -> ! {
        // SAFETY: the caller is the forked child (this function's contract); errno is this
        // thread's, and `msg` lives on the stack for the write.
        unsafe {
            let errno = *libc::__errno_location();
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
            msg[4..].copy_from_slice(&errno.to_ne_bytes());
            libc::write(self.err_w, msg.as_ptr().cast(), msg.len());
            libc::_exit(127);
        }
    }

    /// The child's whole life until exec; `in_cgroup`: it was born in the service's cgroup.
    ///
    /// # Safety
    /// Must run in a freshly forked child only (by [`fork_into`]). Every call below is an
    /// async-signal-safe syscall on memory the parent prepared before forking; nothing
    /// allocates, formats, locks or unwinds, and nothing relies on glibc's bookkeeping of its
    /// own fork (credentials change by raw syscalls, not glibc's all-threads setxid).
    pub(super) unsafe fn run(&self, mut in_cgroup: bool) -> ! {
        // SAFETY: the caller is a freshly forked child (this function's contract); every pointer
        // handed to the kernel below points into memory the parent prepared before the fork (C
        // strings, argv/envp arrays ending in NULL, rlimits, groups) or onto this stack, and every
        // call is async-signal-safe.
        unsafe {
            libc::close(self.go_w);
            libc::close(self.err_r);
            if !reset_signals() {
                self.die(0);
            }
            if let Some(k) = &self.keeper {
                libc::close(k.status_r);
                // The keeper takes its signals with sigwaitinfo: blocked from here on, so that
                // neither svc's death signal nor a Ctrl-C to svc's process group can end it before
                // it has ended the launch (see `keeper::keep`).
                let set = super::keeper::signals();
                if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                    self.die(0);
                }
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    super::keeper::DEATH_SIGNAL as libc::c_ulong,
                );
                // If svc is already gone, it must not start anything.
                if libc::getppid() != k.parent {
                    libc::_exit(126);
                }
                if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) != 0 {
                    self.die(12);
                }
                // This process has one thread; the launcher is born in the cgroup where it can be.
                match fork_into(self.cgroup_dir) {
                    (-1, _) => self.die(13),
                    (0, born_inside) => {
                        in_cgroup = born_inside;
                        // The launcher: it goes on below (the death signal and the subreaper
                        // flag are not inherited; the blocked signals are, and are unblocked).
                        libc::close(k.status_w);
                        if !reset_signals() {
                            self.die(0);
                        }
                    }
                    (launcher, _) => super::keeper::keep(launcher, k.status_w, k.parent),
                }
            }
            // A new session: no controlling terminal, its own process group.
            if libc::setsid() < 0 {
                self.die(1);
            }
            // The service's cgroup (SPEC §8.7), while still root, unless born in it: "0" moves
            // the writer. A kept launch's keeper stays outside; the launcher and all it forks
            // are inside.
            if !in_cgroup
                && self.cgroup >= 0
                && libc::write(self.cgroup, b"0".as_ptr().cast(), 1) != 1
            {
                self.die(14);
            }
            if libc::dup2(self.stdin, 0) < 0
                || libc::dup2(self.stdout, 1) < 0
                || libc::dup2(self.out, 2) < 0
            {
                self.die(2);
            }
            // All descriptors the child still needs are above 3 (see `high_fd`).
            if self.fd3 >= 0 && libc::dup2(self.fd3, 3) < 0 {
                self.die(2);
            }
            if libc::chdir(self.workdir.as_ptr()) != 0 {
                self.die(3);
            }
            libc::umask(self.umask);
            for (res, lim) in self.limits {
                if libc::setrlimit(*res, lim) != 0 {
                    self.die(4);
                }
            }
            if let Some(n) = self.nice {
                if libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0 {
                    self.die(5);
                }
            }
            // Privileges last, in the order supplementary groups, gid, uid; then make sure root
            // cannot be regained.
            // Raw syscalls: glibc's wrappers would signal the threads of svc it still believes
            // in after a raw clone3, and wait for them.
            if let Some((uid, gid, groups)) = self.drop_to {
                if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
                    self.die(6);
                }
                if libc::syscall(libc::SYS_setgid, gid) != 0 {
                    self.die(7);
                }
                if libc::syscall(libc::SYS_setuid, uid) != 0 {
                    self.die(8);
                }
                if uid != 0 && libc::syscall(libc::SYS_setuid, 0) == 0 {
                    *libc::__errno_location() = libc::EPERM;
                    self.die(9);
                }
            }
            // Wait until svc has recorded us. EOF means svc is gone: never run unrecorded.
            let mut byte = 0u8;
            loop {
                let r = libc::read(self.go_r, (&mut byte as *mut u8).cast(), 1);
                if r == 1 {
                    break;
                }
                if r < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                libc::_exit(126);
            }
            // Only fds 0-2 (and 3 when given) survive exec: mark every other one close-on-exec
            // (the error pipe already is). Fall back to a bounded loop on kernels without
            // close_range.
            let first: i32 = if self.fd3 >= 0 { 4 } else { 3 };
            if libc::syscall(
                libc::SYS_close_range,
                first as u32,
                u32::MAX,
                4u32, /* CLOEXEC */
            ) != 0
            {
                let mut rl: libc::rlimit = std::mem::zeroed();
                let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
                    rl.rlim_max.min(1 << 20) as i32
                } else {
                    65536
                };
                for fd in first..max {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
            self.die(11);
        }
    }
}

/// `clone3`'s arguments (linux/sched.h, `CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Born into this cgroup (linux/sched.h).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks; with `cgroup_dir` not -1, into that cgroup (`clone3` with `CLONE_INTO_CGROUP`, Linux
/// 5.7), else — or when the kernel or a seccomp filter refuses clone3 — with fork(2). Returns
/// fork's result (the child's PID, 0 in the child, -1 with errno) and whether the child was
/// born in the cgroup. The child of a raw clone3 shares glibc's view of the parent's threads:
/// it must make raw syscalls only (as [`ChildSetup::run`] does).
///
/// # Safety
/// The caller's child must keep to async-signal-safe raw syscalls until exec or `_exit`.
pub(super) unsafe fn fork_into(cgroup_dir: RawFd) -> (libc::pid_t, bool) {
    // SAFETY: clone3 without CLONE_VM gives the child a copy of this address space (like fork),
    // with `args` read by the kernel before it returns; fork is async-signal-safe. The caller
    // keeps the child to raw syscalls (this function's contract).
    unsafe {
        if cgroup_dir >= 0 {
            let args = CloneArgs {
                flags: CLONE_INTO_CGROUP,
                exit_signal: libc::SIGCHLD as u64,
                cgroup: cgroup_dir as u64,
                ..CloneArgs::default()
            };
            let r = libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            );
            if r >= 0 {
                return (r as libc::pid_t, true);
            }
            // Resources ran out: fork would fail too, and says so.
            let e = *libc::__errno_location();
            if e == libc::EAGAIN || e == libc::ENOMEM {
                return (-1, false);
            }
        }
        (libc::fork(), false)
    }
}

/// What [`spawn_shared`]'s child starts from: the setup and where it was born.
#[cfg(target_arch = "x86_64")]
struct SharedStart<'a, 'b> {
    setup: &'a ChildSetup<'b>,
    in_cgroup: bool,
}

/// The first Rust code of [`spawn_shared`]'s child, called on the caller's stack.
#[cfg(target_arch = "x86_64")]
extern "C" fn shared_child(arg: *mut libc::c_void) -> ! {
    // SAFETY: `arg` points to the `SharedStart` on the stack of `spawn_shared`, whose caller is
    // suspended (CLONE_VFORK) until this child has exec'd or exited, so it outlives every use;
    // `run` keeps to async-signal-safe raw syscalls and never returns.
    unsafe {
        let start = &*(arg as *const SharedStart<'_, '_>);
        start.setup.run(start.in_cgroup)
    }
}

/// Starts `setup`'s child without copying svc's memory: `clone3` with `CLONE_VM | CLONE_VFORK`
/// (and `CLONE_INTO_CGROUP` when `cgroup_dir` is not -1), the child running on this thread's
/// stack below its pointer while this thread is suspended until the child has exec'd or
/// exited — what glibc's posix_spawn does, with svc's own setup steps. No page table is copied
/// and no page of svc's is write-protected, so a launch costs svc a fraction of a fork. Every
/// signal is blocked around the clone, so no handler of svc's runs in the child before
/// [`reset_signals`]. The child must not wait for svc (`setup`'s release pipe must already
/// hold its byte).
///
/// Returns the child's PID, `Some(Err(errno))` when the kernel is out of resources, `None`
/// when this way is not available (another architecture than x86-64, a kernel or seccomp
/// filter refusing clone3): the caller then forks.
///
/// # Safety
/// `setup` must be a non-keeper launch whose release byte is written, and everything it
/// points to must stay valid until this returns.
pub(super) unsafe fn spawn_shared(
    setup: &ChildSetup<'_>,
    cgroup_dir: RawFd,
) -> Option<Result<libc::pid_t, i32>> {
    #[cfg(target_arch = "x86_64")]
    {
        const CLONE_VM: u64 = libc::CLONE_VM as u64;
        const CLONE_VFORK: u64 = libc::CLONE_VFORK as u64;
        let args = CloneArgs {
            flags: CLONE_VM
                | CLONE_VFORK
                | if cgroup_dir >= 0 {
                    CLONE_INTO_CGROUP
                } else {
                    0
                },
            exit_signal: libc::SIGCHLD as u64,
            cgroup: if cgroup_dir >= 0 {
                cgroup_dir as u64
            } else {
                0
            },
            ..CloneArgs::default()
        };
        let start = SharedStart {
            setup,
            in_cgroup: cgroup_dir >= 0,
        };
        // SAFETY: a full signal mask is set and restored on this thread only. The clone3
        // below shares this address space with a child that runs `shared_child` on this
        // thread's stack, 4 KiB below the stack pointer (past any red zone), 16-byte aligned,
        // and never returns into this frame; this thread is suspended (CLONE_VFORK) until the
        // child has exec'd or exited, so nothing here runs concurrently with it. `args` and
        // `start` live on this frame for the whole call. The kernel clobbers rcx and r11.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let ret: i64;
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "sub rsp, 4096",
                "and rsp, -16",
                "xor ebp, ebp",
                "mov rdi, r13",
                "call r12",
                "ud2",
                "2:",
                inlateout("rax") libc::SYS_clone3 => ret,
                in("rdi") &args as *const CloneArgs,
                in("rsi") std::mem::size_of::<CloneArgs>(),
                in("r12") shared_child as extern "C" fn(*mut libc::c_void) -> !,
                in("r13") &start as *const SharedStart<'_, '_> as *mut libc::c_void,
                lateout("rcx") _,
                lateout("r11") _,
            );
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            match ret {
                r if r > 0 => Some(Ok(r as libc::pid_t)),
                r if r == -(libc::EAGAIN as i64) || r == -(libc::ENOMEM as i64) => {
                    Some(Err(-r as i32))
                }
                _ => None,
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (setup, cgroup_dir);
        None
    }
}

/// Default disposition for every signal and an empty mask, whatever the caller had; false if
/// the mask could not be set. The raw syscall also resets 32 and 33, which glibc's sigaction
/// refuses to touch.
///
/// # Safety
/// Only between fork and exec: it makes async-signal-safe syscalls only.
pub unsafe fn reset_signals() -> bool {
    // SAFETY: between fork and exec (this function's contract); rt_sigaction gets a zeroed
    // (SIG_DFL) action and rt_sigprocmask an empty set, both on the stack, with the kernel's sigset
    // size (8).
    unsafe {
        let dfl = [0u64; 4];
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        let empty = 0u64;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        ) == 0
    }
}

/// For a child started another way (std's `Command`, in `pre_exec`): [`reset_signals`], the
/// open-file limit svc was started with (see `crate::fdlimit`), and every descriptor above stderr
/// close-on-exec — the clean state docs/security.md promises ("The process a service gets"),
/// whatever the caller's.
///
/// # Safety
/// Only between fork and exec: it makes async-signal-safe syscalls only.
pub unsafe fn reset_inherited_state() {
    // SAFETY: between fork and exec (this function's contract, which the two callees share);
    // close_range with CLOSE_RANGE_CLOEXEC takes only integers.
    unsafe {
        reset_signals();
        crate::fdlimit::restore_in_child();
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            4u32, /* CLOEXEC */
        );
    }
}
