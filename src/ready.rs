//! Readiness checks (docs/commands.md, readiness in "Starting and stopping"): `tcp` (the service's
//! own processes listen on the port), `file` (it exists) and `notify` (the sd_notify protocol: the
//! daemon sends `READY=1` to `NOTIFY_SOCKET`).
//!
//! Every wait also watches the launched process, so a daemon that dies while svc waits fails the
//! start at once instead of after `ready_timeout`. tcp and file checks are retried with short
//! growing pauses spent waiting on the process's pidfd; notify waits on the socket and the
//! pidfd together and wakes on either.
//!
//! tcp never connects: svc looks for a LISTEN socket on the port (`/proc/PID/net/tcp{,6}` of
//! the service's network namespace) whose inode one of the service's processes holds (their
//! `/proc/PID/fd`). A port held by another process fails the start at once, naming it — a
//! connect would have reached that other server and called the start a success, and a probe
//! connection makes forking servers (sshd) start a child for nothing. Only this host's
//! addresses can hold the service's socket: a name whose addresses are all elsewhere is refused
//! at once too. Only where /proc cannot tell (no `net/tcp`) does svc fall back to a connect.
//!
//! The notify socket is `<state>/NAME.notify`, which only the service's user (and root) may
//! write. When that path is longer than a socket address holds (108 bytes), svc binds an
//! abstract socket instead (`NOTIFY_SOCKET=@svc-notify/...`), which has no file permissions:
//! it then applies the same rule itself, from each sender's credentials (`SO_PASSCRED`): a
//! datagram counts when its sender runs as the service's user or root — as through the file —
//! or is one of the service's processes.

use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::definition::{parse_host_port, Ready};
use crate::process::handle::{poll_fds, ProcHandle};
use crate::process::procfs::Procfs;

/// How a readiness wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    /// The process exited while svc waited.
    Died,
    TimedOut,
    /// The check can never succeed (a port another process holds): why.
    Refused(String),
    /// svc was asked to stop (SIGTERM to a switch, see `process::cancel`).
    Cancelled,
}

/// The processes that make up a service while svc waits for it: its main process, that
/// process's group, their descendants, and — for a forking launch — every descendant of the
/// launch's keeper (all of which the launch created).
pub struct Service<'a> {
    pub main: &'a ProcHandle,
    /// The service's process group (0: none known).
    pub pgid: i32,
    /// A process whose every descendant belongs to this launch.
    pub launch_root: Option<i32>,
    pub procfs: &'a Procfs,
}

