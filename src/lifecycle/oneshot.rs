//! The oneshot kind (`oneshot: true`; svc.yaml(5), docs/services.md "One-shot tasks"): a task,
//! not a daemon. `start` runs the program to its end; `stop` runs `stop_exec`, if any.
//!
//! A run is launched like the exec kind's foreground program ([`exec::launch_direct`], from
//! [`prepare`]: detached, clean state, user, environment, log), so it is recorded (identity
//! record and PID file) before it may exec: while it runs `status` shows it (`starting`; `stop`
//! waits for the start's lock), and a svc killed meanwhile never leaves it unseen (`stop` ends
//! it then). svc then waits for it to
//! exit, at most its time limit (`ready_timeout` for the task, `stop_timeout` for `stop_exec`),
//! or until a switch is cancelled; then its process group is killed (SIGKILL). Once the
//! program has exited, whatever it left in its process group is ended too (stop_signal, KILL
//! after `stop_timeout`): a task leaves nothing running. How the task ended goes to its
//! done-record ([`super::done`]): exit 0 is `done`, anything else `failed`; a record from
//! another boot counts as stopped.
//!
//! Liveness: a run in progress is running; a `done` task counts as running too (with no
//! process: what requires it is satisfied, a switch stops it, `try-restart` runs it again);
//! anything else is stopped (or dead, when a run's PID file outlived it).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::definition::Definition;
use crate::lifecycle::done::{self, DoneRecord};
use crate::lifecycle::error::{describe_exit, LifecycleError};
use crate::lifecycle::exec;
use crate::lifecycle::hooks;
use crate::lifecycle::prepare::{log_tail, prepare, Command};
use crate::lifecycle::probe::{self, forget};
use crate::lifecycle::state::{Action, Liveness, Ran, Started, State, Status, Stopped};
use crate::lifecycle::Lifecycle;
use crate::process::launch::Launch;
use crate::process::pidfile;
use crate::process::reap;

type Result<T> = std::result::Result<T, LifecycleError>;

/// How often a wait looks whether the switch was cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// How a run ended: its PID and end, or the switch it belongs to was cancelled.
enum Run {
    Ended(i32, Ran),
    Cancelled,
}

/// The task's done-record, if it is of the current boot.
fn current(life: &Lifecycle, def: &Definition) -> Option<DoneRecord> {
    let r = DoneRecord::load(&done::path(&life.dirs, &def.name))?;
    let boot = life.procfs.boot_id().ok()?;
    (r.boot_id == boot).then_some(r)
}

fn now() -> u64 {
    crate::clock::unix_secs(std::time::SystemTime::now())
}

/// A run in progress (or its PID file, if it outlived it) as the exec kind sees it; else
/// running when `done`, stopped otherwise.
pub(crate) fn probe(life: &Lifecycle, def: &Definition) -> Liveness {
    match probe::probe(life, def) {
        Liveness::Stopped => match current(life, def) {
            Some(r) if r.succeeded() => Liveness::Running {
                handle: None,
                record: None,
            },
            _ => Liveness::Stopped,
        },
        found => found,
    }
}

/// `status`: a run in progress is `starting` (while its `start` waits) or running, a task that
/// ended in this boot `done` or `failed` with how and when, else `stopped` (or `dead`).
pub(crate) fn status(life: &Lifecycle, def: &Definition) -> Status {
    let st = probe::status(life, def);
    if st.state != State::Stopped {
        return st;
    }
    match current(life, def) {
        Some(r) => Status {
            finished: Some(r.finished(now())),
            ..Status::bare(
                if r.succeeded() {
                    State::Done
                } else {
                    State::Failed
                },
                None,
            )
        },
        None => st,
    }
}

/// `start` (the caller holds the service's lock): a task done in this boot is not run again;
/// otherwise `config_test` (unless `test` is false: the caller ran it), the runtime
/// directories and `pre_start` come first, then its program runs to its end, and the end is
/// recorded. A run that fails runs `post_stop`, then its runtime directories go.
pub(crate) fn start(life: &Lifecycle, def: &Definition, exec: &str, test: bool) -> Result<Started> {
    if let Some(running) = exec::clear_for_start(life, def)? {
        return Ok(running);
    }
    let record_path = done::path(&life.dirs, &def.name);
    match current(life, def) {
        Some(r) if r.succeeded() => return Ok(Started::AlreadyDone(r.finished(now()).ago_s)),
        // A failed run, or one of another boot: forgotten, the task runs again.
        _ => pidfile::remove(&record_path).map_err(|e| record_error(&record_path, "remove", e))?,
    }
    if test {
        hooks::config_test(life, def)?;
    }
    let (launch, _) = prepare(life, def, Command::Program(exec), None)?;
    let started = run_task(life, def, launch, &record_path);
    if started.is_err() {
        let _ = life.remove_runtime_dirs(def);
    }
    started
}

