//! Admission of a `wait: false` connection (docs/inetd.md, "The super daemon"): the per-client rate
//! limit, the access check (at once, or on a thread when it needs host names), then `instances` and
//! `per_source`. The limits count live servers (see [`super::servers`]): a connection kept out only
//! by servers that have let go of their own connection is parked until they have exited (their
//! SIGCHLD) or [`FINISH_GRACE`] has passed, without holding up the loop.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::lookup::{NoLookup, MAX_PENDING};
use super::{warn, Daemon, Pending};
use crate::access::Verdict;
use crate::securelog::Decision;

/// How long a connection kept out of a limit only by finishing servers waits for them to exit
/// before it is refused after all.
pub const FINISH_GRACE: Duration = Duration::from_secs(1);

/// An allowed connection that only finishing servers keep out of a limit: it waits for their
/// exit (their SIGCHLD), at most until `until`.
#[derive(Debug)]
pub(super) struct Parked {
    service: String,
    client: SocketAddr,
    conn: TcpStream,
    /// The access rule that allowed it, for the ALLOW line.
    rule: String,
    pub(super) until: Instant,
}

/// Whether a connection fits the `instances` and `per_source` limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    Free,
    /// Over this limit only because of servers that are finishing.
    Finishing(&'static str),
    /// Over this limit.
    Full(&'static str),
}

impl Daemon<'_> {
    /// Running servers of `service` (from `source`, if given), connections waiting for their
    /// access check — a flood of slow lookups is capped like running servers — and connections
    /// waiting for finishing servers.
    fn count(&self, service: &str, source: Option<IpAddr>) -> u32 {
        let running = self.children.running(service, source);
        let waiting = self
            .pending
            .values()
            .filter(|p| p.conn.is_some() && p.service == service)
            .filter(|p| source.is_none_or(|ip| p.client.ip() == ip))
            .count();
        let parked = self
            .parked
            .iter()
            .filter(|p| p.service == service)
            .filter(|p| source.is_none_or(|ip| p.client.ip() == ip))
            .count();
        (running + waiting + parked) as u32
    }

    /// Whether one more connection of `service` from `client` fits `instances` and
    /// `per_source`. At a limit, exited servers are reaped first (their SIGCHLD may not have
    /// been read yet), then servers that have let go of their connection are told apart: a
    /// client that saw its last connection end must not be refused for it.
    fn room(&mut self, service: &str, sock: &crate::definition::Socket, client: IpAddr) -> Room {
        let mut room = Room::Free;
        for (max, source, limit) in [
            (sock.instances, None, "instances"),
            (sock.per_source, Some(client), "per_source"),
        ] {
            let Some(max) = max else { continue };
            if self.count(service, source) < max {
                continue;
            }
            self.children.reap();
            let n = self.count(service, source);
            if n < max {
                continue;
            }
            let finishing = self.children.finishing(service, source) as u32;
            if n - finishing >= max {
                return Room::Full(limit);
            }
            if room == Room::Free {
                room = Room::Finishing(limit);
            }
        }
        room
    }

    /// One accepted connection of a `wait: false` service.
    pub(super) fn connection(&mut self, name: &str, stream: TcpStream, peer: SocketAddr) {
        let client = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let Some(sock) = svc.def.socket.clone() else {
            return;
        };
        if let Some((per_second, wait)) = sock.cps {
            if !svc
                .rates
                .admit(client.ip(), Instant::now(), per_second, wait)
            {
                self.record(Decision::Limit, name, client, "cps");
                return;
            }
        }
        let server = stream.local_addr().ok();
        let probe = NoLookup::default();
        let verdict = self.rules.check_with_server(name, client, server, &probe);
        if probe.asked() && self.pending.len() < MAX_PENDING {
            // Host names needed: the limits count this connection while it waits.
            if !self.under_limits(name, &sock, client) {
                return;
            }
            match self.checks.start(self.rules.clone(), name, client, server) {
                Ok(id) => {
                    let p = Pending {
                        service: name.to_string(),
                        client,
                        conn: Some(stream),
                        socket_id: 0,
                    };
                    self.pending.insert(id, p);
                    return;
                }
                Err(e) => warn(format_args!(
                    "{name}: cannot start a lookup thread: {e}; checking without host names"
                )),
            }
        }
        self.decided(name, stream, client, verdict);
    }

    /// The verdict of a `wait: false` connection is known: deny it, or apply the limits and
    /// start its server.
    pub(super) fn decided(
        &mut self,
        name: &str,
        stream: TcpStream,
        client: SocketAddr,
        verdict: Verdict,
    ) {
        let Some(sock) = self.services.get(name).and_then(|s| s.def.socket.clone()) else {
            return;
        };
        let Some(rule) = self.access(name, client, verdict) else {
            return;
        };
        let until = Instant::now() + FINISH_GRACE;
        self.admit(name, &sock, stream, client, rule, until);
    }

    /// An allowed connection: its server starts when the limits leave room; it waits (parked,
    /// until `until`) when only finishing servers are in the way; else it is refused.
    fn admit(
        &mut self,
        name: &str,
        sock: &crate::definition::Socket,
        stream: TcpStream,
        client: SocketAddr,
        rule: String,
        until: Instant,
    ) {
        match self.room(name, sock, client.ip()) {
            Room::Free => {
                self.record(Decision::Allow, name, client, &rule);
                self.launch(name, OwnedFd::from(stream), Some(client.ip()), None);
            }
            Room::Finishing(_) if Instant::now() < until => self.parked.push(Parked {
                service: name.to_string(),
                client,
                conn: stream,
                rule,
                until,
            }),
            Room::Finishing(limit) | Room::Full(limit) => {
                self.record(Decision::Limit, name, client, limit);
            }
        }
    }

    /// Parked connections, oldest first: admitted, parked again, or refused (their wait is
    /// over); dropped (closed) when their service is no longer served.
    pub(super) fn retry_parked(&mut self) {
        if self.parked.is_empty() {
            return;
        }
        for p in std::mem::take(&mut self.parked) {
            let Some(sock) = self
                .services
                .get(&p.service)
                .and_then(|s| s.def.socket.clone())
            else {
                continue;
            };
            self.admit(&p.service, &sock, p.conn, p.client, p.rule, p.until);
        }
    }

    /// Before a lookup: false (the refusal logged) when the connection is over `instances` or
    /// `per_source` even once finishing servers are gone; the final word comes with the
    /// verdict ([`Daemon::admit`]).
    fn under_limits(
        &mut self,
        name: &str,
        sock: &crate::definition::Socket,
        client: SocketAddr,
    ) -> bool {
        match self.room(name, sock, client.ip()) {
            Room::Full(limit) => {
                self.record(Decision::Limit, name, client, limit);
                false
            }
            Room::Free | Room::Finishing(_) => true,
        }
    }
}
