//! `svc logs NAME [-n LINES] [-f]`: the whole log, the last lines across rotated files, and
//! following a log written by a real service through rename rotation and truncation.

use crate::util::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A daemon that prints `line 1` … `line COUNT` on stdout (its log), then waits for TERM.
fn printer(sb: &Sandbox, name: &str, count: u32) {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\ni=1\nwhile [ $i -le {count} ]; do echo \"line $i\"; i=$((i+1)); done\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service(
        name,
        &format!("exec: {}\nstop_timeout: 3\n", script.display()),
    );
}

/// A daemon that appends `line 1`, `line 2` … to its log by path, reopening it for every
/// line (so a renamed or truncated log is picked up as logrotate and the supervisor leave it),
/// one line every 10 ms.
fn appender(sb: &Sandbox, name: &str) {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\ni=0\nwhile :; do i=$((i+1)); echo \"line $i\" >> '{}'; sleep 0.01; done\n",
            sb.logfile(name).display()
        ),
    );
    sb.service(
        name,
        &format!("exec: {}\nstop_timeout: 3\n", script.display()),
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn numbered(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("line {i}\n")).collect()
}

/// `svc logs ARGS` running as a child with piped stdout, read line by line by a thread; killed
/// on drop.
struct Follower {
    child: Child,
    lines: Receiver<String>,
    got: Vec<String>,
}

