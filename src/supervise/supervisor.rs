//! The supervisor process, `svc supervise NAME` (docs/services.md, "Supervised services: respawn"):
//! launches the service, reports the first launch to `svc start` ([`report`](super::report)), then
//! sleeps in poll(2) on a signalfd and the service's output pipe, restarting the service when it
//! exits (with backoff, giving up after `max` restarts within `window`), copying its output into
//! the log ([`LogSink`]), running its health check (restarting it when it is unhealthy) and
//! stopping it on SIGTERM.
//!
//! How an instance is launched and made ready is the exec kind's business, which lives above
//! this module: `svc supervise` passes it in as an [`Instances`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::definition::{Definition, HealthCheck, Respawn};
use crate::exit::{Code, HasCode};
use crate::paths::Dirs;
use crate::process::cgroup::Cgroup;
use crate::process::group::{self, Groups};
use crate::process::handle::ProcHandle;
use crate::process::pidfile::{self, PidFile};
use crate::process::procfs::Procfs;
use crate::process::reap;
use crate::process::sigfd;
use crate::supervise::health;
use crate::supervise::logsink::LogSink;
use crate::supervise::report;
use crate::supervise::state::{
    monotonic_ms, now_ms, state_path, Health, LastExit, Phase, SuperState,
};
use crate::supervise::{MAX_BACKOFF, REPORT_FD, SHED_AFTER, STABLE_AFTER};

/// The service's output pipe: (read end, write end). An instance gets the write end as its
/// stdout and stderr and keeps the read end open as its fd 3, so that its writes wait in the
/// pipe while no supervisor reads.
pub type Pipe = (File, File);

/// How the supervisor launches instances of its service: given by the caller of [`run`] (the
/// exec kind's launch, in `crate::lifecycle`), so that this module does not depend on it.
pub trait Instances {
    /// Why a launch failed: printed, and its LSB code reported to `svc start`.
    type Error: std::fmt::Display + HasCode;
    /// Launches the first instance (preparing the program, credentials and environment once)
    /// and waits for it to be ready; returns its main process and process group.
    fn first(&mut self, pipe: Option<&Pipe>) -> Result<(ProcHandle, i32), Self::Error>;
    /// Launches another instance from what `first` prepared, without waiting for readiness.
    fn again(&mut self, pipe: Option<&Pipe>) -> Result<(ProcHandle, i32), Self::Error>;
    /// Runs a health check's `exec` command the service's way (its user and environment),
    /// killing its process group at `timeout`; `Err` says how it failed.
    fn check(&mut self, argv: &[String], timeout: Duration) -> Result<(), String>;
}

/// A failure of the supervisor itself before the first launch.
struct SetupError(String);

/// The supervisor's bookkeeping and loop (runs in the `svc supervise NAME` process).
struct Supervisor<'a, I: Instances> {
    dirs: &'a Dirs,
    procfs: &'a Procfs,
    def: &'a Definition,
    instances: I,
    /// svc's own process and its ancestors when first needed: their groups are never
    /// signalled.
    spared: std::sync::OnceLock<Vec<i32>>,
    policy: Respawn,
    state_file: PathBuf,
    state: SuperState,
    signals: SignalFd,
    /// The service's output pipe (read end, write end); `None` with `log: none`.
    pipe: Option<Pipe>,
    sink: Option<LogSink>,
    /// The running instance: its handle, process group, PID and launch time.
    child: Option<(ProcHandle, i32, Instant)>,
    restarts: VecDeque<Instant>,
    backoff: Duration,
    retry_at: Option<Instant>,
    stopping: bool,
    /// When an idle supervisor gives back its pages again after a restart.
    shed_at: Option<Instant>,
    /// With a `health` check: when the next one is due (while an instance runs), and how many
    /// counted checks failed in a row.
    next_check: Option<Instant>,
    failures: u32,
}

