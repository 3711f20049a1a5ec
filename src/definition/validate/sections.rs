//! Checks of the nested settings — `limits`, `ready`, `respawn`, `socket` — and the helpers
//! messages share.

use std::net::IpAddr;

use super::super::model::{CgroupLimits, Limit, Protocol, Ready, Resource, Respawn, Socket};
use super::super::yaml::{Entry, Node};
use super::{Validator, KEYS};

impl Validator<'_> {
    /// The rlimits of `limits`, and its two cgroup limits (`memory`, `pids`; SPEC §8.7).
    pub(super) fn limits(&mut self, n: &Node) -> (Vec<Limit>, CgroupLimits) {
        let mut cgroup = CgroupLimits::default();
        let Some(m) = self.mapping("limits", "a mapping such as { nofile: 4096, core: 0 }", n)
        else {
            return (Vec::new(), cgroup);
        };
        let mut out = Vec::new();
        for Entry {
            key: k, value: v, ..
        } in m
        {
            if k == "memory" || k == "pids" {
                match cgroup_limit(k, v) {
                    Ok(x) if k == "memory" => cgroup.memory = x,
                    Ok(x) => cgroup.pids = x,
                    Err(e) => self.problem(&["limits", k], format!("`limits.{k}`: {e}")),
                }
                continue;
            }
            let Some(resource) = Resource::from_name(k) else {
                let mut names: Vec<&str> = Resource::ALL.iter().map(|(n, _)| *n).collect();
                names.extend(["memory", "pids"]);
                names.sort_unstable();
                self.problem(
                    &["limits", k],
                    format!(
                        "`limits`: unknown limit `{k}`; expected one of: {}",
                        names.join(", ")
                    ),
                );
                continue;
            };
            let one = |n: &Node| -> Result<Option<u64>, String> {
                match n {
                    Node::Int(i) if *i >= 0 && *i < u64::MAX as i128 => Ok(Some(*i as u64)),
                    Node::Str(s) if s == "unlimited" || s == "infinity" => Ok(None),
                    other => Err(format!(
                        "expected a non-negative integer or \"unlimited\", found {}",
                        other.kind()
                    )),
                }
            };
            let r = match v {
                Node::Seq(pair) if pair.len() == 2 => {
                    one(&pair[0]).and_then(|s| Ok((s, one(&pair[1])?)))
                }
                Node::Seq(_) => Err("expected a value or a [soft, hard] pair".to_string()),
                other => one(other).map(|x| (x, x)),
            };
            match r {
                Ok((soft, hard)) => {
                    let too_high = matches!((soft, hard), (None, Some(_)))
                        || matches!((soft, hard), (Some(s), Some(h)) if s > h);
                    if too_high {
                        self.problem(
                            &["limits", k],
                            format!("`limits.{k}`: the soft limit is above the hard limit"),
                        );
                    } else {
                        out.push(Limit {
                            resource,
                            soft,
                            hard,
                        });
                    }
                }
                Err(e) => self.problem(&["limits", k], format!("`limits.{k}`: {e}")),
            }
        }
        (out, cgroup)
    }

    pub(super) fn ready(&mut self, n: &Node) -> Option<Ready> {
        let m = self.mapping("ready", "a mapping with one of tcp, file or notify", n)?;
        if m.len() != 1 {
            self.problem(&["ready"], "`ready`: expected exactly one of { tcp: \"HOST:PORT\" }, { file: PATH } or { notify: true }");
            return None;
        }
        let Entry {
            key: k, value: v, ..
        } = &m[0];
        match k.as_str() {
            "tcp" => {
                let s = self.nonempty(&["ready", "tcp"], v)?;
                if parse_host_port(&s).is_none() {
                    self.problem(&["ready", "tcp"], format!("`ready.tcp`: {s:?} is not HOST:PORT (e.g. \"127.0.0.1:8080\", \"[::1]:8080\")"));
                    return None;
                }
                Some(Ready::Tcp(s))
            }
            "file" => self.abs_path(&["ready", "file"], v).map(Ready::File),
            "notify" => match self.boolean(&["ready", "notify"], v)? {
                true => Some(Ready::Notify),
                false => None,
            },
            other => {
                self.problem(
                    &["ready", other],
                    format!("`ready`: unknown check `{other}`; expected tcp, file or notify"),
                );
                None
            }
        }
    }

    pub(super) fn respawn(&mut self, n: &Node) -> Option<Respawn> {
        match n {
            Node::Bool(false) => None,
            Node::Bool(true) => Some(Respawn::default()),
            Node::Map(m) => {
                let mut r = Respawn::default();
                for Entry {
                    key: k, value: v, ..
                } in m
                {
                    match k.as_str() {
                        "max" => {
                            r.max = self
                                .int_in(&["respawn", "max"], v, 0, 1_000_000)
                                .unwrap_or(5) as u32
                        }
                        "window" => {
                            r.window = self.duration(&["respawn", "window"], v).unwrap_or(r.window)
                        }
                        "backoff" => {
                            r.backoff = self
                                .duration(&["respawn", "backoff"], v)
                                .unwrap_or(r.backoff)
                        }
                        other => self.problem(
                            &["respawn", other],
                            format!(
                                "`respawn`: unknown key `{other}`; expected max, window, backoff"
                            ),
                        ),
                    }
                }
                Some(r)
            }
            other => {
                self.expected(
                    &["respawn"],
                    "false, true or { max, window, backoff }",
                    other,
                );
                None
            }
        }
    }

    pub(super) fn socket(&mut self, n: &Node) -> Option<Socket> {
        let m = self.mapping("socket", "a mapping with at least `port`", n)?;
        let mut s = Socket {
            port: 0,
            bind: IpAddr::from([0, 0, 0, 0]),
            protocol: Protocol::Tcp,
            wait: false,
            instances: None,
            per_source: None,
            cps: None,
        };
        let mut port = None;
        let mut ok = true;
        for Entry {
            key: k, value: v, ..
        } in m
        {
            let p = ["socket", k.as_str()];
            match k.as_str() {
                "port" => port = self.int_in(&p, v, 1, 65535).map(|x| x as u16),
                "bind" => match v {
                    Node::Str(b) => match b.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                        Ok(ip) => s.bind = ip,
                        Err(_) => {
                            self.problem(&p, format!("`socket.bind`: {b:?} is not an IPv4 or IPv6 address"));
                            ok = false;
                        }
                    },
                    other => {
                        self.expected(&p, "an IP address", other);
                        ok = false;
                    }
                },
                "protocol" => match v {
                    Node::Str(x) if x == "tcp" => s.protocol = Protocol::Tcp,
                    Node::Str(x) if x == "udp" => s.protocol = Protocol::Udp,
                    other => {
                        self.problem(&p, format!("`socket.protocol`: expected tcp or udp, found {}", describe(other)));
                        ok = false;
                    }
                },
                "wait" => s.wait = self.boolean(&p, v).unwrap_or(false),
                "instances" => s.instances = self.int_in(&p, v, 1, 1_000_000).map(|x| x as u32),
                "per_source" => s.per_source = self.int_in(&p, v, 1, 1_000_000).map(|x| x as u32),
                "cps" => match v {
                    Node::Seq(pair) if pair.len() == 2 => {
                        let a = self.int_in(&p, &pair[0], 1, 1_000_000);
                        let b = self.int_in(&p, &pair[1], 0, 86_400);
                        if let (Some(a), Some(b)) = (a, b) {
                            s.cps = Some((a as u32, b as u32));
                        }
                    }
                    other => {
                        self.problem(&p, format!("`socket.cps`: expected [connections per second, seconds refused], found {}", describe(other)));
                    }
                },
                other => self.problem(&p, format!("`socket`: unknown key `{other}`; expected port, bind, protocol, wait, instances, per_source, cps")),
            }
        }
        match port {
            Some(p) => s.port = p,
            None => {
                if !m.iter().any(|e| e.key == "port") {
                    self.problem(&["socket"], "`socket`: missing `port`");
                }
                ok = false;
            }
        }
        if s.protocol == Protocol::Udp && !s.wait && ok {
            self.problem(
                &["socket", "wait"],
                "`socket`: a udp service needs `wait: true` (one process is handed the socket)",
            );
            ok = false;
        }
        ok.then_some(s)
    }
}

