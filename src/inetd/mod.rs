//! The super daemon (docs/inetd.md, "The super daemon"): one `poll(2)` loop over the services'
//! sockets, a signalfd and the self-pipe of the access checks that run on threads ([`lookup`]).
//!
//! - `wait: false` TCP: every accepted connection goes through the per-client rate limit
//!   (`cps`), the access check ([`crate::access`]), then the `instances` and `per_source`
//!   limits; a refused connection is closed at once, an allowed one is handed to a fresh
//!   process of the service as stdin and stdout: the service's launch is prepared once
//!   ([`template`]) and forked per connection, and the loop goes on without waiting for the
//!   server's exec — its outcome arrives on a pipe the loop polls, and a failed exec is
//!   reported then. Every
//!   decision is one line of the secure log ([`crate::securelog`]). The limits count live
//!   servers ([`servers`]): a connection kept out only by servers that have already let go of
//!   their own connection waits (parked, not blocking the loop) up to [`admit::FINISH_GRACE`] for
//!   their exit.
//! - `wait: true` (TCP or UDP): the socket itself is handed to one process and svc stops
//!   polling it until that process exits. For UDP, svc first peeks at the waking datagram's
//!   source and applies the access check to it (a denied datagram is dropped); a TCP wait
//!   service has no client before its server accepts, so it gets no per-client check.
//! - Signals arrive on a signalfd (they stay blocked, so nothing runs in a handler and a
//!   storm of them coalesces): SIGCHLD reaps every exited child at once, SIGHUP re-reads the
//!   definitions and the access rules, SIGTERM/SIGINT stop listening, end the servers and exit.
//!
//! Nothing in the loop waits on a client: accepted sockets are only passed on, and a spawned
//! `spawn` command of an access rule runs detached (stdin, stdout, stderr `/dev/null`), reaped
//! like the servers. Nor on a resolver: a check that needs host names runs on a thread with
//! bounded lookups ([`lookup`]) while the connection waits, counted by the limits.
//!
//! Here: the daemon's state, the loop, the signals, accepting and handing over connections,
//! shutdown. Reading the configuration into it (at start and on SIGHUP) is `apply`; the
//! admission of a connection the limits keep out for now is `admit`.

mod admit;
mod apply;
pub mod limits;
pub mod listen;
pub mod lookup;
pub mod servers;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::access::{Rules, Verdict};
use crate::definition::{self, Definition, DefinitionError, Kind, Protocol};
use crate::lifecycle::Lifecycle;
use crate::process::cgroup::Cgroup;
use crate::process::group::KILL_GRACE;
use crate::process::launch::{ExecWatch, Launch};
use crate::process::sigfd::{self, SigfdError};
use crate::securelog::{Decision, SecureLog};
use admit::Parked;
use apply::load_rules;
use limits::Rates;
use listen::Listener;
use lookup::{Checks, NoLookup, MAX_PENDING};
use servers::{signal_server, Child, Servers};
use template::Template;

/// Connections accepted from one listener before the loop looks at the others again.
const ACCEPT_BATCH: usize = 32;
/// How long a listener rests after accept failed for lack of descriptors or memory (F4): the
/// loop never spins on EMFILE.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Descriptors (of `/dev/null`) held in reserve and released around each launch, so a server
/// can still be started when accepted connections have used every other descriptor (F4).
const RESERVE_FDS: usize = 8;

/// One served service.
#[derive(Debug)]
struct Service {
    def: Definition,
    /// `None` when the socket could not be bound (reported; retried on SIGHUP).
    listener: Option<Listener>,
    /// Identifies the bound socket, so a wait-mode server is tied to the socket it holds.
    socket_id: u64,
    rates: Rates,
    /// Accept failed for lack of resources: not polled until then.
    paused_until: Option<Instant>,
    /// A UDP service whose waking datagram is being checked: not polled meanwhile.
    checking: bool,
    /// The launch prepared for its connections; `None` until the first one, and again after
    /// SIGHUP or a server that failed to start.
    template: Option<Template>,
}

/// A client waiting for an access check that needs host names.
#[derive(Debug)]
struct Pending {
    service: String,
    client: SocketAddr,
    /// The connection (`wait: false`); `None` for the waking datagram of a UDP service.
    conn: Option<TcpStream>,
    /// The UDP socket the datagram waits on.
    socket_id: u64,
}

/// What the configuration directory holds for one name.
enum Loaded {
    Served(Box<Definition>),
    NotOnDemand,
    Broken(String),
}