/// Writes a line on the supervisor's stderr: `svc supervise NAME: message`.
fn say(name: &str, msg: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "{} svc supervise {name}: {msg}",
        crate::clock::rfc3339(SystemTime::now())
    );
}

/// The `svc supervise NAME` process. Returns its exit code.
pub fn run<I: Instances>(dirs: &Dirs, procfs: &Procfs, def: &Definition, instances: I) -> Code {
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
    let fail = |tell: &mut dyn FnMut(&str), code: Code, e: &dyn std::fmt::Display| {
        say(def.name.as_str(), &e.to_string());
        tell(&report::failed(code.as_i32(), e));
    };
    let mut sup = match Supervisor::new(dirs, procfs, def, instances) {
        Ok(s) => s,
        Err(SetupError(e)) => {
            fail(&mut tell, Code::Failure, &e);
            let _ = pidfile::remove(&state_path(dirs, def));
            return Code::Failure;
        }
    };
    // SIGTERM (from `svc stop`, or a switch that was cancelled while it waits for the report)
    // waits in the signalfd: it also ends the first launch's readiness wait.
    crate::process::cancel::watch_pending();
    match sup.first_launch() {
        Ok(pid) => {
            tell(&report::launched(pid));
            crate::process::memory::shed_startup_pages();
        }
        Err(e) => {
            fail(&mut tell, e.code(), &e);
            sup.drain_pipe();
            let _ = pidfile::remove(&sup.state_file);
            return Code::Failure;
        }
    }
    sup.run_loop()
}

