//! A service's hook commands (SPEC §8.2; docs/services.md, "Commands around a service"):
//! `pre_start` before the program, `post_stop` after the service has gone, `config_test` before
//! start, restart, reload and force-reload.
//!
//! Each command is prepared by the one function that prepares a service's commands
//! ([`prepare`]: the service's user, group, working directory, umask, limits and environment),
//! run alone, one after another, each within `ready_timeout` (then its process group is killed).
//! What it prints goes to an unnamed file first and is appended to the service's log when it
//! ends, so a failure can quote the command's own output and nothing else. Whatever a command
//! leaves running in its process group is ended when it exits: a hook never leaves a process
//! behind that svc cannot see.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::definition::{Definition, Kind};
use crate::lifecycle::error::{HookEnd, HookFailure, HookKind, LifecycleError};
use crate::lifecycle::prepare::{prepare, Command};
use crate::lifecycle::state::Stopped;
use crate::lifecycle::Lifecycle;
use crate::process::handle::ProcHandle;
use crate::process::reap;

type Result<T> = std::result::Result<T, LifecycleError>;

/// Lines of a failed command's output quoted in the error.
const OUTPUT_LINES: usize = 10;
/// How long a timed-out command's group gets to die after KILL.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Runs `pre_start` in order; the first command that fails ends the start (nothing is launched).
pub(crate) fn pre_start(life: &Lifecycle, def: &Definition) -> Result<()> {
    for argv in &def.hooks.pre_start {
        run(life, def, HookKind::PreStart, argv).map_err(|failure| LifecycleError::Hook {
            service: def.name.clone(),
            failure,
        })?;
    }
    Ok(())
}

/// Runs `config_test`, if any; its failure is the action's (exit 6), before anything changed.
pub(crate) fn config_test(life: &Lifecycle, def: &Definition) -> Result<()> {
    match &def.hooks.config_test {
        Some(argv) => {
            let tested = run(life, def, HookKind::ConfigTest, argv);
            // It ran in the service's cgroup (SPEC §8.7); one the service does not occupy
            // (a test before a start, or a reload of a stopped service) goes again. rmdir
            // refuses a cgroup that holds the running service; a supervised service's is
            // kept, as its supervisor launches the next instance into it (an empty one
            // between instances).
            if def.kind != Kind::Supervised {
                if let Some(cg) = life.cgroup(def) {
                    let _ = cg.remove();
                }
            }
            tested.map_err(|failure| LifecycleError::Hook {
                service: def.name.clone(),
                failure,
            })
        }
        None => Ok(()),
    }
}

/// Runs every `post_stop` command, in order, whatever the others did; their failures.
fn post_stop(life: &Lifecycle, def: &Definition) -> Vec<HookFailure> {
    def.hooks
        .post_stop
        .iter()
        .filter_map(|argv| run(life, def, HookKind::PostStop, argv).err())
        .collect()
}

/// The end of the stop path: once `stop` has seen the service gone, `post_stop` runs — when
/// there was something to stop (`ran`: the service ran or had died; not when it was already
/// stopped). Its failures make the stop fail (exit 1); the service is stopped all the same.
pub(crate) fn after_stop(
    life: &Lifecycle,
    def: &Definition,
    stopped: Stopped,
    ran: bool,
) -> Result<Stopped> {
    if !ran && !matches!(stopped, Stopped::Stopped { .. }) {
        return Ok(stopped);
    }
    let failures = post_stop(life, def);
    if failures.is_empty() {
        Ok(stopped)
    } else {
        Err(LifecycleError::PostStop {
            service: def.name.clone(),
            failures,
        })
    }
}

/// After a start that failed once its program was launched: `post_stop` runs, and its
/// failures join the start's error.
pub(crate) fn after_failed_start(
    life: &Lifecycle,
    def: &Definition,
    error: LifecycleError,
) -> LifecycleError {
    let failures = post_stop(life, def);
    if failures.is_empty() {
        error
    } else {
        LifecycleError::StartThenPostStop {
            error: Box::new(error),
            failures,
        }
    }
}