pub(super) fn describe(n: &Node) -> String {
    match n {
        Node::Str(s) => format!("{s:?}"),
        Node::Int(i) => i.to_string(),
        other => other.kind().to_string(),
    }
}

/// The closest known key to a typo (edit distance 1 or 2).
pub(super) fn suggest(k: &str) -> Option<&'static str> {
    pub(super) fn dist(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    KEYS.iter()
        .map(|c| (dist(k, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Splits `HOST:PORT` / `[V6]:PORT`.
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h.to_string(), p)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h.to_string(), p)
    };
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    Some((host, port))
}

/// One cgroup limit (SPEC §8.7): `pids` a positive integer, `memory` bytes as an integer or
/// with a `K`, `M` or `G` suffix (powers of 1024); "max", "unlimited" or "infinity" is none.
fn cgroup_limit(key: &str, v: &Node) -> Result<Option<u64>, String> {
    let expected = match key {
        "memory" => "expected bytes such as 536870912, \"512M\" or \"2G\", or \"max\"",
        _ => "expected a positive number of processes, or \"max\"",
    };
    let n = match v {
        Node::Int(i) if *i > 0 && *i < i64::MAX as i128 => *i as u64,
        Node::Str(s) if matches!(s.as_str(), "max" | "unlimited" | "infinity") => return Ok(None),
        Node::Str(s) if key == "memory" => {
            let (digits, unit) = match s.char_indices().last() {
                Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
                Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
                Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
                _ => (s.as_str(), 1),
            };
            let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u64>().ok().filter(|_| ok) {
                Some(x) if x > 0 => x
                    .checked_mul(unit)
                    .filter(|b| *b < i64::MAX as u64)
                    .ok_or_else(|| format!("`{s}` is too large"))?,
                _ => return Err(format!("{expected}, found \"{s}\"")),
            }
        }
        other => return Err(format!("{expected}, found {}", other.kind())),
    };
    Ok(Some(n))
}
