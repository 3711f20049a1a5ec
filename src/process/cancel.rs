//! Cancelling a runlevel switch: SIGTERM or SIGINT to `svc switch`/`svc boot` (what `svc init`
//! sends its boot when it is asked to stop) means "start nothing more, give up the waits, and
//! finish", not "die in the middle".
//!
//! [`install`] sets handlers that only set a flag and close the write end of a pipe (both
//! async-signal-safe, no `static mut`). The switch's worker processes, forked afterwards, close
//! their copy of the write end ([`forget_writer`]) and keep the read end: once the switch has
//! been signalled, every one of them sees the pipe hung up. So [`requested`] answers the same
//! in the switch and in its workers, without the switch having to signal each worker. Both ends
//! are close-on-exec: launched programs never see them. The handlers reset themselves
//! (`SA_RESETHAND`): a second signal has its default effect. A signal ignored when svc started
//! (`nohup`, a background job of a script) stays ignored.
//!
//! A process that blocks SIGTERM and SIGINT to read them later (a supervisor reads them from a
//! signalfd) asks for [`watch_pending`]: then one of them pending is a request to stop too, so
//! the first launch's readiness wait ends when `svc stop` or a cancelled switch sends SIGTERM.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static CANCELLED: AtomicBool = AtomicBool::new(false);
/// Set by [`watch_pending`]: a pending (blocked) SIGTERM or SIGINT counts as a request.
static WATCH_PENDING: AtomicBool = AtomicBool::new(false);
/// The pipe's ends, -1 when absent (not installed, or the write end closed).
static READ_END: AtomicI32 = AtomicI32::new(-1);
static WRITE_END: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    CANCELLED.store(true, Ordering::SeqCst);
    let w = WRITE_END.swap(-1, Ordering::SeqCst);
    if w >= 0 {
        // close is async-signal-safe; the descriptor is ours and closed only here. errno is
        // kept: the interrupted code may be about to read it.
        let saved = nix::errno::Errno::last_raw();
        let _ = nix::unistd::close(w);
        nix::errno::Errno::set_raw(saved);
    }
}

/// Makes SIGTERM and SIGINT request cancellation in this process and the workers it forks
/// later. Once per process; a second call changes nothing.
pub fn install() -> io::Result<()> {
    if READ_END.load(Ordering::SeqCst) >= 0 {
        return Ok(());
    }
    use nix::fcntl::OFlag;
    use std::os::fd::IntoRawFd;
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    // Kept as raw numbers: the signal handler closes the write end.
    READ_END.store(r.into_raw_fd(), Ordering::SeqCst);
    WRITE_END.store(w.into_raw_fd(), Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction with zeroed structs we own; the handler only touches atomics and
        // calls close.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// In a freshly forked worker: closes its copy of the write end, so that only the switch
/// holds it and the worker sees the switch's cancellation.
pub fn forget_writer() {
    let w = WRITE_END.swap(-1, Ordering::SeqCst);
    if w >= 0 {
        // Our own descriptor, inherited by fork; nobody else closes it in this process.
        let _ = nix::unistd::close(w);
    }
}

/// In a process that blocks SIGTERM and SIGINT and reads them later: from now on one of them
/// pending (not yet read) makes [`requested`] true. The signal stays pending for its reader.
pub fn watch_pending() {
    WATCH_PENDING.store(true, Ordering::SeqCst);
}

/// Whether a SIGTERM or SIGINT is pending (blocked and not yet read).
fn stop_signal_pending() -> bool {
    // SAFETY: sigpending fills the set we own; sigismember reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigpending(&mut set) == 0
            && (libc::sigismember(&set, libc::SIGTERM) == 1
                || libc::sigismember(&set, libc::SIGINT) == 1)
    }
}

/// Whether this switch was asked to stop: here, or in the switch that forked this worker (or,
/// after [`watch_pending`], by a pending SIGTERM or SIGINT).
pub fn requested() -> bool {
    if CANCELLED.load(Ordering::SeqCst) {
        return true;
    }
    if WATCH_PENDING.load(Ordering::SeqCst) && stop_signal_pending() {
        return true;
    }
    let r = READ_END.load(Ordering::SeqCst);
    if r < 0 || WRITE_END.load(Ordering::SeqCst) >= 0 {
        // Not installed, or this process still holds the write end (it was not signalled).
        return false;
    }
    let mut p = libc::pollfd {
        fd: r,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, without waiting.
    let hung_up = unsafe { libc::poll(&mut p, 1, 0) } == 1 && p.revents & libc::POLLHUP != 0;
    if hung_up {
        CANCELLED.store(true, Ordering::SeqCst);
    }
    hung_up
}
