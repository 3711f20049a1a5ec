//! Access checks that need host names, off the poll loop: a slow resolver never stalls the
//! super daemon (docs/inetd.md).
//!
//! The loop first checks a client with [`NoLookup`], a resolver that answers nothing and
//! remembers whether it was asked. When it was not (address-only rules, or an address rule
//! decided before any host-name rule), that verdict is final and nothing else happens. When it
//! was, the loop hands the check to [`Checks::start`]: a short-lived thread runs it with
//! [`Bounded`], the system resolver with every lookup bounded by [`LOOKUP_TIMEOUT`] (a lookup
//! still running at its deadline is abandoned to finish in the background, and counts as
//! failed: the client is UNKNOWN, as tcp_wrappers treats a failed lookup). The verdict comes
//! back through a list the loop drains when a self-pipe it polls becomes readable.
//!
//! Test hook: `SVC_TEST_DNS_DELAY_MS=N` makes every lookup wait N ms before asking the
//! system, to play a slow resolver. It is read once at start; never set it in production.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::OFlag;

use crate::access::{Resolver, Rules, SystemResolver, Verdict};

/// The longest one reverse or forward lookup may take; then the name is UNKNOWN.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Most checks waiting for lookups at once (all services); over it, a check runs at once with
/// no lookup (names UNKNOWN), so a flood never grows threads without bound.
pub const MAX_PENDING: usize = 256;
/// The test hook (see the module documentation).
pub const DELAY_ENV: &str = "SVC_TEST_DNS_DELAY_MS";

/// A resolver that never looks anything up (every name UNKNOWN) and says whether it was asked.
#[derive(Debug, Default)]
pub struct NoLookup {
    asked: Cell<bool>,
}

impl NoLookup {
    pub fn asked(&self) -> bool {
        self.asked.get()
    }
}

impl Resolver for NoLookup {
    fn reverse(&self, _ip: IpAddr) -> Option<String> {
        self.asked.set(true);
        None
    }

    fn forward(&self, _name: &str) -> Vec<IpAddr> {
        self.asked.set(true);
        Vec::new()
    }
}

/// The system resolver, each lookup on its own thread and bounded by a timeout.
#[derive(Debug, Clone, Copy)]
pub struct Bounded {
    pub timeout: Duration,
    /// The test hook's delay before each lookup.
    pub delay: Option<Duration>,
}

impl Bounded {
    /// [`LOOKUP_TIMEOUT`], and the test hook's delay if it is set.
    pub fn from_env() -> Bounded {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        Bounded {
            timeout: LOOKUP_TIMEOUT,
            delay,
        }
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SystemResolver) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        let delay = self.delay;
        std::thread::Builder::new()
            .name("svc-lookup".into())
            .spawn(move || {
                if let Some(d) = delay {
                    std::thread::sleep(d);
                }
                let _ = tx.send(f(&SystemResolver));
            })
            .ok()?;
        rx.recv_timeout(self.timeout).ok()
    }
}

impl Resolver for Bounded {
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.run(move |r| r.reverse(ip)).flatten()
    }

    fn forward(&self, name: &str) -> Vec<IpAddr> {
        let name = name.to_string();
        self.run(move |r| r.forward(&name)).unwrap_or_default()
    }
}

/// Checks running on threads, and the verdicts they sent back.
#[derive(Debug)]
pub struct Checks {
    done: Arc<Mutex<Vec<(u64, Verdict)>>>,
    wake_read: OwnedFd,
    wake_write: Arc<OwnedFd>,
    resolver: Bounded,
    next: u64,
}

impl Checks {
    pub fn new() -> nix::Result<Checks> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        Ok(Checks {
            done: Arc::default(),
            wake_read: r,
            wake_write: Arc::new(w),
            resolver: Bounded::from_env(),
            next: 1,
        })
    }

    /// Readable when a verdict is waiting.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake_read.as_fd()
    }

    /// Starts checking `client` of `daemon` on a thread; the id its verdict will come with.
    pub fn start(
        &mut self,
        rules: Arc<Rules>,
        daemon: &str,
        client: SocketAddr,
        server: Option<SocketAddr>,
    ) -> std::io::Result<u64> {
        let id = self.next;
        let (done, wake, resolver) = (self.done.clone(), self.wake_write.clone(), self.resolver);
        let daemon = daemon.to_string();
        std::thread::Builder::new()
            .name("svc-check".into())
            .spawn(move || {
                let verdict = rules.check_with_server(&daemon, client, server, &resolver);
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((id, verdict));
                // A full pipe already wakes the loop: the byte is only a signal.
                let _ = nix::unistd::write(&*wake, &[1]);
            })?;
        self.next += 1;
        Ok(id)
    }

    /// Every verdict sent back since the last call.
    pub fn take(&self) -> Vec<(u64, Verdict)> {
        let mut buf = [0u8; 256];
        while let Ok(n) = nix::unistd::read(self.wake_read.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
        }
        std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(allow: &str, deny: &str, daemon: &str) -> bool {
        let probe = NoLookup::default();
        Rules::from_text(allow, deny).check(daemon, "10.0.0.1:5".parse().unwrap(), &probe);
        probe.asked()
    }

    /// Address rules are decided in the loop; host-name rules go to a thread.
    #[test]
    fn f5_only_checks_that_need_names_leave_the_loop() {
        assert!(!asked("echo: 10.0.0.\n", "ALL: ALL\n", "echo"));
        assert!(!asked("echo: 10.0.0.1\nALL: KNOWN\n", "", "echo"));
        assert!(!asked("other: .example.com\n", "", "echo"));
        assert!(asked("echo: .example.com\n", "", "echo"));
        assert!(asked("", "ALL: PARANOID\n", "echo"));
        assert!(asked("ALL: ALL : spawn echo %h\n", "", "echo"));
    }

    /// A timed-out lookup is a failed one (UNKNOWN), and the verdict comes back on the pipe.
    #[test]
    fn f5_verdict_comes_back_through_the_pipe() {
        let mut checks = Checks::new().unwrap();
        checks.resolver = Bounded {
            timeout: Duration::ZERO,
            delay: None,
        };
        let rules = Arc::new(Rules::from_text("echo: UNKNOWN\n", "ALL: ALL\n"));
        let id = checks
            .start(rules, "echo", "192.0.2.1:5".parse().unwrap(), None)
            .unwrap();
        let mut fds = [nix::poll::PollFd::new(
            checks.fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16)).unwrap();
        let got = checks.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, id);
        assert!(got[0].1.allowed, "{:?}", got[0].1);
        assert_eq!(got[0].1.rule, "hosts.allow:1");
        assert!(checks.take().is_empty());
    }
}