/// The super daemon.
pub struct Daemon<'a> {
    life: &'a Lifecycle,
    services: BTreeMap<String, Service>,
    children: Servers,
    parked: Vec<Parked>,
    rules: Arc<Rules>,
    /// Checks running on threads, and the clients waiting for them.
    checks: Checks,
    pending: HashMap<u64, Pending>,
    log: SecureLog,
    signals: SignalFd,
    next_socket: u64,
    /// Accept errors already reported (one message per kind until a success).
    accept_reported: bool,
    /// See [`RESERVE_FDS`].
    reserve: Vec<std::fs::File>,
    /// Servers released but not yet known to have exec'd, with their service's name.
    starting: Vec<(ExecWatch, String)>,
    /// The cgroups of services no longer served whose servers still ran when SIGHUP removed
    /// them: removed once empty (after a reap) or at shutdown.
    retired: Vec<Cgroup>,
}

fn warn(msg: impl std::fmt::Display) {
    eprintln!("svc: inetd: {msg}");
}

/// The signals the daemon handles, blocked and read from a signalfd.
const HANDLED: [Signal; 4] = [
    Signal::SIGCHLD,
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGINT,
];

/// Runs the super daemon until SIGTERM or SIGINT. `on_ready` is called once every service that
/// can be served listens, with their number. Fails (before `on_ready`) when no service can be
/// served.
pub fn serve(life: &Lifecycle, on_ready: &mut dyn FnMut(usize)) -> Result<(), String> {
    let signals = sigfd::open(&HANDLED).map_err(|e| match e {
        SigfdError::Block(e) => format!("cannot block signals: {e}"),
        SigfdError::Create(e) => format!("cannot create a signalfd: {e}"),
    })?;
    if let Err(e) = life.dirs.ensure_log() {
        warn(format_args!(
            "cannot create the log directory {}: {e}",
            life.dirs.log.display()
        ));
    }
    let mut d = Daemon {
        life,
        services: BTreeMap::new(),
        children: Servers::default(),
        parked: Vec::new(),
        rules: Arc::new(load_rules(&life.dirs.config)),
        checks: Checks::new().map_err(|e| format!("cannot create a pipe: {e}"))?,
        pending: HashMap::new(),
        log: SecureLog::new(&SecureLog::path_in(&life.dirs.log), std::process::id()),
        signals,
        next_socket: 1,
        accept_reported: false,
        reserve: Vec::new(),
        starting: Vec::new(),
        retired: Vec::new(),
    };
    d.refill_reserve();
    d.apply(false);
    let served = d.served();
    if served == 0 {
        return Err(if d.services.is_empty() {
            format!(
                "no on-demand service (a definition with `socket:`) in {}",
                life.dirs.init_d().display()
            )
        } else {
            "no service can be served".to_string()
        });
    }
    on_ready(served);
    d.run()
}

/// Every definition in `init.d/`, by name; problems that have no name go to stderr.
fn load_definitions(life: &Lifecycle) -> BTreeMap<String, Loaded> {
    let mut out = BTreeMap::new();
    let loaded = match definition::load_all(&life.dirs) {
        Ok(l) => l,
        Err(e) => {
            warn(format_args!(
                "cannot read {}: {e}",
                life.dirs.init_d().display()
            ));
            return out;
        }
    };
    for failed in loaded.failed {
        match failed {
            definition::Failed::BadName { path, why } => {
                warn(format_args!("{}: skipped: {why}", path.display()));
            }
            definition::Failed::Invalid { name, error, .. } => {
                let why = match error {
                    DefinitionError::Invalid(problems) => problems
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                    e => e.to_string(),
                };
                out.insert(name.to_string(), Loaded::Broken(why));
            }
        }
    }
    for def in loaded.ok {
        let name = def.name.to_string();
        let loaded = if def.kind == Kind::OnDemand {
            Loaded::Served(Box::new(def))
        } else {
            Loaded::NotOnDemand
        };
        out.insert(name, loaded);
    }
    out
}

