//! The listeners of `svc serve` (the UNIX socket, TCP) and the accept loop.
//!
//! The UNIX socket `<state>/svc.sock` is created mode 0600 (under a umask of 0177, so it is
//! never wider, even for a moment) and owned by whoever runs svc; it asks for no credentials,
//! its mode being the guard. A socket file already there is probed: if a server answers, it
//! belongs to another `svc serve` and this one refuses to start; if nobody does, it is stale
//! and replaced. Whatever is not a socket is never removed. On exit the socket is removed, if
//! it is still the one this server made. TCP always asks for [`Credentials`].
//!
//! The main thread waits in `poll(2)` on the listeners and a signalfd (SIGTERM and SIGINT
//! end the loop; they are blocked before any thread starts, so every thread inherits that);
//! each accepted connection gets a thread of its own with a small stack ([`http::serve`]), at
//! most [`MAX_CONNECTIONS`] at once per listener and [`MAX_PER_PEER`] per TCP client address;
//! one more is answered 503 and closed. Nothing the main
//! thread does waits on a client. Once no connection has been open for [`SHED_AFTER`], the
//! memory serving took is given back, so the idle server stays as small as it started.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::stat::{umask, Mode};

use super::auth::Credentials;
use super::http::{self, Limits, Stream};
use super::{respond, Backend};
use crate::exit::{Code, HasCode};
use crate::process::sigfd;

/// Connections served at once on each listener; one more is answered 503 and closed. Each
/// listener has its own budget, so a crowd on TCP never locks out the UNIX socket.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections one TCP client address may hold at once (one more is answered 503), so a
/// single client cannot take the whole TCP budget either.
pub const MAX_PER_PEER: usize = 8;
/// The stack of a connection thread (only the pages it touches are resident).
const STACK: usize = 512 << 10;
/// How long a listener rests after accept failed for lack of descriptors or memory.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long the server is idle (no connection open or accepted) before it gives back the memory
/// serving took: the code pages and free heap of [`crate::process::memory`]. Not at once, so a
/// client polling every 100 ms does not make it fault them back in each time.
const SHED_AFTER: Duration = Duration::from_secs(5);
/// On SIGTERM, how long requests already being answered (a start, a stop) may take to finish.
const FINISH_GRACE: Duration = Duration::from_secs(10);

/// What `svc serve` listens on.
#[derive(Debug)]
pub struct Config {
    /// `<state>/svc.sock`.
    pub socket: PathBuf,
    /// `HOST:PORT` and the credentials it asks for.
    pub tcp: Option<(String, Credentials)>,
}

/// Why the server could not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    Signals(sigfd::SigfdError),
    /// Another `svc serve` answers on the socket.
    Live(PathBuf),
    /// Something that is not a socket is where the socket goes.
    NotSocket(PathBuf),
    /// The socket could not be probed, removed or created.
    Socket(PathBuf, io::Error),
    /// The TCP address could not be bound.
    Tcp(String, io::Error),
    Poll(Errno),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Signals(e) => write!(f, "cannot set up signal handling: {}", e.errno()),
            ServeError::Live(p) => write!(
                f,
                "another svc serve is answering on {}; stop it first",
                p.display()
            ),
            ServeError::NotSocket(p) => write!(
                f,
                "{} exists and is not a socket; remove it or choose another state directory",
                p.display()
            ),
            ServeError::Socket(p, e) => write!(f, "{}: {e}", p.display()),
            ServeError::Tcp(a, e) => write!(f, "cannot listen on {a}: {e}"),
            ServeError::Poll(e) => write!(f, "poll failed: {e}"),
        }
    }
}

impl HasCode for ServeError {
    fn code(&self) -> Code {
        Code::Failure
    }
}

/// The open listeners, until dropped (which removes the socket).
pub struct Server {
    signals: SignalFd,
    unix: UnixListener,
    socket: PathBuf,
    /// Device and inode of the socket this server made.
    socket_id: (u64, u64),
    tcp: Option<(TcpListener, String, Arc<Credentials>)>,
}

impl Server {
    /// Blocks the signals and opens the listeners. Call before any thread is started.
    pub fn open(config: Config) -> Result<Server, ServeError> {
        one_arena();
        let signals = sigfd::open(&[Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP])
            .map_err(ServeError::Signals)?;
        let (unix, socket_id) = bind_unix(&config.socket)?;
        let mut server = Server {
            signals,
            unix,
            socket: config.socket,
            socket_id,
            tcp: None,
        };
        if let Some((addr, creds)) = config.tcp {
            let listener = bind_tcp(&addr).map_err(|e| ServeError::Tcp(addr.clone(), e))?;
            server.tcp = Some((listener, addr, Arc::new(creds)));
        }
        Ok(server)
    }

