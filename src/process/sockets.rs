//! Who holds a TCP port: listening sockets from `/proc/PID/net/tcp` and `tcp6`, and the socket
//! inodes a process holds from `/proc/PID/fd` (docs/commands.md, readiness in "Starting and
//! stopping": a readiness port counts only when the service's own processes listen on it).
//!
//! These are methods of [`Procfs`], rooted like the rest of it, so the parsing is tested on
//! fixture trees. The kernel prints addresses as hex words in host byte order and the port as
//! a plain hex number; state `0A` is LISTEN.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::procfs::Procfs;

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub addr: SocketAddr,
    /// The socket's inode (what `/proc/PID/fd/N -> socket:[INODE]` names).
    pub inode: u64,
}

impl Listener {
    /// Whether a connection to `target` would reach this socket: same port, and the same
    /// address or a wildcard that covers it (`::` also takes IPv4 unless the socket is
    /// IPv6-only, which /proc does not say: counted). A wildcard target (`0.0.0.0`, `::`) is
    /// met by any address.
    pub fn serves(&self, target: &SocketAddr) -> bool {
        if self.addr.port() != target.port() {
            return false;
        }
        let mine = unmap(self.addr.ip());
        let theirs = unmap(target.ip());
        if theirs.is_unspecified() || mine == theirs {
            return true;
        }
        match self.addr.ip() {
            IpAddr::V4(a) => a.is_unspecified() && theirs.is_ipv4(),
            IpAddr::V6(a) => a.is_unspecified(),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses one hex address (8 digits for IPv4, 32 for IPv6, words in host byte order).
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(hex)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The LISTEN sockets in the text of `/proc/net/tcp` or `tcp6` (malformed lines are skipped).
pub fn parse_net_tcp(text: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(3) != Some(&"0A") {
                return None;
            }
            let (addr, port) = f.get(1)?.split_once(':')?;
            Some(Listener {
                addr: SocketAddr::new(parse_addr(addr)?, u16::from_str_radix(port, 16).ok()?),
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

impl Procfs {
    /// Every listening TCP socket in the network namespace of `pid` (`/proc/PID/net/tcp` and
    /// `tcp6`). An error when neither file can be read: /proc cannot tell.
    pub fn tcp_listeners(&self, pid: i32) -> io::Result<Vec<Listener>> {
        let net = self.root().join(pid.to_string()).join("net");
        let v4 = std::fs::read_to_string(net.join("tcp"));
        // No tcp6 without IPv6 in the kernel: tcp alone tells then.
        let v6 = std::fs::read_to_string(net.join("tcp6"));
        if let (Err(e), Err(_)) = (&v4, &v6) {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        Ok([v4, v6]
            .iter()
            .flatten()
            .flat_map(|text| parse_net_tcp(text))
            .collect())
    }

    /// The socket inodes `pid` holds open (from `/proc/PID/fd`); `Err` when its descriptors
    /// cannot be listed (gone, or another user's without privileges).
    pub fn socket_inodes(&self, pid: i32) -> io::Result<Vec<u64>> {
        let dir: PathBuf = self.root().join(pid.to_string()).join("fd");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let Ok(target) = std::fs::read_link(e?.path()) else {
                continue;
            };
            if let Some(n) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// The processes holding socket `inode`, with their command names: one scan of every
    /// process's descriptors (those svc may read).
    pub fn socket_holders(&self, inode: u64) -> Vec<(i32, String)> {
        self.pids()
            .into_iter()
            .filter(|&p| self.socket_inodes(p).is_ok_and(|v| v.contains(&inode)))
            .filter_map(|p| Some((p, self.stat(p)?.comm)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0\n   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1\n   3: garbage\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0\n   1: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 98 1 0000000000000000 100 0 0 10 0\n   2: 00000000000000000000000000000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 97 1 0000000000000000 100 0 0 10 0\n";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_listeners_only() {
        let l = parse_net_tcp(TCP);
        assert_eq!(
            l,
            vec![
                Listener {
                    addr: sa("127.0.0.1:8080"),
                    inode: 4242
                },
                Listener {
                    addr: sa("0.0.0.0:22"),
                    inode: 17
                },
            ]
        );
        let l6 = parse_net_tcp(TCP6);
        assert_eq!(l6[0].addr, sa("[::1]:8081"));
        assert_eq!(l6[1].addr, sa("[::ffff:127.0.0.1]:8082"));
        assert_eq!(l6[2].addr, sa("[::]:8083"));
        assert_eq!(l6.len(), 3);
    }

    #[test]
    fn which_listener_serves_which_target() {
        let l = |a: &str| Listener {
            addr: sa(a),
            inode: 1,
        };
        assert!(l("127.0.0.1:80").serves(&sa("127.0.0.1:80")));
        assert!(!l("127.0.0.1:80").serves(&sa("127.0.0.1:81")));
        assert!(!l("127.0.0.2:80").serves(&sa("127.0.0.1:80")));
        assert!(l("0.0.0.0:80").serves(&sa("127.0.0.1:80")));
        assert!(!l("0.0.0.0:80").serves(&sa("[::1]:80")));
        assert!(l("[::]:80").serves(&sa("127.0.0.1:80")));
        assert!(l("[::]:80").serves(&sa("[::1]:80")));
        assert!(l("[::ffff:127.0.0.1]:80").serves(&sa("127.0.0.1:80")));
        assert!(!l("[::1]:80").serves(&sa("127.0.0.1:80")));
        assert!(l("127.0.0.1:80").serves(&sa("0.0.0.0:80")));
    }

    #[test]
    fn fixture_tree_listeners_and_fds() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("7/net");
        std::fs::create_dir_all(&net).unwrap();
        std::fs::write(net.join("tcp"), TCP).unwrap();
        let fd = dir.path().join("7/fd");
        std::fs::create_dir_all(&fd).unwrap();
        std::os::unix::fs::symlink("socket:[4242]", fd.join("3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd.join("0")).unwrap();
        std::os::unix::fs::symlink("pipe:[5]", fd.join("1")).unwrap();
        std::fs::write(
            dir.path().join("7/stat"),
            "7 (web) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n",
        )
        .unwrap();
        let p = Procfs::at(dir.path());
        // Without tcp6 (no IPv6), tcp alone answers.
        assert_eq!(p.tcp_listeners(7).unwrap().len(), 2);
        assert!(p.tcp_listeners(8).is_err());
        assert_eq!(p.socket_inodes(7).unwrap(), vec![4242]);
        assert_eq!(p.socket_holders(4242), vec![(7, "web".to_string())]);
        assert!(p.socket_holders(17).is_empty());
    }
}