impl Service<'_> {
    /// Whether `pid` is one of the service's processes.
    pub fn contains(&self, pid: i32) -> bool {
        let main = self.main.pid();
        if pid == main {
            return true;
        }
        let mut cur = pid;
        // A bounded walk up the parents: a PID chain never loops, but /proc may change under us.
        for _ in 0..256 {
            let Some(s) = self.procfs.stat(cur) else {
                return false;
            };
            if cur == pid && self.pgid > 1 && s.pgrp == self.pgid {
                return true;
            }
            if s.ppid == main || Some(s.ppid) == self.launch_root {
                return true;
            }
            if s.ppid <= 1 {
                return false;
            }
            cur = s.ppid;
        }
        false
    }

    /// Every process of the service, now.
    fn pids(&self) -> Vec<i32> {
        let mut out = vec![self.main.pid()];
        let roots = std::iter::once(self.main.pid()).chain(self.launch_root);
        for root in roots {
            out.extend(self.procfs.descendants(root).into_iter().map(|(p, _)| p));
        }
        if self.pgid > 1 {
            out.extend(self.procfs.group_members(self.pgid));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The longest socket path: `sun_path` has 108 bytes, one of them the terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// Where the notify socket is bound.
#[derive(Debug)]
enum NotifyAddr {
    Path(PathBuf),
    /// An abstract name (without its leading NUL).
    Abstract(Vec<u8>),
}

/// The receiving end of the notify protocol, removed from the file system on drop.
pub struct NotifySocket {
    sock: UnixDatagram,
    addr: NotifyAddr,
    /// The user who may write to the socket (besides root): the service's.
    user: u32,
}

impl NotifySocket {
    /// Binds a datagram socket at `path` (replacing a stale one) that `owner` may write to;
    /// a path too long for a socket address gets an abstract socket instead.
    pub fn bind(path: &Path, owner: Option<(u32, u32)>) -> io::Result<NotifySocket> {
        let user = owner.map_or_else(|| nix::unistd::geteuid().as_raw(), |(uid, _)| uid);
        if path.as_os_str().len() > SUN_PATH_MAX {
            return NotifySocket::bind_abstract(user);
        }
        let _ = std::fs::remove_file(path);
        // Mode 0600 whatever svc's umask: only its owner (the service's user, below) and root
        // may send. Set on the socket before bind, which creates the file with that mode (no
        // moment with a wider one), and on the file again after.
        let private = |sock: &UnixDatagram| -> io::Result<()> {
            nix::sys::stat::fchmod(
                sock.as_raw_fd(),
                nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
            )
            .map_err(io::Error::from)?;
            let addr = nix::sys::socket::UnixAddr::new(path).map_err(io::Error::from)?;
            nix::sys::socket::bind(sock.as_raw_fd(), &addr).map_err(io::Error::from)?;
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        };
        let sock = UnixDatagram::unbound()
            .and_then(|sock| private(&sock).map(|()| sock))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create notify socket {}: {e}", path.display()),
                )
            })?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        sock.set_nonblocking(true)?;
        Ok(NotifySocket {
            sock,
            addr: NotifyAddr::Path(path.to_owned()),
            user,
        })
    }

    /// An abstract socket with a name no one else has (`svc-notify/PID/N/NANOS`), passing the
    /// credentials of each sender; `user` may write to it (besides root).
    fn bind_abstract(user: u32) -> io::Result<NotifySocket> {
        use std::os::linux::net::SocketAddrExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        for _ in 0..8 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "svc-notify/{}/{}/{nanos:08x}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            match UnixDatagram::bind_addr(&addr) {
                Ok(sock) => {
                    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::PassCred, &true)
                        .map_err(io::Error::from)?;
                    sock.set_nonblocking(true)?;
                    return Ok(NotifySocket {
                        sock,
                        addr: NotifyAddr::Abstract(name.into_bytes()),
                        user,
                    });
                }
                // Someone took the name (another svc, or a squatter): try another.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            last.kind(),
            format!("cannot create an abstract notify socket: {last}"),
        ))
    }

    /// The value of `NOTIFY_SOCKET` for the daemon: the path, or `@` and the abstract name.
    pub fn env_value(&self) -> OsString {
        match &self.addr {
            NotifyAddr::Path(p) => p.clone().into_os_string(),
            NotifyAddr::Abstract(name) => {
                let mut v = vec![b'@'];
                v.extend_from_slice(name);
                OsString::from_vec(v)
            }
        }
    }

    /// Drains pending datagrams; true once one of them holds a `READY=1` line (sent, for an
    /// abstract socket, by the service's user, root, or one of the service's processes).
    fn ready_received(&self, service: &Service) -> bool {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
        let checked = matches!(self.addr, NotifyAddr::Abstract(_));
        let mut buf = [0u8; 4096];
        let mut ready = false;
        loop {
            let mut cmsg = nix::cmsg_space!(libc::ucred);
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            let (n, sender) = match recvmsg::<UnixAddr>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let sender = msg.cmsgs().ok().and_then(|mut c| {
                        c.find_map(|m| match m {
                            ControlMessageOwned::ScmCredentials(c) => Some((c.pid(), c.uid())),
                            _ => None,
                        })
                    });
                    (msg.bytes, sender)
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return ready,
            };
            // Who may write to the socket file may send here: the service's user and root.
            // (Checked by uid, not only by process: a short-lived sender such as
            // `systemd-notify` has usually been reaped by the time svc reads its datagram.)
            let allowed =
                |(pid, uid): (i32, u32)| uid == self.user || uid == 0 || service.contains(pid);
            if checked && !sender.is_some_and(allowed) {
                continue;
            }
            // Zero-length or garbage datagrams are ignored, never fatal.
            ready |= buf[..n].split(|&b| b == b'\n').any(|l| l == b"READY=1");
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let NotifyAddr::Path(p) = &self.addr {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Waits until `check` holds, the service's main process exits, or `deadline` passes.
pub fn wait(
    check: &Ready,
    service: &Service,
    notify: Option<&NotifySocket>,
    deadline: Instant,
) -> Outcome {
    let main = service.main;
    match check {
        Ready::Notify => {
            let Some(ns) = notify else {
                return Outcome::TimedOut;
            };
            // Sleep on the socket and the pidfd together: either wakes the wait.
            let pause = |until: Instant| {
                let mut fds = vec![ns.sock.as_fd()];
                let step = match main.fd() {
                    Some(fd) => {
                        fds.push(fd.as_fd());
                        until.saturating_duration_since(Instant::now())
                    }
                    // Without a pidfd, wake up now and then to look at /proc.
                    None => until
                        .saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(20)),
                };
                let _ = poll_fds(&fds, Some(step));
            };
            until_ready(
                main,
                deadline,
                || Check::from(ns.ready_received(service)),
                pause,
            )
        }
        Ready::Tcp(spec) => {
            let mut probe = TcpProbe::new(spec);
            backoff(main, deadline, || probe.check(service, deadline))
        }
        Ready::File(path) => backoff(main, deadline, || Check::from(path.exists())),
    }
}

/// One look at a readiness condition.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    Ready,
    NotYet,
    Refused(String),
}

