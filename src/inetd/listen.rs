//! The sockets of the super daemon's services.
//!
//! A `wait: false` TCP listener is non-blocking (accepted connections are blocking, as the
//! service expects). A `wait: true` socket stays blocking: svc only polls it, and the process it
//! is handed to gets it exactly as an inetd service expects (a shared file status, so svc never
//! changes its flags while a server holds it). Every socket is close-on-exec; the launcher gives
//! a server its socket as fds 0 and 1 only.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::definition::{Protocol, Socket};

/// A bound socket of one service.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// What identifies a socket: a change of any of these needs a new one.
pub fn address(s: &Socket) -> (SocketAddr, Protocol, bool) {
    (SocketAddr::new(s.bind, s.port), s.protocol, s.wait)
}

/// `ADDR:PORT/tcp` for messages.
pub fn describe(s: &Socket) -> String {
    let proto = match s.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    format!("{}/{proto}", SocketAddr::new(s.bind, s.port))
}

impl Listener {
    /// Binds the service's socket. A `bind` that is not a local address fails here
    /// (EADDRNOTAVAIL), never falling back to all addresses.
    pub fn bind(s: &Socket) -> io::Result<Listener> {
        let addr = SocketAddr::new(s.bind, s.port);
        match s.protocol {
            Protocol::Tcp => {
                let l = TcpListener::bind(addr)?;
                l.set_nonblocking(!s.wait)?;
                Ok(Listener::Tcp(l))
            }
            Protocol::Udp => Ok(Listener::Udp(UdpSocket::bind(addr)?)),
        }
    }

    /// A duplicate of the socket, for the server of a `wait: true` service.
    pub fn duplicate(&self) -> io::Result<OwnedFd> {
        match self {
            Listener::Tcp(l) => l.try_clone().map(OwnedFd::from),
            Listener::Udp(u) => u.try_clone().map(OwnedFd::from),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Udp(u) => u.as_fd(),
        }
    }
}
