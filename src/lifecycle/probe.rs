//! Liveness of a service svc launches itself (the exec, supervised and on-demand kinds), from its
//! PID file, svc's identity record and /proc (docs/security.md, "How svc decides a service runs");
//! nothing is cached between commands. Also the plain `status` built on it and the removal of stale
//! files.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::definition::{Definition, Program};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::prepare::env_path;
use crate::lifecycle::state::{Liveness, State, Status};
use crate::lifecycle::Lifecycle;
use crate::process::handle::ProcHandle;
use crate::process::launch;
use crate::process::pidfile::{self, PidFile};
use crate::process::procfs::clock_ticks;
use crate::process::record::{Record, Verdict};

/// Decides whether the service runs (docs/security.md, "How svc decides a service runs").
pub(crate) fn probe(life: &Lifecycle, def: &Definition) -> Liveness {
    let pidfile_path = def.pidfile(&life.dirs);
    let record = Record::load(&life.dirs.record(&def.name)).filter(|r| r.pidfile == pidfile_path);
    let dead = |why: String| Liveness::Dead {
        why,
        untrusted: false,
    };
    match read_pidfile(life, &pidfile_path, record.as_ref()) {
        PidFile::Missing => {
            // svc's own record may still name a live process whose PID file was deleted.
            if let Some(r) = record {
                if let Ok(h) = ProcHandle::open(r.pid, &life.procfs) {
                    if r.verify(&h, &life.procfs) == Verdict::Same {
                        return Liveness::Running {
                            handle: Some(h),
                            record: Some(r),
                        };
                    }
                }
            }
            Liveness::Stopped
        }
        PidFile::Untrusted(why) => Liveness::Dead {
            why: format!("refusing pid file: {why}"),
            untrusted: true,
        },
        PidFile::Garbage(why) => dead(format!("pid file {} {why}", pidfile_path.display())),
        PidFile::Pid(pid) => {
            if pid == 1 {
                return dead("pid file names PID 1 (init)".into());
            }
            // svc itself or its caller is never the service — unless svc's own record proves
            // it launched that very process (`svc serve` or `svc inetd`, run as a service,
            // asking about themselves).
            // (svc's ancestors are walked only when that question is asked.)
            let ancestor = || life.ancestors().contains(&pid);
            let not_svc = || dead(format!("pid file names {pid}, svc itself or its caller"));
            let handle = match ProcHandle::open(pid, &life.procfs) {
                Ok(h) => h,
                Err(_) => return dead(format!("process {pid} does not exist")),
            };
            // /proc/PID/stat is read once, after the handle was opened, and only when needed:
            // the record's identity check does without it where the pidfd's inode names the
            // process (`Record::verify_stat`).
            let stat = || life.procfs.stat(pid);
            match record {
                Some(r) => match r.verify_stat(&handle, &life.procfs, stat) {
                    Verdict::Different(_) if ancestor() => not_svc(),
                    Verdict::Same => Liveness::Running {
                        handle: Some(handle),
                        record: Some(r),
                    },
                    Verdict::Different(why) => dead(why),
                },
                None => match stat() {
                    None => dead(format!("process {pid} does not exist")),
                    Some(s) if s.is_zombie() => dead(format!("process {pid} is a zombie")),
                    Some(_) if ancestor() => not_svc(),
                    Some(_) => {
                        // Written outside svc: it counts only if the process runs `exec`.
                        if runs_exec(life, def, pid) {
                            Liveness::Running {
                                handle: Some(handle),
                                record: None,
                            }
                        } else {
                            dead(format!("process {pid} does not run the service's program"))
                        }
                    }
                },
            }
        }
    }
}

/// The service's PID file as svc may follow it (docs/security.md, "How svc decides a service
/// runs"). A forking daemon's own file that its user wrote counts when svc's record vouches for it:
/// the file still belongs to the uid it had when the launch proved its process, and names the
/// recorded PID (whose identity the caller then checks as always). Otherwise the strict rules hold.
pub(crate) fn read_pidfile(life: &Lifecycle, path: &Path, record: Option<&Record>) -> PidFile {
    let strict = pidfile::read(path, life.procfs.pid_max());
    let (PidFile::Untrusted(_), Some(r)) = (&strict, record) else {
        return strict;
    };
    if r.pidfile_owner.is_none() {
        return strict;
    }
    match pidfile::read_foreign(path, life.procfs.pid_max()) {
        (PidFile::Pid(pid), owner) if owner == r.pidfile_owner && pid == r.pid => PidFile::Pid(pid),
        _ => strict,
    }
}

/// Whether `pid` runs the definition's `exec` (the same file, by device and inode).
fn runs_exec(life: &Lifecycle, def: &Definition, pid: i32) -> bool {
    let Program::Exec(exec) = &def.program else {
        return false;
    };
    let Ok(path) = launch::resolve_program(exec, &env_path(def)) else {
        return false;
    };
    match (std::fs::metadata(path), life.procfs.exe_id(pid)) {
        (Ok(m), Ok((dev, ino))) => m.dev() == dev && m.ino() == ino,
        _ => false,
    }
}

/// `status` from the probe alone: running (or starting, while a start holds the lock and the
/// program is not ready yet), stopped or dead.
pub(crate) fn status(life: &Lifecycle, def: &Definition) -> Status {
    match probe(life, def) {
        Liveness::Running { handle, record } => {
            let pid = handle.as_ref().map(ProcHandle::pid);
            let starting = matches!(&record, Some(r) if !r.ready) && life.lock_held(def);
            // A record the probe verified has the start time /proc just showed (the identity
            // check compared them): /proc is read again only for a PID file without one.
            let start_ticks = match &record {
                Some(r) => Some(r.start_ticks),
                None => pid
                    .and_then(|pid| life.procfs.stat(pid))
                    .map(|s| s.start_ticks),
            };
            let uptime_s = start_ticks.and_then(|ticks| {
                let up = life.procfs.uptime()?;
                let started = ticks as f64 / clock_ticks() as f64;
                Some((up - started).max(0.0) as u64)
            });
            Status {
                state: if starting {
                    State::Starting
                } else {
                    State::Running
                },
                pid,
                uptime_s,
                ..Status::bare(State::Running, None)
            }
        }
        Liveness::Stopped => Status::bare(State::Stopped, None),
        Liveness::Dead { why, .. } => Status::bare(State::Dead, Some(why)),
    }
}

/// Removes a stale PID file and record (never writing through either).
pub(crate) fn clear_stale(life: &Lifecycle, def: &Definition) -> Result<(), LifecycleError> {
    let path = def.pidfile(&life.dirs);
    pidfile::remove(&path).map_err(|source| LifecycleError::StalePidFile { path, source })?;
    let _ = pidfile::remove(&life.dirs.record(&def.name));
    Ok(())
}

/// Removes the record and PID file of a launch that did not work out.
pub(crate) fn forget(life: &Lifecycle, def: &Definition) {
    let _ = pidfile::remove(&life.dirs.record(&def.name));
    let _ = pidfile::remove(&def.pidfile(&life.dirs));
}