impl From<bool> for Check {
    fn from(ready: bool) -> Check {
        if ready {
            Check::Ready
        } else {
            Check::NotYet
        }
    }
}

/// The common loop: `check`, then whether `main` died, then the deadline, then `pause` until
/// the deadline (which may return early).
fn until_ready(
    main: &ProcHandle,
    deadline: Instant,
    mut check: impl FnMut() -> Check,
    mut pause: impl FnMut(Instant),
) -> Outcome {
    loop {
        match check() {
            Check::Ready => return Outcome::Ready,
            Check::Refused(why) => return Outcome::Refused(why),
            Check::NotYet => {}
        }
        if main.exited() {
            // One last look: a daemon may have become ready just before it exited.
            return if check() == Check::Ready {
                Outcome::Ready
            } else {
                Outcome::Died
            };
        }
        if Instant::now() >= deadline {
            return Outcome::TimedOut;
        }
        if crate::process::cancel::requested() {
            return Outcome::Cancelled;
        }
        // Look again for a cancellation at least every 100 ms.
        pause(deadline.min(Instant::now() + Duration::from_millis(100)));
    }
}

/// Retries a check that has nothing to wait on (a socket table, a file) with short pauses
/// growing from 2 to 10 ms, spent waiting on the process so that its death ends them early.
fn backoff(main: &ProcHandle, deadline: Instant, check: impl FnMut() -> Check) -> Outcome {
    let mut step = Duration::from_millis(2);
    until_ready(main, deadline, check, |deadline| {
        main.wait_exit((Instant::now() + step).min(deadline));
        step = (step * 2).min(Duration::from_millis(10));
    })
}

/// The tcp check: the target addresses (resolved once), and how many looks in a row found the
/// port held by someone else (two are needed, so a socket seen while its process is between
/// fork and exit is not blamed on a stranger).
struct TcpProbe<'a> {
    spec: &'a str,
    targets: Option<Vec<SocketAddr>>,
    foreign: u32,
}

