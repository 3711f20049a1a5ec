//! PID files: strict reading, atomic writing (docs/commands.md, "Starting and stopping";
//! docs/security.md, "How svc decides a service runs").
//!
//! Content is decimal digits without sign or leading zero, at most one trailing newline, at most
//! pid_max. A file that is a symlink, a hard link, not regular, or writable by someone other than
//! the caller or root is never followed. Writes go to a temporary file in the same directory
//! (created with O_EXCL|O_NOFOLLOW, mode 0644) and renamed over the target, so a
//! reader sees the old file or the new one, never half of one, and a symlink at the target is
//! replaced, never written through.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::trust;

/// The largest PID file svc reads: a PID and a newline fit in far less.
const MAX_LEN: u64 = 64;

/// What a PID file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidFile {
    /// No file.
    Missing,
    /// A well-formed PID.
    Pid(i32),
    /// A file that exists but does not hold a valid PID.
    Garbage(String),
    /// A file svc refuses to follow.
    Untrusted(String),
}

/// Parses PID file content strictly.
pub fn parse(bytes: &[u8], pid_max: i64) -> Result<i32, String> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() {
        return Err("is empty".into());
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "holds {:?}, not a decimal PID",
            String::from_utf8_lossy(&bytes[..bytes.len().min(32)])
        ));
    }
    if digits[0] == b'0' {
        return Err(format!(
            "holds {:?}: a PID has no leading zero and is never 0",
            String::from_utf8_lossy(digits)
        ));
    }
    if digits.len() > 10 {
        return Err("holds a number above pid_max".into());
    }
    let n: i64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("holds an unreadable number")?;
    if n > pid_max || n > i64::from(i32::MAX) {
        return Err(format!("holds {n}, above pid_max ({pid_max})"));
    }
    Ok(n as i32)
}

/// Reads a PID file without following links and without blocking on a FIFO.
pub fn read(path: &Path, pid_max: i64) -> PidFile {
    read_checked(path, pid_max, trust::check_pidfile).0
}

/// Reads a PID file that another user may have written (a daemon's own, written after it dropped
/// privileges): as [`read`], except that the file's owner and writers, and its directory's, are not
/// held against it — the caller must prove the PID another way (docs/security.md, "How svc decides
/// a service runs"). A symlink, a hard link or anything but a regular file is still refused.
/// Returns the file's owner with what it says.
pub fn read_foreign(path: &Path, pid_max: i64) -> (PidFile, Option<u32>) {
    read_checked(path, pid_max, trust::check_pidfile_shape)
}

fn read_checked(
    path: &Path,
    pid_max: i64,
    check: fn(&Path, &std::fs::Metadata) -> Result<(), String>,
) -> (PidFile, Option<u32>) {
    use std::os::unix::fs::MetadataExt;
    let mut owner = None;
    let found = read_with(path, pid_max, |meta| {
        owner = Some(meta.uid());
        check(path, meta)
    });
    (found, owner)
}

fn read_with(
    path: &Path,
    pid_max: i64,
    mut check: impl FnMut(&std::fs::Metadata) -> Result<(), String>,
) -> PidFile {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return PidFile::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return PidFile::Untrusted(format!("{} is a symbolic link", path.display()))
        }
        Err(e) => return PidFile::Untrusted(format!("cannot open {}: {e}", path.display())),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return PidFile::Untrusted(format!("cannot inspect {}: {e}", path.display())),
    };
    if let Err(why) = check(&meta) {
        return PidFile::Untrusted(why);
    }
    // A regular file (the check refused anything else): read as `regular::read_sized` does.
    let mut buf = Vec::new();
    if let Err(e) = crate::regular::read_sized(&mut file, meta.len(), MAX_LEN + 1, &mut buf) {
        return PidFile::Garbage(format!("cannot be read: {e}"));
    }
    if buf.len() as u64 > MAX_LEN {
        return PidFile::Garbage("is too long to hold one PID".into());
    }
    match parse(&buf, pid_max) {
        Ok(pid) => PidFile::Pid(pid),
        Err(why) => PidFile::Garbage(why),
    }
}

