//! Supervised services (SPEC §3.6): the small supervisor process that stays with a `respawn:`
//! service, and how `start`, `stop` and `status` deal with it.
//!
//! `svc start` launches the supervisor — the svc binary itself (`/proc/self/exe`, the hidden
//! command `supervise`) — through the same record-before-exec handshake as any program: its
//! identity is written to `<state>/NAME.supervisor` before it may run. The supervisor reads the
//! definition once, launches the service (identity record and PID file as for any service, so
//! `status`, `stop` and `reload` work the same, and keep working if the supervisor is killed),
//! waits for readiness the first time, and reports the outcome to `svc start` over a pipe (its
//! fd 3). From then on it sleeps in poll(2) on a signalfd and the service's output pipe —
//! nothing is polled on a timer — and:
//! - when the service exits on its own, records the exit status, ends what is left of its
//!   process group and launches it again: at once when it had run for at least
//!   [`STABLE_AFTER`], else after `backoff`, doubling on each quick exit (at most
//!   [`MAX_BACKOFF`]); after `max` restarts within `window` it gives up, leaves the state
//!   `failed` in its state file and exits;
//! - copies the service's stdout/stderr from the pipe into the log, rotating it by size
//!   ([`logsink`]); the service also holds the pipe's read end (as fd 3), so its writes never
//!   fail while no supervisor reads — they wait in the pipe for the next one;
//! - on SIGTERM (sent by `svc stop`) stops the service the way `svc stop` does (stop signal,
//!   KILL after stop_timeout, the whole process group), removes its records and exits.
//!
//! The supervisor's own messages go to its stderr: the container log when svc runs under
//! `svc init` (SVC_INIT_PID in the environment), else `<state>/NAME.supervisor.log`.

pub mod logsink;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use serde::{Deserialize, Serialize};

use crate::definition::{Definition, Respawn};
use crate::exit::Code;
use crate::lifecycle::{self, Lifecycle, LifecycleError, Started};
use crate::process::handle::ProcHandle;
use crate::process::launch::{self, Launch};
use crate::process::pidfile::{self, PidFile};
use crate::process::record::{Record, Verdict};
use logsink::LogSink;

/// An instance that ran at least this long is restarted at once, and resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(1);
/// The backoff never grows beyond this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A supervisor quiet for this long after a restart gives back its start-up pages again.
pub const SHED_AFTER: Duration = Duration::from_secs(10);
/// The fd on which a supervisor reports its first launch to `svc start`.
pub const REPORT_FD: i32 = 3;

/// What a supervisor is doing, as its state file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Launching the first instance (`svc start` is waiting).
    Starting,
    Running,
    /// Waiting before the next restart.
    Backoff,
    /// Gave up: too many restarts within the window. The supervisor has exited.
    Failed,
}

/// How the last instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastExit {
    /// Exit status, when it exited.
    pub code: Option<i32>,
    /// Signal name, when a signal killed it.
    pub signal: Option<String>,
    /// Why it could not be launched at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LastExit {
    fn from_status(status: std::process::ExitStatus) -> LastExit {
        use std::os::unix::process::ExitStatusExt;
        LastExit {
            code: status.code(),
            signal: status.signal().map(|s| {
                Signal::try_from(s)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| s.to_string())
            }),
            error: None,
        }
    }

    /// "exited with status 1", "killed by SIGKILL", "not launched: …".
    pub fn describe(&self) -> String {
        match (&self.code, &self.signal, &self.error) {
            (_, _, Some(e)) => format!("not launched: {e}"),
            (Some(c), _, _) => format!("exited with status {c}"),
            (None, Some(s), _) => format!("killed by {s}"),
            _ => "exited".into(),
        }
    }
}

