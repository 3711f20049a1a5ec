//! The exec kind: a program svc launches and watches by its PID file (docs/commands.md, "Starting
//! and stopping"). Its start (in the foreground, or `forking:` under a keeper, see
//! [`super::forking`]), the wait for readiness, its stop (the whole process group,
//! [`crate::process::group`]) and its reload. The supervised kind launches its instances and stops
//! what it leaves behind with the same functions; on-demand services share [`connection_template`].

use std::time::Instant;

use crate::definition::Definition;
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::forking;
use crate::lifecycle::hooks;
use crate::lifecycle::prepare::{log_tail, prepare, Command, Launched};
use crate::lifecycle::probe::{self, clear_stale, forget, read_pidfile};
use crate::lifecycle::state::{Liveness, Started, Stopped};
use crate::lifecycle::Lifecycle;
use crate::process::group::SignalError;
use crate::process::handle::ProcHandle;
use crate::process::keeper::Keeper;
use crate::process::launch::Launch;
use crate::process::pidfile::{self, PidFile};
use crate::process::reap;
use crate::process::record::Record;
use crate::ready::{self, NotifySocket};

type Result<T> = std::result::Result<T, LifecycleError>;

/// `start` of the exec kind (the caller holds the service's lock): stale files go, then
/// `config_test` (unless `test` is false: the caller ran it) and `pre_start` run, the program
/// `exec` is launched and, with `ready:`, waited for. A start that fails once the program was
/// launched runs `post_stop`.
pub(crate) fn start(life: &Lifecycle, def: &Definition, exec: &str, test: bool) -> Result<Started> {
    if let Some(running) = clear_for_start(life, def)? {
        return Ok(running);
    }
    if test {
        hooks::config_test(life, def)?;
    }
    let (launch, notify) = prepare(life, def, Command::Program(exec), None)?;
    let started = launch_and_settle(life, def, launch, notify.as_ref());
    if started.is_err() {
        // Nothing of the launch runs any more (post_stop has run): the runtime directories go.
        let _ = life.remove_runtime_dirs(def);
    }
    started
}

/// The part of `start` after the launch is prepared: `pre_start`, the launch, the wait for it
/// to settle; a failure once the program was launched runs `post_stop`.
fn launch_and_settle(
    life: &Lifecycle,
    def: &Definition,
    launch: Launch,
    notify: Option<&NotifySocket>,
) -> Result<Started> {
    hooks::pre_start(life, def)?;
    let log = def.log_path(&life.dirs);
    let deadline = Instant::now() + def.ready_timeout;
    let launched = if def.forking {
        match forking::launch(life, def, launch, deadline, log.as_deref()) {
            Ok(l) => l,
            // Not even exec'd: nothing ran.
            Err(e @ LifecycleError::Launch(_)) => return Err(e),
            Err(e) => return Err(hooks::after_failed_start(life, def, e)),
        }
    } else {
        launch_direct(life, def, launch)?
    };
    settle(life, def, launched, notify, deadline)
        .map_err(|e| hooks::after_failed_start(life, def, e))
}

/// Before a launch: a running service is reported as such; the files of a dead or stopped one
/// are removed.
pub(crate) fn clear_for_start(life: &Lifecycle, def: &Definition) -> Result<Option<Started>> {
    match probe::probe(life, def) {
        Liveness::Running {
            handle: Some(handle),
            ..
        } => return Ok(Some(Started::AlreadyRunning(handle.pid()))),
        Liveness::Running { handle: None, .. } => return Err(pid_unknown(def)),
        Liveness::Dead { .. } => clear_stale(life, def)?,
        Liveness::Stopped => {
            let _ = pidfile::remove(&life.dirs.record(&def.name));
        }
    }
    Ok(None)
}

/// The launch of a super-daemon service, prepared once and forked for each connection
/// ([`Launch::fork_on`], docs/inetd.md, "The super daemon"): the definition's program, user,
/// environment, directory and limits, with the service log as stderr.
pub(crate) fn connection_template(
    life: &Lifecycle,
    def: &Definition,
    exec: &str,
) -> Result<Launch> {
    let (launch, _notify) = prepare(life, def, Command::Program(exec), None)?;
    Ok(launch)
}

