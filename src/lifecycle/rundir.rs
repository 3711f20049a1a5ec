//! Runtime directories (`runtime_dir:`, SPEC §8.3; docs/services.md, "Runtime directories"):
//! made under the runtime root when a launch is prepared (before `pre_start` and the program),
//! owned by the service's user and group with mode `runtime_dir_mode`, exported as
//! `RUNTIME_DIRECTORY`, and removed with their contents once the service has stopped.
//!
//! Every step works on directory descriptors opened with `O_NOFOLLOW | O_DIRECTORY`, and
//! entries are unlinked relative to them: a symlink planted where a runtime directory belongs
//! is refused, one inside a directory being removed is unlinked, and none is ever followed.
//! Owner and mode are set on the open descriptor (`fchown`, `fchmod`), so what is changed is
//! the directory that was checked.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, Gid, Uid, UnlinkatFlags};

use crate::definition::Definition;
use crate::paths::Dirs;

/// How deep removal descends into a runtime directory's contents before giving up.
const MAX_DEPTH: usize = 64;

/// Why a runtime directory could not be made or removed.
#[derive(Debug)]
pub struct RunDirError {
    pub path: PathBuf,
    pub problem: Problem,
}

/// What was wrong at [`RunDirError::path`].
#[derive(Debug)]
pub enum Problem {
    /// A symbolic link is where the directory belongs (it was not followed).
    Symlink,
    /// Something other than a directory is there (what it is).
    NotDirectory(&'static str),
    /// A step failed with an OS error.
    Os { step: &'static str, errno: Errno },
    /// Removal found the contents nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for RunDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.problem {
            Problem::Symlink => write!(
                f,
                "runtime directory {p} is a symbolic link; svc does not follow it (remove it, or make it a real directory)"
            ),
            Problem::NotDirectory(what) => write!(
                f,
                "runtime directory {p} is {what}, not a directory; svc leaves it alone (remove it first)"
            ),
            Problem::Os { step, errno } => {
                write!(f, "cannot {step} runtime directory {p}: {}", errno.desc())
            }
            Problem::TooDeep => write!(
                f,
                "cannot remove runtime directory {p}: its contents are nested more than {MAX_DEPTH} levels deep"
            ),
        }
    }
}

impl std::error::Error for RunDirError {}

type Result<T> = std::result::Result<T, RunDirError>;

/// The runtime root: `/run` as root, else `$XDG_RUNTIME_DIR` (when absolute), else the state
/// directory.
pub(crate) fn root(dirs: &Dirs) -> PathBuf {
    if crate::trust::running_as_root() {
        return PathBuf::from("/run");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(x) if Path::new(&x).is_absolute() => PathBuf::from(x),
        _ => std::path::absolute(&dirs.state).unwrap_or_else(|_| dirs.state.clone()),
    }
}

/// Makes (or takes over) the definition's runtime directories, owned by `owner` (uid, gid);
/// returns the value of `RUNTIME_DIRECTORY`, or `None` without `runtime_dir`. On failure the
/// directories this call made before the failing one are removed again; the failing one is
/// left as it was found.
pub(crate) fn create(dirs: &Dirs, def: &Definition, owner: (u32, u32)) -> Result<Option<OsString>> {
    if def.runtime_dir.is_empty() {
        return Ok(None);
    }
    let root = root(dirs);
    if root == dirs.state {
        dirs.ensure_state().map_err(|e| RunDirError {
            path: root.clone(),
            problem: Problem::Os {
                step: "create the root of",
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            },
        })?;
    }
    create_in(&root, &def.runtime_dir, def.runtime_dir_mode, owner)
}

/// The value of `RUNTIME_DIRECTORY` without making anything: for hook commands, which run
/// while the directories exist (pre_start, post_stop) or must not make them (config_test).
pub(crate) fn env_value(dirs: &Dirs, def: &Definition) -> Option<OsString> {
    if def.runtime_dir.is_empty() {
        return None;
    }
    let root = root(dirs);
    let mut value = OsString::new();
    for (i, name) in def.runtime_dir.iter().enumerate() {
        if i > 0 {
            value.push(":");
        }
        value.push(root.join(name));
    }
    Some(value)
}

