//! Advisory file locks (flock) in the state directory: one per service (start, stop) and one for
//! runlevel switches. The kernel drops a lock when its holder dies, so a killed svc never leaves
//! one behind.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A held exclusive lock, released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Opens (creating it, mode 0644, never through a symlink, never blocking, a regular file only)
/// the lock file at `path`.
pub fn open(path: &Path) -> io::Result<File> {
    crate::regular::open_rw(path, 0o644)
}

/// Takes the exclusive lock of `file`, waiting for the holder to finish.
pub fn exclusive(file: File) -> io::Result<Lock> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(Lock { _file: file });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether someone holds the lock at `path` right now (without creating the file).
pub fn is_held(path: &Path) -> bool {
    // A FIFO or a symlink planted there is no lock anyone holds (and must not block us).
    let Ok(f) = crate::regular::open_read(path, crate::regular::Links::Refuse) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; released when `f` is dropped.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}