/// A program that stays in the foreground: recorded (identity and PID file) before it may
/// exec, so that if svc dies before `release` the child exits without running the program and
/// nothing untracked is ever left.
pub(crate) fn launch_direct(
    life: &Lifecycle,
    def: &Definition,
    launch: Launch,
) -> Result<Launched> {
    let in_cgroup = launch.cgroup.is_some();
    let pending = launch.fork()?;
    let pid = pending.pid();
    let main = match ProcHandle::open(pid, &life.procfs) {
        Ok(h) => h,
        Err(source) => {
            pending.abort();
            return Err(LifecycleError::Watch { pid, source });
        }
    };
    let pidfile_path = def.pidfile(&life.dirs);
    let record_path = life.dirs.record(&def.name);
    let recorded = Record::capture(&main, &life.procfs, &pidfile_path).and_then(|mut r| {
        // The executable is still svc's own until exec; filled in below.
        r.exe_dev = None;
        r.exe_ino = None;
        // The child may not have called setsid yet; it will lead its own group.
        r.pgid = pid;
        r.ready = def.ready.is_none();
        r.in_cgroup = in_cgroup;
        r.save(&record_path)?;
        pidfile::write(&pidfile_path, pid)?;
        Ok(r)
    });
    let mut record = match recorded {
        Ok(r) => r,
        Err(source) => {
            pending.abort();
            forget(life, def);
            return Err(LifecycleError::Record {
                service: def.name.clone(),
                source,
            });
        }
    };
    if let Err(e) = pending.release() {
        forget(life, def);
        return Err(e.into());
    }
    // The executable identifies the process only where pidfd inodes do not.
    if record.pidfd_ino.is_none() {
        if let Ok((dev, ino)) = life.procfs.exe_id(pid) {
            record.exe_dev = Some(dev);
            record.exe_ino = Some(ino);
            let _ = record.save(&record_path);
        }
    }
    Ok(Launched {
        main,
        record,
        child: Some(pid),
        keeper: None,
    })
}

/// Waits for readiness (if any), and undoes the launch when the program dies or is not ready
/// in time. Without a readiness check start does not wait; a program that has already died by
/// now is still reported here rather than by a later `status`.
pub(crate) fn settle(
    life: &Lifecycle,
    def: &Definition,
    mut l: Launched,
    notify: Option<&NotifySocket>,
    deadline: Instant,
) -> Result<Started> {
    let log = def.log_path(&life.dirs);
    let log = log.as_deref();
    let keeper = l.keeper.take();
    let service = ready::Service {
        main: &l.main,
        pgid: l.record.pgid,
        launch_root: keeper.as_ref().map(Keeper::pid),
        procfs: &life.procfs,
    };
    let outcome = match &def.ready {
        Some(check) => ready::wait(check, &service, notify, deadline),
        None if l.main.exited() => ready::Outcome::Died,
        None => ready::Outcome::Ready,
    };
    let service = def.name.clone();
    let err = match outcome {
        ready::Outcome::Ready => {
            if !l.record.ready {
                l.record.ready = true;
                let _ = l.record.save(&life.dirs.record(&def.name));
            }
            // The daemon lives on; its keeper goes (the daemon moves to init).
            if let Some(k) = keeper {
                k.release();
            }
            return Ok(Started::Launched(l.main.pid()));
        }
        ready::Outcome::Died => LifecycleError::DiedStarting {
            service,
            pid: l.main.pid(),
            status: l.child.and_then(reap::reap),
            tail: log_tail(log),
        },
        ready::Outcome::TimedOut | ready::Outcome::Cancelled => {
            let _ = terminate(life, def, &l.main, l.record.pgid);
            if let Some(pid) = l.child {
                reap::reap(pid);
            }
            if outcome == ready::Outcome::Cancelled {
                LifecycleError::Cancelled { service }
            } else {
                LifecycleError::NotReady {
                    service,
                    timeout: def.ready_timeout,
                    tail: log_tail(log),
                }
            }
        }
        ready::Outcome::Refused(why) => {
            let _ = terminate(life, def, &l.main, l.record.pgid);
            if let Some(pid) = l.child {
                reap::reap(pid);
            }
            LifecycleError::ReadyRefused {
                service,
                why,
                tail: log_tail(log),
            }
        }
    };
    clear_group(life, def, l.record.pgid);
    if let Some(k) = keeper {
        forking::stop_launch(def, k);
    }
    forget(life, def);
    Err(err)
}

/// `stop` of a service svc watches by its PID file (docs/commands.md, "Starting and stopping"): its
/// process group gets the stop signal, then KILL after `stop_timeout`; its files go once it is
/// gone.
pub(crate) fn stop(life: &Lifecycle, def: &Definition) -> Result<Stopped> {
    stop_found(life, def, probe::probe(life, def))
}

