//! The supervised kind (`respawn:`, docs/services.md, "Supervised services: respawn"): `svc start`
//! launches the service's supervisor and waits for its report, `svc stop` asks the supervisor to
//! stop the service, `svc status` adds what the supervisor knows (restarts, the last exit, `failed`
//! and restarting). The supervisor process itself is [`crate::supervise`]; it launches its
//! instances through [`ExecInstances`], the exec kind's launch, which this module passes in.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::definition::Definition;
use crate::exit::Code;
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::exec::{self, launch_direct, settle, terminate};
use crate::lifecycle::hooks;
use crate::lifecycle::prepare::{credentials, owner, prepare, program, Command, Launched};
use crate::lifecycle::probe::{self, forget};
use crate::lifecycle::rundir;
use crate::lifecycle::state::{Liveness, Started, State, Status, Stopped};
use crate::lifecycle::Lifecycle;
use crate::process::group::{SignalError, Target};
use crate::process::handle::ProcHandle;
use crate::process::launch::{self, Launch};
use crate::process::pidfile;
use crate::process::reap;
use crate::process::record::Record;
use crate::ready::NotifySocket;
use crate::supervise::report::{self, Report};
use crate::supervise::{self, logsink, Found, Instances, Phase, Pipe, SuperState};

type Result<T> = std::result::Result<T, LifecycleError>;

/// `start` of a supervised service (the caller holds the service's lock): `config_test`
/// (unless `test` is false: the caller ran it) and `pre_start` run here, before the supervisor
/// is launched; restarts by the supervisor run neither.
pub(crate) fn start(life: &Lifecycle, def: &Definition, test: bool) -> Result<Started> {
    if let Found::Alive { handle, .. } = find(life, def) {
        // Supervised already (running, or waiting to restart it).
        return Ok(match probe::probe(life, def) {
            Liveness::Running {
                handle: Some(main), ..
            } => Started::AlreadyRunning(main.pid()),
            _ => Started::Restarting(handle.pid()),
        });
    }
    if test {
        // Before the orphan below is stopped: a broken configuration leaves it running.
        hooks::config_test(life, def)?;
    }
    if let Liveness::Running {
        handle: Some(handle),
        record,
    } = probe::probe(life, def)
    {
        // Running, but its supervisor is gone: nobody would restart it or read its output (it
        // would block once the pipe is full). Start it again under a new one.
        let pgid = record.map_or(handle.pid(), |r| r.pgid);
        terminate(life, def, &handle, pgid)?;
        forget(life, def);
    }
    if let Some(running) = exec::clear_for_start(life, def)? {
        return Ok(running);
    }
    if !def.hooks.pre_start.is_empty() {
        // What the supervisor's launch would refuse, refused before the hooks run (with its
        // own exit code), as the exec kind does by preparing its launch first.
        program(def, super::startable(def)?)?;
    }
    // The runtime directories are made here too (the supervisor takes them over again when it
    // prepares the launch), so that a refused one fails the start before any supervisor runs,
    // pre_start finds them, and they go when the start fails.
    let creds = credentials(def)?;
    rundir::create(&life.dirs, def, owner(creds.as_ref())).map_err(LifecycleError::RuntimeDir)?;
    let started = hooks::pre_start(life, def).and_then(|()| spawn(life, def));
    if started.is_err() && !matches!(find(life, def), Found::Alive { .. }) {
        let _ = life.remove_runtime_dirs(def);
    }
    started
}

/// `stop` of a supervised service (the caller holds the service's lock): a supervisor stops
/// its service itself (and must not restart it); whatever still runs afterwards (its
/// supervisor was killed) is stopped like any service.
pub(crate) fn stop(life: &Lifecycle, def: &Definition) -> Result<Stopped> {
    let supervised = stop_supervisor(life, def)?;
    match (probe::probe(life, def), supervised) {
        (Liveness::Stopped, Some(pid)) => {
            let _ = pidfile::remove(&life.dirs.record(&def.name));
            Ok(Stopped::Stopped {
                pid,
                escaped: Vec::new(),
            })
        }
        (found, _) => exec::stop_found(life, def, found),
    }
}

