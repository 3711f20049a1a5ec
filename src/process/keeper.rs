//! The keeper of a forking launch (docs/security.md, "How svc decides a service runs"): a small
//! forked copy of svc that is the child subreaper of the launch while svc waits for it.
//!
//! A daemonizing program forks and lets its launcher exit; the daemon would be reparented to
//! init, and svc could no longer tell it from any other process. The keeper sits between svc
//! and the launcher with `PR_SET_CHILD_SUBREAPER` set, so every process the launch creates stays
//! its descendant however often it forks and whoever its parent was: "created by this launch"
//! is "a descendant of the keeper" ([`Keeper::created`]), a fact the daemon cannot forge —
//! unlike a PID file it writes after dropping privileges. The keeper holds nothing but its
//! children: svc's other children (services launched earlier in the same command, switch
//! workers, other threads' launches) are never among them, so ending "everything the launch
//! created" ([`Keeper::stop_all`]) can never touch them.
//!
//! The keeper reaps its children, reports the launcher's wait status on a pipe, and exits once
//! it has no child left. When the start succeeds svc ends it ([`Keeper::release`]) and the
//! daemon moves on to init, as any daemon does; svc itself is never a subreaper and never
//! inherits a zombie. Dropping a keeper that was not released kills what the launch created: a
//! start that fails leaves nothing running. If svc itself dies before the start is over
//! (killed, or a Ctrl-C, which reaches the keeper too: it ignores that), the keeper learns it
//! from its death signal (`PR_SET_PDEATHSIG`) and kills everything the launch created before it
//! goes: its children, and each orphan the kills reparent to it, until none is left. A daemon
//! svc has not recorded never outlives svc.
//!
//! `keep` is the keeper's whole life after fork: plain syscalls only (waitpid, sigwaitinfo,
//! getppid, open, read, kill, write, close, _exit), like the rest of the child side of
//! a launch ([`super::child`]).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::group::KILL_GRACE;
use super::handle::{poll_fds, wait_any_exit, ProcHandle};
use super::procfs::Procfs;

/// How the launcher ended, as the keeper saw it.
#[derive(Debug)]
pub enum LauncherEnd {
    Exited(std::process::ExitStatus),
    /// Still running at the deadline.
    TimedOut,
    /// Still running when svc was asked to stop (SIGTERM to a switch, see
    /// [`super::cancel`]).
    Cancelled,
    /// The keeper died without saying (killed).
    Lost,
}

/// svc's side of a keeper: its PID (svc's own child, so never reused while svc holds it) and
/// the pipe the launcher's status arrives on.
#[derive(Debug)]
pub struct Keeper {
    pid: i32,
    status: Option<OwnedFd>,
    procfs: Procfs,
    /// Reaped: nothing left to do on drop.
    done: bool,
}