/// Writes `pid` atomically: temporary file, then rename over the target.
pub fn write(path: &Path, pid: i32) -> io::Result<()> {
    write_atomic(path, format!("{pid}\n").as_bytes(), 0o644)
}

/// Writes `data` to `path` atomically with `mode`; on any error nothing is left behind.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{base}.tmp.{}", std::process::id()));
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
    };
    let result = (|| {
        let mut f = match create() {
            // Left over by a svc that died with this PID: ours to replace.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                create()?
            }
            other => other?,
        };
        // The caller's umask may have narrowed the mode: a PID file is always exactly `mode`.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        f.write_all(data)?;
        drop(f);
        // No fsync: this is runtime state, meaningless after a reboot (records carry the boot
        // id); rename alone makes the replacement atomic for every reader.
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes a PID file (the directory entry itself, whatever it is). Missing is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    #[test]
    fn strict_content() {
        assert_eq!(parse(b"42\n", 32768), Ok(42));
        assert_eq!(parse(b"42", 32768), Ok(42));
        for bad in [
            &b""[..],
            b"\n",
            b"abc",
            b"-1",
            b"0",
            b"0\n",
            b"012",
            b"12abc",
            b" 42",
            b"42 ",
            b"42\n43",
            b"42\n\n",
            b"+42",
            b"99999999999",
            b"2147483648",
            b"32769",
            b"4\x002",
            b"\n42",
        ] {
            assert!(
                parse(bad, 32768).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pid");
        write(&p, 1234).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1234\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(read(&p, 32768), PidFile::Pid(1234));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// `x.pid` in `dir`, made by `link` (a symbolic or a hard link) to a file holding `text`;
    /// that file and the link.
    fn linked(
        dir: &Path,
        text: &str,
        link: fn(PathBuf, PathBuf) -> std::io::Result<()>,
    ) -> (PathBuf, PathBuf) {
        let target = dir.join("target");
        std::fs::write(&target, text).unwrap();
        let p = dir.join("x.pid");
        link(target.clone(), p.clone()).unwrap();
        (target, p)
    }

    #[test]
    fn symlinks_are_replaced_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (target, p) = linked(dir.path(), "keep me", std::os::unix::fs::symlink);
        assert!(matches!(read(&p, 32768), PidFile::Untrusted(_)));
        write(&p, 99).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert_eq!(read(&p, 32768), PidFile::Pid(99));
    }

    #[test]
    fn hard_links_and_fifos_are_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        let (_, p) = linked(dir.path(), "42\n", std::fs::hard_link);
        assert!(matches!(read(&p, 32768), PidFile::Untrusted(_)));
        let f = dir.path().join("fifo.pid");
        nix::unistd::mkfifo(&f, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(read(&f, 32768), PidFile::Untrusted(_)));
    }

    /// `x.pid` in `dir`, naming PID 42, writable by anyone.
    fn world_writable(dir: &Path) -> PathBuf {
        let p = dir.join("x.pid");
        std::fs::write(&p, "42\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        p
    }

    #[test]
    fn foreign_reading_waives_the_writer_never_the_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = world_writable(dir.path());
        assert!(matches!(read(&p, 32768), PidFile::Untrusted(_)));
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(read_foreign(&p, 32768), (PidFile::Pid(42), Some(me)));
        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(
            read_foreign(&link, 32768).0,
            PidFile::Untrusted(_)
        ));
        let hard = dir.path().join("hard.pid");
        std::fs::hard_link(&p, &hard).unwrap();
        assert!(matches!(
            read_foreign(&hard, 32768).0,
            PidFile::Untrusted(_)
        ));
    }

    #[test]
    fn world_writable_is_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        let p = world_writable(dir.path());
        assert!(matches!(read(&p, 32768), PidFile::Untrusted(_)));
    }
}