/// `status` of a supervised service: the probe's, with the supervisor's restarts, the last
/// exit, and the `failed` and restarting (`starting`) states.
pub(crate) fn status(life: &Lifecycle, def: &Definition) -> Status {
    let mut st = probe::status(life, def);
    let (alive, state) = match find(life, def) {
        Found::Alive { handle, state } => (Some(handle.pid()), Some(state)),
        Found::Gone(state) => (None, state),
    };
    st.supervisor = alive;
    if let Some(state) = &state {
        st.restarts = Some(state.restarts);
        st.last_exit = state.last_exit.clone();
        if def.health.is_some() {
            st.health = state.health;
            st.health_error = state.health_error.clone();
        }
    } else {
        st.restarts = Some(0);
    }
    match (st.state, alive, state.as_ref().map(|s| s.phase)) {
        (State::Running | State::Starting, None, _) => {
            st.note = Some(
                "its supervisor is not running: it will not be restarted and its output is \
                 not collected (svc start or svc restart gives it a new supervisor)"
                    .into(),
            )
        }
        (State::Stopped | State::Dead, Some(_), _) => {
            st.state = State::Starting;
            st.note = state.as_ref().map(|s| {
                // On the supervisor's own clock, not the wall clock (which may jump).
                let wait = s.retry_in().unwrap_or_default();
                format!(
                    "restarting in {:.1}s (restart {}){}",
                    wait.as_secs_f64(),
                    s.restarts + 1,
                    s.last_exit
                        .as_ref()
                        .map(|e| format!("; last {}", e.describe()))
                        .unwrap_or_default()
                )
            });
        }
        (State::Stopped, None, Some(Phase::Failed)) => {
            st.state = State::Failed;
            st.note = state.as_ref().map(|s| {
                format!(
                    "gave up after {} restarts{}; svc start tries again",
                    s.restarts,
                    s.last_exit
                        .as_ref()
                        .map(|e| format!(", last {}", e.describe()))
                        .unwrap_or_default()
                )
            });
        }
        _ => {}
    }
    st
}

/// The `svc supervise NAME` process: the supervisor loop, launching instances the exec way.
pub(crate) fn supervise(life: &Lifecycle, def: &Definition) -> Code {
    let instances = ExecInstances {
        life,
        def,
        template: None,
    };
    supervise::run(&life.dirs, &life.procfs, def, instances)
}

fn find(life: &Lifecycle, def: &Definition) -> Found {
    supervise::find(&life.dirs, &life.procfs, def)
}