/// The part of [`start`] after the launch is prepared: `pre_start`, the run, its record.
fn run_task(
    life: &Lifecycle,
    def: &Definition,
    launch: Launch,
    record_path: &Path,
) -> Result<Started> {
    hooks::pre_start(life, def)?;
    let program = launch.program.clone();
    let (pid, ran) = match run(life, def, launch, def.ready_timeout, true)? {
        Run::Ended(pid, ran) => (pid, ran),
        Run::Cancelled => {
            let cancelled = LifecycleError::Cancelled {
                service: def.name.clone(),
            };
            return Err(hooks::after_failed_start(life, def, cancelled));
        }
    };
    let boot = life.procfs.boot_id().map_err(LifecycleError::Io)?;
    DoneRecord::new(boot, pid, &ran)
        .save(record_path)
        .map_err(|e| record_error(record_path, "write", e))?;
    match ran {
        Ran::Exited(0) => Ok(Started::Launched(pid)),
        ran => {
            let failed = task_failed(life, def, Action::Start, program, ran);
            Err(hooks::after_failed_start(life, def, failed))
        }
    }
}

/// `stop` (the caller holds the service's lock): a run in progress is stopped like a daemon;
/// a `done` task runs its `stop_exec`, if any; then the task counts as stopped, whatever
/// `stop_exec` did (its failure is the stop's failure).
pub(crate) fn stop(life: &Lifecycle, def: &Definition) -> Result<Stopped> {
    let record_path = done::path(&life.dirs, &def.name);
    let forget_run =
        || pidfile::remove(&record_path).map_err(|e| record_error(&record_path, "remove", e));
    match probe::probe(life, def) {
        Liveness::Stopped => {}
        running => {
            let stopped = exec::stop_found(life, def, running)?;
            forget_run()?;
            return Ok(stopped);
        }
    }
    let Some(done) = current(life, def).filter(DoneRecord::succeeded) else {
        forget_run()?;
        return Ok(Stopped::NotRunning);
    };
    let Some(argv) = &def.stop_exec else {
        forget_run()?;
        return Ok(Stopped::Stopped {
            pid: done.pid,
            escaped: Vec::new(),
        });
    };
    // Prepared as a hook is: its arguments expanded (§8.5), the runtime directories only
    // named (they exist until the stop ends).
    let ran = prepare(life, def, Command::Hook(argv), None).and_then(|(launch, _)| {
        let program = launch.program.clone();
        Ok((program, run(life, def, launch, def.stop_timeout, false)?))
    });
    // The task counts as stopped from here, whatever stop_exec did.
    forget_run()?;
    match ran? {
        (_, Run::Ended(pid, Ran::Exited(0))) => Ok(Stopped::Stopped {
            pid,
            escaped: Vec::new(),
        }),
        (program, Run::Ended(_, ran)) => Err(task_failed(life, def, Action::Stop, program, ran)),
        (_, Run::Cancelled) => Err(LifecycleError::Cancelled {
            service: def.name.clone(),
        }),
    }
}

/// A done-record that could not be written or removed (`what`), named in the message.
fn record_error(path: &Path, what: &str, e: io::Error) -> LifecycleError {
    let why = format!("cannot {what} {}: {e}", path.display());
    LifecycleError::Io(io::Error::new(e.kind(), why))
}

/// A failed run, with the last lines of the service's log.
fn task_failed(
    life: &Lifecycle,
    def: &Definition,
    action: Action,
    program: PathBuf,
    ran: Ran,
) -> LifecycleError {
    LifecycleError::Task {
        service: def.name.clone(),
        action,
        program,
        ran,
        tail: log_tail(def.log_path(&life.dirs).as_deref()),
    }
}

/// Runs a prepared launch to its end (see the module documentation), at most `timeout`.
/// `starting`: the run is the task's start, shown as `starting` while it lasts.
fn run(
    life: &Lifecycle,
    def: &Definition,
    launch: Launch,
    timeout: Duration,
    starting: bool,
) -> Result<Run> {
    let deadline = Instant::now() + timeout;
    let mut l = exec::launch_direct(life, def, launch)?;
    let pid = l.main.pid();
    let pgid = l.record.pgid;
    if starting {
        l.record.ready = false;
        let _ = l.record.save(&life.dirs.record(&def.name));
    }
    let ended = loop {
        if l.main.wait_exit(deadline.min(Instant::now() + CANCEL_POLL)) {
            break Some(true);
        }
        if Instant::now() >= deadline {
            break Some(false);
        }
        if crate::process::cancel::requested() {
            break None;
        }
    };
    // Before the program is reaped, so that its group cannot be another's meanwhile.
    if ended == Some(true) {
        // What the task left in its group goes with it.
        life.groups().clear(pgid, def.stop_signal, def.stop_timeout);
    } else {
        // Too late, or cancelled: the program and its whole group are killed.
        let _ = l.main.signal(Signal::SIGKILL);
        life.groups().clear(pgid, Signal::SIGKILL, Duration::ZERO);
    }
    let status = l.child.and_then(reap::reap);
    forget(life, def);
    Ok(match (ended, status) {
        (None, _) => Run::Cancelled,
        (Some(false), _) => Run::Ended(pid, Ran::TimedOut(timeout)),
        (Some(true), Some(s)) => match s.code() {
            Some(c) => Run::Ended(pid, Ran::Exited(c)),
            None => Run::Ended(pid, Ran::Killed(describe_exit(s))),
        },
        (Some(true), None) => Run::Ended(pid, Ran::Killed("ended, its status unknown".into())),
    })
}
