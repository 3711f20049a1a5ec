//! The launch of a program that daemonizes itself, `forking: true` (docs/commands.md, "Starting and
//! stopping"; docs/security.md, "How svc decides a service runs").
//!
//! The launcher runs under a keeper ([`crate::process::keeper`]), the launch's child subreaper,
//! so every process the launch creates stays the keeper's descendant. The launcher must exit 0;
//! then the PID file must name a live process of the launch, which is recorded as the service.
//! With `user:`, a file its user wrote (refused by the writer rule alone) counts on that proof,
//! and the record keeps the file's owner so later reads may follow it. Whatever fails after the
//! launch, everything the launch created is stopped — and nothing else.
//!
//! The exec kind's start ([`super::exec`]) calls [`launch`]; its readiness wait releases the
//! keeper, or stops everything the launch created ([`stop_launch`]).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::definition::Definition;
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::prepare::{log_tail, Launched};
use crate::lifecycle::Lifecycle;
use crate::process::group::KILL_GRACE;
use crate::process::handle::ProcHandle;
use crate::process::keeper::{Keeper, LauncherEnd};
use crate::process::launch::Launch;
use crate::process::pidfile::{self, PidFile};
use crate::process::record::Record;

type Result<T> = std::result::Result<T, LifecycleError>;

/// A program that daemonizes itself, launched under a keeper (crate::process::keeper): its
/// launcher must exit with 0, then its PID file must name a live process that this launch
/// created; that one is recorded. Whatever fails after the launch, everything the launch
/// created is stopped (the keeper's descendants, and nothing else).
pub(crate) fn launch(
    life: &Lifecycle,
    def: &Definition,
    launch: Launch,
    deadline: Instant,
    log: Option<&Path>,
) -> Result<Launched> {
    let in_cgroup = launch.cgroup.is_some();
    let (pending, mut keeper) = launch.fork_kept()?;
    // Everything of the launch starts after its keeper.
    let launch_start = life
        .procfs
        .stat(keeper.pid())
        .map(|s| s.start_ticks)
        .unwrap_or(0);
    pending.release()?;
    let service = def.name.clone();
    let launcher_failed = match keeper.wait_launcher(deadline) {
        LauncherEnd::Exited(status) if status.success() => None,
        LauncherEnd::Exited(status) => Some(LifecycleError::LauncherExited {
            service,
            status,
            tail: log_tail(log),
        }),
        LauncherEnd::TimedOut => Some(LifecycleError::LauncherTimedOut {
            service,
            timeout: def.ready_timeout,
        }),
        LauncherEnd::Cancelled => Some(LifecycleError::LauncherCancelled { service }),
        LauncherEnd::Lost => Some(LifecycleError::LauncherLost { service }),
    };
    if let Some(e) = launcher_failed {
        stop_launch(def, keeper);
        return Err(e);
    }
    let pidfile_path = def.pidfile(&life.dirs);
    let (main, owner) = match wait_forked(
        life,
        def,
        &pidfile_path,
        launch_start,
        deadline,
        log,
        &keeper,
    ) {
        Ok(found) => found,
        Err(e) => {
            stop_launch(def, keeper);
            return Err(e);
        }
    };
    let recorded = Record::capture(&main, &life.procfs, &pidfile_path).and_then(|mut r| {
        r.ready = def.ready.is_none();
        r.pidfile_owner = owner;
        r.in_cgroup = in_cgroup;
        r.save(&life.dirs.record(&def.name))?;
        Ok(r)
    });
    match recorded {
        Ok(record) => Ok(Launched {
            main,
            record,
            child: None,
            keeper: Some(keeper),
        }),
        Err(source) => {
            stop_launch(def, keeper);
            let _ = pidfile::remove(&life.dirs.record(&def.name));
            Err(LifecycleError::RecordDaemon {
                service: def.name.clone(),
                pid: main.pid(),
                source,
            })
        }
    }
}

