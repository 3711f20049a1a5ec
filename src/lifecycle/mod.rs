//! start, stop, reload and status of one service (SPEC §3.1–§3.5).
//!
//! This module decides; [`crate::process`] does. A service's liveness is always re-derived from
//! its PID file, svc's identity record and /proc ([`Lifecycle::probe`]); nothing is cached
//! between commands. start and stop hold the service's lock (`<state>/NAME.lock`, flock) so
//! concurrent commands on one service cannot interleave; the lock dies with the process, so a
//! killed svc never leaves it stale.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::definition::{Definition, Program};
use crate::exit::{Code, HasCode};
use crate::paths::Dirs;
use crate::process::handle::{wait_any_exit, ProcHandle};
use crate::process::keeper::Keeper;
use crate::process::launch::{self, Launch, LaunchError};
use crate::process::pidfile::{self, PidFile};
use crate::process::procfs::{clock_ticks, Procfs};
use crate::process::record::{Record, Verdict};
use crate::ready::{self, NotifySocket};
use crate::supervise;
use crate::trust;
use crate::users;

/// After KILL, how long svc waits for the kernel to take the processes away.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(5);
/// Lines of the log quoted when a program dies during start.
const LOG_TAIL_LINES: usize = 5;

/// A failed lifecycle action, with the LSB code it maps to.
#[derive(Debug)]
pub enum LifecycleError {
    NotInstalled(String),
    NotConfigured(String),
    Privilege(String),
    NotRunning(String),
    Unimplemented(String),
    Failed(String),
    /// LSB 2, passed through from an LSB script's action (crate::legacy).
    InvalidArgs(String),
}

impl std::fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use LifecycleError::*;
        match self {
            NotInstalled(m) | NotConfigured(m) | Privilege(m) | NotRunning(m)
            | Unimplemented(m) | Failed(m) | InvalidArgs(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for LifecycleError {}

impl HasCode for LifecycleError {
    fn code(&self) -> Code {
        match self {
            LifecycleError::NotInstalled(_) => Code::NotInstalled,
            LifecycleError::NotConfigured(_) => Code::NotConfigured,
            LifecycleError::Privilege(_) => Code::Privilege,
            LifecycleError::NotRunning(_) => Code::NotRunning,
            LifecycleError::Unimplemented(_) => Code::Unimplemented,
            LifecycleError::Failed(_) => Code::Failure,
            LifecycleError::InvalidArgs(_) => Code::InvalidArgs,
        }
    }
}

type Result<T> = std::result::Result<T, LifecycleError>;

pub(crate) fn failed(e: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Failed(e.to_string())
}

/// What a probe found. (A short-lived answer, never stored in bulk: the size of the record it
/// carries does not matter.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Liveness {
    Running {
        /// The service's main process; `None` when svc knows only that it runs (an LSB
        /// script's `status` says so, but svc has no PID for it).
        handle: Option<ProcHandle>,
        record: Option<Record>,
    },
    Stopped,
    /// A PID file exists but names no process of the service.
    Dead {
        why: String,
        /// The file itself may not be followed (symlink, hard link, foreign writer).
        untrusted: bool,
    },
}

/// The state shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Starting,
    Stopped,
    Dead,
    Failed,
    /// An LSB script's `status` could not tell (its exit 4, or another code).
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Stopped => "stopped",
            State::Dead => "dead",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }

    /// The LSB status exit code.
    pub fn code(self) -> Code {
        match self {
            State::Running | State::Starting => Code::STATUS_RUNNING,
            State::Dead => Code::STATUS_DEAD,
            State::Stopped | State::Failed => Code::STATUS_STOPPED,
            State::Unknown => Code::STATUS_UNKNOWN,
        }
    }
}

/// What `status` reports about one service.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub pid: Option<i32>,
    pub uptime_s: Option<u64>,
    pub rss_kib: Option<u64>,
    /// Why a PID file is not trusted or is stale, for the operator.
    pub note: Option<String>,
    /// Supervised services: restarts since `svc start`, how the last instance ended, and the
    /// supervisor's PID while it runs.
    pub restarts: Option<u32>,
    pub last_exit: Option<supervise::LastExit>,
    pub supervisor: Option<i32>,
}

