//! The directory that holds the services' cgroups (`svc/ID`, or `svc` for the default state
//! directory), opened once per process and kept, so that making, opening, reading or removing
//! a service's cgroup looks up its name under it instead of walking the hierarchy's whole path
//! ([`at`], [`open_at`], [`openat`]).
//!
//! Each step of a path walk in cgroupfs takes, for reading, the lock of the kernel's kernfs
//! tree that every cgroup `mkdir` and `rmdir` holds for writing while it adds or removes the
//! cgroup's files: in a switch of 200 services the walks of some stops queued behind the
//! removals of others.
//!
//! A kept descriptor goes stale when its directory is removed (another svc stopped the last
//! service of the configuration) and perhaps made again: a call through it fails with `ENOENT`
//! or `ENODEV`, and is made once more through a descriptor opened afresh.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// The directory kept: its path and an `O_PATH` descriptor of it.
static KEPT: Mutex<Option<(PathBuf, Arc<OwnedFd>)>> = Mutex::new(None);

/// Runs `op` on the directory at `path`, kept open between calls; when the kept descriptor is
/// stale, once more on a fresh one. An error opening the directory is `op`'s error.
pub(super) fn at<T>(
    path: &Path,
    op: impl Fn(BorrowedFd<'_>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let (dir, kept) = get(path)?;
    match op(dir.as_fd()) {
        Err(Errno::ENOENT | Errno::ENODEV) if kept => {
            forget(path);
            let (dir, _) = get(path)?;
            op(dir.as_fd())
        }
        done => done,
    }
}

/// Drops the kept descriptor of `path` (svc removed that directory).
pub(super) fn forget(path: &Path) {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if kept.as_ref().is_some_and(|(p, _)| p == path) {
        *kept = None;
    }
}

/// The descriptor of `path`, and whether it was kept from before (and so may be stale).
fn get(path: &Path) -> Result<(Arc<OwnedFd>, bool), Errno> {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, dir)) = kept.as_ref() {
        if p == path {
            return Ok((Arc::clone(dir), true));
        }
    }
    let dir = Arc::new(
        nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(|fd| {
            // SAFETY: `open` just returned this descriptor; nothing else owns it.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })?,
    );
    *kept = Some((path.to_owned(), Arc::clone(&dir)));
    Ok((dir, false))
}

/// Opens `path` through the kept descriptor of the directory above it ([`at`]): one
/// name looked up in cgroupfs, not the whole path.
pub(super) fn open_at(path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    match (path.parent(), path.file_name()) {
        (Some(above), Some(name)) => at(above, |dir| openat(dir, name, flags)),
        _ => Err(Errno::ENOENT),
    }
}

/// `openat(2)` of `name` in `dir`, close-on-exec.
pub(super) fn openat(
    dir: BorrowedFd<'_>,
    name: &(impl nix::NixPath + ?Sized),
    flags: OFlag,
) -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `openat` just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory removed and made again under the same path is reached through a fresh
    /// descriptor: the kept one's ENOENT is not the answer.
    #[test]
    fn a_directory_made_again_is_opened_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("svc-id");
        std::fs::create_dir(&dir).unwrap();
        let mkdir = |name: &'static str| {
            move |fd: BorrowedFd<'_>| {
                nix::sys::stat::mkdirat(Some(fd.as_raw_fd()), name, Mode::S_IRWXU)
            }
        };
        at(&dir, mkdir("a")).unwrap();
        assert!(dir.join("a").is_dir());
        std::fs::remove_dir(dir.join("a")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        at(&dir, mkdir("b")).unwrap();
        assert!(
            dir.join("b").is_dir(),
            "made in the directory that is there now"
        );
        // Gone for good: the error of the fresh open.
        std::fs::remove_dir(dir.join("b")).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(at(&dir, mkdir("c")), Err(Errno::ENOENT));
        forget(&dir);
    }

    /// Another svc removes `svc/ID` (its last service stopped) and makes it again behind the
    /// kept descriptor's back: the cgroups made and removed after that are the ones there now.
    /// In the host's cgroup2 where svc can use it (a dead cgroup refuses `mkdir` with ENODEV),
    /// else in a plain directory (ENOENT).
    #[test]
    fn cgroups_are_made_and_removed_where_svc_id_is_now() {
        use super::super::{hierarchy, Cgroup, Hierarchy};
        let tmp = tempfile::tempdir().unwrap();
        let root = match hierarchy() {
            Hierarchy::At(root) => root.clone(),
            Hierarchy::Unavailable(_) => tmp.path().to_owned(),
        };
        let state = tmp.path().join("state");
        let (a, b) = (
            Cgroup::at(&root, &state, "a"),
            Cgroup::at(&root, &state, "b"),
        );
        let id = a.path().parent().unwrap().to_owned();
        // Nothing left behind in the host's hierarchy, even when an assertion fails.
        struct Tidy(Vec<std::path::PathBuf>);
        impl Drop for Tidy {
            fn drop(&mut self) {
                for dir in &self.0 {
                    let _ = std::fs::remove_dir(dir);
                }
            }
        }
        let _tidy = Tidy(vec![a.path(), b.path(), id.clone()]);
        a.make_dirs().unwrap();
        b.make_dirs().unwrap();
        for cg in [&a, &b] {
            std::fs::remove_dir(cg.path()).unwrap();
        }
        std::fs::remove_dir(&id).unwrap();
        a.make_dirs().unwrap();
        assert!(a.path().is_dir(), "made under the svc/ID there now");
        b.make_dirs().unwrap();
        assert!(b.remove(), "removed");
        assert!(!b.path().exists());
        assert!(id.is_dir(), "svc/ID still holds a");
        assert!(a.remove());
        assert!(!id.exists(), "svc/ID goes with its last cgroup");
        assert!(a.remove(), "a cgroup that is not there is gone");
    }

    /// A cgroup's files are read in the `svc/ID` there now, not in one another svc removed.
    #[test]
    fn cgroup_files_are_read_where_svc_id_is_now() {
        use super::super::Cgroup;
        let tmp = tempfile::tempdir().unwrap();
        let a = Cgroup::at(tmp.path(), &tmp.path().join("state"), "a");
        let id = a.path().parent().unwrap().to_owned();
        let make = |procs: &str| {
            std::fs::create_dir_all(a.path()).unwrap();
            std::fs::write(a.path().join("cgroup.procs"), procs).unwrap();
        };
        make("42\n7\n");
        assert_eq!(a.procs(), vec![7, 42]);
        std::fs::remove_dir_all(&id).unwrap();
        make("5\n");
        assert_eq!(a.procs(), vec![5], "read through a stale descriptor");
        assert!(a.exists());
        std::fs::remove_dir_all(&id).unwrap();
        assert!(!a.exists());
        assert_eq!(a.procs(), Vec::<i32>::new());
        forget(&id);
    }
}