/// A health check's `exec` command (SPEC §8.6): prepared like a hook (the service's user and
/// environment, its output appended to the log), its process group killed at `timeout`; `Err`
/// says how it failed.
pub(crate) fn check(
    life: &Lifecycle,
    def: &Definition,
    argv: &[String],
    timeout: Duration,
) -> std::result::Result<(), String> {
    let fail = |how: String| format!("exec {}: {how}", argv.join(" "));
    let (launch, _) =
        prepare(life, def, Command::Hook(argv), None).map_err(|e| fail(e.to_string()))?;
    match wait(life, launch, timeout) {
        Ok(None) => Ok(()),
        Ok(Some(HookEnd::TimedOut(t))) => Err(fail(format!(
            "timed out after {:.1}s; its process group was killed",
            t.as_secs_f64()
        ))),
        Ok(Some(end)) => Err(fail(end.to_string())),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Runs one command to its end (at most `ready_timeout`); `Err` unless it exited 0.
fn run(
    life: &Lifecycle,
    def: &Definition,
    hook: HookKind,
    argv: &[String],
) -> std::result::Result<(), HookFailure> {
    let fail = |ended: HookEnd, output: Vec<String>| HookFailure {
        hook,
        command: argv.to_vec(),
        ended,
        output,
    };
    let not_run = |e: LifecycleError| fail(HookEnd::NotRun(Box::new(e)), Vec::new());
    let (mut launch, _) = prepare(life, def, Command::Hook(argv), None).map_err(not_run)?;
    let log = launch.output.take();
    let mut capture = capture_file(life).map_err(|e| not_run(LifecycleError::Io(e)))?;
    launch.output = Some(
        capture
            .try_clone()
            .map_err(|e| not_run(LifecycleError::Io(e)))?,
    );
    let ended = wait(life, launch, def.ready_timeout);
    let output = copy_output(&mut capture, log);
    match ended {
        Ok(None) => Ok(()),
        Ok(Some(end)) => Err(fail(end, output)),
        Err(e) => Err(fail(HookEnd::NotRun(Box::new(e)), output)),
    }
}

/// Launches the command and waits for its end: `None` for exit 0, else how it ended. Its
/// process group is killed at `timeout`, and cleared of leftovers when it exits.
fn wait(
    life: &Lifecycle,
    launch: crate::process::launch::Launch,
    timeout: Duration,
) -> Result<Option<HookEnd>> {
    let pending = launch.fork()?;
    let pid = pending.pid();
    let handle = match ProcHandle::open(pid, &life.procfs) {
        Ok(h) => h,
        Err(source) => {
            pending.abort();
            return Err(LifecycleError::Watch { pid, source });
        }
    };
    pending.release()?;
    // The child called setsid: it leads its own group, `pid`.
    let groups = life.groups();
    if !handle.wait_exit(Instant::now() + timeout) {
        let _ = groups.terminate(&handle, pid, Signal::SIGKILL, KILL_WAIT);
        reap::reap(pid);
        return Ok(Some(HookEnd::TimedOut(timeout)));
    }
    // What it left in its group goes — before it is reaped: until then no other process can
    // get its PID, so the group signalled is surely the command's.
    groups.clear(pid, Signal::SIGTERM, KILL_WAIT);
    let status = reap::reap(pid);
    Ok(match status {
        Some(s) if s.success() => None,
        Some(s) => Some(match (s.code(), s.signal()) {
            (Some(c), _) => HookEnd::Exited(c),
            (None, Some(sig)) => HookEnd::Signalled(sig),
            _ => HookEnd::Exited(-1),
        }),
        None => Some(HookEnd::Exited(-1)),
    })
}

/// An unnamed file in the state directory for a command's output (O_TMPFILE; where the file
/// system lacks it, a named one removed at once).
fn capture_file(life: &Lifecycle) -> io::Result<File> {
    life.dirs.ensure_state()?;
    let dir = &life.dirs.state;
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
    {
        Ok(f) => Ok(f),
        Err(_) => {
            let path = dir.join(format!(".hook-output.{}", std::process::id()));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            Ok(f)
        }
    }
}

/// Appends what the command printed to the service's log (if it has one); returns its last
/// non-blank lines, control characters made `?`.
fn copy_output(capture: &mut File, log: Option<File>) -> Vec<String> {
    if let Some(mut log) = log {
        if capture.seek(SeekFrom::Start(0)).is_ok() {
            let _ = io::copy(capture, &mut log);
        }
    }
    let len = capture.metadata().map(|m| m.len()).unwrap_or(0);
    if capture
        .seek(SeekFrom::Start(len.saturating_sub(4096)))
        .is_err()
    {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = capture.read_to_end(&mut buf);
    last_lines(&buf)
}

/// The last non-blank lines of `buf`, control characters (but tabs) made `?`.
fn last_lines(buf: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(OUTPUT_LINES)..]
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_quoted_is_its_last_non_blank_lines_made_printable() {
        let text: String = (1..=12).map(|i| format!("l{i}\n\n")).collect();
        let lines = last_lines(format!("{text}bell\x07\tx\n").as_bytes());
        assert_eq!(lines.len(), OUTPUT_LINES);
        assert_eq!(lines[0], "l4");
        assert_eq!(lines.last().unwrap(), "bell?\tx");
        assert!(last_lines(b"\n  \n").is_empty());
    }
}