impl Keeper {
    pub(super) fn new(pid: i32, status: OwnedFd) -> Keeper {
        Keeper {
            pid,
            status: Some(status),
            procfs: Procfs::system(),
            done: false,
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits until the launcher exits (at most until `deadline`, and no longer than svc is
    /// asked to stop: cancellation is looked for at least every 100 ms).
    pub fn wait_launcher(&mut self, deadline: Instant) -> LauncherEnd {
        let Some(fd) = self.status.take() else {
            return LauncherEnd::Lost;
        };
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match poll_fds(&[fd.as_fd()], Some(left.min(Duration::from_millis(100)))) {
                Ok(true) => {}
                Ok(false) => {
                    let end = if Instant::now() >= deadline {
                        LauncherEnd::TimedOut
                    } else if super::cancel::requested() {
                        LauncherEnd::Cancelled
                    } else {
                        continue;
                    };
                    self.status = Some(fd);
                    return end;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return LauncherEnd::Lost,
            }
            match nix::unistd::read(fd.as_raw_fd(), &mut buf[got..]) {
                Err(nix::errno::Errno::EINTR) => continue,
                Ok(0) | Err(_) => return LauncherEnd::Lost,
                Ok(n) => got += n,
            }
        }
        use std::os::unix::process::ExitStatusExt;
        LauncherEnd::Exited(std::process::ExitStatus::from_raw(i32::from_ne_bytes(buf)))
    }

    /// Whether `pid` is a process this launch created: the keeper is among its ancestors
    /// ([`Procfs::descends_from`]; the keeper, svc's unreaped child, keeps its PID).
    pub fn created(&self, pid: i32) -> bool {
        self.procfs.descends_from(pid, self.pid)
    }

    /// The live processes the launch created, now.
    pub fn members(&self) -> Vec<i32> {
        self.procfs
            .descendants(self.pid)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// Ends every process the launch created: `sig` and SIGCONT to each, SIGKILL to what is
    /// left at `soft`; returns the processes still there at `hard`. Then ends the keeper.
    pub fn stop_all(mut self, sig: Signal, soft: Instant, hard: Instant) -> Result<(), Vec<i32>> {
        let result = self.end_members(sig, soft, hard);
        self.finish();
        result
    }

    fn end_members(&self, sig: Signal, soft: Instant, hard: Instant) -> Result<(), Vec<i32>> {
        let mut signalled: Vec<i32> = Vec::new();
        loop {
            let members = self.members();
            if members.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= hard {
                return Err(members);
            }
            let killing = now >= soft;
            // A handle first, then the check that it is still ours: the pidfd pins the process,
            // so the signal cannot reach a PID reused in between.
            let handles: Vec<ProcHandle> = members
                .iter()
                .filter_map(|&p| ProcHandle::open(p, &self.procfs).ok())
                .filter(|h| self.created(h.pid()))
                .collect();
            for h in &handles {
                if killing {
                    let _ = h.signal(Signal::SIGKILL);
                } else if !signalled.contains(&h.pid()) {
                    let _ = h.signal(sig);
                    let _ = h.signal(Signal::SIGCONT);
                    signalled.push(h.pid());
                }
            }
            let until = if killing { hard } else { soft };
            // Look again now and then: a member may fork while we wait.
            let until = until.min(Instant::now() + Duration::from_millis(100));
            let refs: Vec<&ProcHandle> = handles.iter().collect();
            if refs.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                wait_any_exit(&refs, until);
            }
        }
    }

    /// Ends the keeper and leaves what the launch created running (the daemon moves to init).
    pub fn release(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        // Our own unreaped child: its PID cannot have been reused.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), Signal::SIGKILL);
        super::reap::reap(self.pid);
        self.done = true;
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if !self.done {
            let now = Instant::now();
            let _ = self.end_members(Signal::SIGKILL, now, now + KILL_GRACE);
            self.finish();
        }
    }
}

/// The keeper's death signal, sent by the kernel when svc (the thread that forked it) exits.
pub(super) const DEATH_SIGNAL: libc::c_int = libc::SIGTERM;

/// The signals the keeper blocks and takes with sigwaitinfo: SIGCHLD, its death signal, those
/// a terminal or a Ctrl-C sends svc's whole process group, and SIGPIPE (the launcher's status
/// written after svc is gone).
///
/// # Safety
/// Async-signal-safe (sigemptyset, sigaddset on a stack value): callable after fork.
pub(super) unsafe fn signals() -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is a valid argument for sigemptyset, which initialises it;
    // sigaddset takes valid signal numbers. Both are async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [
            libc::SIGCHLD,
            DEATH_SIGNAL,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGTERM,
            libc::SIGPIPE,
        ] {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// SIGKILL to every child of the keeper, from `/proc/thread-self/children` (the keeper has one
/// thread). Safe from PID reuse: an unreaped child keeps its PID, and the keeper reaps only
/// in its own loop, never while this runs. Returns false when the file cannot be read.
///
/// # Safety
/// Only in the forked keeper: open, read, kill and close on a stack buffer.
unsafe fn kill_children() -> bool {
    // SAFETY: in the forked keeper (this function's contract): open takes a static C string, read a
    // stack buffer of the length given, errno is this thread's; kill and close take integers.
    unsafe {
        let fd = libc::open(
            c"/proc/thread-self/children".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return false;
        }
        let mut buf = [0u8; 512];
        let mut pid: libc::pid_t = 0;
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    pid = pid
                        .saturating_mul(10)
                        .saturating_add(libc::pid_t::from(b - b'0'));
                } else {
                    if pid > 0 {
                        libc::kill(pid, libc::SIGKILL);
                    }
                    pid = 0;
                }
            }
        }
        if pid > 0 {
            libc::kill(pid, libc::SIGKILL);
        }
        libc::close(fd);
        true
    }
}

/// The keeper's life after fork: reap every child, report the launcher's wait status on
/// `status`, exit once no child is left (then nothing of the launch is left either: every
/// orphan of the launch is reparented here). Once `svc` (its parent) is gone, kill every child
/// first, again whenever a kill reparents more.
///
/// # Safety
/// Only in the forked keeper, between fork and _exit, with [`signals`] blocked: plain
/// syscalls only.
pub(super) unsafe fn keep(launcher: libc::pid_t, status: RawFd, svc: libc::pid_t) -> ! {
    // SAFETY: in the forked keeper with `signals` blocked (this function's contract): close_range,
    // close, kill, getppid and _exit take integers; waitpid and sigwaitinfo write to stack values;
    // write reads a stack array of the length given; errno is this thread's. `signals` and
    // `kill_children` are called where their contracts hold: in the keeper.
    unsafe {
        // Nothing but the status pipe: the keeper must not hold svc's output or the launch's pipes.
        let below = status <= 0
            || libc::syscall(libc::SYS_close_range, 0u32, (status - 1) as u32, 0u32) == 0;
        let above = libc::syscall(libc::SYS_close_range, (status + 1) as u32, u32::MAX, 0u32) == 0;
        if !(below && above) {
            // No close_range (Linux < 5.9): a bounded loop.
            for fd in 0..4096 {
                if fd != status {
                    libc::close(fd);
                }
            }
        }
        let set = signals();
        let mut status = status;
        let mut launcher_reaped = false;
        let mut orphaned = false;
        loop {
            // Reap whatever has exited; with no child left, the launch is over.
            loop {
                let mut st: libc::c_int = 0;
                let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
                if r == launcher {
                    launcher_reaped = true;
                    if status >= 0 {
                        let bytes = st.to_ne_bytes();
                        libc::write(status, bytes.as_ptr().cast(), bytes.len());
                        libc::close(status);
                        status = -1;
                    }
                } else if r == 0 {
                    break;
                } else if r < 0 && *libc::__errno_location() != libc::EINTR {
                    libc::_exit(0);
                }
            }
            if orphaned && !kill_children() && !launcher_reaped {
                // No children file (a kernel without CONFIG_PROC_CHILDREN): the launcher and its
                // group at least (its PID cannot be reused while it is our unreaped child).
                libc::kill(-launcher, libc::SIGKILL);
                libc::kill(launcher, libc::SIGKILL);
            }
            // Sleep until a child exits or a signal says svc may be gone.
            let sig = libc::sigwaitinfo(&set, std::ptr::null_mut());
            if sig > 0 && sig != libc::SIGCHLD && libc::getppid() != svc {
                orphaned = true;
            }
        }
    }
}