/// `<state>/NAME.supervisor`: the supervisor's identity and what it has seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuperState {
    /// The supervisor process itself.
    pub supervisor: Record,
    pub phase: Phase,
    /// Restarts since `svc start`.
    pub restarts: u32,
    pub last_exit: Option<LastExit>,
    /// Unix time in milliseconds of the next restart (in `backoff`): for people and older
    /// svc versions; [`SuperState::retry_in`] goes by `retry_at_mono_ms`.
    #[serde(default)]
    pub retry_at_ms: Option<u64>,
    /// The same moment on CLOCK_MONOTONIC (milliseconds), the clock the supervisor's wait runs
    /// on: it is system-wide and never jumps, so `svc status` in another process can count down
    /// to it whatever happens to the wall clock. Absent in state files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at_mono_ms: Option<u64>,
}

impl SuperState {
    pub fn load(path: &Path) -> Option<SuperState> {
        // Never blocking: a FIFO there is no state ([`crate::regular`]).
        let bytes = crate::regular::read(path, crate::regular::Links::Follow).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// How long until the supervisor restarts the service, if it is waiting to.
    pub fn retry_in(&self) -> Option<Duration> {
        countdown(
            self.retry_at_mono_ms,
            self.retry_at_ms,
            monotonic_ms(),
            now_ms(),
        )
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        pidfile::write_atomic(path, &text, 0o644)
    }
}

/// A service's supervisor, as found from its state file.
pub enum Found {
    Alive {
        handle: ProcHandle,
        state: SuperState,
    },
    /// No live supervisor; the state file (if any) says how the last one ended.
    Gone(Option<SuperState>),
}

/// `<state>/NAME.supervisor`.
pub fn state_path(life: &Lifecycle, def: &Definition) -> PathBuf {
    life.dirs.state.join(format!("{}.supervisor", def.name))
}

/// `<state>/NAME.supervisor.log`.
pub fn stderr_path(life: &Lifecycle, def: &Definition) -> PathBuf {
    life.dirs.state.join(format!("{}.supervisor.log", def.name))
}

/// Finds the service's supervisor, checking its identity like any service's.
pub fn find(life: &Lifecycle, def: &Definition) -> Found {
    let Some(state) = SuperState::load(&state_path(life, def)) else {
        return Found::Gone(None);
    };
    let pid = state.supervisor.pid;
    match ProcHandle::open(pid, &life.procfs) {
        Ok(h) if state.supervisor.verify(&h, &life.procfs) == Verdict::Same => {
            Found::Alive { handle: h, state }
        }
        _ => Found::Gone(Some(state)),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Time left until a restart due at `mono_at` (monotonic) or, in a state file of an older svc
/// that has only it, `wall_at` (wall clock), given both clocks' readings now.
fn countdown(
    mono_at: Option<u64>,
    wall_at: Option<u64>,
    mono_now: u64,
    wall_now: u64,
) -> Option<Duration> {
    let left = match (mono_at, wall_at) {
        (Some(at), _) => at.saturating_sub(mono_now),
        (None, Some(at)) => at.saturating_sub(wall_now),
        (None, None) => return None,
    };
    Some(Duration::from_millis(left))
}

/// CLOCK_MONOTONIC in milliseconds: the clock of `Instant` and of poll(2) timeouts, shared by
/// every process of the system (of a time namespace).
fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a valid, exclusively borrowed buffer.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// `svc start` of a supervised service, under the service lock, after stale files are gone:
/// launches the supervisor and waits for its report on the first launch.
pub fn spawn(life: &Lifecycle, def: &Definition) -> Result<Started, LifecycleError> {
    let state_file = state_path(life, def);
    let _ = pidfile::remove(&state_file);
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let args: Vec<std::ffi::OsString> = [
        "--config-dir".into(),
        abs(&life.dirs.config).into_os_string(),
        "--state-dir".into(),
        abs(&life.dirs.state).into_os_string(),
        "--log-dir".into(),
        abs(&life.dirs.log).into_os_string(),
        "supervise".into(),
        def.name.as_str().into(),
    ]
    .into();
    let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = vec![
        ("PATH".into(), launch::DEFAULT_PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    let under_init = std::env::var("SVC_INIT_PID").ok();
    let output = match &under_init {
        Some(pid) => {
            env.push(("SVC_INIT_PID".into(), pid.into()));
            io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .map_err(lifecycle::failed)?
        }
        None => logsink::open_append(&stderr_path(life, def)).map_err(|e| {
            lifecycle::failed(format!(
                "cannot open {}: {e}",
                stderr_path(life, def).display()
            ))
        })?,
    };
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| lifecycle::failed(io::Error::from(e)))?;
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
        }
        .save(&state_file)
    });
    if let Err(e) = recorded {
        pending.abort();
        let _ = pidfile::remove(&state_file);
        return Err(lifecycle::failed(format!(
            "{}: cannot record the supervisor ({e}); nothing was started",
            def.name
        )));
    }
    pending.release()?;
    // The supervisor waits for readiness itself; allow for that and for undoing a failure.
    let deadline = Instant::now() + def.ready_timeout + def.stop_timeout + Duration::from_secs(10);
    let (report, told) = read_report(report_r, pid, deadline);
    match report {
        Some(line) if told && line.starts_with("ok ") => {
            // Ready just as the switch was cancelled: the supervisor got SIGTERM anyway and
            // stops the service. Wait for that and say so, rather than report a start that
            // is being undone.
            if let Ok(h) = ProcHandle::open(pid, &life.procfs) {
                if !h.wait_exit(Instant::now() + def.stop_timeout + Duration::from_secs(10)) {
                    let _ = h.signal(Signal::SIGKILL);
                }
            }
            launch::reap(pid);
            Err(lifecycle::failed(format!(
                "{}: start cancelled as it became ready (svc was asked to stop); stopped it",
                def.name
            )))
        }
        Some(line) => parse_report(def, &line, pid),
        None => {
            // Died (or hung) before reporting: make sure it is gone, then say so.
            if let Ok(h) = ProcHandle::open(pid, &life.procfs) {
                let _ = h.signal(Signal::SIGKILL);
            }
            launch::reap(pid);
            let _ = pidfile::remove(&state_file);
            Err(lifecycle::failed(format!(
                "{}: the supervisor ended without reporting the launch; see {}",
                def.name,
                stderr_path(life, def).display()
            )))
        }
    }
}

/// The supervisor's report, read until it closes the pipe (or `deadline`), and whether the
/// supervisor was told to stop: when the switch that waits for it is cancelled (SIGTERM, see
/// `process::cancel`) while no report has come, the supervisor gets SIGTERM once — it then
/// gives up its readiness wait, stops the instance and reports that — and the report is still
/// read.
fn read_report(fd: OwnedFd, supervisor: i32, deadline: Instant) -> (Option<String>, bool) {
    let mut file = File::from(fd);
    let mut buf = Vec::new();
    let mut told = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return (None, told);
        }
        let step = (deadline - now).min(Duration::from_millis(100));
        match crate::process::handle::poll_fds(&[file.as_fd()], Some(step)) {
            Ok(true) => {}
            Ok(false) => {
                if !told && buf.is_empty() && crate::process::cancel::requested() {
                    // SAFETY: kill of our own unreaped child: its PID cannot be reused.
                    unsafe { libc::kill(supervisor, libc::SIGTERM) };
                    told = true;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return (None, told),
        }
        let mut chunk = [0u8; 4096];
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    ((!text.is_empty()).then_some(text), told)
}

/// `ok PID` or `err CODE MESSAGE`.
fn parse_report(def: &Definition, line: &str, supervisor: i32) -> Result<Started, LifecycleError> {
    let line = line.trim_end_matches('\n');
    if let Some(pid) = line.strip_prefix("ok ") {
        return pid
            .trim()
            .parse()
            .map(Started::Launched)
            .map_err(|_| lifecycle::failed(format!("{}: garbled supervisor report", def.name)));
    }
    if let Some(rest) = line.strip_prefix("err ") {
        // The supervisor has exited after undoing everything; reap it.
        launch::reap(supervisor);
        let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        let msg = msg.to_string();
        return Err(match code.parse::<i32>().ok() {
            Some(5) => LifecycleError::NotInstalled(msg),
            Some(6) => LifecycleError::NotConfigured(msg),
            Some(4) => LifecycleError::Privilege(msg),
            Some(3) => LifecycleError::Unimplemented(msg),
            _ => LifecycleError::Failed(msg),
        });
    }
    Err(lifecycle::failed(format!(
        "{}: garbled supervisor report: {line}",
        def.name
    )))
}

/// `svc stop` of a supervised service, under the service lock: asks a live supervisor to stop
/// the service and waits for it to exit (SIGKILL after the stop timeout and a grace period);
/// clears a dead one's state. Returns the service PID the supervisor stopped, if any. The
/// caller then stops whatever still runs as for any service.
pub fn stop(life: &Lifecycle, def: &Definition) -> Result<Option<i32>, LifecycleError> {
    let state_file = state_path(life, def);
    let found = find(life, def);
    let Found::Alive { handle, .. } = found else {
        let _ = pidfile::remove(&state_file);
        return Ok(None);
    };
    let running = match life.probe(def) {
        lifecycle::Liveness::Running { handle, .. } => handle.map(|h| h.pid()),
        _ => None,
    };
    handle
        .signal(Signal::SIGTERM)
        .map_err(|e| lifecycle::signal_error(def, "its supervisor", handle.pid(), e))?;
    let deadline = Instant::now() + def.stop_timeout + Duration::from_secs(10);
    if !handle.wait_exit(deadline) {
        let _ = handle.signal(Signal::SIGKILL);
        handle.wait_exit(Instant::now() + Duration::from_secs(5));
    }
    // Ours only when this very process started it (svc restart in one run).
    launch::reap_nohang(handle.pid());
    let _ = pidfile::remove(&state_file);
    Ok(running)
}

/// The supervisor's bookkeeping and loop (runs in the `svc supervise NAME` process).
struct Supervisor<'a> {
    life: &'a Lifecycle,
    def: &'a Definition,
    policy: Respawn,
    state_file: PathBuf,
    state: SuperState,
    signals: SignalFd,
    /// The service's output pipe (read end, write end); `None` with `log: none`.
    pipe: Option<(File, File)>,
    sink: Option<LogSink>,
    /// The running instance: its handle, process group, PID and launch time.
    child: Option<(ProcHandle, i32, Instant)>,
    restarts: VecDeque<Instant>,
    backoff: Duration,
    retry_at: Option<Instant>,
    stopping: bool,
    /// The prepared launch, reused by restarts.
    template: Option<Launch>,
    /// When an idle supervisor gives back its pages again after a restart.
    shed_at: Option<Instant>,
}

/// Writes a line on the supervisor's stderr: `svc supervise NAME: message`.
fn say(name: &str, msg: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "{} svc supervise {name}: {msg}",
        crate::securelog::rfc3339(SystemTime::now())
    );
}