    /// Where it listens, for the start-up line.
    pub fn describe(&self) -> String {
        let mut s = self.socket.display().to_string();
        if let Some((l, addr, _)) = &self.tcp {
            let bound = l.local_addr().map_or(addr.clone(), |a| a.to_string());
            s.push_str(&format!(" and {bound} (TCP, with credentials)"));
        }
        s
    }

    /// Answers connections with `backend` until SIGTERM or SIGINT.
    pub fn run(self, backend: Arc<dyn Backend + Send>) -> Result<(), ServeError> {
        let open = [Arc::new(Budget::default()), Arc::new(Budget::default())];
        let busy = Arc::new(AtomicUsize::new(0));
        let mut paused: [Option<Instant>; 2] = [None, None];
        // The last accepted connection, until what serving needed has been given back.
        let mut active_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let mut timeout = None::<Duration>;
            if let Some(at) = active_at {
                if open.iter().all(|b| b.open() == 0) && now >= at + SHED_AFTER {
                    crate::process::memory::shed_startup_pages();
                    active_at = None;
                } else {
                    // Looked at again then (or later, while connections are open).
                    timeout = Some(
                        (at + SHED_AFTER)
                            .saturating_duration_since(now)
                            .max(SHED_AFTER / 4),
                    );
                }
            }
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let mut which = Vec::new();
            for (i, fd) in [
                Some(self.unix.as_fd()),
                self.tcp.as_ref().map(|t| t.0.as_fd()),
            ]
            .into_iter()
            .enumerate()
            {
                let Some(fd) = fd else { continue };
                if let Some(until) = paused[i].filter(|u| *u > now) {
                    let left = until - now;
                    timeout = Some(timeout.map_or(left, |t| t.min(left)));
                    continue;
                }
                paused[i] = None;
                which.push(i);
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            let pt = match timeout {
                None => PollTimeout::NONE,
                Some(d) => {
                    PollTimeout::try_from(d.as_millis().saturating_add(1).min(60_000) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            match poll(&mut fds, pt) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(ServeError::Poll(e)),
            }
            let fired = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let signalled = fired(&fds[0]);
            let ready: Vec<usize> = fds[1..]
                .iter()
                .zip(&which)
                .filter(|(f, _)| fired(f))
                .map(|(_, i)| *i)
                .collect();
            drop(fds);
            if signalled && self.stop_asked() {
                break;
            }
            for i in ready {
                active_at = Some(Instant::now());
                let ok = match i {
                    0 => self.accept_unix(&backend, &open[0], &busy),
                    _ => self.accept_tcp(&backend, &open[1], &busy),
                };
                if !ok {
                    paused[i] = Some(Instant::now() + ACCEPT_PAUSE);
                }
            }
        }
        self.remove_socket();
        // Requests being answered finish (a start half done is worse than a late exit); idle
        // and slow connections end with the process.
        let until = Instant::now() + FINISH_GRACE;
        while busy.load(Ordering::Acquire) > 0 && Instant::now() < until {
            std::thread::park_timeout(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Drains the signalfd; true on SIGTERM or SIGINT.
    fn stop_asked(&self) -> bool {
        let mut stop = false;
        while let Ok(Some(si)) = self.signals.read_signal() {
            match Signal::try_from(si.ssi_signo as i32) {
                Ok(Signal::SIGTERM | Signal::SIGINT) => stop = true,
                Ok(Signal::SIGHUP) => {
                    eprintln!("svc: serve: SIGHUP ignored (restart svc serve to read svc.yaml)")
                }
                _ => {}
            }
        }
        stop
    }

    /// Accepts what waits on the UNIX socket; false when accept failed for lack of resources.
    fn accept_unix(
        &self,
        backend: &Arc<dyn Backend + Send>,
        open: &Arc<Budget>,
        busy: &Arc<AtomicUsize>,
    ) -> bool {
        loop {
            match self.unix.accept() {
                Ok((s, _)) => start(s, None, "unix".into(), None, backend, open, busy),
                Err(e) => return accept_failed(e),
            }
        }
    }

    fn accept_tcp(
        &self,
        backend: &Arc<dyn Backend + Send>,
        open: &Arc<Budget>,
        busy: &Arc<AtomicUsize>,
    ) -> bool {
        let Some((l, _, creds)) = &self.tcp else {
            return true;
        };
        loop {
            match l.accept() {
                Ok((s, peer)) => start(
                    s,
                    Some(peer.ip()),
                    peer.to_string(),
                    Some(creds.clone()),
                    backend,
                    open,
                    busy,
                ),
                Err(e) => return accept_failed(e),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.remove_socket();
    }
}

impl Server {
    /// Removes the socket, if it is still the one this server made.
    fn remove_socket(&self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.socket) {
            if (m.dev(), m.ino()) == self.socket_id {
                let _ = std::fs::remove_file(&self.socket);
            }
        }
    }
}

/// After accept failed: true when the listener is simply drained, false (pause it) when
/// accepting cannot go on for now.
fn accept_failed(e: io::Error) -> bool {
    match e.kind() {
        io::ErrorKind::WouldBlock => true,
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => true,
        _ => {
            eprintln!("svc: serve: accept failed: {e}");
            false
        }
    }
}

/// The connections open on one listener, in all and per client address.
#[derive(Default)]
struct Budget {
    open: AtomicUsize,
    peers: Mutex<HashMap<IpAddr, usize>>,
}

impl Budget {
    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A slot for one more connection from `peer`, or `None` when the listener's budget or
    /// the peer's share of it is spent.
    fn take(self: &Arc<Self>, peer: Option<IpAddr>) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        if let Some(ip) = peer {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            let n = peers.entry(ip).or_insert(0);
            if *n >= MAX_PER_PEER {
                drop(peers);
                self.open.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            *n += 1;
        }
        Some(Slot {
            budget: self.clone(),
            peer,
        })
    }
}

/// Counts a connection while its thread lives.
struct Slot {
    budget: Arc<Budget>,
    peer: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.peer {
            let mut peers = self.budget.peers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = peers.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    peers.remove(&ip);
                }
            }
        }
        self.budget.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one accepted connection on a thread of its own, or answers 503 when the listener's
/// [`Budget`] is spent.
fn start<S: Stream + Send + 'static>(
    stream: S,
    ip: Option<IpAddr>,
    peer: String,
    creds: Option<Arc<Credentials>>,
    backend: &Arc<dyn Backend + Send>,
    open: &Arc<Budget>,
    busy: &Arc<AtomicUsize>,
) {
    let Some(slot) = open.take(ip) else {
        http::log(&peer, "503: too many connections");
        http::busy(stream);
        return;
    };
    let backend = backend.clone();
    let busy = busy.clone();
    let spawned = std::thread::Builder::new()
        .name("svc-serve-conn".into())
        .stack_size(STACK)
        .spawn(move || {
            let _slot = slot;
            let route = move |method: &str, path: &str, body: &[u8]| {
                busy.fetch_add(1, Ordering::AcqRel);
                let _done = Done(&busy);
                respond(backend.as_ref(), method, path, body)
            };
            http::serve(stream, creds.as_deref(), &route, &Limits::default(), &peer);
        });
    if let Err(e) = spawned {
        eprintln!("svc: serve: cannot start a connection thread: {e}");
    }
}

/// Counts a request being answered, until dropped (also when the router panics).
struct Done<'a>(&'a AtomicUsize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One malloc arena for every thread (glibc gives each new thread its own, which would keep
/// the freed memory of past connections resident), so the idle server stays small.
fn one_arena() {
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Creates the UNIX socket mode 0600, replacing a stale one; its device and inode.
fn bind_unix(path: &Path) -> Result<(UnixListener, (u64, u64)), ServeError> {
    let err = |e: io::Error| ServeError::Socket(path.to_owned(), e);
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => return Err(ServeError::Live(path.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(err)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        },
        Ok(_) => return Err(ServeError::NotSocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    // The umask is the process's: nothing else runs yet (no thread is started before this).
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(err)?;
    let m = std::fs::symlink_metadata(path).map_err(err)?;
    if m.mode() & 0o777 != 0o600 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    listener.set_nonblocking(true).map_err(err)?;
    Ok((listener, (m.dev(), m.ino())))
}

/// Binds `HOST:PORT` (`[V6]:PORT`), non-blocking.
fn bind_tcp(addr: &str) -> io::Result<TcpListener> {
    let (host, port) = crate::definition::parse_host_port(addr)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected HOST:PORT"))?;
    let l = TcpListener::bind((host.as_str(), port))?;
    l.set_nonblocking(true)?;
    Ok(l)
}