/// Stops everything a failed forking launch created: stop_signal, then KILL after
/// stop_timeout.
pub(crate) fn stop_launch(def: &Definition, keeper: Keeper) {
    let soft = Instant::now() + def.stop_timeout;
    let _ = keeper.stop_all(def.stop_signal, soft, soft + KILL_GRACE);
}

/// Waits for a forking daemon's PID file to name a live process this launch created (a
/// descendant of its keeper or a member of the service's cgroup, started after it). With `user:`, a file that is refused only
/// for its writer (the daemon wrote it after dropping privileges) counts on that proof
/// alone; the owner's uid is returned then. A file that names another process may be a
/// stale one the daemon has yet to replace: waited on, until the deadline or until nothing
/// of the launch is left.
fn wait_forked(
    life: &Lifecycle,
    def: &Definition,
    path: &Path,
    launch_start: u64,
    deadline: Instant,
    log: Option<&Path>,
    keeper: &Keeper,
) -> Result<(ProcHandle, Option<u32>)> {
    let mut pause = Duration::from_millis(1);
    let mut last = String::from("no pid file");
    loop {
        let (found, owner) = match pidfile::read(path, life.procfs.pid_max()) {
            PidFile::Untrusted(why) if def.user.is_some() => {
                match pidfile::read_foreign(path, life.procfs.pid_max()) {
                    (PidFile::Pid(pid), Some(uid)) => {
                        last = format!("refusing pid file: {why}");
                        (PidFile::Pid(pid), Some(uid))
                    }
                    (other, _) => (other, None),
                }
            }
            other => (other, None),
        };
        match found {
            PidFile::Pid(pid) if pid != 1 && !life.ancestors().contains(&pid) => {
                match launched_process(life, def, pid, launch_start, keeper) {
                    Ok(h) => return Ok((h, owner)),
                    Err(why) => {
                        last = match owner {
                            Some(_) => format!("{last}, and {why}"),
                            None => why,
                        }
                    }
                }
            }
            PidFile::Pid(pid) => last = format!("pid file names {pid}"),
            PidFile::Untrusted(why) => {
                return Err(LifecycleError::PidFileRefused {
                    service: def.name.clone(),
                    why,
                })
            }
            PidFile::Garbage(why) => last = format!("pid file {why}"),
            PidFile::Missing => {}
        }
        if keeper.members().is_empty() {
            // Nothing of the launch runs: no file can name its daemon any more.
            return Err(LifecycleError::NothingLeft {
                service: def.name.clone(),
                last,
                tail: log_tail(log),
            });
        }
        if crate::process::cancel::requested() {
            return Err(LifecycleError::ForkCancelled {
                service: def.name.clone(),
                pidfile: path.to_path_buf(),
            });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LifecycleError::NoDaemon {
                service: def.name.clone(),
                pidfile: path.to_path_buf(),
                timeout: def.ready_timeout,
                last,
                tail: log_tail(log),
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A handle on `pid` when it is a live process the launch created; else why not.
fn launched_process(
    life: &Lifecycle,
    def: &Definition,
    pid: i32,
    launch_start: u64,
    keeper: &Keeper,
) -> std::result::Result<ProcHandle, String> {
    // The handle first: the checks below are then about the process it holds.
    let h =
        ProcHandle::open(pid, &life.procfs).map_err(|_| format!("process {pid} does not exist"))?;
    match life.procfs.stat(pid) {
        None => Err(format!("process {pid} does not exist")),
        Some(s) if s.is_zombie() => Err(format!("process {pid} is a zombie")),
        Some(s) if s.start_ticks < launch_start => {
            Err(format!("process {pid} started before the launch"))
        }
        // Created by this launch: the keeper's descendant, or in the service's cgroup
        // (SPEC §3.5, §8.7), which only this launch has entered since it started.
        Some(_) if !keeper.created(pid) && !life.cgroup(def).is_some_and(|c| c.contains(pid)) => {
            Err(format!("process {pid} was not created by this launch"))
        }
        Some(_) => Ok(h),
    }
}