impl<'a, I: Instances> Supervisor<'a, I> {
    fn new(
        dirs: &'a Dirs,
        procfs: &'a Procfs,
        def: &'a Definition,
        instances: I,
    ) -> Result<Supervisor<'a, I>, SetupError> {
        let policy = def.respawn.unwrap_or_default();
        let state_file = state_path(dirs, def);
        let state = SuperState::load(&state_file)
            .filter(|s| s.supervisor.pid == std::process::id() as i32)
            .ok_or_else(|| {
                SetupError(format!(
                    "{}: no supervisor record for this process in {}; start the service with `svc start`",
                    def.name,
                    state_file.display()
                ))
            })?;
        let os = |e: nix::Error| SetupError(io::Error::from(e).to_string());
        let signals = sigfd::open(&[
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGCHLD,
            Signal::SIGPIPE,
        ])
        .map_err(|e| os(e.errno()))?;
        set_name(def.name.as_str());
        let (pipe, sink) = match def.log_path(dirs) {
            Some(path) => {
                if path.parent() == Some(dirs.log.as_path()) {
                    // Created now if possible; if not, the sink holds output and retries.
                    let _ = dirs.ensure_log();
                }
                let (r, w) = nix::unistd::pipe2(
                    nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK,
                )
                .map_err(os)?;
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
            dirs,
            procfs,
            def,
            instances,
            spared: std::sync::OnceLock::new(),
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
            shed_at: None,
            next_check: None,
            failures: 0,
        })
    }

    /// Signals process groups, sparing svc's own and its ancestors'.
    fn groups(&self) -> Groups<'_> {
        Groups::new(self.procfs, spared(&self.spared, self.procfs))
    }

    /// Removes the record of the instance `pid` and its PID file while it names it.
    fn remove_files(&self, pid: i32) {
        let pidfile_path = self.def.pidfile(self.dirs);
        if matches!(pidfile::read(&pidfile_path, self.procfs.pid_max()), PidFile::Pid(p) if p == pid)
        {
            let _ = pidfile::remove(&pidfile_path);
        }
        let _ = pidfile::remove(&self.dirs.record(&self.def.name));
    }

    /// Records the phase and when the next restart is due (in the state file, on both clocks).
    fn enter(&mut self, phase: Phase, retry_in: Option<Duration>) {
        let ms = |d: Duration| d.as_millis() as u64;
        self.state.phase = phase;
        self.state.retry_at_ms = retry_in.map(|d| now_ms() + ms(d));
        self.state.retry_at_mono_ms = retry_in.map(|d| monotonic_ms() + ms(d));
        self.save();
    }

    fn save(&self) {
        if let Err(e) = self.state.save(&self.state_file) {
            say(
                self.def.name.as_str(),
                &format!("cannot write {}: {e}", self.state_file.display()),
            );
        }
    }

    /// The first instance: launched and, with `ready:`, waited for — while a thread keeps the
    /// log flowing — then reported to `svc start`.
    fn first_launch(&mut self) -> Result<i32, I::Error> {
        let (pipe, instances) = (&self.pipe, &mut self.instances);
        let (handle, pgid) =
            with_pump(pipe, self.sink.as_mut(), || instances.first(pipe.as_ref()))?;
        let pid = handle.pid();
        self.child = Some((handle, pgid, Instant::now()));
        self.state.phase = Phase::Running;
        self.checks_from_start();
        self.save();
        Ok(pid)
    }

    fn run_loop(&mut self) -> Code {
        loop {
            let now = Instant::now();
            let next_check = self.next_check.filter(|_| self.child.is_some());
            let mut timeout = [self.retry_at, self.shed_at, next_check]
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
            if self.child.is_some() && self.next_check.is_some_and(|t| Instant::now() >= t) {
                self.health_check();
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
        self.groups()
            .clear(pgid, self.def.stop_signal, self.def.stop_timeout);
        // And what it left in its cgroup (SPEC §8.7), setsid children included.
        if let Some(cg) = Cgroup::of(&self.dirs.state, name) {
            let soft = std::time::Instant::now() + self.def.stop_timeout;
            let _ = cg.end(
                self.procfs,
                self.def.stop_signal,
                soft,
                &[std::process::id() as i32],
            );
        }
        match (self.stopping, self.next_delay(ran)) {
            (false, Some(d)) if d.is_zero() => self.restart(Some(what)),
            (stopping, delay) => {
                say(name, &what);
                self.remove_files(pid);
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
            self.enter(Phase::Failed, None);
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
        self.enter(Phase::Backoff, Some(delay));
    }

    /// Launches the next instance; `why` (how the last one ended) goes into the same message,
    /// written after the launch.
    fn restart(&mut self, why: Option<String>) {
        self.retry_at = None;
        self.restarts.push_back(Instant::now());
        self.state.restarts += 1;
        match self.instances.again(self.pipe.as_ref()) {
            Ok((main, pgid)) => {
                let pid = main.pid();
                self.child = Some((main, pgid, Instant::now()));
                self.checks_from_start();
                self.enter(Phase::Running, None);
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
                let _ = pidfile::remove(&self.dirs.record(&self.def.name));
                let _ = pidfile::remove(&self.def.pidfile(self.dirs));
                let delay = self.next_delay(Duration::ZERO);
                self.wait_or_give_up(delay);
            }
        }
    }

    /// A new instance runs: its health is `starting`, its first check one `interval` away
    /// (the last failure stays in `health_error` until a check passes).
    fn checks_from_start(&mut self) {
        if let Some(h) = &self.def.health {
            self.failures = 0;
            self.state.health = Some(Health::Starting);
            self.next_check = Some(Instant::now() + h.interval);
        }
    }

    /// Runs the health check once (for at most its timeout; an `exec` check's output keeps
    /// flowing into the log meanwhile) and acts on the result: after `retries` counted
    /// failures in a row the service is unhealthy and is stopped and restarted.
    fn health_check(&mut self) {
        let (Some(h), Some((_, _, started))) = (self.def.health.as_ref(), self.child.as_ref())
        else {
            return;
        };
        let started = *started;
        let result = match &h.check {
            HealthCheck::Tcp { host, port } => health::tcp(host, *port, h.timeout),
            HealthCheck::Http {
                url,
                host,
                port,
                path,
            } => health::http(url, host, *port, path, h.timeout),
            HealthCheck::Exec(argv) => {
                let (pipe, instances) = (&self.pipe, &mut self.instances);
                with_pump(pipe, self.sink.as_mut(), || {
                    instances.check(argv, h.timeout)
                })
            }
        };
        self.next_check = Some(Instant::now() + h.interval);
        match result {
            Ok(()) => {
                self.failures = 0;
                if self.state.health != Some(Health::Healthy) || self.state.health_error.is_some() {
                    self.state.health = Some(Health::Healthy);
                    self.state.health_error = None;
                    self.save();
                }
            }
            Err(e) => {
                self.state.health_error = Some(e.clone());
                // Failures within start_period of the start do not count.
                if started.elapsed() >= h.start_period {
                    self.failures += 1;
                }
                if self.failures < h.retries {
                    self.save();
                    return;
                }
                self.state.health = Some(Health::Unhealthy);
                self.save();
                self.unhealthy(&e);
            }
        }
    }

    /// The service failed `retries` checks in a row: stop its instance the way `svc stop`
    /// does, then treat it as an exit (restart, counting toward `max` within `window`).
    fn unhealthy(&mut self, reason: &str) {
        let Some((handle, pgid, started)) = self.child.take() else {
            return;
        };
        self.next_check = None;
        let pid = handle.pid();
        let retries = self.def.health.as_ref().map_or(0, |h| h.retries);
        say(
            self.def.name.as_str(),
            &format!("unhealthy: {retries} failed health checks in a row, the last: {reason}; stopping process {pid}"),
        );
        let how = match self.terminate(&handle, pgid) {
            Some(status) => LastExit::from_status(status),
            None => LastExit {
                code: None,
                signal: None,
                error: None,
            },
        };
        self.exited(pid, pgid, started.elapsed(), how);
    }

    /// Stops the instance the way `svc stop` does (stop_signal, SIGCONT, KILL to its group after
    /// stop_timeout) and reaps it. The log keeps flowing while the service shuts down: what it
    /// writes then must neither be lost nor block it.
    fn terminate(&mut self, handle: &ProcHandle, pgid: i32) -> Option<std::process::ExitStatus> {
        let spared = spared(&self.spared, self.procfs);
        let (groups, def) = (Groups::new(self.procfs, spared), self.def);
        let stopped = with_pump(&self.pipe, self.sink.as_mut(), || {
            groups.terminate(handle, pgid, def.stop_signal, def.stop_timeout)
        });
        if let Err(e) = stopped {
            say(def.name.as_str(), &format!("{}: {e}", def.name));
        }
        reap::reap(handle.pid())
    }

    /// SIGTERM: stop the instance the way `svc stop` does, remove the records, keep the log.
    fn stop_service(&mut self) {
        if let Some((handle, pgid, _)) = self.child.take() {
            let pid = handle.pid();
            self.terminate(&handle, pgid);
            self.remove_files(pid);
        }
        self.drain_pipe();
        if let Some(s) = self.sink.as_mut() {
            s.flush();
        }
        let _ = pidfile::remove(&self.state_file);
    }
}

/// svc's own process and its ancestors, found the first time they are needed (as the
/// lifecycle does).
fn spared<'a>(cell: &'a std::sync::OnceLock<Vec<i32>>, procfs: &Procfs) -> &'a [i32] {
    cell.get_or_init(|| group::ancestors(procfs))
}

/// Runs `work` while a thread moves the service's output into the log (for the waits of the
/// first launch and of a stop, which would otherwise leave the pipe unread).
fn with_pump<T>(pipe: &Option<Pipe>, sink: Option<&mut LogSink>, work: impl FnOnce() -> T) -> T {
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
    // A service name holds no NUL byte; if one did, the process keeps its name.
    if let Ok(title) = std::ffi::CString::new(title) {
        let _ = nix::sys::prctl::set_name(&title);
    }
}