/// Milliseconds for poll, rounded up so a pause never turns into a busy loop.
fn poll_timeout(d: Option<Duration>) -> PollTimeout {
    match d {
        None => PollTimeout::NONE,
        Some(d) => {
            let ms = d.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}

impl Daemon<'_> {
    /// One line of the secure log; a descriptor of the reserve is given up when the log must
    /// be opened, so no line is lost at the descriptor limit.
    fn record(&mut self, decision: Decision, service: &str, client: SocketAddr, rule: &str) {
        if !self.log.is_open() {
            self.reserve.pop();
        }
        self.log.record(decision, service, client, rule);
        self.refill_reserve();
    }

    /// Takes descriptors back into the reserve, as many as are free up to [`RESERVE_FDS`].
    fn refill_reserve(&mut self) {
        while self.reserve.len() < RESERVE_FDS {
            match std::fs::File::open("/dev/null") {
                Ok(f) => self.reserve.push(f),
                Err(_) => break,
            }
        }
    }

    /// The loop: until SIGTERM/SIGINT.
    fn run(&mut self) -> Result<(), String> {
        loop {
            self.children.new_round();
            let now = Instant::now();
            let mut timeout: Option<Duration> = None;
            let mut names: Vec<&str> = Vec::new();
            let mut fds = vec![
                PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.checks.fd(), PollFlags::POLLIN),
            ];
            let watched = self.starting.len();
            fds.extend(
                self.starting
                    .iter()
                    .map(|(w, _)| PollFd::new(w.fd(), PollFlags::POLLIN)),
            );
            for (name, s) in &self.services {
                let Some(l) = &s.listener else { continue };
                if s.checking {
                    continue;
                }
                if let Some(until) = s.paused_until {
                    if until > now {
                        let left = until - now;
                        timeout = Some(timeout.map_or(left, |t| t.min(left)));
                        continue;
                    }
                }
                if s.def.socket.as_ref().is_some_and(|k| k.wait) && self.children.busy(s.socket_id)
                {
                    continue;
                }
                names.push(name);
                fds.push(PollFd::new(l.fd(), PollFlags::POLLIN));
            }
            if let Some(until) = self.parked.iter().map(|p| p.until).min() {
                let left = until.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            match poll(&mut fds, poll_timeout(timeout)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("poll failed: {e}")),
            }
            let fired = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let signalled = fired(&fds[0]);
            let checked = fired(&fds[1]);
            let execd: Vec<bool> = fds[2..2 + watched].iter().map(fired).collect();
            let ready: Vec<String> = fds[2 + watched..]
                .iter()
                .zip(&names)
                .filter(|(f, _)| fired(f))
                .map(|(_, n)| n.to_string())
                .collect();
            drop(fds);
            self.exec_outcomes(&execd);
            if signalled && self.signals_say_stop() {
                self.shutdown();
                return Ok(());
            }
            // After the signals (a finishing server's SIGCHLD) and before new connections.
            self.retry_parked();
            if checked {
                self.checked();
            }
            for name in ready {
                self.ready(&name);
            }
        }
    }

    /// Drains the signalfd: reaps children, reloads on SIGHUP; true on SIGTERM/SIGINT.
    fn signals_say_stop(&mut self) -> bool {
        let (mut hup, mut stop) = (false, false);
        loop {
            match self.signals.read_signal() {
                Ok(Some(si)) => match Signal::try_from(si.ssi_signo as i32) {
                    Ok(Signal::SIGHUP) => hup = true,
                    Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => stop = true,
                    _ => {}
                },
                Ok(None) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    warn(format_args!("reading signals failed: {e}"));
                    break;
                }
            }
        }
        self.children.reap();
        // rmdir refuses a cgroup that still holds a process: the retired go once empty.
        self.retired.retain(|cg| !cg.remove());
        if stop {
            return true;
        }
        if hup {
            self.apply(true);
        }
        false
    }

    /// A polled socket is readable.
    fn ready(&mut self, name: &str) {
        let Some(svc) = self.services.get(name) else {
            return;
        };
        let Some(sock) = svc.def.socket.clone() else {
            return;
        };
        match (sock.protocol, sock.wait) {
            (Protocol::Tcp, false) => self.accept(name),
            (Protocol::Tcp, true) => {
                // No client before the server accepts: hand the socket over as it is.
                if let Some(fd) = self.wait_socket(name) {
                    let id = self.services[name].socket_id;
                    self.launch(name, fd, None, Some(id));
                }
            }
            (Protocol::Udp, _) => self.datagram(name),
        }
    }

    fn wait_socket(&self, name: &str) -> Option<OwnedFd> {
        let svc = self.services.get(name)?;
        match svc.listener.as_ref()?.duplicate() {
            Ok(fd) => Some(fd),
            Err(e) => {
                warn(format_args!("{name}: cannot duplicate the socket: {e}"));
                None
            }
        }
    }

    fn accept(&mut self, name: &str) {
        for _ in 0..ACCEPT_BATCH {
            let Some(svc) = self.services.get_mut(name) else {
                return;
            };
            let Some(Listener::Tcp(l)) = &svc.listener else {
                return;
            };
            match l.accept() {
                Ok((stream, peer)) => {
                    self.accept_reported = false;
                    self.connection(name, stream, peer);
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => return,
                    Some(libc::EINTR | libc::ECONNABORTED | libc::EPROTO | libc::EPERM) => {}
                    _ => {
                        svc.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        if !self.accept_reported {
                            self.accept_reported = true;
                            warn(format_args!(
                                "{name}: accept failed: {e}; pausing this listener"
                            ));
                        }
                        return;
                    }
                },
            }
        }
    }

    /// Verdicts of the checks that ran on threads.
    fn checked(&mut self) {
        for (id, verdict) in self.checks.take() {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            match p.conn {
                Some(stream) => self.decided(&p.service, stream, p.client, verdict),
                None => {
                    let Some(svc) = self.services.get_mut(&p.service) else {
                        continue;
                    };
                    svc.checking = false;
                    // The socket was replaced meanwhile (SIGHUP): the datagram went with it.
                    if svc.socket_id == p.socket_id {
                        self.datagram_decided(&p.service, p.client, verdict);
                    }
                }
            }
        }
    }

    /// Acts on an access verdict (docs/inetd.md, "Access control"): runs the rule's `spawn`
    /// command, logs a denial; the deciding rule when the client is allowed.
    fn access(&mut self, name: &str, client: SocketAddr, verdict: Verdict) -> Option<String> {
        if let Some(cmd) = &verdict.spawn {
            self.spawn_command(cmd);
        }
        if verdict.allowed {
            Some(verdict.rule)
        } else {
            self.record(Decision::Deny, name, client, &verdict.rule);
            None
        }
    }

    /// A UDP (wait) service woke up: check the waking datagram's source, then hand the socket
    /// to one server; a denied datagram is dropped.
    fn datagram(&mut self, name: &str) {
        let Some(Listener::Udp(u)) = self.services.get(name).and_then(|s| s.listener.as_ref())
        else {
            return;
        };
        // Non-blocking only while svc itself looks; the server gets a blocking socket.
        let peeked = u
            .set_nonblocking(true)
            .and_then(|_| u.peek_from(&mut [0u8; 1]));
        let peer = match peeked {
            Ok((_, peer)) => peer,
            Err(_) => {
                // Nothing there after all, or a pending ICMP error (consumed by the call).
                let _ = u.set_nonblocking(false);
                return;
            }
        };
        let client = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let server = u.local_addr().ok();
        let probe = NoLookup::default();
        let verdict = self.rules.check_with_server(name, client, server, &probe);
        if probe.asked() && self.pending.len() < MAX_PENDING {
            match self.checks.start(self.rules.clone(), name, client, server) {
                Ok(id) => {
                    let Some(svc) = self.services.get_mut(name) else {
                        return;
                    };
                    svc.checking = true;
                    let p = Pending {
                        service: name.to_string(),
                        client,
                        conn: None,
                        socket_id: svc.socket_id,
                    };
                    self.pending.insert(id, p);
                    return;
                }
                Err(e) => warn(format_args!(
                    "{name}: cannot start a lookup thread: {e}; checking without host names"
                )),
            }
        }
        self.datagram_decided(name, client, verdict);
    }

    /// The verdict on the waking datagram of a UDP service is known: drop it, or hand the
    /// socket to a server.
    fn datagram_decided(&mut self, name: &str, client: SocketAddr, verdict: Verdict) {
        let Some(rule) = self.access(name, client, verdict) else {
            if let Some(Listener::Udp(u)) =
                self.services.get(name).and_then(|s| s.listener.as_ref())
            {
                let _ = u.recv_from(&mut [0u8; 1]);
                let _ = u.set_nonblocking(false);
            }
            return;
        };
        let Some(svc) = self.services.get(name) else {
            return;
        };
        if let Some(Listener::Udp(u)) = &svc.listener {
            if let Err(e) = u.set_nonblocking(false) {
                warn(format_args!("{name}: cannot make the socket blocking: {e}"));
                return;
            }
        }
        let id = svc.socket_id;
        self.record(Decision::Allow, name, client, &rule);
        if let Some(fd) = self.wait_socket(name) {
            self.launch(name, fd, None, Some(id));
        }
    }

    /// Starts one server of `name` on `fd` (a connection, or a wait-mode socket), from the
    /// service's [`Template`] (made or remade here when there is none or it is stale). The
    /// exec's outcome is collected by the loop ([`Daemon::exec_outcomes`]).
    fn launch(&mut self, name: &str, fd: OwnedFd, source: Option<IpAddr>, holds: Option<u64>) {
        let socket_inode = servers::inode_of(&fd);
        let mut started = self.fork_server(name, &fd);
        if started.is_err() && !self.reserve.is_empty() {
            // Perhaps out of descriptors: once more with the reserve given up.
            self.reserve.clear();
            started = self.fork_server(name, &fd);
            self.refill_reserve();
        }
        drop(fd);
        match started {
            Ok(watch) => {
                self.children.insert(
                    watch.pid(),
                    Child {
                        service: Some(name.to_string()),
                        source,
                        holds,
                        socket_inode,
                    },
                );
                self.starting.push((watch, name.to_string()));
            }
            Err(e) => {
                if let Some(svc) = self.services.get_mut(name) {
                    svc.template = None;
                }
                warn(format_args!("{name}: cannot start a server: {e}"));
            }
        }
    }

    /// Forks and releases one server of `name` on `fd`.
    fn fork_server(&mut self, name: &str, fd: &OwnedFd) -> Result<ExecWatch, String> {
        let Some(svc) = self.services.get_mut(name) else {
            return Err("no longer served".into());
        };
        if !svc.template.as_ref().is_some_and(Template::fresh) {
            svc.template = None;
            let t = Template::build(self.life, &svc.def).map_err(|e| e.to_string())?;
            svc.template = Some(t);
        }
        let t = svc.template.as_ref().expect("made above");
        let pending = t.launch.fork_on(fd).map_err(|e| e.to_string())?;
        Ok(pending.release_async())
    }

    /// The servers whose exec outcome is known (`done[i]` for `self.starting[i]`): a failed one
    /// is reported, and its service's template dropped (it exits at once and is reaped as
    /// every server is).
    fn exec_outcomes(&mut self, done: &[bool]) {
        if !done.contains(&true) {
            return;
        }
        let starting = std::mem::take(&mut self.starting);
        for ((watch, name), done) in starting
            .into_iter()
            .zip(done.iter().chain(std::iter::repeat(&false)))
        {
            if !done {
                self.starting.push((watch, name));
                continue;
            }
            if let Err(e) = watch.outcome() {
                if let Some(svc) = self.services.get_mut(&name) {
                    svc.template = None;
                }
                warn(format_args!("{name}: cannot start a server: {e}"));
            }
        }
    }

    /// Runs the `spawn` command of an access rule, detached: `/bin/sh -c CMD` with stdin,
    /// stdout and stderr `/dev/null`, in a clean process state; reaped like the servers.
    fn spawn_command(&mut self, cmd: &str) {
        let launch = Launch::sh(cmd);
        self.reserve.clear();
        let started = launch.fork().and_then(|p| p.release());
        self.refill_reserve();
        match started {
            Ok(pid) => {
                self.children.insert(
                    pid,
                    Child {
                        service: None,
                        source: None,
                        holds: None,
                        socket_inode: None,
                    },
                );
            }
            Err(e) => warn(format_args!("cannot run a spawn command: {e}")),
        }
    }

    /// SIGTERM: stop listening, send each server its service's stop signal (and SIGCONT), wait
    /// up to the longest `stop_timeout`, then SIGKILL what is left.
    fn shutdown(&mut self) {
        for s in self.services.values_mut() {
            s.listener = None;
        }
        self.parked.clear();
        let mut timeout = Duration::ZERO;
        for (pid, c) in self.children.iter() {
            let def = c
                .service
                .as_ref()
                .and_then(|n| self.services.get(n))
                .map(|s| &s.def);
            let sig = def.map_or(Signal::SIGTERM, |d| d.stop_signal);
            timeout = timeout.max(def.map_or(Duration::from_secs(10), |d| d.stop_timeout));
            signal_server(*pid, sig);
            signal_server(*pid, Signal::SIGCONT);
        }
        self.wait_children(Instant::now() + timeout);
        if !self.children.is_empty() {
            warn(format_args!(
                "{} server(s) still running after {timeout:?}: sending SIGKILL",
                self.children.len()
            ));
            for (pid, _) in self.children.iter() {
                signal_server(*pid, Signal::SIGKILL);
            }
            self.wait_children(Instant::now() + KILL_GRACE);
        }
        // The services' cgroups go with their servers (SPEC §8.7), as a stop removes a
        // service's; one that still holds a process is left (rmdir refuses it).
        for s in self.services.values() {
            if let Some(cg) = self.life.cgroup(&s.def) {
                cg.remove();
            }
        }
        for cg in &self.retired {
            cg.remove();
        }
    }

    fn wait_children(&mut self, deadline: Instant) {
        loop {
            self.children.reap();
            let now = Instant::now();
            if self.children.is_empty() || now >= deadline {
                return;
            }
            let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, poll_timeout(Some(deadline - now)));
            while let Ok(Some(_)) = self.signals.read_signal() {}
        }
    }
}