impl Status {
    /// The LSB status exit code: the state's, except that a supervised service waiting to be
    /// restarted (starting, but no process) is not running (3).
    pub fn code(&self) -> Code {
        match (self.state, self.pid) {
            (State::Starting, None) => Code::STATUS_STOPPED,
            (state, _) => state.code(),
        }
    }
}

/// How a start ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Launched(i32),
    AlreadyRunning(i32),
    /// Supervised, and its supervisor (this PID) is waiting to restart it.
    Restarting(i32),
}

/// How a stop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped; `escaped` lists descendants that had left the service's process group (setsid)
    /// and still run: svc cannot tell whether they belong to it, so it warns and leaves them.
    Stopped {
        pid: i32,
        escaped: Vec<(i32, String)>,
    },
    NotRunning,
}

/// The lifecycle operations, bound to one set of directories.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub dirs: Dirs,
    pub procfs: Procfs,
    ancestors: std::sync::OnceLock<Vec<i32>>,
}

/// A launched program: the service's main process, its identity record, and — for a program
/// svc forked itself — the child to reap if it dies during start.
pub(crate) struct Launched {
    pub(crate) main: ProcHandle,
    pub(crate) record: Record,
    pub(crate) child: Option<i32>,
    /// A forking launch's keeper: released once the start succeeds; dropped (killing what the
    /// launch created) when it fails.
    pub(crate) keeper: Option<Keeper>,
}

/// The program of a service `start` can launch: on-demand (`socket:`) services are not
/// started this way; an LSB `script:` service is run by crate::legacy (`start` hands it over).
pub(crate) fn startable(def: &Definition) -> Result<&str> {
    if def.socket.is_some() {
        return Err(LifecycleError::Unimplemented(format!(
            "{} is an on-demand service (socket:): `svc inetd` serves it",
            def.name
        )));
    }
    match &def.program {
        Program::Exec(e) => Ok(e),
        Program::Script(s) => s.to_str().ok_or_else(|| {
            LifecycleError::NotConfigured(format!("{}: script path is not UTF-8", def.name))
        }),
    }
}

impl From<LaunchError> for LifecycleError {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::NotInstalled { .. } => LifecycleError::NotInstalled(e.to_string()),
            LaunchError::Failed { .. } => failed(e),
        }
    }
}

/// An exclusive per-service lock, released when dropped (or when svc dies).
pub type ServiceLock = crate::lock::Lock;

impl Lifecycle {
    pub fn new(dirs: Dirs) -> Lifecycle {
        Lifecycle {
            dirs,
            procfs: Procfs::system(),
            ancestors: std::sync::OnceLock::new(),
        }
    }

    /// Takes the service's lock, waiting for a concurrent command to finish.
    pub fn lock(&self, def: &Definition) -> Result<ServiceLock> {
        self.dirs.ensure_state().map_err(io_error)?;
        let path = self.dirs.lock(&def.name);
        let named = |e: io::Error| {
            io_error(io::Error::new(
                e.kind(),
                format!("cannot lock {}: {e}", path.display()),
            ))
        };
        crate::lock::exclusive(crate::lock::open(&path).map_err(named)?).map_err(named)
    }

    /// Whether another svc holds the service's lock right now (a start in progress).
    fn lock_held(&self, def: &Definition) -> bool {
        crate::lock::is_held(&self.dirs.lock(&def.name))
    }

