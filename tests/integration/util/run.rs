//! Running commands with a deadline: every child a test starts (svc, a wrapper around svc, a
//! helper tool) is waited for here, and only here, for at most a given time. A command still
//! running at its deadline is killed (SIGKILL, with its process group when it leads one: every
//! svc the fixture builds does) and the test fails with the command and the output it gave so
//! far. Output is read while the command runs, so a chatty command cannot fill its pipe and
//! look hung; a command that exits while a descendant still holds its stdout or stderr open
//! fails the test too (at the same deadline) instead of blocking it.

use super::{Run, Sandbox};
use std::borrow::BorrowMut;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single `svc` run may take before a test calls it hung: generous, for a debug
/// build on a loaded two-core machine.
pub const SVC_LIMIT: Duration = Duration::from_secs(60);

/// Reads one output stream of a child into a buffer on its own thread.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Drain {
    fn start<R: Read + Send + 'static>(mut from: R) -> Drain {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let into = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => into.lock().unwrap().extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
        Drain { buf, done }
    }

    /// Waits for end of file until `deadline`; true when it came.
    fn finished_by(&self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        !matches!(
            self.done.recv_timeout(left),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

fn drain_text(d: &Option<Drain>) -> String {
    d.as_ref().map(Drain::text).unwrap_or_default()
}

/// Kills `child` with SIGKILL, and its process group when it leads one (svc's runs do: see
/// [`Sandbox::cmd`]), then reaps it. The child is not reaped before the signals, so neither its
/// PID nor its group ID can have been reused. Bounded: a SIGKILLed process always exits.
pub fn kill_child(child: &mut Child) {
    let pid = child.id() as i32;
    if let Ok(None) = child.try_wait() {
        if super::proc_stat(pid).is_some_and(|s| s.pgrp == pid) {
            // SAFETY: kill(2) of the group our un-reaped child leads.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Waits for `child` for at most `limit`, collecting the output streams that are pipes. On the
/// deadline the child (and its group) is killed and `Err` says what happened, with the output
/// so far; the caller decides whether that fails the test or is ignored (a guard's clean-up in
/// `Drop`).
pub fn wait_output(mut child: Child, args: &[String], limit: Duration) -> Result<Output, String> {
    let deadline = Instant::now() + limit;
    let out = child.stdout.take().map(Drain::start::<ChildStdout>);
    let err = child.stderr.take().map(Drain::start::<ChildStderr>);
    let mut pause = Duration::from_millis(1);
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => {
                kill_child(&mut child);
                return Err(format!("{args:?}: wait failed: {e}"));
            }
        }
        if Instant::now() >= deadline {
            kill_child(&mut child);
            // The streams end with the kill unless a descendant outside the group holds them.
            let grace = Instant::now() + Duration::from_secs(2);
            for d in [&out, &err].into_iter().flatten() {
                d.finished_by(grace);
            }
            return Err(format!(
                "{args:?} still running after {limit:?}: killed\n--- stdout\n{}--- stderr\n{}",
                drain_text(&out),
                drain_text(&err)
            ));
        }
        std::thread::park_timeout(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    };
    for d in [&out, &err].into_iter().flatten() {
        if !d.finished_by(deadline) {
            return Err(format!(
                "{args:?} exited ({status}) but its output was still open after {limit:?}: a \
                 process it left behind holds it\n--- stdout\n{}--- stderr\n{}",
                drain_text(&out),
                drain_text(&err)
            ));
        }
    }
    let bytes = |d: &Option<Drain>| {
        d.as_ref()
            .map(|d| d.buf.lock().unwrap().clone())
            .unwrap_or_default()
    };
    Ok(Output {
        status,
        stdout: bytes(&out),
        stderr: bytes(&err),
    })
}

/// [`wait_output`] as a [`Run`]; a command killed by a signal gets code 128 + signal, as a
/// shell reports it.
pub fn try_finish(child: Child, args: &[String], limit: Duration) -> Result<Run, String> {
    let out = wait_output(child, args, limit)?;
    let code = out
        .status
        .code()
        .or_else(|| out.status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    Ok(Run {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.to_vec(),
    })
}

/// `Command::output` with a deadline ([`SVC_LIMIT`]), for call sites that want std's
/// `Output`: as with `output`, both streams are captured and stdin is /dev/null; a command
/// still running at the deadline is killed and fails the test.
#[track_caller]
pub fn bounded_output(mut cmd: impl BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    let args = describe(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    wait_output(child, &args, SVC_LIMIT).unwrap_or_else(|e| panic!("{e}"))
}

/// `Command::status` with a deadline ([`SVC_LIMIT`]): the streams stay as the caller set them
/// (inherited when unset); a command still running at the deadline is killed and fails the
/// test.
#[track_caller]
pub fn bounded_status(mut cmd: impl BorrowMut<Command>) -> ExitStatus {
    let cmd = cmd.borrow_mut();
    let args = describe(cmd);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    wait_output(child, &args, SVC_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"))
        .status
}

/// [`try_finish`], failing the test on the deadline.
#[track_caller]
pub fn finish_child(child: Child, args: &[String], limit: Duration) -> Run {
    try_finish(child, args, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// Waits for a started `svc ARGS` for at most `limit`; kills it and fails the test if it takes
/// longer.
#[track_caller]
pub fn finish(child: Child, args: &[&str], limit: Duration) -> Run {
    finish_child(child, &display_args(args), limit)
}

/// Runs a prepared command within `timeout`; a hung command is killed and fails the test. The
/// caller chooses stdout/stderr (unset streams are inherited, so pass `Stdio::piped()` to
/// capture them).
#[track_caller]
pub fn run_timeout(mut cmd: Command, args: Vec<String>, timeout: Duration) -> Run {
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    finish_child(child, &args, timeout)
}

/// Runs a prepared command with both output streams captured, within `timeout`.
#[track_caller]
pub fn output(mut cmd: Command, args: Vec<String>, timeout: Duration) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    run_timeout(cmd, args, timeout)
}

/// A command's program and arguments, for messages.
pub fn describe(cmd: &Command) -> Vec<String> {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Best effort for `Drop` guards: runs `cmd` for at most `limit`, ignoring every failure (a
/// panic while unwinding would abort the test binary).
pub fn run_quietly(mut cmd: Command, limit: Duration) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Ok(child) = cmd.spawn() {
        let _ = try_finish(child, &[], limit);
    }
}

/// Starts `svc ARGS` in the background with piped output (finish it with [`finish`]).
pub fn spawn_svc(sb: &Sandbox, args: &[&str]) -> Child {
    sb.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svc")
}

/// Runs `svc ARGS` with a time limit and returns what happened and how long it took.
#[track_caller]
pub fn timed(sb: &Sandbox, args: &[&str]) -> (Run, Duration) {
    let t0 = Instant::now();
    let run = finish(spawn_svc(sb, args), args, SVC_LIMIT);
    (run, t0.elapsed())
}

/// Runs `svc ARGS` with a time limit.
#[track_caller]
pub fn run(sb: &Sandbox, args: &[&str]) -> Run {
    timed(sb, args).0
}

/// `svc ARGS` in the sandbox with extra environment variables and a deadline.
#[track_caller]
pub fn svc_env<S: AsRef<OsStr>>(sb: &Sandbox, envs: &[(&str, &str)], args: &[S]) -> Run {
    svc_timeout(sb, envs, args, SVC_LIMIT)
}

/// `svc ARGS` in the sandbox, killed (and the test failed) after `timeout`.
#[track_caller]
pub fn svc_timeout<S: AsRef<OsStr>>(
    sb: &Sandbox,
    envs: &[(&str, &str)],
    args: &[S],
    timeout: Duration,
) -> Run {
    let mut c = sb.cmd(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    output(c, display_args(args), timeout)
}

pub fn display_args<S: AsRef<OsStr>>(args: &[S]) -> Vec<String> {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}