/// The `svc supervise NAME` process. Returns its exit code.
pub fn run(life: &Lifecycle, def: &Definition) -> Code {
    // SAFETY: fd 3 was placed there by `spawn` (the launcher's fd3); nobody else owns it. If
    // it is not open (run by hand), writes to it fail harmlessly.
    let report = unsafe { File::from_raw_fd(REPORT_FD) };
    let valid_report = nix::fcntl::fcntl(report.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).is_ok();
    let mut report = if valid_report {
        let _ = nix::fcntl::fcntl(
            report.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        Some(report)
    } else {
        std::mem::forget(report);
        None
    };
    let mut tell = |line: &str| {
        if let Some(mut r) = report.take() {
            let _ = r.write_all(line.as_bytes());
        }
    };
    let fail = |tell: &mut dyn FnMut(&str), e: &LifecycleError| {
        say(def.name.as_str(), &e.to_string());
        let code = crate::exit::HasCode::code(e).as_i32();
        tell(&format!("err {code} {e}\n"));
    };
    let mut sup = match Supervisor::new(life, def) {
        Ok(s) => s,
        Err(e) => {
            fail(&mut tell, &e);
            let _ = pidfile::remove(&state_path(life, def));
            return Code::Failure;
        }
    };
    // SIGTERM (from `svc stop`, or a switch that was cancelled while it waits for the report)
    // waits in the signalfd: it also ends the first launch's readiness wait.
    crate::process::cancel::watch_pending();
    match sup.first_launch() {
        Ok(pid) => {
            tell(&format!("ok {pid}\n"));
            crate::process::memory::shed_startup_pages();
        }
        Err(e) => {
            fail(&mut tell, &e);
            sup.drain_pipe();
            let _ = pidfile::remove(&sup.state_file);
            return Code::Failure;
        }
    }
    sup.run_loop()
}

impl<'a> Supervisor<'a> {
    fn new(life: &'a Lifecycle, def: &'a Definition) -> Result<Supervisor<'a>, LifecycleError> {
        let policy = def.respawn.unwrap_or_default();
        let state_file = state_path(life, def);
        let state = SuperState::load(&state_file)
            .filter(|s| s.supervisor.pid == std::process::id() as i32)
            .ok_or_else(|| {
                lifecycle::failed(format!(
                    "{}: no supervisor record for this process in {}; start the service with `svc start`",
                    def.name,
                    state_file.display()
                ))
            })?;
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGCHLD,
            Signal::SIGPIPE,
        ] {
            mask.add(s);
        }
        mask.thread_block()
            .map_err(|e| lifecycle::failed(io::Error::from(e)))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| lifecycle::failed(io::Error::from(e)))?;
        set_name(def.name.as_str());
        let (pipe, sink) = match def.log_path(&life.dirs) {
            Some(path) => {
                if path.parent() == Some(life.dirs.log.as_path()) {
                    // Created now if possible; if not, the sink holds output and retries.
                    let _ = life.dirs.ensure_log();
                }
                let (r, w) = nix::unistd::pipe2(
                    nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK,
                )
                .map_err(|e| lifecycle::failed(io::Error::from(e)))?;
                // The write end blocks (the service's writes wait rather than fail); a bigger
                // pipe rides out a slow disk or a stop.
                let _ = nix::fcntl::fcntl(
                    w.as_raw_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
                );
                let _ =
                    nix::fcntl::fcntl(r.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
                let name = def.name.to_string();
                let sink = LogSink::new(
                    path,
                    def.log_max_size,
                    def.log_keep,
                    Box::new(move |m| say(&name, m)),
                )
                .with_timestamps(def.log_timestamps);
                (Some((File::from(r), File::from(w))), Some(sink))
            }
            None => (None, None),
        };
        Ok(Supervisor {
            life,
            def,
            policy,
            state_file,
            state,
            signals,
            pipe,
            sink,
            child: None,
            restarts: VecDeque::new(),
            backoff: policy.backoff,
            retry_at: None,
            stopping: false,
            template: None,
            shed_at: None,
        })
    }

    fn save(&self) {
        if let Err(e) = self.state.save(&self.state_file) {
            say(
                self.def.name.as_str(),
                &format!("cannot write {}: {e}", self.state_file.display()),
            );
        }
    }

    /// Launches one instance (identity record and PID file written before exec). The first
    /// launch prepares it (program, credentials, environment); restarts reuse that, so a
    /// restart costs a fork, the records and an exec.
    fn launch(
        &mut self,
    ) -> Result<(lifecycle::Launched, Option<crate::ready::NotifySocket>), LifecycleError> {
        let piped = match &self.pipe {
            Some((r, w)) => Some((
                w.try_clone().map_err(lifecycle::failed)?,
                OwnedFd::from(r.try_clone().map_err(lifecycle::failed)?),
            )),
            None => None,
        };
        let (launch, notify) = match &self.template {
            Some(t) => {
                let mut l = t.without_fds();
                if let Some((w, r)) = piped {
                    l.output = Some(w);
                    l.fd3 = Some(r);
                } else if let Some(p) = self.def.log_path(&self.life.dirs) {
                    l.output = Some(logsink::open_append(&p).map_err(lifecycle::failed)?);
                }
                (l, None)
            }
            None => {
                let exec = lifecycle::startable(self.def)?;
                let (l, notify) = self.life.prepare(self.def, exec, piped)?;
                self.template = Some(l.without_fds());
                (l, notify)
            }
        };
        let launched = self.life.launch_direct(self.def, launch)?;
        Ok((launched, notify))
    }

    /// The first instance: launched and, with `ready:`, waited for — while a thread keeps the
    /// log flowing — then reported to `svc start`.
    fn first_launch(&mut self) -> Result<i32, LifecycleError> {
        let (launched, notify) = self.launch()?;
        let (handle, pgid, pid) = (
            ProcHandle::open(launched.main.pid(), &self.life.procfs).map_err(lifecycle::failed)?,
            launched.record.pgid,
            launched.main.pid(),
        );
        let deadline = Instant::now() + self.def.ready_timeout;
        let log = self.def.log_path(&self.life.dirs);
        let (life, def) = (self.life, self.def);
        let result = with_pump(&self.pipe, self.sink.as_mut(), || {
            life.settle(def, launched, notify.as_ref(), deadline, log.as_deref())
        });
        result?;
        self.child = Some((handle, pgid, Instant::now()));
        self.state.phase = Phase::Running;
        self.save();
        Ok(pid)
    }

    fn run_loop(&mut self) -> Code {
        loop {
            let now = Instant::now();
            let mut timeout = [self.retry_at, self.shed_at]
                .into_iter()
                .flatten()
                .min()
                .map(|t| t.saturating_duration_since(now));
            if self.sink.as_ref().is_some_and(|s| s.is_failing()) {
                let retry = Duration::from_secs(1);
                timeout = Some(timeout.map_or(retry, |t| t.min(retry)));
            }
            let mut fds = vec![self.signals.as_fd()];
            if let Some((r, _)) = &self.pipe {
                fds.push(r.as_fd());
            }
            match crate::process::handle::poll_fds(&fds, timeout) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    say(self.def.name.as_str(), &format!("poll failed: {e}"));
                    return Code::Failure;
                }
            }
            let mut exited = false;
            while let Ok(Some(si)) = self.signals.read_signal() {
                match Signal::try_from(si.ssi_signo as i32) {
                    Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => self.stopping = true,
                    Ok(Signal::SIGCHLD) => exited = true,
                    Ok(Signal::SIGHUP) => {
                        if let Some(s) = &mut self.sink {
                            s.reopen();
                        }
                    }
                    _ => {}
                }
            }
            self.drain_pipe();
            if let Some(s) = self.sink.as_mut() {
                if s.is_failing() {
                    s.flush();
                }
            }
            if exited {
                self.reap();
            }
            if self.stopping {
                self.stop_service();
                return Code::Success;
            }
            if self.state.phase == Phase::Failed {
                self.drain_pipe();
                return Code::Failure;
            }
            if self.child.is_none() && self.retry_at.is_some_and(|t| Instant::now() >= t) {
                self.restart(None);
            }
            if self.shed_at.is_some_and(|t| Instant::now() >= t) {
                self.shed_at = None;
                crate::process::memory::shed_startup_pages();
            }
        }
    }

    /// Reads everything the pipe holds into the log.
    fn drain_pipe(&mut self) {
        if let (Some((r, _)), Some(sink)) = (&self.pipe, self.sink.as_mut()) {
            pump(r, sink);
        }
    }

    /// Collects exited children; reacts when the service's instance is among them.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on any child with a valid status pointer, without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if self.child.as_ref().is_some_and(|(h, _, _)| h.pid() == pid) {
                use std::os::unix::process::ExitStatusExt;
                let (_, pgid, started) = self.child.take().expect("checked");
                self.exited(
                    pid,
                    pgid,
                    started.elapsed(),
                    LastExit::from_status(std::process::ExitStatus::from_raw(status)),
                );
            }
        }
    }

    /// The instance ended on its own: clean up after it, then restart it, schedule a restart
    /// or give up. An immediate restart comes first and the bookkeeping after it, so the
    /// service is back as soon as possible (its new record and PID file replace the old ones).
    fn exited(&mut self, pid: i32, pgid: i32, ran: Duration, how: LastExit) {
        let name = self.def.name.as_str();
        let what = format!("process {pid} {} after {ran:.1?}", how.describe());
        self.state.last_exit = Some(how);
        // What the instance left in its process group goes, before the next one starts and also
        // when a stop arrived together with the exit (the stop then finds no child to end).
        self.life.clear_group(pgid, self.def);
        match (self.stopping, self.next_delay(ran)) {
            (false, Some(d)) if d.is_zero() => self.restart(Some(what)),
            (stopping, delay) => {
                say(name, &what);
                let pidfile_path = self.def.pidfile(&self.life.dirs);
                if matches!(pidfile::read(&pidfile_path, self.life.procfs.pid_max()), PidFile::Pid(p) if p == pid)
                {
                    let _ = pidfile::remove(&pidfile_path);
                }
                let _ = pidfile::remove(&self.life.dirs.record(&self.def.name));
                if !stopping {
                    self.wait_or_give_up(delay);
                }
            }
        }
    }

    /// How long to wait before the next restart; `None`: too many restarts, give up.
    fn next_delay(&mut self, ran: Duration) -> Option<Duration> {
        let now = Instant::now();
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.policy.window)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() >= self.policy.max as usize {
            return None;
        }
        Some(if ran >= STABLE_AFTER {
            self.backoff = self.policy.backoff;
            Duration::ZERO
        } else {
            let d = self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            d
        })
    }

    /// Enters the backoff wait (a zero delay restarts at once) or the failed state.
    fn wait_or_give_up(&mut self, delay: Option<Duration>) {
        let Some(delay) = delay else {
            self.state.phase = Phase::Failed;
            self.state.retry_at_ms = None;
            self.state.retry_at_mono_ms = None;
            self.save();
            say(
                self.def.name.as_str(),
                &format!(
                    "giving up: {} restarts within {:?}; the service is failed until the next start or stop",
                    self.restarts.len(),
                    self.policy.window
                ),
            );
            return;
        };
        if delay.is_zero() {
            self.restart(None);
            return;
        }
        self.retry_at = Some(Instant::now() + delay);
        self.state.phase = Phase::Backoff;
        self.state.retry_at_ms = Some(now_ms() + delay.as_millis() as u64);
        self.state.retry_at_mono_ms = Some(monotonic_ms() + delay.as_millis() as u64);
        self.save();
    }

    /// Launches the next instance; `why` (how the last one ended) goes into the same message,
    /// written after the launch.
    fn restart(&mut self, why: Option<String>) {
        self.retry_at = None;
        self.restarts.push_back(Instant::now());
        self.state.restarts += 1;
        match self.launch() {
            Ok((launched, _notify)) => {
                let pid = launched.main.pid();
                self.child = Some((launched.main, launched.record.pgid, Instant::now()));
                self.state.phase = Phase::Running;
                self.state.retry_at_ms = None;
                self.state.retry_at_mono_ms = None;
                self.save();
                say(
                    self.def.name.as_str(),
                    &format!(
                        "{}restarted as process {pid} (restart {})",
                        why.map(|w| w + "; ").unwrap_or_default(),
                        self.state.restarts
                    ),
                );
                // Keep the restart path's pages while restarts may follow; give them back
                // once the service has been quiet for a while.
                self.shed_at = Some(Instant::now() + SHED_AFTER);
            }
            Err(e) => {
                if let Some(w) = why {
                    say(self.def.name.as_str(), &w);
                }
                self.state.last_exit = Some(LastExit {
                    code: None,
                    signal: None,
                    error: Some(e.to_string()),
                });
                say(self.def.name.as_str(), &format!("restart failed: {e}"));
                self.life.forget(self.def);
                let delay = self.next_delay(Duration::ZERO);
                self.wait_or_give_up(delay);
            }
        }
    }

    /// SIGTERM: stop the instance the way `svc stop` does, remove the records, keep the log.
    fn stop_service(&mut self) {
        if let Some((handle, pgid, _)) = self.child.take() {
            let pid = handle.pid();
            // The log keeps flowing while the service shuts down: what it writes then must
            // neither be lost nor block it.
            let (life, def) = (self.life, self.def);
            let stopped = with_pump(&self.pipe, self.sink.as_mut(), || {
                life.terminate(&handle, pgid, def)
            });
            if let Err(e) = stopped {
                say(self.def.name.as_str(), &e.to_string());
            }
            launch::reap(pid);
            let pidfile_path = self.def.pidfile(&self.life.dirs);
            if matches!(pidfile::read(&pidfile_path, self.life.procfs.pid_max()), PidFile::Pid(p) if p == pid)
            {
                let _ = pidfile::remove(&pidfile_path);
            }
            let _ = pidfile::remove(&self.life.dirs.record(&self.def.name));
        }
        self.drain_pipe();
        if let Some(s) = self.sink.as_mut() {
            s.flush();
        }
        let _ = pidfile::remove(&self.state_file);
    }
}

