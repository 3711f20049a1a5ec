//! A handle on a live process: a pidfd where the kernel has one, else the bare PID.
//!
//! Signals go through the pidfd, so a process that died (and whose PID was reused) in the
//! meantime is never hit: the kernel answers ESRCH. Waiting for exit polls the pidfd, which
//! becomes readable the moment the process exits — zombies included, so a lazy reaper never
//! delays a stop. Without pidfds (old kernels, or `SVC_NO_PIDFD=1` for tests) the fallback
//! checks /proc with short growing pauses and re-verifies the start time before each signal.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::procfs::Procfs;

/// Set once a `pidfd_open` answered that the kernel has none: ENOSYS, or EPERM from a seccomp
/// filter that does not know the call (the call itself never answers EPERM).
static KERNEL_LACKS_PIDFD: AtomicBool = AtomicBool::new(false);

/// Whether pidfds may be used: not disabled for tests, and not found missing. Nothing is probed
/// up front: the first real `pidfd_open` tells (see [`ProcHandle::open`]).
fn pidfd_enabled() -> bool {
    static DISABLED: OnceLock<bool> = OnceLock::new();
    let disabled =
        *DISABLED.get_or_init(|| std::env::var_os("SVC_NO_PIDFD").is_some_and(|v| v == "1"));
    !disabled && !KERNEL_LACKS_PIDFD.load(Ordering::Relaxed)
}

/// A pidfd for `pid`; `Ok(None)` when the kernel has no pidfds (remembered for the process).
fn pidfd_open(pid: i32) -> io::Result<Option<OwnedFd>> {
    match raw_pidfd_open(pid) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            KERNEL_LACKS_PIDFD.store(true, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn raw_pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new file descriptor or -1; no
    // memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether pidfd inodes identify processes (see [`pidfd_inodes_identify`]), once known.
static PIDFS: OnceLock<bool> = OnceLock::new();

/// Whether `fd`, a pidfd, lives on pidfs.
fn on_pidfs(fd: &OwnedFd) -> bool {
    const PIDFS_MAGIC: libc::__fsword_t = 0x5049_4446;
    nix::sys::statfs::fstatfs(fd).is_ok_and(|st| st.filesystem_type().0 == PIDFS_MAGIC)
}

/// Whether pidfd inodes identify processes: true on pidfs (Linux 6.9+), where each process has
/// its own inode. Older kernels back every pidfd with one shared anonymous inode, useless for
/// identity. Probed once, by the file system magic of the first pidfd at hand (a handle's own,
/// else one opened on this process for the purpose).
pub fn pidfd_inodes_identify() -> bool {
    *PIDFS.get_or_init(|| {
        pidfd_enabled()
            && pidfd_open(std::process::id() as i32)
                .ok()
                .flatten()
                .is_some_and(|fd| on_pidfs(&fd))
    })
}

/// A reference to one process.
#[derive(Debug)]
pub struct ProcHandle {
    pid: i32,
    fd: Option<OwnedFd>,
    /// Start time when the handle was made, re-checked by the fallback before signalling.
    start_ticks: Option<u64>,
    procfs: Procfs,
}

impl ProcHandle {
    /// Opens a handle. `Err(ESRCH)` when no such process exists.
    pub fn open(pid: i32, procfs: &Procfs) -> io::Result<ProcHandle> {
        if pid <= 0 {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let fd = if pidfd_enabled() {
            pidfd_open(pid)?
        } else {
            None
        };
        // The fallback re-checks the start time before signalling; a pidfd needs no such check.
        let start_ticks = match fd {
            Some(_) => None,
            None => Some(
                procfs
                    .stat(pid)
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?
                    .start_ticks,
            ),
        };
        Ok(ProcHandle {
            pid,
            fd,
            start_ticks,
            procfs: procfs.clone(),
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd's inode when pidfds identify processes.
    pub fn inode(&self) -> Option<u64> {
        let fd = self.fd.as_ref()?;
        if !*PIDFS.get_or_init(|| on_pidfs(fd)) {
            return None;
        }
        nix::sys::stat::fstat(fd.as_raw_fd())
            .ok()
            .map(|st| st.st_ino)
    }

    /// Sends `sig`. `Ok(false)` when the process is already gone.
    pub fn signal(&self, sig: Signal) -> io::Result<bool> {
        match &self.fd {
            Some(fd) => {
                // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, a null siginfo
                // (the kernel fills it in as for kill) and no flags.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        sig as libc::c_int,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
                if r == 0 {
                    Ok(true)
                } else {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::ESRCH) {
                        Ok(false)
                    } else {
                        Err(e)
                    }
                }
            }
            None => {
                if !self.same_process_alive() {
                    return Ok(false);
                }
                match nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig) {
                    Ok(()) => Ok(true),
                    Err(nix::errno::Errno::ESRCH) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Fallback liveness: the PID still has the start time it had when the handle was made,
    /// and is not a zombie.
    fn same_process_alive(&self) -> bool {
        match self.procfs.stat(self.pid) {
            Some(s) => !s.is_zombie() && Some(s.start_ticks) == self.start_ticks,
            None => false,
        }
    }

    /// Whether the process has exited (zombies count as exited).
    pub fn exited(&self) -> bool {
        match &self.fd {
            Some(fd) => poll_fds(&[fd.as_fd()], Some(Duration::ZERO)).unwrap_or(false),
            None => !self.same_process_alive(),
        }
    }

    /// Waits until the process exits or `deadline` passes; true when it exited.
    pub fn wait_exit(&self, deadline: Instant) -> bool {
        wait_any_exit(&[self], deadline)
    }

    pub(crate) fn fd(&self) -> Option<&OwnedFd> {
        self.fd.as_ref()
    }
}

/// Waits until any of `handles` exits or `deadline` passes; true when one exited.
pub fn wait_any_exit(handles: &[&ProcHandle], deadline: Instant) -> bool {
    let fds: Vec<_> = handles
        .iter()
        .filter_map(|h| h.fd())
        .map(|f| f.as_fd())
        .collect();
    if fds.len() == handles.len() && !fds.is_empty() {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match poll_fds(&fds, Some(left)) {
                Ok(r) => return r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return handles.iter().any(|h| h.exited()),
            }
        }
    }
    let mut pause = Duration::from_millis(1);
    loop {
        if handles.iter().any(|h| h.exited()) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Polls fds for readability; `Ok(true)` when any is readable. `None` waits forever.
pub fn poll_fds(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut pfds: Vec<PollFd> = fds
        .iter()
        .map(|f| PollFd::new(*f, PollFlags::POLLIN))
        .collect();
    // Milliseconds, rounded up (a sub-millisecond rest never becomes a busy loop).
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(d) => {
            let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
            PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        }
    };
    let r = nix::poll::poll(&mut pfds, timeout)?;
    Ok(r > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_on_child_sees_exit() {
        let procfs = Procfs::system();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let h = ProcHandle::open(child.id() as i32, &procfs).unwrap();
        assert!(!h.exited());
        assert!(h.signal(Signal::SIGTERM).unwrap());
        assert!(h.wait_exit(Instant::now() + Duration::from_secs(5)));
        // Exited but not reaped yet: a zombie is gone for svc.
        assert!(h.exited());
        child.wait().unwrap();
        assert!(!h.signal(Signal::SIGTERM).unwrap());
    }

    #[test]
    fn no_handle_for_pid_zero_or_missing() {
        let procfs = Procfs::system();
        assert!(ProcHandle::open(0, &procfs).is_err());
        assert!(ProcHandle::open(-1, &procfs).is_err());
        assert!(ProcHandle::open(i32::MAX, &procfs).is_err());
    }
}
