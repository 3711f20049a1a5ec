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
use std::path::Path;

/// Whether svc runs with root privileges (and so must be strict about what it reads).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
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
pub fn check_dir(dir: &Path) -> Result<(), String> {
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
    let linked = std::fs::symlink_metadata(path).map_or(true, |m| m.file_type().is_symlink());
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
