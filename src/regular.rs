//! Opening files that another user may control — a service's log (its user may write the log
//! directory), a rule file, a definition — so that nothing svc does can block on them or be led
//! elsewhere (docs/security.md, "Logs and FIFOs"; issue 10 items 7–9).
//!
//! Every open is `O_NONBLOCK`: a FIFO put where a file was expected would otherwise block
//! `open(2)` until a peer appears — forever, while svc holds a service's lock. The descriptor
//! is then examined (`fstat`, never the path again) and anything but a regular file is refused
//! with an error saying what it is; for a regular file opened for writing `O_NONBLOCK` is
//! cleared again, so writes keep their ordinary blocking meaning (one only read keeps it: it
//! changes nothing for a regular file). `O_NOCTTY` keeps a terminal from becoming svc's
//! controlling terminal. Whether a symlink at the last component is followed is the caller's
//! choice ([`Links`]): logs never (writers and readers alike), configuration files as the trust
//! rules of [`crate::trust`] allow (they check where a link leads).

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{fcntl, FcntlArg, OFlag};

/// What to do with a symbolic link at the path's last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Open what it points to (configuration files; the caller checks trust).
    Follow,
    /// Refuse it (`O_NOFOLLOW`), and a file with a second hard link, as the writers do
    /// ([`open_append`]): logs, whose directory a service user may write — and where
    /// protected_hardlinks is off, hard-link a file it cannot read into.
    Refuse,
    /// Do not follow it (`O_NOFOLLOW`), and give the bare `ELOOP` back: the caller learns that
    /// the path is a link without an `lstat`, and opens it again following it if it will.
    Detect,
}

/// Opens `path` for reading: never blocking, regular files only, a last-component symlink
/// followed or refused as `links` says. A missing file is `ErrorKind::NotFound`.
pub fn open_read(path: &Path, links: Links) -> io::Result<File> {
    open_read_meta(path, links).map(|(f, _)| f)
}

/// [`open_read`], with the file's metadata (taken once, when it was checked).
pub fn open_read_meta(path: &Path, links: Links) -> io::Result<(File, Metadata)> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    if links != Links::Follow {
        flags |= libc::O_NOFOLLOW;
    }
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| open_error(path, links, e))?;
    // A regular file svc only reads itself keeps O_NONBLOCK, which changes nothing for a
    // regular file (read(2) never blocks on one for want of data): two fcntl calls fewer on
    // every definition, record and PID file read.
    let meta = checked(&f)?;
    if links == Links::Refuse && meta.nlink() > 1 {
        return Err(hard_linked(&meta, "read"));
    }
    Ok((f, meta))
}

/// The whole of `path`, opened as [`open_read`] does.
pub fn read(path: &Path, links: Links) -> io::Result<Vec<u8>> {
    let (mut f, meta) = open_read_meta(path, links)?;
    let mut bytes = Vec::new();
    read_sized(&mut f, meta.len(), u64::MAX, &mut bytes)?;
    Ok(bytes)
}

