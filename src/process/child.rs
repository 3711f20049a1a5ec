//! The child side of a launch (see [`super::launch`]): everything a launched child runs between
//! its birth and exec, kept together in this one file so that it can be read as a whole for the
//! one rule that governs it — only async-signal-safe raw syscalls ([`super::syscall`], no
//! `errno`) on memory prepared before the child was born (no allocation, formatting, locks or
//! unwinding). `ChildSetup::run` is the launched child's whole life until exec; a kept launch's
//! child becomes the keeper there and hands over to [`super::keeper`]. How the child is born:
//! copied ([`fork_into`]), sharing svc's memory while svc is suspended ([`spawn_shared`]), or
//! sharing it on a stack of its own while svc records it ([`spawn_waiting`]). Also the reset of
//! inherited signal state for children that std's `Command` starts ([`reset_inherited_state`],
//! from its `pre_exec`).

use std::os::fd::RawFd;

use super::syscall::{self, call};

/// What the keeper of a kept launch needs: its status pipe and svc's PID.
pub(super) struct KeeperSetup {
    pub(super) status_r: RawFd,
    pub(super) status_w: RawFd,
    pub(super) parent: libc::pid_t,
}

/// What the child needs, as raw pointers and numbers. The pointers point into memory the
/// parent keeps unchanged until the child has exec'd or exited (`launch::ChildMemory`): a
/// child sharing svc's memory reads it there while svc goes on.
pub(super) struct ChildSetup {
    /// The program, a C string.
    pub(super) path: *const libc::c_char,
    /// NULL-terminated arrays of C strings.
    pub(super) argv: *const *const libc::c_char,
    pub(super) envp: *const *const libc::c_char,
    /// The working directory, a C string.
    pub(super) workdir: *const libc::c_char,
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
    /// `limits_len` pairs of resource and limit.
    pub(super) limits: *const (libc::__rlimit_resource_t, libc::rlimit),
    pub(super) limits_len: usize,
    pub(super) nice: Option<i32>,
    /// uid, gid and `groups_len` supplementary groups at `groups`.
    pub(super) drop_to: Option<(libc::uid_t, libc::gid_t)>,
    pub(super) groups: *const libc::gid_t,
    pub(super) groups_len: usize,
    pub(super) go_r: RawFd,
    pub(super) go_w: RawFd,
    pub(super) err_r: RawFd,
    pub(super) err_w: RawFd,
    /// Set for a kept launch: this child becomes the keeper and forks the launcher.
    pub(super) keeper: Option<KeeperSetup>,
}

/// A system call's arguments, padded to six.
macro_rules! args {
    ($($a:expr),*) => {{
        let mut a = [0usize; 6];
        let given = [$($a as usize),*];
        a[..given.len()].copy_from_slice(&given);
        a
    }};
}

impl ChildSetup {
    /// Reports the failed step and its error number to the parent, then exits.
    ///
    /// # Safety
    /// Only in the launched child: write and exit_group are async-signal-safe.
    unsafe fn die(&self, step: usize, errno: i32) -> ! {
        // SAFETY: the caller is the launched child (this function's contract); `msg` lives on
        // this stack for the write.
        unsafe {
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
            msg[4..].copy_from_slice(&errno.to_ne_bytes());
            let _ = call(libc::SYS_write, args!(self.err_w, msg.as_ptr(), msg.len()));
            syscall::exit(127);
        }
    }

