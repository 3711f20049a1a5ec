//! Daemon and client patterns: parsing one token, matching one client.

use std::cell::OnceCell;
use std::net::{IpAddr, Ipv6Addr};

use super::resolve::Resolver;

/// A daemon-list element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Daemon {
    All,
    /// A service name, lower-cased. Tokens that cannot be a service name (`#x`) never match.
    Name(String),
}

impl Daemon {
    pub(crate) fn matches(&self, daemon: &str) -> bool {
        match self {
            Daemon::All => true,
            Daemon::Name(n) => n.eq_ignore_ascii_case(daemon),
        }
    }
}

/// A client-list element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    All,
    Local,
    Known,
    Unknown,
    Paranoid,
    /// An IPv4 network (an address is a /32).
    V4 {
        net: u32,
        len: u8,
    },
    /// An IPv6 network (an address is a /128).
    V6 {
        net: u128,
        len: u8,
    },
    /// `.example.com`, lower-cased, with its leading dot.
    Domain(String),
    /// A host name, lower-cased.
    Name(String),
    /// A valid-but-suspicious token that can never match (reported as a warning).
    Never,
}

/// What parsing one client token gives: a pattern, perhaps with a warning.
pub(crate) type Parsed = Result<(Host, Option<String>), String>;

/// A list `a b EXCEPT c EXCEPT d`: the segments between EXCEPTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List<T>(pub Vec<Vec<T>>);

impl<T> List<T> {
    /// tcp_wrappers' list_match: the first segment must match, and the rest (recursively) not.
    pub(crate) fn matches(&self, mut m: impl FnMut(&T) -> bool) -> bool {
        fn at<T>(segs: &[Vec<T>], m: &mut dyn FnMut(&T) -> bool) -> bool {
            match segs.split_first() {
                None => false,
                Some((first, rest)) => {
                    first.iter().any(&mut *m) && (rest.is_empty() || !at(rest, m))
                }
            }
        }
        at(&self.0, &mut m)
    }
}

/// The client's host name, as far as it could be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostName {
    /// No PTR record (or the lookup failed).
    Unknown,
    /// The PTR name's forward lookup lacks the address, or the PTR record is itself an address.
    Paranoid,
    /// Reverse and forward lookups agree; lower-cased, without a trailing dot.
    Verified(String),
}

