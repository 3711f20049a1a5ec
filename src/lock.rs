//! Advisory file locks (flock) in the state directory: one per service (start, stop) and one for
//! runlevel switches. The kernel drops a lock when its holder dies, so a killed svc never leaves
//! one behind.

use std::fs::File;
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held exclusive lock, released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: Flock<File>,
}

/// Opens (creating it, mode 0644, never through a symlink, never blocking, a regular file only)
/// the lock file at `path`.
pub fn open(path: &Path) -> io::Result<File> {
    crate::regular::open_lock(path, 0o644)
}

/// Takes the exclusive lock of `file`, waiting for the holder to finish.
pub fn exclusive(file: File) -> io::Result<Lock> {
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusive) {
            Ok(held) => return Ok(Lock { _file: held }),
            Err((f, Errno::EINTR)) => file = f,
            Err((_, e)) => return Err(e.into()),
        }
    }
}

/// Whether someone holds the lock at `path` right now (without creating the file).
pub fn is_held(path: &Path) -> bool {
    // A FIFO or a symlink planted there is no lock anyone holds (and must not block us).
    let Ok(f) = crate::regular::open_read(path, crate::regular::Links::Refuse) else {
        return false;
    };
    // A shared lock we get is released at once (when the `Flock` is dropped).
    Flock::lock(f, FlockArg::LockSharedNonblock).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The lock file keeps `O_NONBLOCK` (see `regular::open_lock`): a second taker still waits
    /// for the holder, and gets the lock once it lets go.
    #[test]
    fn a_second_taker_waits_for_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = exclusive(open(&path).unwrap()).unwrap();
        assert!(is_held(&path));
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let l = exclusive(open(&p).unwrap()).unwrap();
            tx.send(()).unwrap();
            drop(l);
        });
        // Still waiting while the lock is held (a non-blocking flock would have failed or
        // returned at once).
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        drop(held);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the waiter got the lock once it was let go");
        waiter.join().unwrap();
    }
}