/// Removes the definition's runtime directories with their contents (nothing without
/// `runtime_dir`).
pub(crate) fn remove(dirs: &Dirs, def: &Definition, owner: (u32, u32)) -> Result<()> {
    if def.runtime_dir.is_empty() {
        return Ok(());
    }
    remove_in(&root(dirs), &def.runtime_dir, def.runtime_dir_mode, owner)
}

/// [`create`] under `root`.
pub(crate) fn create_in(
    root: &Path,
    names: &[String],
    mode: u32,
    owner: (u32, u32),
) -> Result<Option<OsString>> {
    let root_fd = open_root(root)?;
    let mut value = OsString::new();
    for (i, name) in names.iter().enumerate() {
        let made = match name.split_once('/') {
            None => take_over(&root_fd, root, name, mode, owner).map(drop),
            Some((first, second)) => parent(&root_fd, root, first, mode, owner)
                .and_then(|fd| take_over(&fd, &root.join(first), second, mode, owner))
                .map(drop),
        };
        if let Err(e) = made {
            let _ = remove_in(root, &names[..i], mode, owner);
            return Err(e);
        }
        if i > 0 {
            value.push(":");
        }
        value.push(root.join(name));
    }
    Ok(Some(value))
}

/// [`remove`] under `root`, in the reverse order of creation; for `a/b`, `a` goes too once it
/// is empty.
/// `a` of `a/b` is removed only when empty and with the owner and mode svc gives what it
/// makes: a shared directory that was there before (`/run/lock`) is not the service's.
pub(crate) fn remove_in(root: &Path, names: &[String], mode: u32, owner: (u32, u32)) -> Result<()> {
    let root_fd = open_root(root)?;
    for name in names.iter().rev() {
        match name.split_once('/') {
            None => remove_entry(&root_fd, root, &c_name(root, name)?, 0)?,
            Some((first, _)) => {
                if let Some(fd) = open_dir(&root_fd, first).ok().flatten() {
                    remove_entry(&fd, &root.join(first), &c_name(root, name)?, 0)?;
                    if !made_by_svc(&fd, mode, owner) {
                        continue;
                    }
                    match unistd::unlinkat(
                        Some(root_fd.as_raw_fd()),
                        first,
                        UnlinkatFlags::RemoveDir,
                    ) {
                        Ok(()) | Err(Errno::ENOTEMPTY | Errno::EEXIST | Errno::ENOENT) => {}
                        Err(errno) => return Err(os(root.join(first), "remove", errno)),
                    }
                } else {
                    // Not there, or not a directory: what is at `first` is not svc's to remove.
                }
            }
        }
    }
    Ok(())
}

/// A validated name (no NUL) as the C string the `*at` calls take.
fn c_name(root: &Path, name: &str) -> Result<CString> {
    CString::new(name.rsplit('/').next().unwrap_or(name))
        .map_err(|_| os(root.join(name), "name", Errno::EINVAL))
}

fn os(path: PathBuf, step: &'static str, errno: Errno) -> RunDirError {
    RunDirError {
        path,
        problem: Problem::Os { step, errno },
    }
}

/// The runtime root itself, which may be reached through a symlink (`$XDG_RUNTIME_DIR` is the
/// caller's own setting).
fn open_root(root: &Path) -> Result<OwnedFd> {
    let fd = fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| os(root.to_path_buf(), "open the root of", e))?;
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `name` in `dir` opened as a directory without following a symlink: `Ok(None)` when
/// nothing is there, `Err` with the errno when something else than a directory is.
fn open_dir<P: ?Sized + nix::NixPath>(
    dir: &OwnedFd,
    name: &P,
) -> std::result::Result<Option<OwnedFd>, Errno> {
    match fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        // SAFETY: `openat` just returned this descriptor; nothing else owns it.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What is at `name` in `dir`, without following it, in words; `None` for a directory.
fn not_a_directory(dir: &OwnedFd, name: &str) -> Option<Problem> {
    let st = stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
    let what = match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => return None,
        SFlag::S_IFLNK => return Some(Problem::Symlink),
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "not a directory",
    };
    Some(Problem::NotDirectory(what))
}