/// Launches the supervisor (after stale files are gone) and waits for its report on the first
/// launch.
fn spawn(life: &Lifecycle, def: &Definition) -> Result<Started> {
    let state_file = supervise::state_path(&life.dirs, def);
    let stderr_file = supervise::stderr_path(&life.dirs, def);
    let _ = pidfile::remove(&state_file);
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut args: Vec<OsString> = vec![
        "--config-dir".into(),
        abs(&life.dirs.config).into_os_string(),
        "--state-dir".into(),
        abs(&life.dirs.state).into_os_string(),
        "--log-dir".into(),
        abs(&life.dirs.log).into_os_string(),
    ];
    // The SysV directory as this svc resolved it (flag, environment or svc.yaml).
    if let Some(sysv) = &life.dirs.sysv {
        args.push("--sysv-dir".into());
        args.push(abs(sysv).into_os_string());
    }
    args.push("supervise".into());
    args.push(def.name.as_str().into());
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), launch::DEFAULT_PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    // The supervisor finds the runtime root as this svc did (SPEC §8.3).
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        env.push(("XDG_RUNTIME_DIR".into(), x));
    }
    let under_init = std::env::var("SVC_INIT_PID").ok();
    let output = match &under_init {
        Some(pid) => {
            env.push(("SVC_INIT_PID".into(), pid.into()));
            io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .map_err(LifecycleError::Io)?
        }
        None => {
            logsink::open_append(&stderr_file).map_err(|source| LifecycleError::SupervisorLog {
                path: stderr_file.clone(),
                source,
            })?
        }
    };
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| LifecycleError::Io(io::Error::from(e)))?;
    let launch = Launch {
        program: PathBuf::from("/proc/self/exe"),
        args,
        workdir: PathBuf::from("/"),
        env,
        creds: None,
        umask: 0o022,
        limits: Vec::new(),
        nice: None,
        output: Some(output),
        connection: None,
        fd3: Some(report_w),
        // The supervisor stays outside the service's cgroup: ending the cgroup never ends it.
        cgroup: None,
    };
    let pending = launch.fork()?;
    let pid = pending.pid();
    // Recorded before it may run: a supervisor svc does not know about never exists.
    let recorded = ProcHandle::open(pid, &life.procfs).and_then(|h| {
        let mut r = Record::capture(&h, &life.procfs, &state_file)?;
        r.pgid = pid;
        SuperState {
            supervisor: r,
            phase: Phase::Starting,
            restarts: 0,
            last_exit: None,
            retry_at_ms: None,
            retry_at_mono_ms: None,
            health: def
                .health
                .as_ref()
                .map(|_| crate::supervise::Health::Starting),
            health_error: None,
        }
        .save(&state_file)
    });
    if let Err(source) = recorded {
        pending.abort();
        let _ = pidfile::remove(&state_file);
        return Err(LifecycleError::RecordSupervisor {
            service: def.name.clone(),
            source,
        });
    }
    pending.release()?;
    // The supervisor waits for readiness itself; allow for that and for undoing a failure.
    let deadline = Instant::now() + def.ready_timeout + def.stop_timeout + Duration::from_secs(10);
    let (line, told) = report::read(report_r, pid, deadline);
    let service = def.name.clone();
    match line {
        Some(line) if told && line.starts_with("ok ") => {
            // Ready just as the switch was cancelled: the supervisor got SIGTERM anyway and
            // stops the service. Wait for that and say so, rather than report a start that is
            // being undone.
            if let Ok(h) = ProcHandle::open(pid, &life.procfs) {
                if !h.wait_exit(Instant::now() + def.stop_timeout + Duration::from_secs(10)) {
                    let _ = h.signal(Signal::SIGKILL);
                }
            }
            reap::reap(pid);
            Err(LifecycleError::SupervisorCancelled { service })
        }
        Some(line) => match report::parse(&line) {
            Report::Launched(pid) => Ok(Started::Launched(pid)),
            Report::Failed { code, message } => {
                // The supervisor has exited after undoing everything; reap it.
                reap::reap(pid);
                Err(LifecycleError::Reported { code, message })
            }
            Report::Garbled(line) => Err(LifecycleError::GarbledReport { service, line }),
        },
        None => {
            // Died (or hung) before reporting: make sure it is gone, then say so.
            if let Ok(h) = ProcHandle::open(pid, &life.procfs) {
                let _ = h.signal(Signal::SIGKILL);
            }
            reap::reap(pid);
            let _ = pidfile::remove(&state_file);
            Err(LifecycleError::SupervisorSilent {
                service,
                log: stderr_file,
            })
        }
    }
}