    /// Decides whether the service runs (SPEC §3.5).
    pub fn probe(&self, def: &Definition) -> Liveness {
        if let Program::Script(_) = def.program {
            return crate::legacy::probe(self, def);
        }
        let pidfile_path = def.pidfile(&self.dirs);
        let record =
            Record::load(&self.dirs.record(&def.name)).filter(|r| r.pidfile == pidfile_path);
        let dead = |why: String| Liveness::Dead {
            why,
            untrusted: false,
        };
        match self.read_pidfile(&pidfile_path, record.as_ref()) {
            PidFile::Missing => {
                // svc's own record may still name a live process whose PID file was deleted.
                if let Some(r) = record {
                    if let Ok(h) = ProcHandle::open(r.pid, &self.procfs) {
                        if r.verify(&h, &self.procfs) == Verdict::Same {
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
                if self.ancestors().contains(&pid) {
                    return dead(format!("pid file names {pid}, svc itself or its caller"));
                }
                let handle = match ProcHandle::open(pid, &self.procfs) {
                    Ok(h) => h,
                    Err(_) => return dead(format!("process {pid} does not exist")),
                };
                match self.procfs.stat(pid) {
                    None => return dead(format!("process {pid} does not exist")),
                    Some(s) if s.is_zombie() => return dead(format!("process {pid} is a zombie")),
                    Some(_) => {}
                }
                match record {
                    Some(r) => match r.verify(&handle, &self.procfs) {
                        Verdict::Same => Liveness::Running {
                            handle: Some(handle),
                            record: Some(r),
                        },
                        Verdict::Different(why) => dead(why),
                    },
                    None => {
                        // Written outside svc: it counts only if the process runs `exec`.
                        if self.runs_exec(def, pid) {
                            Liveness::Running {
                                handle: Some(handle),
                                record: None,
                            }
                        } else {
                            dead(format!("process {pid} does not run the service's program"))
                        }
                    }
                }
            }
        }
    }

    /// The service's PID file as svc may follow it (SPEC §3.5). A forking daemon's own file that
    /// its user wrote counts when svc's record vouches for it: the file still belongs to the
    /// uid it had when the launch proved its process, and names the recorded PID (whose
    /// identity the caller then checks as always). Otherwise the strict rules hold.
    fn read_pidfile(&self, path: &Path, record: Option<&Record>) -> PidFile {
        let strict = pidfile::read(path, self.procfs.pid_max());
        let (PidFile::Untrusted(_), Some(r)) = (&strict, record) else {
            return strict;
        };
        if r.pidfile_owner.is_none() {
            return strict;
        }
        match pidfile::read_foreign(path, self.procfs.pid_max()) {
            (PidFile::Pid(pid), owner) if owner == r.pidfile_owner && pid == r.pid => {
                PidFile::Pid(pid)
            }
            _ => strict,
        }
    }

    /// svc itself and its ancestors: never a service.
    pub(crate) fn ancestors(&self) -> &[i32] {
        self.ancestors.get_or_init(|| {
            let mut out = vec![std::process::id() as i32];
            let mut cur = nix::unistd::getppid().as_raw();
            while cur > 1 && out.len() < 64 {
                out.push(cur);
                cur = match self.procfs.stat(cur) {
                    Some(s) => s.ppid,
                    None => break,
                };
            }
            out
        })
    }

    fn runs_exec(&self, def: &Definition, pid: i32) -> bool {
        let Program::Exec(exec) = &def.program else {
            return false;
        };
        let Ok(path) = launch::resolve_program(exec, &env_path(def)) else {
            return false;
        };
        match (std::fs::metadata(path), self.procfs.exe_id(pid)) {
            (Ok(m), Ok((dev, ino))) => m.dev() == dev && m.ino() == ino,
            _ => false,
        }
    }

    /// `status` of one service; a supervised one's supervisor adds restarts, the last exit and
    /// the `failed` and restarting (`starting`) states.
    pub fn status(&self, def: &Definition) -> Status {
        if let Program::Script(_) = def.program {
            return crate::legacy::status(self, def);
        }
        let mut st = self.plain_status(def);
        if def.respawn.is_none() {
            return st;
        }
        let found = supervise::find(self, def);
        let (alive, state) = match found {
            supervise::Found::Alive { handle, state } => (Some(handle.pid()), Some(state)),
            supervise::Found::Gone(state) => (None, state),
        };
        st.supervisor = alive;
        if let Some(state) = &state {
            st.restarts = Some(state.restarts);
            st.last_exit = state.last_exit.clone();
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
            (State::Stopped, None, Some(supervise::Phase::Failed)) => {
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

    fn plain_status(&self, def: &Definition) -> Status {
        match self.probe(def) {
            Liveness::Running { handle, record } => {
                let pid = handle.as_ref().map(ProcHandle::pid);
                let starting = matches!(&record, Some(r) if !r.ready) && self.lock_held(def);
                let uptime_s = pid.and_then(|pid| self.procfs.stat(pid)).and_then(|s| {
                    let up = self.procfs.uptime()?;
                    let started = s.start_ticks as f64 / clock_ticks() as f64;
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
                    rss_kib: pid.and_then(|pid| self.procfs.rss_kib(pid)),
                    note: None,
                    restarts: None,
                    last_exit: None,
                    supervisor: None,
                }
            }
            Liveness::Stopped => Status {
                state: State::Stopped,
                pid: None,
                uptime_s: None,
                rss_kib: None,
                note: None,
                restarts: None,
                last_exit: None,
                supervisor: None,
            },
            Liveness::Dead { why, .. } => Status {
                state: State::Dead,
                pid: None,
                uptime_s: None,
                rss_kib: None,
                note: Some(why),
                restarts: None,
                last_exit: None,
                supervisor: None,
            },
        }
    }

    /// Removes a stale PID file and record (never writing through either).
    fn clear_stale(&self, def: &Definition) -> Result<()> {
        let p = def.pidfile(&self.dirs);
        pidfile::remove(&p)
            .map_err(|e| failed(format!("cannot remove stale pid file {}: {e}", p.display())))?;
        let _ = pidfile::remove(&self.dirs.record(&def.name));
        Ok(())
    }

    /// Starts one service (its `requires` are the caller's business).
    pub fn start(&self, def: &Definition) -> Result<Started> {
        if let Program::Script(_) = def.program {
            let _lock = self.lock(def)?;
            return crate::legacy::start(self, def);
        }
        let exec = startable(def)?;
        let _lock = self.lock(def)?;
        if def.respawn.is_some() {
            if let supervise::Found::Alive { handle, .. } = supervise::find(self, def) {
                // Supervised already (running, or waiting to restart it).
                return Ok(match self.probe(def) {
                    Liveness::Running {
                        handle: Some(main), ..
                    } => Started::AlreadyRunning(main.pid()),
                    _ => Started::Restarting(handle.pid()),
                });
            }
            if let Liveness::Running {
                handle: Some(handle),
                record,
            } = self.probe(def)
            {
                // Running, but its supervisor is gone: nobody would restart it or read its
                // output (it would block once the pipe is full). Start it again under a new one.
                let pgid = record.map_or(handle.pid(), |r| r.pgid);
                self.terminate(&handle, pgid, def)?;
                self.forget(def);
            }
        }
        match self.probe(def) {
            Liveness::Running {
                handle: Some(handle),
                ..
            } => return Ok(Started::AlreadyRunning(handle.pid())),
            Liveness::Running { handle: None, .. } => return Err(pid_unknown(def)),
            Liveness::Dead { .. } => self.clear_stale(def)?,
            Liveness::Stopped => {
                let _ = pidfile::remove(&self.dirs.record(&def.name));
            }
        }
        if def.respawn.is_some() {
            return supervise::spawn(self, def);
        }
        let (launch, notify) = self.prepare(def, exec, None)?;
        let log = def.log_path(&self.dirs);
        let deadline = Instant::now() + def.ready_timeout;
        let launched = if def.forking {
            self.launch_forking(def, launch, deadline, log.as_deref())?
        } else {
            self.launch_direct(def, launch)?
        };
        self.settle(def, launched, notify.as_ref(), deadline, log.as_deref())
    }

    /// The launch of a super-daemon service for one connection (SPEC §5.1): the definition's
    /// program, user, environment, directory and limits, with the connection as stdin and
    /// stdout and the service log as stderr.
    pub fn connection_launch(
        &self,
        def: &Definition,
        connection: std::os::fd::OwnedFd,
    ) -> Result<Launch> {
        let exec = match &def.program {
            Program::Exec(e) => e.as_str(),
            Program::Script(_) => {
                return Err(LifecycleError::Unimplemented(format!(
                    "{}: a script: definition cannot be an on-demand service",
                    def.name
                )))
            }
        };
        let (mut launch, _notify) = self.prepare(def, exec, None)?;
        launch.connection = Some(connection);
        Ok(launch)
    }

    /// Everything a launch needs, resolved before anything is forked: the program, the
    /// credentials, the log, the notify socket and the environment. `piped`: a supervised
    /// service's output pipe (write end for stdout/stderr, read end kept as fd 3) instead of
    /// the log file.
    pub(crate) fn prepare(
        &self,
        def: &Definition,
        exec: &str,
        piped: Option<(File, std::os::fd::OwnedFd)>,
    ) -> Result<(Launch, Option<NotifySocket>)> {
        let program = program(def, exec)?;
        let creds = credentials(def)?;
        let (output, fd3) = match (piped, def.log_path(&self.dirs)) {
            (Some((w, r)), _) => (Some(w), Some(r)),
            (None, Some(p)) => (Some(open_log(&self.dirs, &p).map_err(failed)?), None),
            (None, None) => (None, None),
        };
        let notify = match &def.ready {
            Some(crate::definition::Ready::Notify) => Some(
                NotifySocket::bind(
                    &self.dirs.notify_socket(&def.name),
                    creds.as_ref().map(|c| (c.uid, c.gid)),
                )
                .map_err(failed)?,
            ),
            _ => None,
        };
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), launch::DEFAULT_PATH.into()),
            ("HOME".into(), home_of(creds.as_ref())),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        // The directories of the svc that launched it: a service that runs svc itself (the
        // super daemon, a script calling `svc status`) addresses the same configuration.
        for (k, dir) in [
            ("SVC_CONFIG_DIR", &self.dirs.config),
            ("SVC_STATE_DIR", &self.dirs.state),
            ("SVC_LOG_DIR", &self.dirs.log),
        ] {
            // Bytes as they are: a directory that is not UTF-8 reaches the service unchanged.
            let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            env.push((k.into(), abs.into_os_string()));
        }
        for (k, v) in &def.env {
            env.retain(|(ek, _)| ek.as_os_str() != k.as_str());
            env.push((k.into(), v.into()));
        }
        if let Some(ns) = &notify {
            env.push(("NOTIFY_SOCKET".into(), ns.env_value()));
        }
        let launch = Launch {
            program,
            args: def.args.iter().map(OsString::from).collect(),
            workdir: def.workdir.clone(),
            env,
            creds,
            umask: def.umask,
            limits: def.limits.clone(),
            nice: def.nice,
            output,
            connection: None,
            fd3,
        };
        Ok((launch, notify))
    }

    /// A program that stays in the foreground: recorded (identity and PID file) before it may
    /// exec, so that if svc dies before `release` the child exits without running the program
    /// and nothing untracked is ever left.
    pub(crate) fn launch_direct(&self, def: &Definition, launch: Launch) -> Result<Launched> {
        let pending = launch.fork()?;
        let pid = pending.pid();
        let main = match ProcHandle::open(pid, &self.procfs) {
            Ok(h) => h,
            Err(e) => {
                pending.abort();
                return Err(failed(format!("cannot watch process {pid}: {e}")));
            }
        };
        let pidfile_path = def.pidfile(&self.dirs);
        let record_path = self.dirs.record(&def.name);
        let recorded = Record::capture(&main, &self.procfs, &pidfile_path).and_then(|mut r| {
            // The executable is still svc's own until exec; filled in below.
            r.exe_dev = None;
            r.exe_ino = None;
            // The child may not have called setsid yet; it will lead its own group.
            r.pgid = pid;
            r.ready = def.ready.is_none();
            r.save(&record_path)?;
            pidfile::write(&pidfile_path, pid)?;
            Ok(r)
        });
        let mut record = match recorded {
            Ok(r) => r,
            Err(e) => {
                pending.abort();
                self.forget(def);
                return Err(failed(format!(
                    "{}: cannot record the process to launch ({e}); nothing was started",
                    def.name
                )));
            }
        };
        if let Err(e) = pending.release() {
            self.forget(def);
            return Err(e.into());
        }
        // The executable identifies the process only where pidfd inodes do not.
        if record.pidfd_ino.is_none() {
            if let Ok((dev, ino)) = self.procfs.exe_id(pid) {
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

    /// Waits for readiness (if any), and undoes the launch when the program dies or is not
    /// ready in time. Without a readiness check start does not wait; a program that has
    /// already died by now is still reported here rather than by a later `status`.
    pub(crate) fn settle(
        &self,
        def: &Definition,
        mut l: Launched,
        notify: Option<&NotifySocket>,
        deadline: Instant,
        log: Option<&Path>,
    ) -> Result<Started> {
        let keeper = l.keeper.take();
        let service = ready::Service {
            main: &l.main,
            pgid: l.record.pgid,
            launch_root: keeper.as_ref().map(Keeper::pid),
            procfs: &self.procfs,
        };
        let outcome = match &def.ready {
            Some(check) => ready::wait(check, &service, notify, deadline),
            None if l.main.exited() => ready::Outcome::Died,
            None => ready::Outcome::Ready,
        };
        let err = match outcome {
            ready::Outcome::Ready => {
                if !l.record.ready {
                    l.record.ready = true;
                    let _ = l.record.save(&self.dirs.record(&def.name));
                }
                // The daemon lives on; its keeper goes (the daemon moves to init).
                if let Some(k) = keeper {
                    k.release();
                }
                return Ok(Started::Launched(l.main.pid()));
            }
            ready::Outcome::Died => {
                let how = match l.child.and_then(launch::reap) {
                    Some(s) => describe_exit(s),
                    None => "exited".to_string(),
                };
                failed(format!(
                    "{}: process {} {how} while starting{}",
                    def.name,
                    l.main.pid(),
                    log_tail(log)
                ))
            }
            ready::Outcome::TimedOut | ready::Outcome::Cancelled => {
                let _ = self.terminate(&l.main, l.record.pgid, def);
                if let Some(pid) = l.child {
                    launch::reap(pid);
                }
                if outcome == ready::Outcome::Cancelled {
                    failed(format!(
                        "{}: start cancelled before it was ready (svc was asked to stop); stopped it",
                        def.name
                    ))
                } else {
                    failed(format!(
                        "{}: not ready after {:?} (ready_timeout); stopped it{}",
                        def.name,
                        def.ready_timeout,
                        log_tail(log)
                    ))
                }
            }
            ready::Outcome::Refused(why) => {
                let _ = self.terminate(&l.main, l.record.pgid, def);
                if let Some(pid) = l.child {
                    launch::reap(pid);
                }
                failed(format!("{}: {why}; stopped it{}", def.name, log_tail(log)))
            }
        };
        self.clear_group(l.record.pgid, def);
        if let Some(k) = keeper {
            self.stop_launch(def, k);
        }
        self.forget(def);
        Err(err)
    }

    /// Removes the record and PID file of a launch that did not work out.
    pub(crate) fn forget(&self, def: &Definition) {
        let _ = pidfile::remove(&self.dirs.record(&def.name));
        let _ = pidfile::remove(&def.pidfile(&self.dirs));
    }

    /// Stops one service (SPEC §3.2).
    pub fn stop(&self, def: &Definition) -> Result<Stopped> {
        let _lock = self.lock(def)?;
        if let Program::Script(_) = def.program {
            return crate::legacy::stop(self, def);
        }
        // A supervisor stops its service itself (and must not restart it); whatever still runs
        // afterwards (its supervisor was killed) is stopped below like any service.
        let supervised = if def.respawn.is_some() {
            supervise::stop(self, def)?
        } else {
            None
        };
        match self.probe(def) {
            Liveness::Stopped if supervised.is_some() => {
                let _ = pidfile::remove(&self.dirs.record(&def.name));
                Ok(Stopped::Stopped {
                    pid: supervised.unwrap_or(0),
                    escaped: Vec::new(),
                })
            }
            Liveness::Stopped => {
                let _ = pidfile::remove(&self.dirs.record(&def.name));
                Ok(Stopped::NotRunning)
            }
            Liveness::Dead {
                why,
                untrusted: true,
            } => Err(failed(format!(
                "{}: {why}; nothing was signalled",
                def.name
            ))),
            Liveness::Dead { .. } => {
                self.clear_stale(def)?;
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
                    None => match self.procfs.stat(pid) {
                        Some(s) if s.pgrp == pid => pid,
                        _ => 0,
                    },
                };
                // Descendants outside the group (a child that called setsid) are not the
                // group's; note them now to warn about survivors afterwards.
                let outside: Vec<(i32, u64)> = self
                    .procfs
                    .descendants(pid)
                    .into_iter()
                    .filter(|(p, _)| self.procfs.stat(*p).is_some_and(|s| s.pgrp != pgid))
                    .collect();
                let result = self.terminate(&handle, pgid, def);
                if result.is_err() && !handle.exited() {
                    // Still running (not ours to signal, or unkillable): keep its records.
                    return result.map(|()| Stopped::NotRunning);
                }
                // The PID file goes once the process is gone (a forking daemon may have
                // removed its own already).
                let p = def.pidfile(&self.dirs);
                if matches!(self.read_pidfile(&p, record.as_ref()), PidFile::Pid(x) if x == pid) {
                    let _ = pidfile::remove(&p);
                }
                let _ = pidfile::remove(&self.dirs.record(&def.name));
                result?;
                let escaped = outside
                    .into_iter()
                    .filter_map(|(p, ticks)| {
                        let s = self.procfs.stat(p)?;
                        (s.start_ticks == ticks && !s.is_zombie()).then_some((p, s.comm))
                    })
                    .collect();
                Ok(Stopped::Stopped { pid, escaped })
            }
        }
    }

    /// stop_signal, SIGCONT, a wait woken by the exit, then KILL to the whole group after
    /// stop_timeout; returns once no process of the group is left.
    pub(crate) fn terminate(&self, main: &ProcHandle, pgid: i32, def: &Definition) -> Result<()> {
        let soft = Instant::now() + def.stop_timeout;
        let hard = soft + KILL_GRACE;
        // A process svc may not signal (another user's) is reported at once, not after the
        // whole timeout.
        main.signal(def.stop_signal)
            .map_err(|e| signal_error(def, "process", main.pid(), e))?;
        let _ = main.signal(Signal::SIGCONT);
        if !main.wait_exit(soft) {
            let _ = main.signal(Signal::SIGKILL);
            self.kill_group(pgid, Signal::SIGKILL);
            if !main.wait_exit(hard) {
                return Err(failed(format!(
                    "{}: process {} survived SIGKILL",
                    def.name,
                    main.pid()
                )));
            }
        }
        self.drain_group(pgid, def.stop_signal, soft, hard)
            .map_err(|e| failed(format!("{}: {e}", def.name)))
    }

    /// Ends what is left of a group whose leader is gone (used after a failed start too).
    pub(crate) fn clear_group(&self, pgid: i32, def: &Definition) {
        let soft = Instant::now() + def.stop_timeout;
        let _ = self.drain_group(pgid, def.stop_signal, soft, soft + KILL_GRACE);
    }

    fn drain_group(
        &self,
        pgid: i32,
        sig: Signal,
        soft: Instant,
        hard: Instant,
    ) -> std::result::Result<(), String> {
        let mut signalled = false;
        let mut killed = false;
        loop {
            let members = self.live_group(pgid);
            if members.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if !signalled {
                self.kill_group(pgid, sig);
                self.kill_group(pgid, Signal::SIGCONT);
                signalled = true;
            }
            if now >= soft && !killed {
                self.kill_group(pgid, Signal::SIGKILL);
                killed = true;
            }
            if now >= hard {
                return Err(format!(
                    "processes {members:?} of process group {pgid} survived SIGKILL"
                ));
            }
            let handles: Vec<ProcHandle> = members
                .iter()
                .filter_map(|p| ProcHandle::open(*p, &self.procfs).ok())
                .collect();
            let refs: Vec<&ProcHandle> = handles.iter().collect();
            let until = if killed { hard } else { soft };
            // Re-scan now and then: a member may fork while we wait.
            let until = until.min(Instant::now() + Duration::from_millis(100));
            if refs.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                wait_any_exit(&refs, until);
            }
        }
    }

    /// Non-zombie members of a service's process group; empty for groups svc must not touch.
    fn live_group(&self, pgid: i32) -> Vec<i32> {
        if !self.group_is_signallable(pgid) {
            return Vec::new();
        }
        // Cheap first: no process at all in the group.
        if nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_err() {
            return Vec::new();
        }
        self.procfs.group_members(pgid)
    }

    fn group_is_signallable(&self, pgid: i32) -> bool {
        pgid > 1 && pgid != nix::unistd::getpgrp().as_raw() && !self.ancestors().contains(&pgid)
    }

    fn kill_group(&self, pgid: i32, sig: Signal) {
        if self.group_is_signallable(pgid) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), sig);
        }
    }

    /// Sends `reload_signal` (SPEC §3.3).
    pub fn reload(&self, def: &Definition) -> Result<i32> {
        if let Program::Script(_) = def.program {
            return crate::legacy::reload(self, def);
        }
        let Some(sig) = def.reload_signal else {
            return Err(LifecycleError::Unimplemented(format!(
                "{} defines no reload_signal",
                def.name
            )));
        };
        match self.probe(def) {
            Liveness::Running { handle: None, .. } => Err(pid_unknown(def)),
            Liveness::Running {
                handle: Some(handle),
                ..
            } => {
                if handle
                    .signal(sig)
                    .map_err(|e| signal_error(def, "process", handle.pid(), e))?
                {
                    Ok(handle.pid())
                } else {
                    Err(LifecycleError::NotRunning(format!(
                        "{} is not running",
                        def.name
                    )))
                }
            }
            _ => Err(LifecycleError::NotRunning(format!(
                "{} is not running",
                def.name
            ))),
        }
    }
}

/// A service that runs but whose process svc does not know: only an LSB script's `status`
/// can say so, and script services never reach the code that needs the process.
fn pid_unknown(def: &Definition) -> LifecycleError {
    failed(format!(
        "{} runs, but svc does not know its PID; nothing was signalled",
        def.name
    ))
}

/// HOME of the launched program: the service user's home, else that of the user svc runs as,
/// else `/` — never the caller's environment.
fn home_of(creds: Option<&users::Credentials>) -> OsString {
    let home = match creds {
        Some(c) => c.home.clone(),
        None => nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir),
    };
    home.map(PathBuf::into_os_string)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// An I/O error; "permission denied" is a privilege problem (LSB 4), e.g. an ordinary user
/// acting on root's services.
pub(crate) fn io_error(e: io::Error) -> LifecycleError {
    if e.kind() == io::ErrorKind::PermissionDenied {
        LifecycleError::Privilege(e.to_string())
    } else {
        failed(e)
    }
}

/// A signal that could not be sent to `what` (a process, its supervisor): EPERM is a privilege
/// problem (LSB 4).
pub(crate) fn signal_error(def: &Definition, what: &str, pid: i32, e: io::Error) -> LifecycleError {
    let msg = format!("{}: cannot signal {what} {pid}: {e}", def.name);
    if e.raw_os_error() == Some(libc::EPERM) {
        LifecycleError::Privilege(msg)
    } else {
        failed(msg)
    }
}

/// PATH for looking up a bare `exec`: the definition's own `env: PATH`, else the default.
pub(crate) fn env_path(def: &Definition) -> String {
    def.env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| launch::DEFAULT_PATH.to_string())
}

/// The program a launch of `def` runs: `exec` found like at launch (PATH of the service's
/// environment), an executable file, and as root one that only root can write (SPEC §3.7).
/// `start` and `svc inetd` check it before anything is forked; `svc check` reports it.
pub(crate) fn program(def: &Definition, exec: &str) -> Result<std::path::PathBuf> {
    let program = launch::resolve_program(exec, &env_path(def))?;
    if trust::running_as_root() {
        let meta = std::fs::metadata(&program).map_err(failed)?;
        trust::check_config_file(&program, &meta).map_err(LifecycleError::NotConfigured)?;
    }
    Ok(program)
}

/// The credentials a launch of `def` switches to; another user or group than svc's own needs
/// root (LSB 4 otherwise). Checked before anything is forked; `svc check` reports it.
pub(crate) fn credentials(def: &Definition) -> Result<Option<users::Credentials>> {
    let creds = users::resolve(def.user.as_ref(), def.group.as_ref())
        .map_err(|e| LifecycleError::NotConfigured(format!("{}: {e}", def.file.display())))?;
    if let Some(c) = &creds {
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        if !trust::running_as_root() && (c.uid, c.gid) != me {
            return Err(LifecycleError::Privilege(format!(
                "running {} as user {} needs root",
                def.name,
                def.user
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| c.uid.to_string())
            )));
        }
    }
    Ok(creds)
}

/// Opens a service's log for appending (creating svc's log directory when it is the one).
pub(crate) fn open_log(dirs: &Dirs, path: &Path) -> io::Result<File> {
    if path.parent() == Some(dirs.log.as_path()) {
        dirs.ensure_log()?;
    }
    supervise::logsink::open_append(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open log {}: {e}", path.display())))
}

pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!(
            "was killed by signal {}",
            Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or(s.to_string())
        ),
        _ => "exited".into(),
    }
}

/// The last lines of a log, formatted for an error message (control characters made `?`). The
/// log is read as `svc logs` reads it: no symlink, no FIFO ([`crate::regular`]).
pub(crate) fn log_tail(path: Option<&Path>) -> String {
    let Some(path) = path else {
        return String::new();
    };
    let Ok(mut f) = crate::regular::open_read(path, crate::regular::Links::Refuse) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(4096);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return String::new();
    }
    let mut out = format!("; last lines of {}:", path.display());
    for l in tail {
        out.push_str("\n    ");
        out.extend(
            l.chars()
                .map(|c| if c.is_control() && c != '\t' { '?' } else { c }),
        );
    }
    out
}
