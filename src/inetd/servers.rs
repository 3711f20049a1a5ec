//! The processes `svc inetd` started and will reap — servers and the `spawn` commands of access
//! rules — and how many of them count toward `instances` and `per_source` (docs/inetd.md, "The
//! super daemon").
//!
//! A limit counts live servers. Two kinds of server have ended as far as their client can tell
//! yet are still children here: one that has exited but whose SIGCHLD has not been read (the
//! caller reaps before counting at a limit, [`Servers::reap`]), and one that has closed its
//! connection — its client has seen EOF and may reconnect at once — but has not finished
//! exiting: `cat` closes stdout in an exit handler, and the kernel closes a process's files
//! before it becomes a zombie. Such a server is *finishing* ([`Servers::finishing`]): it no
//! longer holds the socket it was given (looked up in `/proc/PID/fd`, only when a limit is
//! reached). The daemon lets a connection that only finishing servers keep out wait for their
//! exit, briefly, instead of refusing it (issue 10 item 15).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// A process svc started and will reap.
#[derive(Debug)]
pub struct Child {
    /// The service it serves; `None` for a `spawn` command of an access rule.
    pub service: Option<String>,
    /// The client address it serves (`wait: false`).
    pub source: Option<IpAddr>,
    /// The wait-mode socket it holds.
    pub holds: Option<u64>,
    /// The inode of the socket it was given (its connection, for `wait: false`).
    pub socket_inode: Option<u64>,
}

/// Every child of the daemon, by PID.
#[derive(Debug, Default)]
pub struct Servers {
    children: HashMap<i32, Child>,
    /// Whether a server still holds its connection, as looked up in `/proc` during this round
    /// of the daemon's loop ([`Servers::new_round`]): a flood of connections refused at a limit
    /// costs one look per server and round, not one per connection. A server seen without its
    /// connection is finishing for good (it cannot get the connection back) and stays so.
    holds: RefCell<HashMap<i32, bool>>,
    /// How many times `/proc` was looked at (for the tests).
    #[cfg(test)]
    scans: std::cell::Cell<usize>,
}

impl Servers {
    pub fn insert(&mut self, pid: i32, child: Child) {
        self.children.insert(pid, child);
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&i32, &Child)> {
        self.children.iter()
    }

    /// Whether a server holds the wait-mode socket `id`.
    pub fn busy(&self, id: u64) -> bool {
        self.children.values().any(|c| c.holds == Some(id))
    }

    fn of<'a>(
        &'a self,
        service: &'a str,
        source: Option<IpAddr>,
    ) -> impl Iterator<Item = (&'a i32, &'a Child)> + 'a {
        self.children
            .iter()
            .filter(move |(_, c)| c.service.as_deref() == Some(service))
            .filter(move |(_, c)| source.is_none() || c.source == source)
    }

    /// Servers of `service` (from `source`, if given) not reaped yet.
    pub fn running(&self, service: &str, source: Option<IpAddr>) -> usize {
        self.of(service, source).count()
    }

    /// Of those, the ones that have let go of their connection: they are exiting, or about to.
    pub fn finishing(&self, service: &str, source: Option<IpAddr>) -> usize {
        self.of(service, source)
            .filter(|(pid, c)| {
                let Some(ino) = c.socket_inode else {
                    return false;
                };
                let mut memo = self.holds.borrow_mut();
                let holds = *memo.entry(**pid).or_insert_with(|| {
                    #[cfg(test)]
                    self.scans.set(self.scans.get() + 1);
                    holds_socket(**pid, ino)
                });
                !holds
            })
            .count()
    }

    /// A new round of the daemon's loop: servers seen holding their connection are looked at
    /// again when it matters.
    pub fn new_round(&mut self) {
        self.holds.get_mut().retain(|_, holds| !*holds);
    }

    /// Reaps every child that has exited.
    pub fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(st) => {
                    if let Some(pid) = st.pid() {
                        self.children.remove(&pid.as_raw());
                        self.holds.get_mut().remove(&pid.as_raw());
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }
}

/// The inode of a socket (or any file) svc is about to hand to a server.
pub fn inode_of(fd: &OwnedFd) -> Option<u64> {
    nix::sys::stat::fstat(fd.as_raw_fd())
        .ok()
        .map(|st| st.st_ino)
}

/// Whether process `pid` still has the socket with inode `ino` among its descriptors. A process
/// whose descriptors cannot be listed because they are gone (it exited) does not; one svc may
/// not look at (EACCES: a setuid server while svc is not root) is taken to hold it.
fn holds_socket(pid: i32, ino: u64) -> bool {
    let fds = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(rd) => rd,
        Err(e) => return e.kind() == std::io::ErrorKind::PermissionDenied,
    };
    let want = format!("socket:[{ino}]");
    fds.flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == want.as_str()))
}

/// Signals a server and its process group (it leads one: the launcher calls setsid). The PID
/// is a child svc has not reaped yet, so it cannot have been reused.
pub fn signal_server(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(-pid), sig);
    let _ = kill(Pid::from_raw(pid), sig);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// A socket this process holds, its peer and its inode.
    fn socket() -> (OwnedFd, UnixStream, u64) {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = OwnedFd::from(a);
        let ino = inode_of(&fd).unwrap();
        (fd, b, ino)
    }

    #[test]
    fn a_process_holds_its_socket_until_it_closes_it() {
        let (fd, _peer, ino) = socket();
        let me = std::process::id() as i32;
        assert!(holds_socket(me, ino));
        drop(fd);
        assert!(!holds_socket(me, ino));
        // A process that does not exist holds nothing.
        assert!(!holds_socket(i32::MAX, ino));
    }

    /// A flood of connections at a limit looks at each server once per round of the loop, not
    /// once per connection; a new round looks again at those that held their connection.
    #[test]
    fn servers_are_looked_at_once_per_round() {
        let (fd, _peer, ino) = socket();
        let me = std::process::id() as i32;
        let mut s = Servers::default();
        let child = |inode| Child {
            service: Some("echo".into()),
            source: None,
            holds: None,
            socket_inode: Some(inode),
        };
        // This process holds `ino`, not `u64::MAX`; no real child is needed to look.
        s.insert(me, child(ino));
        s.insert(i32::MAX, child(ino));
        for _ in 0..100 {
            assert_eq!(s.finishing("echo", None), 1);
        }
        assert_eq!(s.scans.get(), 2);
        s.new_round();
        assert_eq!(s.finishing("echo", None), 1);
        // Only the holder was looked at again.
        assert_eq!(s.scans.get(), 3);
        drop(fd);
        s.new_round();
        assert_eq!(s.finishing("echo", None), 2);
    }
}