/// Makes directory `name` in `dir` (at `dir_path`), or takes over a real directory already
/// there, and gives it `owner` and `mode`; returns it open.
fn take_over(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    mode: u32,
    (uid, gid): (u32, u32),
) -> Result<OwnedFd> {
    let path = dir_path.join(name);
    // Private until its owner and mode are set.
    match stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::S_IRWXU) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(os(path, "create", e)),
    }
    let fd = match open_dir(dir, name) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Err(os(path, "open", Errno::ENOENT)),
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => {
            return Err(match not_a_directory(dir, name) {
                Some(problem) => RunDirError { path, problem },
                None => os(path, "open", e),
            })
        }
        Err(e) => return Err(os(path, "open", e)),
    };
    unistd::fchown(
        fd.as_raw_fd(),
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    )
    .map_err(|e| os(path.clone(), "set the owner of", e))?;
    stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode))
        .map_err(|e| os(path.clone(), "set the mode of", e))?;
    Ok(fd)
}

/// The first part of `a/b` (`name` in `dir`): made like a runtime directory when missing, but
/// an existing one is only opened (never through a symlink), not taken over — it may be a
/// shared directory such as `/run/lock` that is not the service's.
fn parent(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    mode: u32,
    owner: (u32, u32),
) -> Result<OwnedFd> {
    match open_dir(dir, name) {
        Ok(Some(fd)) => Ok(fd),
        Ok(None) => take_over(dir, dir_path, name, mode, owner),
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR)) => {
            let path = dir_path.join(name);
            Err(match not_a_directory(dir, name) {
                Some(problem) => RunDirError { path, problem },
                None => os(path, "open", e),
            })
        }
        Err(e) => Err(os(dir_path.join(name), "open", e)),
    }
}

/// Whether the open directory has the owner and mode svc gives the directories it makes.
fn made_by_svc(fd: &OwnedFd, mode: u32, (uid, gid): (u32, u32)) -> bool {
    stat::fstat(fd.as_raw_fd())
        .is_ok_and(|st| (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, mode))
}

/// Removes `name` in `dir`: a directory with its contents, anything else (a symlink) by
/// unlinking the entry itself. Nothing there is fine.
fn remove_entry(dir: &OwnedFd, dir_path: &Path, name: &CStr, depth: usize) -> Result<()> {
    let path = dir_path.join(OsStr::from_bytes(name.to_bytes()));
    match open_dir(dir, name) {
        Ok(None) => return Ok(()),
        Ok(Some(fd)) => {
            if depth >= MAX_DEPTH {
                return Err(RunDirError {
                    path,
                    problem: Problem::TooDeep,
                });
            }
            empty(&fd, &path, depth)?;
            drop(fd);
            unistd::unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir)
        }
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            unistd::unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)
        }
        Err(e) => return Err(os(path, "open", e)),
    }
    .or_else(|e| match e {
        Errno::ENOENT => Ok(()),
        e => Err(os(path, "remove", e)),
    })
}