/// `stop` of a service whose liveness was just probed.
pub(crate) fn stop_found(life: &Lifecycle, def: &Definition, found: Liveness) -> Result<Stopped> {
    match found {
        Liveness::Stopped => {
            let _ = pidfile::remove(&life.dirs.record(&def.name));
            Ok(Stopped::NotRunning)
        }
        Liveness::Dead {
            why,
            untrusted: true,
        } => Err(LifecycleError::Untrusted {
            service: def.name.clone(),
            why,
        }),
        Liveness::Dead { .. } => {
            clear_stale(life, def)?;
            Ok(Stopped::NotRunning)
        }
        Liveness::Running { handle: None, .. } => Err(pid_unknown(def)),
        Liveness::Running {
            handle: Some(handle),
            record,
        } => {
            let pid = handle.pid();
            let pgid = match &record {
                Some(r) => r.pgid,
                // Unrecorded: the group is the service's only if the process leads it.
                None => match life.procfs.stat(pid) {
                    Some(s) if s.pgrp == pid => pid,
                    _ => 0,
                },
            };
            // Descendants outside the group (a child that called setsid) are not the group's;
            // note them now to warn about survivors afterwards. A service launched into its
            // cgroup has none to warn about: the cgroup is ended after the group (§8.7), and a
            // process that a privileged program moved out of it is no longer the service's (as
            // with systemd's units). Walking /proc for them was a sixth of a switch's CPU. One
            // started before the hierarchy was there (early in a boot) has no cgroup: walked.
            // The record says so (one `statx` on cgroupfs less per stop, in the kernfs lock
            // that the other stops' `rmdir`s take); an older record, or none, is checked.
            let launched_into_cgroup = life
                .stop_cgroup(def)
                .is_some_and(|cg| record.as_ref().is_some_and(|r| r.in_cgroup) || cg.exists());
            let outside: Vec<(i32, u64)> = match launched_into_cgroup {
                true => Vec::new(),
                false => life
                    .procfs
                    .descendants(pid)
                    .into_iter()
                    .filter(|(p, _)| life.procfs.stat(*p).is_some_and(|s| s.pgrp != pgid))
                    .collect(),
            };
            let result = terminate(life, def, &handle, pgid);
            if result.is_err() && !handle.exited() {
                // Still running (not ours to signal, or unkillable): keep its records.
                return result.map(|()| Stopped::NotRunning);
            }
            // The PID file goes once the process is gone (a forking daemon may have removed
            // its own already).
            let p = def.pidfile(&life.dirs);
            if matches!(read_pidfile(life, &p, record.as_ref()), PidFile::Pid(x) if x == pid) {
                let _ = pidfile::remove(&p);
            }
            let _ = pidfile::remove(&life.dirs.record(&def.name));
            result?;
            let escaped = outside
                .into_iter()
                .filter_map(|(p, ticks)| {
                    let s = life.procfs.stat(p)?;
                    (s.start_ticks == ticks && !s.is_zombie()).then_some((p, s.comm))
                })
                .collect();
            Ok(Stopped::Stopped { pid, escaped })
        }
    }
}

/// Sends `reload_signal` to the running service (docs/commands.md, "Starting and stopping").
pub(crate) fn reload(life: &Lifecycle, def: &Definition) -> Result<i32> {
    let Some(sig) = def.reload_signal else {
        return Err(LifecycleError::NoReloadSignal {
            service: def.name.clone(),
        });
    };
    signal(def, probe::probe(life, def), sig)
}

/// Sends `sig` to the main process that `live` (a probe of `def`: its PID file and recorded
/// identity checked) found running: the PID signalled.
pub(crate) fn signal(
    def: &Definition,
    live: Liveness,
    sig: nix::sys::signal::Signal,
) -> Result<i32> {
    let not_running = || LifecycleError::NotRunning {
        service: def.name.clone(),
    };
    match live {
        Liveness::Running { handle: None, .. } => Err(pid_unknown(def)),
        Liveness::Running {
            handle: Some(handle),
            ..
        } => {
            let sent = handle
                .signal(sig)
                .map_err(|source| LifecycleError::Signal {
                    service: def.name.clone(),
                    cause: SignalError::Refused {
                        target: crate::process::group::Target::Process,
                        pid: handle.pid(),
                        source,
                    },
                })?;
            if sent {
                Ok(handle.pid())
            } else {
                Err(not_running())
            }
        }
        _ => Err(not_running()),
    }
}

/// stop_signal, SIGCONT, a wait woken by the exit, then KILL to the whole group after
/// stop_timeout; returns once no process of the group is left.
pub(crate) fn terminate(
    life: &Lifecycle,
    def: &Definition,
    main: &ProcHandle,
    pgid: i32,
) -> Result<()> {
    life.groups()
        .terminate(main, pgid, def.stop_signal, def.stop_timeout)
        .map_err(|cause| LifecycleError::Signal {
            service: def.name.clone(),
            cause,
        })
}

/// Ends what is left of a group whose leader is gone (after a failed start).
fn clear_group(life: &Lifecycle, def: &Definition, pgid: i32) {
    life.groups().clear(pgid, def.stop_signal, def.stop_timeout);
}

/// A service that runs but whose process svc does not know: only an LSB script's `status` can
/// say so, and script services never reach the code that needs the process.
fn pid_unknown(def: &Definition) -> LifecycleError {
    LifecycleError::PidUnknown {
        service: def.name.clone(),
    }
}
