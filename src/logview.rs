//! Reading a service's log for `svc logs`: the whole current file, the last N lines across the
//! rotated files, and following the log as it grows, through rotations.
//!
//! This module owns the rotation naming as a reader sees it: `NAME.log` is the current file,
//! `NAME.log.1` the newest rotated one … `NAME.log.K` the oldest (what the supervisor of a
//! `respawn:` service and logrotate both produce); compressed files (`NAME.log.2.gz`) are never
//! read. The files are treated as one byte stream, oldest first, so `-n` counts lines across a
//! file boundary exactly as they were written (a line split by a size rotation is one line).
//!
//! Shape, and why:
//! - Files are read from the end in fixed chunks with `pread`: `-n` on a 10 GiB log reads a
//!   few chunks, never the whole file into memory. Bytes are copied as written (no decoding).
//! - Every file is held open by descriptor and identified by (device, inode), so following
//!   survives both rotation styles: a rename (`NAME.log` becomes `NAME.log.1` and a new
//!   `NAME.log` appears: the old descriptor is read to its end, then the new file from offset 0)
//!   and copytruncate (the file shrinks below the offset read so far: start again at 0).
//!   After a rename the old file stays open and is drained before the new one on every wake
//!   until the new one yields data (or a second passes quietly), so a writer that still had
//!   the old file open loses nothing and order is kept.
//! - Waiting is inotify on the log's directory (the file itself may not exist yet, or be
//!   replaced), with a one-second poll timeout as a safety net; the caller's stdout can be
//!   watched too, so a closed pipe ends the follow at once rather than at the next write.
//! - Files are opened with the writers' rules ([`crate::regular`]): a symlink at `NAME.log` or
//!   at a rotated file's name is never followed, and a FIFO or anything else that is not a
//!   regular file is an error naming it, never a read that blocks. The service's user may write
//!   the log directory; root's `svc logs` must print neither another file nor hang.
//! - Nothing here prints on its own: output goes to the `Write` the caller passes.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Bytes read per `pread`.
const CHUNK: usize = 64 * 1024;
/// Most rotated files looked at: as many as `log_keep` allows.
const MAX_ROTATED: u32 = crate::definition::MAX_LOG_KEEP;
/// The follow loop re-checks the files at least this often, whatever inotify says.
const SAFETY_TIMEOUT_MS: u16 = 1000;

/// Why reading or following a log failed.
#[derive(Debug)]
pub enum LogError {
    /// A log file could not be opened, examined or read.
    Read { path: PathBuf, err: io::Error },
    /// The output could not be written (a closed pipe is `is_closed_output`).
    Write(io::Error),
    /// inotify or poll failed.
    Watch { path: PathBuf, err: Errno },
}

impl LogError {
    /// The reader went away (`svc logs X | head -1`): not an error for the user.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, LogError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// Permission was refused on a log file.
    pub fn is_permission(&self) -> bool {
        matches!(self, LogError::Read { err, .. } if err.kind() == io::ErrorKind::PermissionDenied)
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Read { path, err } => write!(f, "cannot read {}: {err}", path.display()),
            LogError::Write(err) => write!(f, "cannot write the log to stdout: {err}"),
            LogError::Watch { path, err } => {
                write!(f, "cannot watch {} for changes: {err}", path.display())
            }
        }
    }
}

impl std::error::Error for LogError {}

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |err| LogError::Read {
        path: path.to_path_buf(),
        err,
    }
}

/// One open log file and how far it has been printed.
struct Tracked {
    file: File,
    path: PathBuf,
    id: (u64, u64),
    pos: u64,
}

