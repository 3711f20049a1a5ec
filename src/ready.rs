//! Readiness checks (SPEC §3.1 step 5): `tcp` (a connect succeeds), `file` (it exists) and
//! `notify` (the sd_notify protocol: the daemon sends `READY=1` to `NOTIFY_SOCKET`).
//!
//! Every wait also watches the launched process, so a daemon that dies while svc waits fails the
//! start at once instead of after `ready_timeout`. tcp and file checks are retried with short
//! growing pauses spent waiting on the process's pidfd; notify waits on the socket and the
//! pidfd together and wakes on either.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::definition::{parse_host_port, Ready};
use crate::process::handle::{poll_fds, ProcHandle};

/// How a readiness wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    /// The process exited while svc waited.
    Died,
    TimedOut,
    /// svc was asked to stop (SIGTERM to a switch, see `process::cancel`).
    Cancelled,
}

/// The receiving end of the notify protocol, removed from the file system on drop.
pub struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds a datagram socket at `path` (replacing a stale one) that `owner` may write to.
    pub fn bind(path: &Path, owner: Option<(u32, u32)>) -> io::Result<NotifySocket> {
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path).map_err(|e| {
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
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drains pending datagrams; true once one of them holds a `READY=1` line.
    fn ready_received(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut ready = false;
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    // Zero-length or garbage datagrams are ignored, never fatal.
                    ready |= buf[..n].split(|&b| b == b'\n').any(|l| l == b"READY=1");
                }
                Err(_) => return ready,
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits until `check` holds, `main` exits, or `deadline` passes.
pub fn wait(
    check: &Ready,
    main: &ProcHandle,
    notify: Option<&NotifySocket>,
    deadline: Instant,
) -> Outcome {
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
            until_ready(main, deadline, || ns.ready_received(), pause)
        }
        Ready::Tcp(spec) => backoff(main, deadline, || tcp_ready(spec, deadline)),
        Ready::File(path) => backoff(main, deadline, || path.exists()),
    }
}

/// The common loop: `check`, then whether `main` died, then the deadline, then `pause` until
/// the deadline (which may return early).
fn until_ready(
    main: &ProcHandle,
    deadline: Instant,
    mut check: impl FnMut() -> bool,
    mut pause: impl FnMut(Instant),
) -> Outcome {
    loop {
        if check() {
            return Outcome::Ready;
        }
        if main.exited() {
            // One last look: a daemon may have become ready just before it exited.
            return if check() {
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

/// Retries a check that has nothing to wait on (a connect, a file) with short pauses growing
/// from 2 to 10 ms, spent waiting on the process so that its death ends them early.
fn backoff(main: &ProcHandle, deadline: Instant, check: impl FnMut() -> bool) -> Outcome {
    let mut step = Duration::from_millis(2);
    until_ready(main, deadline, check, |deadline| {
        main.wait_exit((Instant::now() + step).min(deadline));
        step = (step * 2).min(Duration::from_millis(10));
    })
}

fn tcp_ready(spec: &str, deadline: Instant) -> bool {
    let Some((host, port)) = parse_host_port(spec) else {
        return false;
    };
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = left.clamp(Duration::from_millis(1), Duration::from_millis(500));
        if TcpStream::connect_timeout(&addr, t).is_ok() {
            return true;
        }
    }
    false
}
