//! svc's own open-file limit during a runlevel switch, and the limit its children get; how
//! many parallel jobs (a switch's, `crate::parallel`'s threads) the descriptors left allow.
//!
//! A switch keeps descriptors per parallel job (the pipes of its worker processes, the lock,
//! pidfd and files of a step run in the switch itself), so with `--jobs 1024` it needs more than
//! the usual soft limit of 1024, and far more than a `ulimit -n 64`. [`raise`] lifts svc's soft
//! `RLIMIT_NOFILE` to the hard limit (any process may), and [`fit_jobs`] bounds the parallelism
//! by what is then available, so a boot never fails for svc's own limits.
//!
//! The programs svc launches must not inherit the raised limit: a daemon gets the limit svc was
//! started with, unless its definition sets `limits: {nofile: ...}`. The original is kept in
//! atomics, so that the child side ([`inherited`] before the fork, [`restore_in_child`] between
//! fork and exec) needs neither allocation nor locks.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set once [`raise`] changed the soft limit.
static RAISED: AtomicBool = AtomicBool::new(false);
/// The soft and hard limits before [`raise`].
static ORIGINAL_SOFT: AtomicU64 = AtomicU64::new(0);
static ORIGINAL_HARD: AtomicU64 = AtomicU64::new(0);

/// Descriptors one parallel job of a switch may hold in svc itself: a start keeps two pipe
/// ends to its worker process; a stop (and a start that the switch runs itself when a worker
/// cannot be made) holds the service's lock, its pidfd and a file or two being read.
pub const PER_JOB: usize = 8;

/// Descriptors kept free for everything else (the switch lock, the timeline, the output,
/// directory reads, a worker being forked).
pub const RESERVE: usize = 24;

/// The soft and hard `RLIMIT_NOFILE` now.
pub fn current() -> io::Result<(u64, u64)> {
    Ok(nix::sys::resource::getrlimit(
        nix::sys::resource::Resource::RLIMIT_NOFILE,
    )?)
}

/// Raises the soft limit to the hard one, remembering the original for the children. Returns
/// the soft limit in force afterwards. Harmless when called again.
pub fn raise() -> io::Result<u64> {
    let (soft, hard) = current()?;
    if soft >= hard {
        return Ok(soft);
    }
    if !RAISED.load(Ordering::SeqCst) {
        ORIGINAL_SOFT.store(soft, Ordering::SeqCst);
        ORIGINAL_HARD.store(hard, Ordering::SeqCst);
    }
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    RAISED.store(true, Ordering::SeqCst);
    Ok(hard)
}

/// The `RLIMIT_NOFILE` a launched program gets when its definition sets none: the one svc was
/// started with, if [`raise`] changed it; `None` otherwise (the child keeps svc's).
pub fn inherited() -> Option<libc::rlimit> {
    RAISED.load(Ordering::SeqCst).then(|| libc::rlimit {
        rlim_cur: ORIGINAL_SOFT.load(Ordering::SeqCst),
        rlim_max: ORIGINAL_HARD.load(Ordering::SeqCst),
    })
}

/// Puts back the limit svc was started with, for a child started with std's `Command`.
///
/// # Safety
/// Only between fork and exec: it makes one async-signal-safe syscall on stack values.
pub unsafe fn restore_in_child() {
    if RAISED.load(Ordering::Relaxed) {
        let rl = libc::rlimit {
            rlim_cur: ORIGINAL_SOFT.load(Ordering::Relaxed),
            rlim_max: ORIGINAL_HARD.load(Ordering::Relaxed),
        };
        // SAFETY: between fork and exec (this function's contract); setrlimit reads a stack
        // value and is async-signal-safe.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
    }
}

/// How many descriptors this process has open now (`/proc/self/fd`; a guess when unreadable).
pub fn open_now() -> usize {
    std::fs::read_dir("/proc/self/fd")
        // The directory's own descriptor is one of the entries.
        .map(|rd| rd.count().saturating_sub(1))
        .unwrap_or(RESERVE)
}

/// The parallelism a switch can afford: `requested`, at most one job per [`PER_JOB`]
/// descriptors of those left under `soft` after `open` and the [`RESERVE`]; at least 1.
pub fn fit_jobs(requested: usize, soft: u64, open: usize) -> usize {
    let soft = usize::try_from(soft).unwrap_or(usize::MAX);
    let free = soft.saturating_sub(open).saturating_sub(RESERVE);
    requested.min(free / PER_JOB).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_fit_the_descriptors_left() {
        assert_eq!(fit_jobs(1024, 1024, 10), (1024 - 10 - RESERVE) / PER_JOB);
        assert_eq!(fit_jobs(32, 1024, 10), 32);
        assert_eq!(fit_jobs(1024, 64, 6), (64 - 6 - RESERVE) / PER_JOB);
        assert_eq!(fit_jobs(1024, 16, 6), 1, "never below one job");
        assert_eq!(fit_jobs(1024, u64::MAX, 6), 1024);
        assert_eq!(fit_jobs(1024, 1 << 20, 6), 1024);
    }
}
