//! A supervised service's log file: appends what the supervisor reads from the service's
//! output pipe, rotates it by size, and holds output in memory while the file cannot be written.
//!
//! Rotation renames `NAME.log` → `NAME.log.1` → … → `NAME.log.K` (`log_keep` = K; the oldest
//! falls off) and starts a new `NAME.log`. A rotation happens at a line boundary: the last line
//! that fits goes to the old file, and a line the file already ends in (it arrived in pieces) is
//! finished there, so a line is never split across two files; a file can exceed
//! `log_max_size` by its last line (a single line longer than the limit is written whole). When the file cannot be written (directory
//! unwritable or gone, disk full) nothing read from the pipe is dropped: it is held — up to
//! [`HOLD_MAX`] bytes, beyond which the oldest held lines are dropped and counted — the problem
//! is reported once on the supervisor's own stderr, and the next flush tries again.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Output held in memory while the log cannot be written.
pub const HOLD_MAX: usize = 8 << 20;

pub struct LogSink {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    file: Option<File>,
    size: u64,
    /// The file ends inside a line: the rest of that line goes to the same file.
    mid_line: bool,
    /// Renaming failed (directory not writable, a bind-mounted file): keep appending to the
    /// current file past the limit rather than lose output; tried again after a reopen.
    rotation_broken: bool,
    /// Start each line with the time it was read (`log_timestamps`).
    timestamps: bool,
    /// The next byte taken starts a line (for timestamps).
    line_start: bool,
    held: VecDeque<u8>,
    dropped: u64,
    /// The error being reported, so it is reported once, not per write.
    failing: Option<String>,
    report: Box<dyn FnMut(&str) + Send>,
}

impl LogSink {
    /// A sink for `path`; `report` receives one message per change of health.
    pub fn new(
        path: PathBuf,
        max_size: u64,
        keep: u32,
        report: Box<dyn FnMut(&str) + Send>,
    ) -> LogSink {
        LogSink {
            path,
            max_size: max_size.max(1),
            keep,
            file: None,
            size: 0,
            mid_line: false,
            rotation_broken: false,
            timestamps: false,
            line_start: true,
            held: VecDeque::new(),
            dropped: 0,
            failing: None,
            report,
        }
    }

    /// Lines will start with an RFC 3339 time (UTC, microseconds) and a space.
    pub fn with_timestamps(mut self, on: bool) -> LogSink {
        self.timestamps = on;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether output is held because the log could not be written.
    pub fn is_failing(&self) -> bool {
        self.failing.is_some()
    }

    /// Takes `data` and writes out as much as the file accepts.
    pub fn write(&mut self, data: &[u8]) {
        if self.timestamps {
            let stamp = crate::clock::rfc3339_micros(std::time::SystemTime::now());
            for &b in data {
                if self.line_start {
                    self.held.extend(stamp.as_bytes());
                    self.held.push_back(b' ');
                }
                self.held.push_back(b);
                self.line_start = b == b'\n';
            }
        } else {
            self.held.extend(data);
        }
        if self.held.len() > HOLD_MAX {
            self.drop_oldest();
        }
        self.flush();
    }

    /// Closes the file so the next write opens the path again (after an outside rotation).
    pub fn reopen(&mut self) {
        self.file = None;
        self.rotation_broken = false;
    }

    /// Writes held output; on failure keeps it and reports the problem once.
    pub fn flush(&mut self) {
        while !self.held.is_empty() {
            if let Err(e) = self.flush_some() {
                let msg = format!("cannot write log {}: {e}", self.path.display());
                if self.failing.as_deref() != Some(msg.as_str()) {
                    (self.report)(&format!(
                        "{msg}; holding the service's output in memory (up to {} MiB) and retrying",
                        HOLD_MAX >> 20
                    ));
                    self.failing = Some(msg);
                }
                self.file = None;
                return;
            }
        }
        if self.failing.take().is_some() {
            let lost = std::mem::take(&mut self.dropped);
            if lost > 0 {
                (self.report)(&format!(
                    "log {} writable again; {lost} bytes of the oldest held output were dropped",
                    self.path.display()
                ));
            } else {
                (self.report)(&format!(
                    "log {} writable again; nothing was lost",
                    self.path.display()
                ));
            }
        }
    }

    /// One step: open if needed, rotate if the next piece does not fit, write a piece.
    fn flush_some(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let f = open_append(&self.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        let room = self.max_size.saturating_sub(self.size) as usize;
        let (front, back) = self.held.as_slices();
        // A line may run past the limit to its end, but not without bound (a program that
        // never writes a newline): beyond twice the limit (at least 64 KiB more) it is split.
        let line_cap = self.max_size.saturating_mul(2).max(self.max_size + 65536);
        let n = if self.rotation_broken {
            self.held.len()
        } else if self.mid_line && self.size < line_cap {
            // Finish the line the file ends in: never split a line.
            first_newline(front, back).map_or(self.held.len(), |i| i + 1)
        } else if self.mid_line {
            self.rotate_or_keep()?;
            return Ok(());
        } else if self.held.len() <= room {
            self.held.len()
        } else {
            // Up to the last line end that still fits; a file that is empty takes at least one
            // whole line (or everything, when there is no line end at all).
            let within = last_newline(front, back, room);
            match within {
                Some(i) => i + 1,
                None if self.size > 0 => {
                    self.rotate_or_keep()?;
                    return Ok(());
                }
                None => first_newline(front, back).map_or(self.held.len(), |i| i + 1),
            }
        };
        let (front, back) = self.held.as_slices();
        let piece: &[u8] = if n <= front.len() {
            &front[..n]
        } else if front.is_empty() {
            &back[..n]
        } else {
            // Write the front slice first; the rest comes on the next step.
            front
        };
        let file = self.file.as_mut().expect("opened above");
        let written = match file.write(piece) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(w) => w,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        if written > 0 {
            self.mid_line = piece[written - 1] != b'\n';
        }
        self.held.drain(..written);
        self.size += written as u64;
        Ok(())
    }

    /// Rotates; when renaming is impossible, says so once and keeps appending to the current
    /// file (only a failure to write is a reason to hold output back).
    fn rotate_or_keep(&mut self) -> io::Result<()> {
        if let Err(e) = self.rotate() {
            (self.report)(&format!(
                "cannot rotate log {}: {e}; appending to it past log_max_size (SIGHUP retries)",
                self.path.display()
            ));
            self.rotation_broken = true;
            if self.file.is_none() {
                let f = open_append(&self.path)?;
                self.size = f.metadata()?.len();
                self.file = Some(f);
            }
        }
        Ok(())
    }

    /// NAME.log.(K-1) → NAME.log.K, …, NAME.log → NAME.log.1; then a fresh NAME.log on the next
    /// write. With `log_keep: 0` the old file is simply removed.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.mid_line = false;
        let numbered = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            ignore_missing(std::fs::remove_file(&self.path))?;
        } else {
            for i in (1..self.keep).rev() {
                ignore_missing(std::fs::rename(numbered(i), numbered(i + 1)))?;
            }
            ignore_missing(std::fs::rename(&self.path, numbered(1)))?;
        }
        self.size = 0;
        Ok(())
    }