/// Reads the regular file `f`, `len` bytes long when it was fstat'ed, to its end (at most `cap`
/// bytes) into `buf`. A read that returns less than it asked for, once exactly `len` bytes are
/// in, is the end: a regular file gives short reads only there, so the read that would return 0
/// to say so is not made. A file that changed size since goes on to that 0 as ever.
pub fn read_sized(f: &mut File, len: u64, cap: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    let start = buf.len();
    // Room for the whole file and one byte more, so that a file of `len` gives a short read.
    let mut room = len.min(1 << 20).saturating_add(1).max(64);
    loop {
        let have = (buf.len() - start) as u64;
        let want = room.min(cap - have);
        if want == 0 {
            return Ok(());
        }
        let at = buf.len();
        buf.resize(at + want as usize, 0);
        let read = f.read(&mut buf[at..]);
        buf.truncate(at + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => return Ok(()),
            Ok(n) if (n as u64) < want && have + n as u64 == len => return Ok(()),
            Ok(_) => room = room.saturating_mul(2),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Opens (creating it with `mode`) a lock file: never through a symlink, never blocking, a
/// regular file only. `O_NONBLOCK` stays set: the file is only locked, and flock(2) waits
/// whatever the flag says (two fcntl calls saved on every lock).
pub fn open_lock(path: &Path, mode: u32) -> io::Result<File> {
    let f = create(
        path,
        mode,
        OpenOptions::new().read(true).write(true).truncate(false),
    )?;
    checked(&f)?;
    Ok(f)
}

/// Opens `path` for appending, creating it with `mode`: never through a symlink, never
/// blocking, a regular file with a single link only (writing through a hard link would write
/// into another file).
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let f = create(path, mode, OpenOptions::new().append(true))?;
    let (f, meta) = settle(f)?;
    if meta.nlink() > 1 {
        return Err(hard_linked(&meta, "write"));
    }
    Ok(f)
}

/// Opens `path` as `options` say, creating it with `mode`: never through a symlink, never
/// blocking, never as a controlling terminal. The descriptor is not examined yet.
fn create(path: &Path, mode: u32, options: &mut OpenOptions) -> io::Result<File> {
    options
        .create(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| open_error(path, Links::Refuse, e))
}

/// A log with a second name may be another file altogether (a hard link made by whoever can
/// write the directory): neither written through nor read.
fn hard_linked(meta: &Metadata, what: &str) -> io::Error {
    io::Error::other(format!(
        "it has {} hard links; refusing to {what} through it",
        meta.nlink()
    ))
}

/// What kind of file `meta` describes, for messages ("a FIFO").
pub fn describe(meta: &Metadata) -> &'static str {
    match meta.mode() & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFLNK => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Refuses a descriptor that is not a regular file; clears `O_NONBLOCK` on one that is.
/// The open file's metadata, if it is a regular file.
fn checked(f: &File) -> io::Result<Metadata> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(meta)
}

fn settle(f: File) -> io::Result<(File, Metadata)> {
    let meta = checked(&f)?;
    let fl = OFlag::from_bits_retain(fcntl(f.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(f.as_raw_fd(), FcntlArg::F_SETFL(fl - OFlag::O_NONBLOCK))?;
    Ok((f, meta))
}

fn not_regular(meta: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file (it is {})", describe(meta)),
    )
}

/// Says what the file is where the bare errno would puzzle: `O_NOFOLLOW` reports a symlink as
/// ELOOP ("too many levels of symbolic links"), and a FIFO without a reader or a socket opened
/// for writing as ENXIO ("no such device or address").
fn open_error(path: &Path, links: Links, e: io::Error) -> io::Error {
    let meta = match e.raw_os_error() {
        Some(libc::ELOOP) if links == Links::Refuse => std::fs::symlink_metadata(path),
        Some(libc::ENXIO) if links == Links::Follow => std::fs::metadata(path),
        Some(libc::ENXIO) => std::fs::symlink_metadata(path),
        _ => return e,
    };
    match meta {
        Ok(m) if m.file_type().is_symlink() => io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link (not followed)",
        ),
        Ok(m) if !m.is_file() => not_regular(&m),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever size the file had when it was fstat'ed, `read_sized` gets all of it now (up to
    /// the cap): the early end is taken only when the size still matches.
    #[test]
    fn read_sized_gets_the_whole_file_whatever_size_it_was_said_to_have() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let text: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&path, &text).unwrap();
        for said in [0, 1, 10, 2999, 3000, 3001, 100_000] {
            let mut buf = b"kept".to_vec();
            let mut f = File::open(&path).unwrap();
            read_sized(&mut f, said, u64::MAX, &mut buf).unwrap();
            assert_eq!(&buf[..4], b"kept");
            assert_eq!(&buf[4..], &text[..], "said {said}");
        }
        let mut buf = Vec::new();
        read_sized(&mut File::open(&path).unwrap(), 3000, 33, &mut buf).unwrap();
        assert_eq!(buf, &text[..33]);
        let empty = dir.path().join("e");
        std::fs::write(&empty, b"").unwrap();
        let mut buf = Vec::new();
        read_sized(&mut File::open(&empty).unwrap(), 0, u64::MAX, &mut buf).unwrap();
        assert!(buf.is_empty());
    }
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    fn fifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    }

    #[test]
    fn a_fifo_is_refused_at_once_for_reading_and_appending() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        fifo(&p);
        let t = Instant::now();
        for links in [Links::Follow, Links::Refuse] {
            let e = open_read(&p, links).unwrap_err();
            assert!(e.to_string().contains("a FIFO"), "{e}");
        }
        // No reader: O_NONBLOCK makes the open fail (ENXIO) rather than wait for one.
        let e = open_append(&p, 0o640).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_fifo_with_a_reader_is_refused_for_appending() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        fifo(&p);
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .unwrap();
        let e = open_append(&p, 0o640).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
    }

    #[test]
    fn symlinks_are_refused_or_followed_as_asked() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        std::fs::write(&target, "secret\n").unwrap();
        let link = d.path().join("x.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_read(&link, Links::Refuse).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = open_append(&link, 0o640).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let mut s = String::new();
        open_read(&link, Links::Follow)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "secret\n");
        // Detect: the link is the bare ELOOP, the file itself opens (hard links and all).
        let e = open_read(&link, Links::Detect).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        std::fs::hard_link(&target, d.path().join("second")).unwrap();
        assert!(open_read(&target, Links::Detect).is_ok());
    }

    #[test]
    fn directories_and_hard_links() {
        let d = tempfile::tempdir().unwrap();
        let e = open_read(d.path(), Links::Follow).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let a = d.path().join("a");
        std::fs::write(&a, "").unwrap();
        std::fs::hard_link(&a, d.path().join("b")).unwrap();
        let e = open_append(&a, 0o640).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        // Logs are read by the same rule; configuration files may have several names.
        let e = open_read(&a, Links::Refuse).unwrap_err();
        assert!(e.to_string().contains("refusing to read"), "{e}");
        assert!(open_read(&a, Links::Follow).is_ok());
    }

    #[test]
    fn a_regular_file_is_appended_to_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        let mut f = open_append(&p, 0o640).unwrap();
        f.write_all(b"one\n").unwrap();
        let fl = fcntl(f.as_raw_fd(), FcntlArg::F_GETFL).unwrap();
        assert_eq!(fl & libc::O_NONBLOCK, 0);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\n");
        assert!(matches!(
            open_read(&d.path().join("none"), Links::Refuse),
            Err(e) if e.kind() == io::ErrorKind::NotFound
        ));
    }
}