impl Follower {
    fn start(sb: &Sandbox, args: &[&str]) -> Follower {
        let mut child = sb
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn svc logs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            lines: rx,
            got: Vec::new(),
        }
    }

    /// Reads lines until one equals `want`; fails the test after `timeout`.
    #[track_caller]
    fn wait_for(&mut self, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.got.iter().any(|l| l == want) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.got.push(l),
                Err(e) => panic!(
                    "svc logs: no {want:?} after {timeout:?} ({e}); got:\n{}",
                    self.got.join("\n")
                ),
            }
        }
    }

    /// The numbers of the `line N` lines read so far.
    fn numbers(&self) -> Vec<u32> {
        self.got
            .iter()
            .map(|l| {
                l.strip_prefix("line ")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected line {l:?} in {:?}", self.got))
            })
            .collect()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the service and waits until its log holds `line COUNT`.
fn start_and_wait_for_lines(sb: &Sandbox, name: &str, count: u32) {
    sb.svc(["start", name]).ok();
    let log = sb.logfile(name);
    wait_until(T, &format!("line {count} in {}", log.display()), || {
        read(&log).contains(&format!("line {count}\n"))
    });
}

fn hand_made(sb: &Sandbox, file: &str, text: &[u8]) -> PathBuf {
    std::fs::create_dir_all(&sb.log).unwrap();
    let p = sb.log.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// Printing once.

#[test]
fn whole_log_without_n_and_last_lines_with_n() {
    let sb = Sandbox::new();
    printer(&sb, "p", 10);
    start_and_wait_for_lines(&sb, "p", 10);

    let all = sb.svc(["logs", "p"]);
    all.ok().no_panic();
    assert_eq!(all.stdout, numbered(1, 10), "whole log");

    let last = sb.svc(["logs", "p", "-n", "3"]);
    last.ok();
    assert_eq!(last.stdout, numbered(8, 10), "-n 3");
    let last = sb.svc(["logs", "p", "--lines", "1"]);
    assert_eq!(last.stdout, numbered(10, 10), "--lines 1");
    let none = sb.svc(["logs", "p", "-n", "0"]);
    none.ok();
    assert_eq!(none.stdout, "", "-n 0");
    let more = sb.svc(["logs", "p", "-n", "50"]);
    assert_eq!(more.stdout, numbered(1, 10), "-n beyond the file");

    sb.svc(["stop", "p"]).ok();
}

#[test]
fn last_lines_reach_into_the_rotated_files_and_skip_compressed_ones() {
    let sb = Sandbox::new();
    printer(&sb, "p", 3);
    // What a rotation left behind: NAME.log.1 the newest, NAME.log.2 older, .3.gz compressed.
    hand_made(&sb, "p.log.3.gz", b"\x1f\x8b\x08 not text\n");
    hand_made(&sb, "p.log.2", b"old 1\nold 2\n");
    hand_made(&sb, "p.log.1", b"older 1\nolder 2\nolder 3\n");
    start_and_wait_for_lines(&sb, "p", 3);

    let r = sb.svc(["logs", "p", "-n", "5"]);
    r.ok();
    assert_eq!(r.stdout, "older 2\nolder 3\nline 1\nline 2\nline 3\n");
    let r = sb.svc(["logs", "p", "-n", "7"]);
    assert_eq!(
        r.stdout,
        "old 2\nolder 1\nolder 2\nolder 3\nline 1\nline 2\nline 3\n"
    );
    let r = sb.svc(["logs", "p", "-n", "100"]);
    assert_eq!(
        r.stdout, "old 1\nold 2\nolder 1\nolder 2\nolder 3\nline 1\nline 2\nline 3\n",
        "everything but the .gz"
    );
    // Without -n only the current file.
    assert_eq!(sb.svc(["logs", "p"]).stdout, numbered(1, 3));

    sb.svc(["stop", "p"]).ok();
}

#[test]
fn a_last_line_without_newline_is_a_line_and_bytes_are_kept() {
    let sb = Sandbox::new();
    sb.service("h", &sb.sleeper("h"));
    hand_made(&sb, "h.log", b"a\n\xff\xfe raw\nno newline");
    let out = bounded_output(sb.cmd(["logs", "h", "-n", "2"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"\xff\xfe raw\nno newline");
}

#[test]
fn a_log_that_does_not_exist_yet_prints_nothing() {
    let sb = Sandbox::new();
    sb.service("quiet", &sb.sleeper("quiet"));
    let r = sb.svc(["logs", "quiet"]);
    r.ok();
    assert_eq!(r.stdout, "");
    let r = sb.svc(["logs", "quiet", "-n", "5"]);
    r.ok();
    assert_eq!(r.stdout, "");
}

#[test]
fn log_none_is_not_configured_exit_6() {
    let sb = Sandbox::new();
    let def = format!("{}log: none\n", sb.sleeper("mute"));
    sb.service("mute", &def);
    sb.svc(["logs", "mute"])
        .code(6)
        .stderr_has("mute has no log (log: none)");
    sb.svc(["logs", "mute", "-f"]).code(6);
}

#[test]
fn unknown_service_and_bad_name() {
    let sb = Sandbox::new();
    sb.svc(["logs", "ghost"])
        .code(5)
        .stderr_has("no such service ghost");
    sb.svc(["logs", "../etc"]).code(2);
    sb.svc(["logs", "x", "-n", "many"]).code(2);
}

#[test]
fn a_log_at_its_own_path() {
    let sb = Sandbox::new();
    let path = sb.work.join("custom.log");
    let def = format!("{}log: {}\n", sb.sleeper("c"), path.display());
    sb.service("c", &def);
    std::fs::write(&path, "one\ntwo\n").unwrap();
    assert_eq!(sb.svc(["logs", "c", "-n", "1"]).ok().stdout, "two\n");
}

/// B15: `svc logs X | head -1` must not panic: a closed stdout ends svc quietly with 0.
#[test]
fn closed_stdout_is_not_an_error_b15() {
    let sb = Sandbox::new();
    sb.service("big", &sb.sleeper("big"));
    // Far more than a pipe holds, so svc is still writing when the reader goes away.
    hand_made(&sb, "big.log", numbered(1, 200_000).as_bytes());
    for args in [&["logs", "big"][..], &["logs", "big", "-n", "150000"][..]] {
        let mut child = spawn_svc(&sb, args);
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("line "), "{first:?}");
        // The reader is dropped: the pipe is closed.
        let r = finish(child, args, SVC_LIMIT);
        let err = &r.stderr;
        assert!(!err.contains("panicked"), "svc {args:?} panicked:\n{err}");
        assert_eq!(r.code, 0, "svc {args:?}: exit {}\n{err}", r.code);
    }
}

// ---------------------------------------------------------------------------------------------
// Following.

#[test]
fn follow_prints_appended_lines_and_ends_when_stdout_closes() {
    let sb = Sandbox::new();
    sb.service("f", &sb.sleeper("f"));
    let log = hand_made(&sb, "f.log", b"old 1\nold 2\nold 3\n");
    let mut f = Follower::start(&sb, &["logs", "f", "-n", "2", "-f"]);
    f.wait_for("old 3", T);
    let mut w = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    w.write_all(b"new 1\n").unwrap();
    f.wait_for("new 1", T);
    w.write_all(b"new 2\n").unwrap();
    f.wait_for("new 2", T);
    assert_eq!(f.got, ["old 2", "old 3", "new 1", "new 2"]);

    // Closing the reading end ends the follower at once, exit 0, no new data needed.
    drop(std::mem::replace(&mut f.lines, channel().1));
    let mut child_stderr = f.child.stderr.take().unwrap();
    // The reader thread holds the pipe until its next read fails: give it data to fail on.
    w.write_all(b"new 3\n").unwrap();
    let mut status = None;
    wait_until(T, "svc logs -f to end after its stdout closed", || {
        status = f.child.try_wait().unwrap();
        status.is_some()
    });
    let mut err = String::new();
    child_stderr.read_to_string(&mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.unwrap().code(), Some(0), "{err}");
}

#[test]
fn follow_waits_for_the_log_and_survives_rename_rotation_and_truncation() {
    let sb = Sandbox::new();
    appender(&sb, "a");
    let log = sb.logfile("a");
    // Started before the service: neither the log nor its directory exist yet.
    let mut f = Follower::start(&sb, &["logs", "a", "-f"]);
    sb.svc(["start", "a"]).ok();
    f.wait_for("line 20", T);

    // Rename rotation, as the supervisor does it: NAME.log -> NAME.log.1, a fresh NAME.log.
    std::fs::rename(&log, sb.log.join("a.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let rotated_at = *f.numbers().last().unwrap();
    wait_until(T, "the writer to use the new a.log", || {
        read(&log).starts_with("line ")
    });
    let target = rotated_at + 40;
    f.wait_for(&format!("line {target}"), T);
    let n = f.numbers();
    let expected: Vec<u32> = (1..=*n.last().unwrap()).collect();
    assert_eq!(
        n, expected,
        "every line once and in order across the rotation"
    );
    assert!(
        read(&sb.log.join("a.log.1")).contains(&format!("line {rotated_at}\n")),
        "the rotation happened while the follower ran"
    );

    // copytruncate: the file shrinks to nothing and the writer goes on at offset 0.
    let truncated_at = *n.last().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    let target = truncated_at + 40;
    f.wait_for(&format!("line {target}"), T);
    let n = f.numbers();
    assert!(
        n.windows(2).all(|w| w[0] < w[1]),
        "lines in order, none twice after truncation: {n:?}"
    );
    let after: Vec<u32> = n.iter().copied().filter(|&i| i > truncated_at).collect();
    assert!(
        after.len() >= 30,
        "lines written after the truncation are printed: {after:?}"
    );
    // The log now starts with lines written after the truncation; they were printed too.
    let first_after = read(&log)
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("line ")?.parse::<u32>().ok())
        .unwrap();
    assert!(n.contains(&first_after), "{first_after} missing from {n:?}");

    sb.svc(["stop", "a"]).ok();
    // SIGTERM ends the follower.
    // SAFETY: kill(2) of the child this test spawned and has not reaped.
    unsafe {
        libc::kill(f.child.id() as i32, libc::SIGTERM);
    }
    let mut status = None;
    wait_until(T, "svc logs -f to end on SIGTERM", || {
        status = f.child.try_wait().unwrap();
        status.is_some()
    });
}

// ---------------------------------------------------------------------------------------------
// Issue 10 items 7 and 8: what a service user who can write the log directory may put at the
// log path — a FIFO, a symlink to a file it may not read — never hangs svc nor leaks a file.

/// How long one svc command may take here: far longer than any of them needs, far shorter
/// than a hang.
const PROMPT: Duration = Duration::from_secs(10);

/// `svc ARGS`, failing the test (and killing svc) if it has not finished within [`PROMPT`].
#[track_caller]
fn prompt(sb: &Sandbox, args: &[&str]) -> Run {
    finish(spawn_svc(sb, args), args, PROMPT)
}

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(r, 0, "mkfifo {}", p.display());
}

/// Item 7: `start` fails at once, naming the log and what it is; nothing is launched.
#[test]
fn a_fifo_at_the_log_path_fails_start_at_once() {
    let sb = Sandbox::new();
    sb.service("f", &sb.sleeper("f"));
    std::fs::create_dir_all(&sb.log).unwrap();
    mkfifo(&sb.logfile("f"));
    prompt(&sb, &["start", "f"])
        .code(1)
        .stderr_has(&format!("cannot open log {}", sb.logfile("f").display()))
        .stderr_has("not a regular file (it is a FIFO)");
    sb.svc(["status", "f"]).code(3);
    assert!(!sb.work.join("f.started").exists(), "nothing was launched");
    // Once the log is a file again, the service starts.
    std::fs::remove_file(sb.logfile("f")).unwrap();
    prompt(&sb, &["start", "f"]).ok();
    prompt(&sb, &["stop", "f"]).ok();
}

/// Item 7: one service's FIFO log does not stop a switch: the others start, the switch fails.
#[test]
fn a_fifo_log_fails_its_service_only_in_a_switch() {
    let sb = Sandbox::new();
    for name in ["a", "b"] {
        sb.service(name, &sb.sleeper(name));
        std::os::unix::fs::symlink(
            format!("../../init.d/{name}.yaml"),
            sb.config.join(format!("runlevels/rc3.d/S20{name}")),
        )
        .unwrap();
    }
    std::fs::create_dir_all(&sb.log).unwrap();
    mkfifo(&sb.logfile("a"));
    let r = prompt(&sb, &["switch", "3"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("FIFO"),
        "the reason is given:\n{}{}",
        r.stdout,
        r.stderr
    );
    sb.svc(["status", "b"]).ok();
    sb.svc(["status", "a"]).code(3);
    prompt(&sb, &["stop", "b"]).ok();
}

/// Item 7: `svc logs` (whole, `-n`, `-f`) refuses a FIFO at once.
#[test]
fn logs_of_a_fifo_fail_at_once() {
    let sb = Sandbox::new();
    sb.service("f", &sb.sleeper("f"));
    std::fs::create_dir_all(&sb.log).unwrap();
    mkfifo(&sb.logfile("f"));
    for args in [
        &["logs", "f"][..],
        &["logs", "f", "-n", "3"],
        &["logs", "f", "-f"],
    ] {
        prompt(&sb, args)
            .code(1)
            .stderr_has(&sb.logfile("f").display().to_string())
            .stderr_has("not a regular file (it is a FIFO)");
    }
    // A FIFO among the rotated files too.
    std::fs::remove_file(sb.logfile("f")).unwrap();
    hand_made(&sb, "f.log", b"current\n");
    mkfifo(&sb.log.join("f.log.1"));
    prompt(&sb, &["logs", "f", "-n", "5"])
        .code(1)
        .stderr_has("f.log.1");
}

/// Item 8: `svc logs` never reads through a symlink at the log path or at a rotated file's
/// path: a service user must not make root's `svc logs` print a file it cannot read.
#[test]
fn logs_never_follow_a_symlink() {
    let sb = Sandbox::new();
    sb.service("s", &sb.sleeper("s"));
    let secret = sb.work.join("shadow");
    std::fs::write(&secret, "root:SECRET:19000::::::\n").unwrap();
    std::fs::create_dir_all(&sb.log).unwrap();
    std::os::unix::fs::symlink(&secret, sb.logfile("s")).unwrap();
    for args in [
        &["logs", "s"][..],
        &["logs", "s", "-n", "5"],
        &["logs", "s", "-f"],
    ] {
        let r = prompt(&sb, args);
        r.code(1).stderr_has("symbolic link");
        assert!(
            !r.stdout.contains("SECRET"),
            "svc {args:?} printed the target"
        );
    }
    // A rotated file that is a symlink.
    std::fs::remove_file(sb.logfile("s")).unwrap();
    hand_made(&sb, "s.log", b"current\n");
    std::os::unix::fs::symlink(&secret, sb.log.join("s.log.1")).unwrap();
    let r = prompt(&sb, &["logs", "s", "-n", "5"]);
    r.code(1).stderr_has("s.log.1").stderr_has("symbolic link");
    assert!(!r.stdout.contains("SECRET"));
    // Without -n only the current file is read: fine.
    assert_eq!(prompt(&sb, &["logs", "s"]).ok().stdout, "current\n");

    // While following: the log replaced by a symlink ends the follower with an error; the
    // target is never printed.
    std::fs::remove_file(sb.log.join("s.log.1")).unwrap();
    let mut f = Follower::start(&sb, &["logs", "s", "-f"]);
    f.wait_for("current", T);
    std::fs::remove_file(sb.logfile("s")).unwrap();
    std::os::unix::fs::symlink(&secret, sb.logfile("s")).unwrap();
    let mut status = None;
    wait_until(T, "svc logs -f to refuse the symlink", || {
        status = f.child.try_wait().unwrap();
        status.is_some()
    });
    while let Ok(l) = f.lines.recv_timeout(Duration::from_millis(100)) {
        f.got.push(l);
    }
    assert!(!f.got.iter().any(|l| l.contains("SECRET")), "{:?}", f.got);
    let mut err = String::new();
    f.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.unwrap().code(), Some(1), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

/// Item 8, hard links: where protected_hardlinks is off, a service user who can write the log
/// directory can hard-link a file it cannot read (same file system) as its log. The writers
/// refuse a log with a second link; `svc logs` and the log tail of a failed start must not
/// print it either.
#[test]
fn logs_never_read_a_hard_linked_file() {
    let sb = Sandbox::new();
    sb.service("s", &sb.sleeper("s"));
    std::fs::create_dir_all(&sb.log).unwrap();
    let secret = sb.log.join("shadow");
    std::fs::write(&secret, "root:SECRET:19000::::::\n").unwrap();
    std::fs::hard_link(&secret, sb.logfile("s")).unwrap();
    for args in [&["logs", "s"][..], &["logs", "s", "-n", "5"]] {
        let r = prompt(&sb, args);
        assert!(
            !r.stdout.contains("SECRET"),
            "svc {args:?} printed the linked file"
        );
        r.code(1).stderr_has("hard links");
    }
    // A rotated file too.
    std::fs::remove_file(sb.logfile("s")).unwrap();
    hand_made(&sb, "s.log", b"current\n");
    std::fs::hard_link(&secret, sb.log.join("s.log.1")).unwrap();
    let r = prompt(&sb, &["logs", "s", "-n", "5"]);
    assert!(!r.stdout.contains("SECRET"), "{}", r.stdout);
    r.code(1).stderr_has("s.log.1").stderr_has("hard links");
}