    /// Drops the oldest held lines to get back under [`HOLD_MAX`].
    fn drop_oldest(&mut self) {
        let excess = self.held.len() - HOLD_MAX;
        let cut = self
            .held
            .iter()
            .skip(excess)
            .position(|&b| b == b'\n')
            .map_or(self.held.len(), |i| excess + i + 1);
        self.held.drain(..cut);
        self.dropped += cut as u64;
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Index (in the held bytes) of the last `\n` within the first `limit` bytes.
fn last_newline(front: &[u8], back: &[u8], limit: usize) -> Option<usize> {
    let in_back = limit.saturating_sub(front.len()).min(back.len());
    if let Some(i) = back[..in_back].iter().rposition(|&b| b == b'\n') {
        return Some(front.len() + i);
    }
    front[..limit.min(front.len())]
        .iter()
        .rposition(|&b| b == b'\n')
}

fn first_newline(front: &[u8], back: &[u8]) -> Option<usize> {
    front.iter().position(|&b| b == b'\n').or_else(|| {
        back.iter()
            .position(|&b| b == b'\n')
            .map(|i| front.len() + i)
    })
}

/// The log is appended to, created 0640: never through a symlink or a second hard link, never
/// blocking (a FIFO someone put there is refused, see [`crate::regular`]).
pub fn open_append(path: &Path) -> io::Result<File> {
    crate::regular::open_append(path, 0o640)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn sink(dir: &Path, max: u64, keep: u32) -> (LogSink, Arc<Mutex<Vec<String>>>) {
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let m = msgs.clone();
        let s = LogSink::new(
            dir.join("x.log"),
            max,
            keep,
            Box::new(move |t| m.lock().unwrap().push(t.to_string())),
        );
        (s, msgs)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    /// The log directory after `pieces` went, one write each, to a sink that rotates at `max`
    /// bytes and keeps `keep` files.
    fn after(max: u64, keep: u32, pieces: &[&[u8]]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = sink(d.path(), max, keep);
        for p in pieces {
            s.write(p);
        }
        d
    }

    /// Each `(file, text)`: the file in `d` holds `text` (a missing file holds "").
    fn holds(d: &tempfile::TempDir, files: &[(&str, &str)]) {
        for (f, text) in files {
            assert_eq!(read(&d.path().join(f)), *text, "{f}");
        }
    }

    #[test]
    fn rotates_at_line_boundaries_and_keeps_k_files() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = sink(d.path(), 100, 3);
        let mut all = String::new();
        for i in 0..200 {
            let line = format!("line {i:04}\n");
            all.push_str(&line);
            // Odd chunking: lines arrive split across writes.
            let (a, b) = line.split_at(3);
            s.write(a.as_bytes());
            s.write(b.as_bytes());
        }
        let files: Vec<PathBuf> = ["x.log.3", "x.log.2", "x.log.1", "x.log"]
            .iter()
            .map(|f| d.path().join(f))
            .collect();
        assert!(!d.path().join("x.log.4").exists());
        let mut tail = String::new();
        for f in &files {
            let t = read(f);
            assert!(t.len() <= 100, "{} has {} bytes", f.display(), t.len());
            assert!(
                t.is_empty() || t.ends_with('\n'),
                "{} split a line",
                f.display()
            );
            tail.push_str(&t);
        }
        assert!(
            all.ends_with(&tail),
            "the kept files are the newest output, in order"
        );
        assert!(tail.lines().count() >= 30);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_written_whole() {
        let d = after(
            10,
            2,
            &[
                b"short\n",
                b"a line much longer than ten bytes\n",
                b"next\n",
            ],
        );
        holds(
            &d,
            &[
                ("x.log.2", "short\n"),
                ("x.log.1", "a line much longer than ten bytes\n"),
                ("x.log", "next\n"),
            ],
        );
    }

    #[test]
    fn holds_output_while_the_directory_is_missing_and_loses_nothing() {
        let d = tempfile::tempdir().unwrap();
        let logdir = d.path().join("log");
        std::fs::create_dir(&logdir).unwrap();
        let (mut s, msgs) = sink(&logdir, 1 << 20, 2);
        s.write(b"one\n");
        std::fs::rename(&logdir, d.path().join("moved")).unwrap();
        s.reopen();
        s.write(b"two\n");
        s.write(b"three\n");
        assert!(s.is_failing());
        assert_eq!(msgs.lock().unwrap().len(), 1, "reported once");
        std::fs::create_dir(&logdir).unwrap();
        s.flush();
        assert!(!s.is_failing());
        assert_eq!(read(&logdir.join("x.log")), "two\nthree\n");
        assert!(msgs.lock().unwrap()[1].contains("nothing was lost"));
    }

    #[test]
    fn a_line_that_arrives_in_pieces_is_not_split_by_a_rotation() {
        // The first piece fills the file exactly, ending inside a line.
        let d = after(10, 2, &[b"12345\n6789", b"0ab\nnext\n"]);
        holds(&d, &[("x.log.1", "12345\n67890ab\n"), ("x.log", "next\n")]);
    }

    #[test]
    fn timestamps_start_every_line_even_across_pieces() {
        let d = tempfile::tempdir().unwrap();
        let (s, _) = sink(d.path(), 1 << 20, 1);
        let mut s = s.with_timestamps(true);
        s.write(b"one\ntw");
        s.write(b"o\nthree\n");
        let text = read(&d.path().join("x.log"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (l, want) in lines.iter().zip(["one", "two", "three"]) {
            let (stamp, rest) = l.split_once(' ').unwrap();
            assert_eq!(rest, want);
            assert_eq!(stamp.len(), "2026-11-25T01:56:16.123456Z".len(), "{stamp}");
            assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
        }
    }

    #[test]
    fn output_without_newlines_is_split_at_twice_the_limit_plus() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = sink(d.path(), 100, 50);
        for _ in 0..20_000 {
            s.write(b"yyyyyyyyyy");
        }
        let cap = 100 + 65536;
        for i in 1..50 {
            let p = d.path().join(format!("x.log.{i}"));
            if p.exists() {
                let len = std::fs::metadata(&p).unwrap().len();
                assert!(len <= cap + 10, "{} has {len} bytes", p.display());
            }
        }
        assert!(d.path().join("x.log.1").exists(), "rotated at all");
    }

    #[test]
    fn a_rotation_that_cannot_rename_keeps_appending() {
        let d = tempfile::tempdir().unwrap();
        // x.log.1 is a directory that is not empty: renaming x.log over it fails (EISDIR).
        std::fs::create_dir(d.path().join("x.log.1")).unwrap();
        std::fs::write(d.path().join("x.log.1/keep"), "").unwrap();
        let (mut s, msgs) = sink(d.path(), 10, 1);
        s.write(b"123456789\n");
        s.write(b"abc\n");
        s.write(b"def\n");
        assert_eq!(read(&d.path().join("x.log")), "123456789\nabc\ndef\n");
        assert!(!s.is_failing(), "writing works, so nothing is held");
        let msgs = msgs.lock().unwrap();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("cannot rotate"), "{msgs:?}");
    }

    #[test]
    fn keep_zero_removes_the_old_file() {
        let d = after(8, 0, &[b"1234567\n", b"abc\n"]);
        holds(&d, &[("x.log", "abc\n")]);
        assert!(!d.path().join("x.log.1").exists());
    }
}