impl<'a> TcpProbe<'a> {
    fn new(spec: &'a str) -> TcpProbe<'a> {
        TcpProbe {
            spec,
            targets: None,
            foreign: 0,
        }
    }

    fn check(&mut self, service: &Service, deadline: Instant) -> Check {
        if self.targets.is_none() {
            let Some((host, port)) = parse_host_port(self.spec) else {
                return Check::Refused(format!("ready: tcp {:?} is not HOST:PORT", self.spec));
            };
            // A name that does not resolve yet (DNS not up) is retried.
            let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
                return Check::NotYet;
            };
            // Only this host's addresses can hold the service's socket.
            let (local, remote): (Vec<SocketAddr>, Vec<SocketAddr>) =
                addrs.partition(|a| is_local(a.ip()));
            if local.is_empty() {
                let remote: Vec<String> = remote.iter().map(|a| a.ip().to_string()).collect();
                return Check::Refused(format!(
                    "ready: tcp {}: {} is not an address of this host, so no process of the service can listen there",
                    self.spec,
                    remote.join(", ")
                ));
            }
            self.targets = Some(local);
        }
        let targets = self.targets.as_deref().unwrap_or_default();
        let listeners = match listeners(service) {
            Ok(l) => l,
            // /proc cannot tell: the best left is a connect.
            Err(_) => return Check::from(connects(targets, deadline)),
        };
        let serving: Vec<u64> = listeners
            .iter()
            .filter(|l| targets.iter().any(|t| l.serves(t)))
            .map(|l| l.inode)
            .collect();
        if serving.is_empty() {
            self.foreign = 0;
            return Check::NotYet;
        }
        let mine = service
            .pids()
            .into_iter()
            .filter_map(|p| service.procfs.socket_inodes(p).ok())
            .flatten()
            .any(|ino| serving.contains(&ino));
        if mine {
            return Check::Ready;
        }
        // Held by someone else — or by a process of the service that svc did not see yet.
        let holders: Vec<(i32, String)> = serving
            .iter()
            .flat_map(|&ino| service.procfs.socket_holders(ino))
            .collect();
        if holders.iter().any(|(p, _)| service.contains(*p)) {
            return Check::Ready;
        }
        self.foreign += 1;
        if self.foreign < 2 {
            return Check::NotYet;
        }
        let who = if holders.is_empty() {
            "another process".to_string()
        } else {
            holders
                .iter()
                .map(|(p, comm)| format!("process {p} ({comm})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Check::Refused(format!(
            "port {} is held by {who}, not by the service",
            self.spec
        ))
    }
}

/// The listening sockets of the service's network namespace, read through its main process
/// or, once that has exited (a zombie has no namespace left to read), through another of its
/// processes; none when no process of the service is left. An error only when /proc cannot
/// tell at all (not even for svc itself): never because the service died, which would turn a
/// dead daemon into a connect that another server answers.
fn listeners(service: &Service) -> io::Result<Vec<crate::process::sockets::Listener>> {
    let procfs = service.procfs;
    let main = service.main.pid();
    if let Ok(l) = procfs.tcp_listeners(main) {
        return Ok(l);
    }
    for p in service.pids().into_iter().filter(|&p| p != main) {
        if let Ok(l) = procfs.tcp_listeners(p) {
            return Ok(l);
        }
    }
    procfs
        .tcp_listeners(std::process::id() as i32)
        .map(|_| Vec::new())
}

/// Whether `ip` is an address of this host: loopback, the wildcard, or one a socket can bind.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind((ip, 0)).is_ok()
}

/// The fallback without /proc: a connect to any target succeeds.
fn connects(targets: &[SocketAddr], deadline: Instant) -> bool {
    targets.iter().any(|addr| {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = left.clamp(Duration::from_millis(1), Duration::from_millis(500));
        TcpStream::connect_timeout(addr, t).is_ok()
    })
}