impl Tracked {
    /// Opens `path` as the writers do ([`crate::regular`]): never through a symlink, never a
    /// FIFO or anything else but a regular file; `None` when it does not exist.
    fn open(path: &Path) -> Result<Option<Tracked>, LogError> {
        let file = match crate::regular::open_read(path, crate::regular::Links::Refuse) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(path)(e)),
        };
        let meta = file.metadata().map_err(read_err(path))?;
        Ok(Some(Tracked {
            file,
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            pos: 0,
        }))
    }

    fn len(&self) -> Result<u64, LogError> {
        Ok(self.file.metadata().map_err(read_err(&self.path))?.len())
    }

    /// Prints everything from the position read so far to the end of the file; a file that
    /// shrank below that position was truncated (copytruncate) and is printed from its start.
    /// Returns the number of bytes printed.
    fn drain(&mut self, out: &mut dyn Write) -> Result<u64, LogError> {
        if self.len()? < self.pos {
            self.pos = 0;
        }
        let start = self.pos;
        self.pos = copy_range(&self.file, &self.path, self.pos, None, out)?;
        Ok(self.pos - start)
    }
}

/// Copies `file[from..to]` (`to` = `None`: to its current end) to `out`; returns where it
/// stopped.
fn copy_range(
    file: &File,
    path: &Path,
    from: u64,
    to: Option<u64>,
    out: &mut dyn Write,
) -> Result<u64, LogError> {
    let mut buf = vec![0u8; CHUNK];
    let mut pos = from;
    loop {
        let want = match to {
            Some(end) if end <= pos => break,
            Some(end) => CHUNK.min((end - pos) as usize),
            None => CHUNK,
        };
        let n = match file.read_at(&mut buf[..want], pos) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(path)(e)),
        };
        out.write_all(&buf[..n]).map_err(LogError::Write)?;
        pos += n as u64;
    }
    Ok(pos)
}

/// Scans `file[..len]` backwards for line ends. `need` is how many more `\n` must be found
/// (decremented as they are); `at_end` is true while nothing of the stream has been seen yet,
/// so that the `\n` ending the very last line does not count. Returns the offset just after
/// the `need`-th `\n`, or `None` when the file's start was reached first.
fn scan_back(
    file: &File,
    path: &Path,
    len: u64,
    need: &mut usize,
    at_end: &mut bool,
) -> Result<Option<u64>, LogError> {
    let mut buf = vec![0u8; CHUNK];
    let mut end = len;
    while end > 0 {
        let begin = end.saturating_sub(CHUNK as u64);
        let chunk = &mut buf[..(end - begin) as usize];
        file.read_exact_at(chunk, begin).map_err(read_err(path))?;
        for (i, b) in chunk.iter().enumerate().rev() {
            let first = std::mem::replace(at_end, false);
            if *b == b'\n' && !first {
                *need -= 1;
                if *need == 0 {
                    return Ok(Some(begin + i as u64 + 1));
                }
            }
        }
        end = begin;
    }
    Ok(None)
}

/// Where the initial output stopped, for [`LogView::follow`] to continue from.
pub struct Cursor(Option<Tracked>);

/// One service's log: the current file and its rotated siblings.
#[derive(Debug, Clone)]
pub struct LogView {
    path: PathBuf,
}

