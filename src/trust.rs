//! Which files and directories svc may trust (docs/security.md, "Files svc trusts").
//!
//! A file that another user can write can lie to svc: a PID file pointing at PID 1, a definition
//! that runs a shell as root. The rule is the same everywhere: the file (and, when svc runs as
//! root, the directory holding it) must be writable by no one but its reader and root. A sticky
//! directory such as /tmp is accepted as a parent, since others cannot replace what is in it.
//! Checks are made on the open file descriptor where one exists, never on a path that could
//! change between check and use.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Whether svc runs with root privileges (and so must be strict about what it reads).
pub fn running_as_root() -> bool {
    me() == 0
}

/// svc's effective uid, asked once: svc never changes its own (only the programs it launches
/// take another, in their own process).
fn me() -> u32 {
    static EUID: OnceLock<u32> = OnceLock::new();
    *EUID.get_or_init(|| nix::unistd::geteuid().as_raw())
}

/// How long a directory found trustworthy is taken as such without a new look: the burst of
/// PID-file, lock and definition reads of one command in one directory, never longer. A check
/// by path is only as good as the moment it is made (the open that follows goes by path too);
/// what it catches, a directory that became writable by others, is still caught within this.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Directories lately found trustworthy, and when (a handful: state, logs, init.d).
static TRUSTED: Mutex<Vec<(PathBuf, Instant)>> = Mutex::new(Vec::new());

fn trusted_lately(dir: &Path) -> bool {
    let list = TRUSTED.lock().unwrap_or_else(|e| e.into_inner());
    list.iter()
        .any(|(d, at)| d == dir && at.elapsed() < TRUSTED_FOR)
}

fn remember_trusted(dir: &Path) {
    let mut list = TRUSTED.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|(d, at)| d != dir && at.elapsed() < TRUSTED_FOR);
    if list.len() < 64 {
        list.push((dir.to_path_buf(), Instant::now()));
    }
}

/// The first reason a file's metadata makes it writable by a user other than the caller or root.
pub fn foreign_writer(meta: &Metadata) -> Option<String> {
    let uid = meta.uid();
    let mode = meta.permissions().mode();
    if uid != 0 && uid != me() {
        return Some(format!("is owned by uid {uid}, not by root or the caller"));
    }
    if mode & 0o002 != 0 {
        return Some("is world-writable".to_string());
    }
    if mode & 0o020 != 0 && meta.gid() != 0 {
        return Some(format!("is writable by group {}", meta.gid()));
    }
    None
}

/// A directory svc keeps its own files in: a real directory, writable only by the caller or
/// root (or sticky).
///
/// A directory found trustworthy less than [`TRUSTED_FOR`] ago is not looked at again: a switch
/// reads three files per service in the state directory.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    if trusted_lately(dir) {
        return Ok(());
    }
    check_dir_now(dir)?;
    remember_trusted(dir);
    Ok(())
}

fn check_dir_now(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot inspect directory {}: {e}", dir.display()))?;
    if meta.file_type().is_symlink() {
        // A symlinked directory is accepted only when it resolves to a trusted directory;
        // the check then applies to the target.
        let target = std::fs::metadata(dir)
            .map_err(|e| format!("cannot inspect directory {}: {e}", dir.display()))?;
        return check_dir_meta(dir, &target);
    }
    check_dir_meta(dir, &meta)
}

fn check_dir_meta(dir: &Path, meta: &Metadata) -> Result<(), String> {
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.permissions().mode() & 0o1000 != 0 {
        return Ok(());
    }
    match foreign_writer(meta) {
        Some(why) => Err(format!("refusing directory {}: it {why}", dir.display())),
        None => Ok(()),
    }
}

/// When svc runs as root: refuse a file (definition, rule file) that a non-root user can write,
/// or whose directory a non-root user can write. As an ordinary user every file is the user's
/// own business and this always succeeds.
pub fn check_config_file(path: &Path, meta: &Metadata) -> Result<(), String> {
    check_config(path, meta, None)
}

/// [`check_config_file`] when the caller knows whether `path`'s last component is a symbolic
/// link (it opened the path with `O_NOFOLLOW` first): no `lstat` to find out.
pub fn check_config_file_linked(path: &Path, meta: &Metadata, linked: bool) -> Result<(), String> {
    check_config(path, meta, Some(linked))
}

fn check_config(path: &Path, meta: &Metadata, linked: Option<bool>) -> Result<(), String> {
    if !running_as_root() {
        return Ok(());
    }
    if let Some(why) = foreign_writer(meta) {
        return Err(format!("refusing {}: it {why}", path.display()));
    }
    if let Some(parent) = path.parent() {
        check_dir(parent).map_err(|e| format!("refusing {}: {e}", path.display()))?;
    }
    // Through a symlink, the directory that really holds the file matters too. Only a path
    // whose last component is a link can lead elsewhere: `check_dir` above already looked at
    // the real directory of a parent reached through links. So one lstat decides whether the
    // path is resolved (a readlink per component) at all.
    let linked = linked.unwrap_or_else(|| {
        std::fs::symlink_metadata(path).map_or(true, |m| m.file_type().is_symlink())
    });
    if let Some(real) = linked.then(|| std::fs::canonicalize(path).ok()).flatten() {
        if let Some(parent) = real.parent() {
            if Some(parent) != path.parent() {
                check_dir(parent).map_err(|e| format!("refusing {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// A PID file may be followed only when it is a regular file with one link, not a symlink, and
/// writable by no one but the caller or root (and, as root, in a directory only root can write).
pub fn check_pidfile(path: &Path, meta: &Metadata) -> Result<(), String> {
    check_pidfile_shape(path, meta)?;
    if let Some(why) = foreign_writer(meta) {
        return Err(format!("{} {why}", path.display()));
    }
    if running_as_root() {
        if let Some(parent) = path.parent() {
            check_dir(parent)?;
        }
    }
    Ok(())
}

/// The part of the PID file rule that holds whoever wrote the file: a regular file with one
/// link, not a symlink.
pub fn check_pidfile_shape(path: &Path, meta: &Metadata) -> Result<(), String> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(format!("{} is a symbolic link", path.display()));
    }
    if ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device() || ft.is_dir()
    {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.nlink() > 1 {
        return Err(format!(
            "{} has {} hard links",
            path.display(),
            meta.nlink()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short memory of trusted directories never outlives [`TRUSTED_FOR`]: a directory
    /// made world-writable is refused again within it, and one never seen is checked at once.
    #[test]
    fn a_trusted_directory_made_world_writable_is_refused_within_the_memory() {
        let set =
            |d: &Path, mode| std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode));
        let dir = tempfile::tempdir().unwrap();
        set(dir.path(), 0o755).unwrap();
        check_dir(dir.path()).unwrap();
        set(dir.path(), 0o777).unwrap();
        let t0 = Instant::now();
        while check_dir(dir.path()).is_ok() {
            assert!(
                t0.elapsed() < TRUSTED_FOR + Duration::from_secs(5),
                "still trusted {:?} after it became world-writable",
                t0.elapsed()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let other = tempfile::tempdir().unwrap();
        set(other.path(), 0o777).unwrap();
        assert!(check_dir(other.path()).is_err());
    }
}
