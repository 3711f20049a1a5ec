//! `spawn` %-expansion (docs/inetd.md): a template, a client (address, port, PTR name, whether the
//! name verifies), a daemon name and perhaps a server end, all arbitrary.
//!
//! Checks, against an oracle written from docs/inetd.md rather than from the code:
//! - every character an expansion brings in is an ASCII letter, digit or one of `.-_:@/`, one
//!   output character per input character, every other character `_`, and no expansion starts
//!   with `-` (it could be read as an option);
//! - the literal text of the template is kept as written, `%%` is `%`, an unknown `%x` and a
//!   final `%` expand to nothing;
//! - the whole expansion is the literal text and the values in order: nothing else gets in.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use svc::access::{expand_spawn, StaticResolver};

#[derive(Debug, Arbitrary)]
struct Input {
    template: String,
    daemon: String,
    client: SocketAddr,
    /// The client's PTR record, if any.
    ptr: Option<String>,
    /// Whether the PTR name's address record gives the client's address back.
    verified: bool,
    server: Option<SocketAddr>,
}

/// docs/inetd.md: "characters outside letters, digits and `.-_:@/` become `_`"; and a leading `-`
/// becomes `_` too (README, `spawn`).
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-_:@/".contains(c)
}

fn safe(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if out.starts_with('-') {
        out.replace_range(0..1, "_");
    }
    out
}

/// IPv4-mapped IPv6 clients are IPv4 clients (docs/inetd.md).
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn check_value(seq: char, got: &str, raw: &str) {
    assert!(
        got.chars().all(allowed),
        "%{seq} brought in a character outside [A-Za-z0-9.-_:@/]: {got:?} (from {raw:?})"
    );
    assert!(!got.starts_with('-'), "%{seq} starts with '-': {got:?}");
    assert_eq!(
        got.chars().count(),
        raw.chars().count(),
        "%{seq}: one output character per input character"
    );
    assert_eq!(got, safe(raw), "%{seq}");
}

fuzz_target!(|input: Input| {
    let client_ip = normalise(input.client.ip());
    // The name as the matcher sees it: trailing dot dropped, lower-cased; empty = no name.
    let name = input
        .ptr
        .as_deref()
        .map(|p| p.strip_suffix('.').unwrap_or(p).to_ascii_lowercase())
        .filter(|n| !n.is_empty());
    let mut resolver = StaticResolver::new();
    if let Some(p) = &input.ptr {
        resolver = resolver.ptr(&client_ip.to_string(), p);
        if input.verified {
            if let Some(n) = &name {
                resolver = resolver.addr(n, &client_ip.to_string());
            }
        }
    }
    // What each %-sequence must give for this client: (raw value, or None for a value svc
    // makes up itself: `unknown`, `paranoid`, the PID).
    let verified_name = name
        .clone()
        .filter(|n| input.verified && n.parse::<IpAddr>().is_err());
    let addr = client_ip.to_string();
    let raw_of = |seq: char| -> Option<String> {
        // The server end is shown as the socket gives it (not normalised).
        let server_ip = input.server.map(|s| s.ip().to_string());
        Some(match seq {
            'a' => addr.clone(),
            'A' | 'H' => server_ip.unwrap_or_else(|| "unknown".into()),
            'c' | 'h' => verified_name.clone().unwrap_or_else(|| addr.clone()),
            'd' => input.daemon.clone(),
            'n' => match (&name, &verified_name) {
                (_, Some(v)) => v.clone(),
                (None, None) => "unknown".into(),
                (Some(_), None) => "paranoid".into(),
            },
            'N' | 'u' => "unknown".into(),
            'p' => std::process::id().to_string(),
            'r' => input.client.port().to_string(),
            'R' => input
                .server
                .map_or_else(|| "unknown".into(), |s| s.port().to_string()),
            's' => match server_ip {
                Some(ip) => format!("{}@{ip}", input.daemon),
                None => input.daemon.clone(),
            },
            _ => return None,
        })
    };
    let expand = |t: &str| expand_spawn(t, &input.daemon, input.client, input.server, &resolver);

    // Walk the template as docs/inetd.md reads it, building the expected expansion.
    let mut want = String::new();
    let mut chars = input.template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            want.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('%') => want.push('%'),
            Some(seq) => {
                let got = expand(&format!("%{seq}"));
                match raw_of(seq) {
                    Some(raw) => check_value(seq, &got, &raw),
                    None => assert_eq!(got, "", "unknown %{seq} expands to nothing"),
                }
                want.push_str(&got);
            }
        }
    }
    assert_eq!(
        expand(&input.template),
        want,
        "template {:?}",
        input.template
    );
});