impl LogView {
    /// `path` is the current file (`Definition::log_path`).
    pub fn new(path: impl Into<PathBuf>) -> LogView {
        LogView { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `i`-th rotated file, `NAME.log.i` (1 is the newest).
    pub fn rotated(&self, i: u32) -> PathBuf {
        let mut p = OsString::from(self.path.as_os_str());
        p.push(format!(".{i}"));
        PathBuf::from(p)
    }

    /// Prints the whole current file (nothing if it does not exist yet).
    pub fn print_all(&self, out: &mut dyn Write) -> Result<Cursor, LogError> {
        let mut current = Tracked::open(&self.path)?;
        if let Some(t) = current.as_mut() {
            t.drain(out)?;
        }
        Ok(Cursor(current))
    }

    /// Prints the last `n` lines, taken from the rotated files too (newest first: `NAME.log`,
    /// `NAME.log.1`, `NAME.log.2` …) when the current file holds fewer. The lengths are taken
    /// once at the start; whatever is appended meanwhile is left to [`LogView::follow`].
    pub fn print_last(&self, n: usize, out: &mut dyn Write) -> Result<Cursor, LogError> {
        let mut current = Tracked::open(&self.path)?;
        let current_len = match &current {
            Some(t) => t.len()?,
            None => 0,
        };
        if n == 0 {
            if let Some(t) = current.as_mut() {
                t.pos = current_len;
            }
            return Ok(Cursor(current));
        }
        let mut need = n;
        let mut at_end = true;
        // Rotated files to print, newest first: (file, path, from, to).
        let mut older: Vec<(File, PathBuf, u64, u64)> = Vec::new();
        let mut current_from = 0;
        if let Some(t) = &current {
            if let Some(from) = scan_back(&t.file, &t.path, current_len, &mut need, &mut at_end)? {
                current_from = from;
            }
        }
        if need > 0 {
            // A file seen already (the supervisor rotated while this reads: the current file is
            // now NAME.log.1, and every older one moved up by one) is skipped, not printed twice.
            let mut seen: Vec<(u64, u64)> = current.iter().map(|t| t.id).collect();
            for i in 1..=MAX_ROTATED + 1 {
                let path = self.rotated(i);
                let Some(t) = Tracked::open(&path)? else {
                    break;
                };
                if seen.contains(&t.id) {
                    continue;
                }
                seen.push(t.id);
                let len = t.len()?;
                let found = scan_back(&t.file, &path, len, &mut need, &mut at_end)?;
                older.push((t.file, path, found.unwrap_or(0), len));
                if found.is_some() {
                    break;
                }
            }
        }
        for (file, path, from, to) in older.iter().rev() {
            copy_range(file, path, *from, Some(*to), out)?;
        }
        if let Some(t) = current.as_mut() {
            t.pos = copy_range(&t.file, &t.path, current_from, Some(current_len), out)?;
        }
        Ok(Cursor(current))
    }

    /// Prints what is appended to the log from `cursor` on, forever: through rename rotation
    /// (the old file is finished, then the new one read from its start) and truncation (read
    /// again from offset 0), waiting for the file if it does not exist. Returns `Ok` when
    /// `hangup` (the caller's stdout) reports that its reader has gone; ends with
    /// [`LogError::Write`] when a write fails.
    pub fn follow(
        &self,
        cursor: Cursor,
        out: &mut dyn Write,
        hangup: Option<BorrowedFd<'_>>,
    ) -> Result<(), LogError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let watch_err = |err| LogError::Watch {
            path: dir.clone(),
            err,
        };
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(watch_err)?;
        let mask = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_CLOSE_WRITE;
        // A directory that does not exist yet is retried on every safety timeout.
        let mut watching = inotify.add_watch(&dir, mask).is_ok();

        let mut current = cursor.0;
        // The file `current` replaced by a rename, drained first until `current` has data.
        let mut previous: Option<Tracked> = None;
        loop {
            if let Some(p) = previous.as_mut() {
                p.drain(out)?;
            }
            if let Some(t) = current.as_mut() {
                if t.drain(out)? > 0 {
                    previous = None;
                }
            }
            // Looked at without following a symlink: one put there is a replacement, which
            // the open below then refuses.
            let replaced = match std::fs::symlink_metadata(&self.path) {
                Ok(m) => current.as_ref().is_none_or(|t| t.id != (m.dev(), m.ino())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(read_err(&self.path)(e)),
            };
            if replaced {
                if let Some(mut old) = current.take() {
                    old.drain(out)?;
                    previous = Some(old);
                }
                current = Tracked::open(&self.path)?;
                continue;
            }
            out.flush().map_err(LogError::Write)?;

            if !watching {
                watching = inotify.add_watch(&dir, mask).is_ok();
                if watching {
                    continue;
                }
            }
            let mut fds = vec![PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
            if let Some(h) = hangup {
                fds.push(PollFd::new(h, PollFlags::empty()));
            }
            match poll(&mut fds, PollTimeout::from(SAFETY_TIMEOUT_MS)) {
                // A quiet second: a writer still using the renamed file would have shown by
                // now; stop holding it open (it may be deleted by the next rotation).
                Ok(0) => previous = None,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(watch_err(e)),
            }
            if hangup.is_some() {
                let gone = PollFlags::POLLERR | PollFlags::POLLHUP;
                if fds[1].revents().is_some_and(|r| r.intersects(gone)) {
                    return Ok(());
                }
            }
            loop {
                match inotify.read_events() {
                    Ok(events) if !events.is_empty() => {
                        if events
                            .iter()
                            .any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED))
                        {
                            // The directory went away: watch it again once it is back.
                            watching = false;
                        }
                    }
                    Ok(_) | Err(Errno::EAGAIN) => break,
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(watch_err(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(dir: &Path, files: &[(&str, &[u8])]) -> LogView {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        LogView::new(dir.join("x.log"))
    }

    fn last(v: &LogView, n: usize) -> String {
        let mut out = Vec::new();
        v.print_last(n, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// For each `(n, text)`: the last `n` lines are `text`.
    fn lasts(v: &LogView, rows: &[(usize, &str)]) {
        for &(n, text) in rows {
            assert_eq!(last(v, n), text, "{n}");
        }
    }

    #[test]
    fn last_lines_of_one_file() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"a\nb\nc\nd\n")]);
        lasts(
            &v,
            &[
                (0, ""),
                (1, "d\n"),
                (3, "b\nc\nd\n"),
                (4, "a\nb\nc\nd\n"),
                (10, "a\nb\nc\nd\n"),
            ],
        );
    }

    #[test]
    fn a_last_line_without_newline_counts() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"a\nb\nc")]);
        lasts(&v, &[(1, "c"), (2, "b\nc")]);
    }

    #[test]
    fn empty_lines_count() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"a\n\n\nb\n")]);
        assert_eq!(last(&v, 3), "\n\nb\n");
    }

    #[test]
    fn a_file_under_two_names_at_once_is_refused() {
        // svc's rotation only renames, so a log never has two names at once: a second name is
        // a hard link someone made, and is read neither as the current file nor as a rotated
        // one (crate::regular). (The same file seen twice because the supervisor rotated
        // between two opens, NAME.log then NAME.log.1, is printed once: see `seen`.)
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"3\n4\n"), ("x.log.2", b"1\n2\n")]);
        std::fs::hard_link(d.path().join("x.log"), d.path().join("x.log.1")).unwrap();
        let e = v.print_last(10, &mut Vec::new()).err().unwrap().to_string();
        assert!(e.contains("x.log") && e.contains("hard links"), "{e}");
    }

    #[test]
    fn last_lines_across_rotated_files_skipping_gz() {
        let d = tempfile::tempdir().unwrap();
        let v = view(
            d.path(),
            &[
                ("x.log", b"5\n6\n"),
                ("x.log.1", b"3\n4\n"),
                ("x.log.2", b"1\n2\n"),
                ("x.log.3.gz", b"\x1f\x8b junk\n"),
            ],
        );
        lasts(
            &v,
            &[
                (2, "5\n6\n"),
                (3, "4\n5\n6\n"),
                (5, "2\n3\n4\n5\n6\n"),
                (100, "1\n2\n3\n4\n5\n6\n"),
            ],
        );
    }

    #[test]
    fn a_line_split_by_rotation_is_one_line() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"lf\nz\n"), ("x.log.1", b"a\nha")]);
        assert_eq!(last(&v, 2), "half\nz\n");
    }

    #[test]
    fn rotated_files_without_a_current_one() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log.1", b"1\n2\n")]);
        assert_eq!(last(&v, 1), "2\n");
        let mut out = Vec::new();
        v.print_all(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn long_files_are_scanned_in_chunks() {
        let d = tempfile::tempdir().unwrap();
        let mut text = Vec::new();
        for i in 0..50_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let v = view(d.path(), &[("x.log", &text)]);
        assert_eq!(last(&v, 2), "line 49998\nline 49999\n");
        let all = last(&v, 50_000);
        assert_eq!(all.as_bytes(), &text[..]);
    }

    #[test]
    fn bytes_are_copied_as_written() {
        let d = tempfile::tempdir().unwrap();
        let v = view(d.path(), &[("x.log", b"\xff\xfe\n\x00z")]);
        let mut out = Vec::new();
        v.print_last(2, &mut out).unwrap();
        assert_eq!(out, b"\xff\xfe\n\x00z");
    }
}