/// One client being checked: its (normalised) address, and its host name, looked up at most
/// once and only when a pattern or an expansion needs it.
pub(crate) struct Client<'a> {
    pub ip: IpAddr,
    pub port: u16,
    resolver: &'a dyn Resolver,
    name: OnceCell<HostName>,
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become IPv4 addresses.
pub(crate) fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl<'a> Client<'a> {
    pub(crate) fn new(ip: IpAddr, port: u16, resolver: &'a dyn Resolver) -> Client<'a> {
        Client {
            ip: normalise(ip),
            port,
            resolver,
            name: OnceCell::new(),
        }
    }

    pub(crate) fn name(&self) -> &HostName {
        self.name.get_or_init(|| {
            let Some(raw) = self.resolver.reverse(self.ip) else {
                return HostName::Unknown;
            };
            let name = raw.strip_suffix('.').unwrap_or(&raw).to_ascii_lowercase();
            if name.is_empty() {
                return HostName::Unknown;
            }
            // A PTR record that is itself an address would "verify" by parsing.
            if name.parse::<IpAddr>().is_ok() {
                return HostName::Paranoid;
            }
            let forward = self.resolver.forward(&name);
            if forward.into_iter().any(|a| normalise(a) == self.ip) {
                HostName::Verified(name)
            } else {
                HostName::Paranoid
            }
        })
    }

    pub(crate) fn matches(&self, host: &Host) -> bool {
        let verified = || match self.name() {
            HostName::Verified(n) => Some(n.as_str()),
            _ => None,
        };
        match host {
            Host::All => true,
            Host::Never => false,
            Host::V4 { net, len } => match self.ip {
                IpAddr::V4(a) => (u32::from(a) ^ net) & mask32(*len) == 0,
                IpAddr::V6(_) => false,
            },
            Host::V6 { net, len } => match self.ip {
                IpAddr::V6(a) => (u128::from(a) ^ net) & mask128(*len) == 0,
                IpAddr::V4(_) => false,
            },
            Host::Local => verified().is_some_and(|n| !n.contains('.')),
            Host::Known => verified().is_some(),
            Host::Unknown => *self.name() == HostName::Unknown,
            Host::Paranoid => *self.name() == HostName::Paranoid,
            Host::Domain(d) => {
                verified().is_some_and(|n| n.len() > d.len() && n.ends_with(d.as_str()))
            }
            Host::Name(h) => verified().is_some_and(|n| n == h),
        }
    }
}

pub(crate) fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

pub(crate) fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// A decimal octet: no sign, no leading zero (`010` would be octal to inet_aton), at most 255.
fn octet(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// A strict dotted quad.
fn quad(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut v = 0u32;
    for p in parts {
        v = (v << 8) | u32::from(octet(p)?);
    }
    Some(v)
}

/// Parses a daemon-list token (not EXCEPT).
pub(crate) fn parse_daemon(token: &str) -> Result<Daemon, String> {
    if token.eq_ignore_ascii_case("ALL") {
        return Ok(Daemon::All);
    }
    if token.contains('#') {
        return Ok(Daemon::Name(token.to_ascii_lowercase()));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "_.@-".contains(c);
    if token.chars().all(ok) {
        Ok(Daemon::Name(token.to_ascii_lowercase()))
    } else if token.contains(['*', '?']) {
        Err(format!(
            "wildcards are not supported in daemon names: `{token}`"
        ))
    } else {
        Err(format!("`{token}` is not a service name"))
    }
}

/// Parses a client-list token (not EXCEPT).
pub(crate) fn parse_host(token: &str) -> Parsed {
    let lower = token.to_ascii_lowercase();
    let keyword = match lower.as_str() {
        "all" => Some(Host::All),
        "local" => Some(Host::Local),
        "known" => Some(Host::Known),
        "unknown" => Some(Host::Unknown),
        "paranoid" => Some(Host::Paranoid),
        _ => None,
    };
    if let Some(k) = keyword {
        return Ok((k, None));
    }
    if lower.contains('#') {
        // Reported once per line by the caller.
        return Ok((Host::Never, None));
    }
    if lower.starts_with('@') {
        return Err(format!(
            "`{token}`: NIS netgroups (`@netgroup`) are not supported"
        ));
    }
    if lower.starts_with('/') {
        return Err(format!(
            "`{token}`: pattern files (`/path`) are not supported; list the patterns in the rule"
        ));
    }
    if lower.contains('@') {
        return Err(format!(
            "`{token}`: user@host patterns need ident (RFC 931) lookups, which svc does not do"
        ));
    }
    if lower.contains(['*', '?']) {
        return Err(format!("`{token}`: wildcards (`*`, `?`) are not supported"));
    }
    if lower.starts_with('[') {
        return parse_v6(token);
    }
    if lower.contains(':') {
        let bare = lower.split_once('/').map_or(lower.as_str(), |(a, _)| a);
        if bare.parse::<Ipv6Addr>().is_ok() {
            return Ok((
                Host::Never,
                Some(format!(
                    "`{token}`: an IPv6 address must be in brackets (`[{bare}]`); as written it never matches"
                )),
            ));
        }
        return Err(format!("`{token}` is not a valid pattern"));
    }
    if lower.contains('/') {
        return parse_v4_net(token);
    }
    if lower.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_v4(token);
    }
    if let Some(domain) = lower.strip_prefix('.') {
        if domain.is_empty() || domain.starts_with('.') {
            return Err(format!("`{token}` is not a valid domain pattern"));
        }
        return Ok((Host::Domain(lower.clone()), None));
    }
    Ok((Host::Name(lower.trim_end_matches('.').to_string()), None))
}

/// `a.b.c.d`, or a prefix `a.`, `a.b.`, `a.b.c.`.
fn parse_v4(token: &str) -> Parsed {
    if let Some(prefix) = token.strip_suffix('.') {
        let parts: Vec<&str> = prefix.split('.').collect();
        if parts.len() > 3 || parts.iter().any(|p| octet(p).is_none()) {
            return Err(format!(
                "`{token}` is not a valid address prefix (1 to 3 decimal octets, then a dot)"
            ));
        }
        let mut net = 0u32;
        for (i, p) in parts.iter().enumerate() {
            net |= u32::from(octet(p).unwrap_or(0)) << (24 - 8 * i);
        }
        let len = 8 * parts.len() as u8;
        return Ok((Host::V4 { net, len }, None));
    }
    if let Some(a) = quad(token) {
        return Ok((Host::V4 { net: a, len: 32 }, None));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() < 4 && parts.iter().all(|p| octet(p).is_some()) {
        return Ok((
            Host::Never,
            Some(format!(
                "`{token}` is neither an address nor a prefix (a prefix ends with a dot: `{token}.`); it never matches"
            )),
        ));
    }
    Err(format!(
        "`{token}` is not a valid IPv4 address (four decimal octets 0-255, no leading zeros)"
    ))
}

/// `a.b.c.d/m.m.m.m` or `a.b.c.d/len`.
fn parse_v4_net(token: &str) -> Parsed {
    let bad = |why: &str| Err(format!("`{token}` is not a valid network: {why}"));
    let Some((net, m)) = token.split_once('/') else {
        return bad("expected net/mask or net/length");
    };
    let Some(net) = quad(net) else {
        return bad("the network must be four decimal octets");
    };
    let len = if m.contains('.') {
        let Some(mask) = quad(m) else {
            return bad("the mask must be four decimal octets");
        };
        if mask.leading_ones() + mask.trailing_zeros() != 32 {
            return bad("the mask is not contiguous");
        }
        mask.leading_ones() as u8
    } else {
        match m.parse::<u8>() {
            Ok(l) if l <= 32 && m.bytes().all(|b| b.is_ascii_digit()) => l,
            _ => return bad("the prefix length must be 0 to 32"),
        }
    };
    if net & !mask32(len) != 0 {
        return bad("it has address bits set outside the mask");
    }
    Ok((Host::V4 { net, len }, None))
}

/// `[v6]` or `[v6]/len`.
fn parse_v6(token: &str) -> Parsed {
    let bad = |why: &str| Err(format!("`{token}` is not a valid IPv6 pattern: {why}"));
    let Some((inner, rest)) = token[1..].split_once(']') else {
        return bad("missing `]`");
    };
    let Ok(addr) = inner.parse::<Ipv6Addr>() else {
        return bad("not an IPv6 address");
    };
    let len = if rest.is_empty() {
        128
    } else {
        match rest.strip_prefix('/').map(|l| (l, l.parse::<u8>())) {
            Some((l, Ok(n))) if n <= 128 && l.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return bad("the prefix length must be 0 to 128"),
        }
    };
    if let Some(v4) = addr.to_ipv4_mapped() {
        return Ok((
            Host::Never,
            Some(format!(
                "`{token}`: IPv4-mapped clients are matched as IPv4 (write `{v4}`); as written it never matches"
            )),
        ));
    }
    let net = u128::from(addr) & mask128(len);
    Ok((Host::V6 { net, len }, None))
}