/// Removes everything in the open directory `fd` (at `path`): subdirectories through
/// [`remove_entry`], every other entry unlinked.
fn empty(fd: &OwnedFd, path: &Path, depth: usize) -> Result<()> {
    let read_err = |e| os(path.to_path_buf(), "read", e);
    // Dir takes the descriptor it is given: a fresh one at the same directory.
    let mut listing = Dir::openat(
        Some(fd.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(read_err)?;
    let mut entries: Vec<(CString, Option<Type>)> = Vec::new();
    for entry in listing.iter() {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        entries.push((name.to_owned(), entry.file_type()));
    }
    drop(listing);
    for (name, kind) in &entries {
        match kind {
            Some(Type::Directory) | None => remove_entry(fd, path, name, depth + 1)?,
            Some(_) => {
                match unistd::unlinkat(
                    Some(fd.as_raw_fd()),
                    name.as_c_str(),
                    UnlinkatFlags::NoRemoveDir,
                ) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => {
                        return Err(os(
                            path.join(OsStr::from_bytes(name.to_bytes())),
                            "remove",
                            e,
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn me() -> (u32, u32) {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn made_with_mode_and_exported_then_removed_with_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let value = create_in(root, &names(&["a", "b/c"]), 0o750, me())
            .unwrap()
            .unwrap();
        assert_eq!(
            value,
            OsString::from(format!(
                "{}:{}",
                root.join("a").display(),
                root.join("b/c").display()
            ))
        );
        for d in ["a", "b", "b/c"] {
            let m = std::fs::symlink_metadata(root.join(d)).unwrap();
            assert!(m.is_dir());
            assert_eq!(m.permissions().mode() & 0o7777, 0o750, "{d}");
            assert_eq!((m.uid(), m.gid()), me());
        }
        std::fs::create_dir_all(root.join("a/x/y")).unwrap();
        std::fs::write(root.join("a/x/y/f"), "x").unwrap();
        remove_in(root, &names(&["a", "b/c"]), 0o750, me()).unwrap();
        assert!(!root.join("a").exists());
        assert!(!root.join("b").exists());
        // Nothing there: removal is a no-op.
        remove_in(root, &names(&["a", "b/c"]), 0o750, me()).unwrap();
    }

    #[test]
    fn an_existing_directory_is_taken_over_with_its_mode_set() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(d.join("keep"), "x").unwrap();
        create_in(tmp.path(), &names(&["a"]), 0o1777, me()).unwrap();
        let m = std::fs::symlink_metadata(&d).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o1777);
        assert!(d.join("keep").exists());
    }

    #[test]
    fn a_symlink_or_a_file_in_place_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&target, root.join("link")).unwrap();
        std::fs::write(root.join("file"), "x").unwrap();
        let e = create_in(&root, &names(&["first", "link"]), 0o755, me()).unwrap_err();
        assert!(matches!(e.problem, Problem::Symlink), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // The directory made before the refused one is gone again; the link is still there.
        assert!(!root.join("first").exists());
        assert!(std::fs::symlink_metadata(root.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o700);
        let e = create_in(&root, &names(&["file"]), 0o755, me()).unwrap_err();
        assert!(
            matches!(e.problem, Problem::NotDirectory("a regular file")),
            "{e}"
        );
        assert_eq!(std::fs::read(root.join("file")).unwrap(), b"x");
        // A symlink as the first part of `a/b` is refused the same way.
        let e = create_in(&root, &names(&["link/x"]), 0o755, me()).unwrap_err();
        assert!(matches!(e.problem, Problem::Symlink), "{e}");
        assert!(!target.join("x").exists());
    }

    #[test]
    fn an_existing_parent_of_a_b_is_not_taken_over_nor_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // A shared directory such as /run/lock: not the service's.
        let shared = root.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        create_in(root, &names(&["shared/app"]), 0o700, me()).unwrap();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&shared), 0o1777, "the shared parent was taken over");
        assert_eq!(mode(&shared.join("app")), 0o700);
        remove_in(root, &names(&["shared/app"]), 0o700, me()).unwrap();
        assert!(!shared.join("app").exists());
        assert_eq!(mode(&shared), 0o1777, "the shared parent was removed");
        // A parent svc made (the service's owner and mode) goes once empty.
        create_in(root, &names(&["mine/app"]), 0o700, me()).unwrap();
        assert_eq!(mode(&root.join("mine")), 0o700);
        remove_in(root, &names(&["mine/app"]), 0o700, me()).unwrap();
        assert!(!root.join("mine").exists());
    }

    #[test]
    fn removal_unlinks_symlinks_inside_without_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("precious"), "x").unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        create_in(&root, &names(&["s"]), 0o755, me()).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("s/dirlink")).unwrap();
        std::os::unix::fs::symlink(outside.join("precious"), root.join("s/filelink")).unwrap();
        std::fs::create_dir(root.join("s/sub")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("s/sub/deeper")).unwrap();
        remove_in(&root, &names(&["s"]), 0o755, me()).unwrap();
        assert!(!root.join("s").exists());
        assert_eq!(std::fs::read(outside.join("precious")).unwrap(), b"x");
        // A symlink that replaced the directory itself is unlinked, its target kept.
        std::os::unix::fs::symlink(&outside, root.join("s")).unwrap();
        remove_in(&root, &names(&["s"]), 0o755, me()).unwrap();
        assert!(std::fs::symlink_metadata(root.join("s")).is_err());
        assert!(outside.join("precious").exists());
    }
}