/// Runs `work` while a thread moves the service's output into the log (for the waits of the
/// first launch and of a stop, which would otherwise leave the pipe unread).
fn with_pump<T>(
    pipe: &Option<(File, File)>,
    sink: Option<&mut LogSink>,
    work: impl FnOnce() -> T,
) -> T {
    let (Some((r, _)), Some(sink)) = (pipe, sink) else {
        return work();
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop = &stop;
        let pumping = s.spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ =
                    crate::process::handle::poll_fds(&[r.as_fd()], Some(Duration::from_millis(50)));
                pump(r, sink);
            }
            pump(r, sink);
        });
        let out = work();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = pumping.join();
        out
    })
}

/// Moves what the (non-blocking) pipe holds into the sink.
fn pump(mut r: &File, sink: &mut LogSink) {
    let mut buf = [0u8; 65536];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => sink.write(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Names the process `svc:NAME` in ps/top (15 bytes at most).
fn set_name(name: &str) {
    let mut title = format!("svc:{name}").into_bytes();
    title.truncate(15);
    title.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from a valid buffer.
    unsafe { libc::prctl(libc::PR_SET_NAME, title.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: u64 = 1_800_000_000_000;

    #[test]
    fn the_countdown_runs_on_the_monotonic_clock() {
        // Stored at wall WALL + 30 s and monotonic 530 s; the wall clock then went back an hour.
        let (mono_at, wall_at) = (Some(530_000), Some(WALL + 30_000));
        let wall_now = WALL - 3_600_000;
        assert_eq!(
            countdown(mono_at, wall_at, 500_000, wall_now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            countdown(mono_at, wall_at, 540_000, wall_now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_older_state_file_counts_down_on_the_wall_clock() {
        assert_eq!(
            countdown(None, Some(WALL + 30_000), 500_000, WALL + 10_000),
            Some(Duration::from_secs(20))
        );
        assert_eq!(countdown(None, None, 1, 1), None);
    }
}