    /// The child's whole life until exec; `in_cgroup`: it was born in the service's cgroup.
    ///
    /// # Safety
    /// Must run in a freshly launched child only ([`fork_into`], [`spawn_shared`],
    /// [`spawn_waiting`]). Every call below is an async-signal-safe raw syscall on memory the
    /// parent prepared before the child was born; nothing allocates, formats, locks, unwinds
    /// or writes `errno`, and nothing relies on glibc's bookkeeping of its own fork
    /// (credentials change by raw syscalls, not glibc's all-threads setxid).
    pub(super) unsafe fn run(&self, mut in_cgroup: bool) -> ! {
        // SAFETY: the caller is a freshly launched child (this function's contract); every
        // pointer handed to the kernel below points into memory the parent prepared before the
        // child was born (C strings, argv/envp arrays ending in NULL, rlimits, groups) or onto
        // this stack, and every call is async-signal-safe.
        unsafe {
            let _ = call(libc::SYS_close, args!(self.go_w));
            let _ = call(libc::SYS_close, args!(self.err_r));
            if let Err(e) = reset_signals() {
                self.die(0, e);
            }
            if let Some(k) = &self.keeper {
                // Only a forked child gets here (a keeper never shares svc's memory), so
                // glibc's wrappers and errno are its own.
                libc::close(k.status_r);
                // The keeper takes its signals with sigwaitinfo: blocked from here on, so that
                // neither svc's death signal nor a Ctrl-C to svc's process group can end it before
                // it has ended the launch (see `keeper::keep`).
                let set = super::keeper::signals();
                if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                    self.die(0, *libc::__errno_location());
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
                    self.die(12, *libc::__errno_location());
                }
                // This process has one thread; the launcher is born in the cgroup where it can be.
                match fork_into(self.cgroup_dir) {
                    (-1, _) => self.die(13, *libc::__errno_location()),
                    (0, born_inside) => {
                        in_cgroup = born_inside;
                        // The launcher: it goes on below (the death signal and the subreaper
                        // flag are not inherited; the blocked signals are, and are unblocked).
                        libc::close(k.status_w);
                        if let Err(e) = reset_signals() {
                            self.die(0, e);
                        }
                    }
                    (launcher, _) => super::keeper::keep(launcher, k.status_w, k.parent),
                }
            }
            // A new session: no controlling terminal, its own process group.
            if let Err(e) = call(libc::SYS_setsid, args!()) {
                self.die(1, e);
            }
            // The service's cgroup (SPEC §8.7), while still root, unless born in it: "0" moves
            // the writer. A kept launch's keeper stays outside; the launcher and all it forks
            // are inside.
            if !in_cgroup && self.cgroup >= 0 {
                match call(libc::SYS_write, args!(self.cgroup, b"0".as_ptr(), 1)) {
                    Ok(1) => {}
                    Ok(_) => self.die(14, libc::EIO),
                    Err(e) => self.die(14, e),
                }
            }
            // dup3 with no flags is dup2 where the two differ, which they do: every descriptor
            // the child still needs is above 3 (see `high_fd`).
            for (from, to) in [(self.stdin, 0), (self.stdout, 1), (self.out, 2)] {
                if let Err(e) = call(libc::SYS_dup3, args!(from, to, 0)) {
                    self.die(2, e);
                }
            }
            if self.fd3 >= 0 {
                if let Err(e) = call(libc::SYS_dup3, args!(self.fd3, 3, 0)) {
                    self.die(2, e);
                }
            }
            if let Err(e) = call(libc::SYS_chdir, args!(self.workdir)) {
                self.die(3, e);
            }
            let _ = call(libc::SYS_umask, args!(self.umask));
            for i in 0..self.limits_len {
                let (res, lim) = &*self.limits.add(i);
                let lim: *const libc::rlimit = lim;
                if let Err(e) = call(libc::SYS_prlimit64, args!(0, *res, lim, 0)) {
                    self.die(4, e);
                }
            }
            if let Some(n) = self.nice {
                if let Err(e) = call(
                    libc::SYS_setpriority,
                    args!(libc::PRIO_PROCESS, 0, n as isize),
                ) {
                    self.die(5, e);
                }
            }
            // Privileges last, in the order supplementary groups, gid, uid; then make sure root
            // cannot be regained. (glibc's wrappers would signal the threads of svc it still
            // believes in, and wait for them.)
            if let Some((uid, gid)) = self.drop_to {
                if let Err(e) = call(libc::SYS_setgroups, args!(self.groups_len, self.groups)) {
                    self.die(6, e);
                }
                if let Err(e) = call(libc::SYS_setgid, args!(gid)) {
                    self.die(7, e);
                }
                if let Err(e) = call(libc::SYS_setuid, args!(uid)) {
                    self.die(8, e);
                }
                if uid != 0 && call(libc::SYS_setuid, args!(0)).is_ok() {
                    self.die(9, libc::EPERM);
                }
            }
            // Wait until svc has recorded us. EOF means svc is gone: never run unrecorded.
            let mut byte = 0u8;
            loop {
                let buf: *mut u8 = &mut byte;
                match call(libc::SYS_read, args!(self.go_r, buf, 1)) {
                    Ok(1) => break,
                    Err(libc::EINTR) => continue,
                    _ => syscall::exit(126),
                }
            }
            // Only fds 0-2 (and 3 when given) survive exec: mark every other one close-on-exec
            // (the error pipe already is). Fall back to a bounded loop on kernels without
            // close_range.
            let first: u32 = if self.fd3 >= 0 { 4 } else { 3 };
            if call(
                libc::SYS_close_range,
                args!(first, u32::MAX, 4u32 /* CLOEXEC */),
            )
            .is_err()
            {
                let mut rl = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                let out: *mut libc::rlimit = &mut rl;
                let max = match call(libc::SYS_prlimit64, args!(0, libc::RLIMIT_NOFILE, 0, out)) {
                    Ok(_) => rl.rlim_max.min(1 << 20) as u32,
                    Err(_) => 65536,
                };
                for fd in first..max {
                    let _ = call(libc::SYS_fcntl, args!(fd, libc::F_SETFD, libc::FD_CLOEXEC));
                }
            }
            let e = call(libc::SYS_execve, args!(self.path, self.argv, self.envp))
                .err()
                .unwrap_or(libc::EINVAL);
            self.die(11, e);
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

/// Starts `setup`'s child without copying svc's memory: `clone3` with `CLONE_VM | CLONE_VFORK`
/// (and `CLONE_INTO_CGROUP` when `setup.cgroup_dir` is not -1), the child running on this
/// thread's stack below its pointer while this thread is suspended until the child has exec'd
/// or exited — what glibc's posix_spawn does, with svc's own setup steps. The child must not
/// wait for svc (`setup`'s release pipe must already hold its byte). See [`clone_shared`].
///
/// # Safety
/// `setup` must be a non-keeper launch whose release byte is written, and everything it
/// points to must stay valid until this returns.
pub(super) unsafe fn spawn_shared(setup: &ChildSetup) -> Option<Result<libc::pid_t, i32>> {
    // SAFETY: this function's contract; the child runs on this thread's stack while this
    // thread is suspended (CLONE_VFORK).
    unsafe { clone_shared(setup, None) }
}

/// The stack of a child started by [`spawn_waiting`]: its own mapping, with a guard page
/// below, unmapped when dropped — which its owner does only once the child has exec'd or
/// exited.
#[derive(Debug)]
pub(super) struct ChildStack {
    base: *mut libc::c_void,
}

impl ChildStack {
    /// Guard page included; the child's setup needs a few hundred bytes of it.
    const SIZE: usize = 64 * 1024;
    const GUARD: usize = 4096;

    pub(super) fn new() -> std::io::Result<ChildStack> {
        // SAFETY: a fresh private anonymous mapping, owned by the returned value only; the
        // guard page is inside it.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let stack = ChildStack { base };
            if libc::mprotect(base, Self::GUARD, libc::PROT_NONE) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(stack)
        }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: `base` is this value's own mapping of SIZE bytes; the owner drops it only once
        // no child runs on it (see `spawn_waiting`).
        unsafe {
            libc::munmap(self.base, Self::SIZE);
        }
    }
}

/// Starts `setup`'s child sharing svc's memory (`clone3` with `CLONE_VM`, and
/// `CLONE_INTO_CGROUP` into `setup.cgroup_dir` when it is not -1) on `stack`, without
/// suspending svc: the child sets itself up and waits for its release byte while svc records
/// it, as a forked child would — but no page table is copied, no page of svc's is
/// write-protected, and the exec has no copy of svc's memory to tear down. See
/// [`clone_shared`].
///
/// # Safety
/// `setup` must be a non-keeper launch, and `setup`, everything it points to and `stack` must
/// stay valid and unchanged until the child has exec'd or exited — until its error pipe
/// (`setup.err_r`) reaches EOF.
pub(super) unsafe fn spawn_waiting(
    setup: &ChildSetup,
    stack: &ChildStack,
) -> Option<Result<libc::pid_t, i32>> {
    // SAFETY: this function's contract.
    unsafe { clone_shared(setup, Some(stack)) }
}

/// The first Rust code of a child sharing svc's memory ([`clone_shared`]).
#[cfg(target_arch = "x86_64")]
extern "C" fn shared_child(arg: *mut libc::c_void) -> ! {
    // SAFETY: `arg` is the `ChildSetup` that `clone_shared`'s caller keeps, with all it points
    // to, until this child has exec'd or exited; `run` keeps to raw syscalls and never
    // returns. Born in the cgroup when there is one: `clone_shared` asked for it and does not
    // fall back.
    unsafe {
        let setup = &*(arg as *const ChildSetup);
        setup.run(setup.cgroup_dir >= 0)
    }
}

/// A child sharing svc's memory: `clone3` with `CLONE_VM`, into `setup.cgroup_dir` when it is
/// not -1, running [`ChildSetup::run`] — on `stack` while this thread goes on, or, without one,
/// on this thread's stack 4 KiB below its pointer while this thread is suspended
/// (`CLONE_VFORK`). The child uses no memory but its stack and what `setup` points to, and
/// makes raw syscalls only ([`super::syscall`]: it shares this thread's thread pointer, and so
/// its `errno`). Every signal is blocked around the clone, so no handler of svc's runs in the
/// child before [`reset_signals`].
///
/// Returns the child's PID, `Some(Err(errno))` when the kernel is out of resources, `None`
/// when this way is not available (another architecture than x86-64, a kernel or seccomp
/// filter refusing clone3 or the cgroup): the caller then forks.
///
/// # Safety
/// `setup` must be a non-keeper launch; it, all it points to and `stack` must stay valid and
/// unchanged until the child has exec'd or exited.
unsafe fn clone_shared(
    setup: &ChildSetup,
    stack: Option<&ChildStack>,
) -> Option<Result<libc::pid_t, i32>> {
    #[cfg(target_arch = "x86_64")]
    {
        let cgroup_dir = setup.cgroup_dir;
        let mut args = CloneArgs {
            flags: libc::CLONE_VM as u64
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
        match stack {
            Some(s) => {
                args.stack = s.base as u64;
                args.stack_size = ChildStack::SIZE as u64;
            }
            None => args.flags |= libc::CLONE_VFORK as u64,
        }
        // SAFETY: a full signal mask is set and restored on this thread only. The clone3
        // below starts a child in this address space that calls `shared_child(setup)` on its
        // stack — `stack`'s top, or with CLONE_VFORK this thread's stack (this thread is then
        // suspended until the child has exec'd or exited, so nothing here runs concurrently
        // with it) — 4 KiB below the stack pointer (past any red zone; inside `stack`, whose
        // guard page is at the bottom), 16-byte aligned; it never returns into this frame.
        // `args` lives on this frame for the syscall, which reads it before returning; the
        // caller keeps `setup` and `stack` (this function's contract). The kernel clobbers rcx
        // and r11.
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
                in("r13") setup as *const ChildSetup as *mut libc::c_void,
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
        let _ = (setup, stack);
        None
    }
}

/// Default disposition for every signal and an empty mask, whatever the caller had; the error
/// number if the mask could not be set. The raw syscall also resets 32 and 33, which glibc's
/// sigaction refuses to touch.
///
/// # Safety
/// Only between a child's birth and its exec: it makes async-signal-safe raw syscalls only.
pub unsafe fn reset_signals() -> Result<(), i32> {
    // SAFETY: between birth and exec (this function's contract); rt_sigaction gets a zeroed
    // (SIG_DFL) action and rt_sigprocmask an empty set, both on the stack, with the kernel's
    // sigset size (8).
    unsafe {
        let dfl = [0u64; 4];
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                let _ = call(libc::SYS_rt_sigaction, args!(sig, dfl.as_ptr(), 0, 8));
            }
        }
        let empty = 0u64;
        let set: *const u64 = &empty;
        call(
            libc::SYS_rt_sigprocmask,
            args!(libc::SIG_SETMASK, set, 0, 8),
        )
        .map(drop)
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
        let _ = reset_signals();
        crate::fdlimit::restore_in_child();
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            4u32, /* CLOEXEC */
        );
    }
}