/// Asks a live supervisor to stop the service and waits for it to exit (SIGKILL after the stop
/// timeout and a grace period); clears a dead one's state. Returns the service PID the
/// supervisor stopped, if any.
fn stop_supervisor(life: &Lifecycle, def: &Definition) -> Result<Option<i32>> {
    let state_file = supervise::state_path(&life.dirs, def);
    let Found::Alive { handle, .. } = find(life, def) else {
        let _ = pidfile::remove(&state_file);
        return Ok(None);
    };
    let running = match probe::probe(life, def) {
        Liveness::Running { handle, .. } => handle.map(|h| h.pid()),
        _ => None,
    };
    handle
        .signal(Signal::SIGTERM)
        .map_err(|source| LifecycleError::Signal {
            service: def.name.clone(),
            cause: SignalError::Refused {
                target: Target::Supervisor,
                pid: handle.pid(),
                source,
            },
        })?;
    let deadline = Instant::now() + def.stop_timeout + Duration::from_secs(10);
    if !handle.wait_exit(deadline) {
        let _ = handle.signal(Signal::SIGKILL);
        handle.wait_exit(Instant::now() + Duration::from_secs(5));
    }
    // Ours only when this very process started it (svc restart in one run).
    reap::reap_nohang(handle.pid());
    let _ = pidfile::remove(&state_file);
    Ok(running)
}

/// How the supervisor launches the service: the exec kind's launch (identity record and PID
/// file written before exec). The first launch prepares it (program, credentials,
/// environment) and waits for readiness; restarts reuse what it prepared, so a restart costs a
/// fork, the records and an exec.
struct ExecInstances<'a> {
    life: &'a Lifecycle,
    def: &'a Definition,
    /// The prepared launch, reused by restarts.
    template: Option<Launch>,
}

impl ExecInstances<'_> {
    /// The pipe's ends for one instance: a copy of the write end, and of the read end for its
    /// fd 3.
    fn ends(pipe: Option<&Pipe>) -> Result<Option<(File, OwnedFd)>> {
        pipe.map(|(r, w)| {
            Ok((
                w.try_clone().map_err(LifecycleError::Io)?,
                OwnedFd::from(r.try_clone().map_err(LifecycleError::Io)?),
            ))
        })
        .transpose()
    }
}

impl ExecInstances<'_> {
    /// Launches one instance: the first one is prepared (and the preparation kept), later ones
    /// reuse it with fresh descriptors.
    fn launch(&mut self, pipe: Option<&Pipe>) -> Result<(Launched, Option<NotifySocket>)> {
        let (life, def) = (self.life, self.def);
        let piped = Self::ends(pipe)?;
        let (launch, notify) = match &self.template {
            Some(t) => {
                let mut l = t.without_fds();
                if let Some((w, r)) = piped {
                    l.output = Some(w);
                    l.fd3 = Some(r);
                } else if let Some(p) = def.log_path(&life.dirs) {
                    l.output = Some(logsink::open_append(&p).map_err(LifecycleError::Io)?);
                }
                (l, None)
            }
            None => {
                let exec = super::startable(def)?;
                let (l, notify) = prepare(life, def, Command::Program(exec), piped)?;
                self.template = Some(l.without_fds());
                (l, notify)
            }
        };
        Ok((launch_direct(life, def, launch)?, notify))
    }
}

impl Instances for ExecInstances<'_> {
    type Error = LifecycleError;

    fn first(&mut self, pipe: Option<&Pipe>) -> Result<(ProcHandle, i32)> {
        let (launched, notify) = self.launch(pipe)?;
        let (life, def) = (self.life, self.def);
        let (handle, pgid) = (
            ProcHandle::open(launched.main.pid(), &life.procfs).map_err(LifecycleError::Io)?,
            launched.record.pgid,
        );
        let deadline = Instant::now() + def.ready_timeout;
        settle(life, def, launched, notify.as_ref(), deadline)
            .map_err(|e| hooks::after_failed_start(life, def, e))?;
        Ok((handle, pgid))
    }

    fn again(&mut self, pipe: Option<&Pipe>) -> Result<(ProcHandle, i32)> {
        let (launched, _notify) = self.launch(pipe)?;
        Ok((launched.main, launched.record.pgid))
    }

    fn check(&mut self, argv: &[String], timeout: Duration) -> std::result::Result<(), String> {
        hooks::check(self.life, self.def, argv, timeout)
    }
}
