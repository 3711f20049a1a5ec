//! hosts.allow / hosts.deny (docs/inetd.md): parse both files, then match connections against
//! them, with a static resolver (no DNS).
//!
//! The input is text, fields separated by NUL bytes, every field after the first optional:
//! `HOSTS.ALLOW \0 HOSTS.DENY \0 DAEMON \0 CLIENT \0 PTR NAME \0 FORWARD ADDRESS`. A CLIENT
//! that is not an address is turned into one from its bytes. Besides that client, the
//! addresses written in the rules themselves, 127.0.0.1 and the IPv4-mapped form of an IPv4
//! client are checked, against the DAEMON and the daemon names the rules give. The PTR name
//! (if any) is every client's; its address record is FORWARD, else the first client (so that
//! client's name verifies and the others' are PARANOID).
//!
//! Checks: parsing and matching never panic; every problem names its file and a line of it;
//! a verdict names `default` (allowed, no spawn) or `hosts.allow:N` / `hosts.deny:N` with N a
//! line of that file; a check looks a client's name up at most once (one reverse, one forward
//! lookup); checking twice gives the same verdict; and a `spawn` command holds nothing but the
//! rules' own characters, the safe ones `[A-Za-z0-9.-_:@/]` and the newlines that join
//! several `spawn` options (docs/inetd.md: nothing else a client sends reaches the shell).
#![no_main]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use svc::access::{Rules, StaticResolver};

fn client_from(field: &[u8]) -> Option<IpAddr> {
    if field.is_empty() {
        return None;
    }
    if let Ok(ip) = String::from_utf8_lossy(field).trim().parse() {
        return Some(ip);
    }
    Some(if field.len() >= 16 {
        IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&field[..16]).expect("16 bytes"),
        ))
    } else {
        let mut b = [0u8; 4];
        for (d, s) in b.iter_mut().zip(field) {
            *d = *s;
        }
        IpAddr::V4(Ipv4Addr::from(b))
    })
}

/// The addresses and daemon names the rules mention (a few), so matches are not left to luck.
fn mentioned(text: &str, ips: &mut Vec<IpAddr>, daemons: &mut Vec<String>) {
    for line in text.lines() {
        let (dfield, rest) = line.split_once(':').unwrap_or(("", line));
        for t in dfield.split([' ', '\t', ',']).filter(|t| !t.is_empty()) {
            if daemons.len() < 4
                && !t.eq_ignore_ascii_case("EXCEPT")
                && !daemons.iter().any(|d| d == t)
            {
                daemons.push(t.to_string());
            }
        }
        for t in rest.split([' ', '\t', ',', ':']) {
            let t = t.trim_start_matches('[');
            let t = t.split(['/', ']']).next().unwrap_or("");
            let ip = t
                .parse::<IpAddr>()
                .ok()
                .or_else(|| format!("{t}0").parse().ok())
                .or_else(|| format!("{t}0.0").parse().ok())
                .or_else(|| format!("{t}0.0.0").parse().ok());
            if let Some(ip) = ip {
                if ips.len() < 6 && !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
    }
}

fn physical_lines(text: &str) -> usize {
    text.split('\n').count()
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(6, |&b| b == 0);
    let mut next = || fields.next().unwrap_or(&[]);
    let allow = String::from_utf8_lossy(next()).into_owned();
    let deny = String::from_utf8_lossy(next()).into_owned();
    let daemon = String::from_utf8_lossy(next()).into_owned();
    let client = client_from(next()).unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)));
    let ptr = String::from_utf8_lossy(next()).into_owned();
    let forward = String::from_utf8_lossy(next())
        .trim()
        .parse::<IpAddr>()
        .ok();

    let rules = Rules::from_text(&allow, &deny);
    for p in rules.problems() {
        let lines = match p.file.as_str() {
            "hosts.allow" => physical_lines(&allow),
            "hosts.deny" => physical_lines(&deny),
            other => panic!("problem in unknown file {other}: {p}"),
        };
        assert!(p.line >= 1 && p.line <= lines, "{p}");
        assert!(!p.message.is_empty());
    }

    let mut clients = vec![client];
    if let IpAddr::V4(v4) = client {
        clients.push(IpAddr::V6(v4.to_ipv6_mapped()));
    }
    clients.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut daemons = vec![if daemon.is_empty() {
        "echo".to_string()
    } else {
        daemon
    }];
    mentioned(&allow, &mut clients, &mut daemons);
    mentioned(&deny, &mut clients, &mut daemons);

    let mut resolver = StaticResolver::new();
    let name = ptr.trim_end_matches('.');
    if !name.is_empty() {
        for c in &clients {
            resolver = resolver.ptr(&c.to_string(), &ptr);
            if let IpAddr::V6(v6) = c {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    resolver = resolver.ptr(&v4.to_string(), &ptr);
                }
            }
        }
        resolver = resolver.addr(name, &forward.unwrap_or(client).to_string());
    }

    let safe: BTreeSet<char> = allow
        .chars()
        .chain(deny.chars())
        .chain(('a'..='z').chain('A'..='Z').chain('0'..='9'))
        .chain(".-_:@/%".chars())
        .filter(|&c| c != '\n')
        .collect();
    // Several `spawn` options of one rule are joined by newlines; no other newline may appear
    // (the templates come from one logical line and hold none).
    let spawns = format!("{allow}{deny}")
        .to_ascii_lowercase()
        .matches("spawn")
        .count();
    let server = Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
        7,
    ));
    for ip in &clients {
        for d in &daemons {
            let addr = SocketAddr::new(*ip, 40000);
            let before = resolver.lookups();
            let v = rules.check_with_server(d, addr, server, &resolver);
            assert!(
                resolver.lookups() - before <= 2,
                "the name was looked up twice"
            );
            assert_eq!(v, rules.check_with_server(d, addr, server, &resolver));
            if v.rule == "default" {
                assert!(v.allowed && v.spawn.is_none(), "{v:?}");
            } else {
                let (file, line) = v.rule.split_once(':').expect("file:line");
                let text = match file {
                    "hosts.allow" => &allow,
                    "hosts.deny" => &deny,
                    _ => panic!("verdict names {}", v.rule),
                };
                let line: usize = line.parse().expect("a line number");
                assert!(line >= 1 && line <= physical_lines(text), "{}", v.rule);
            }
            if let Some(cmd) = &v.spawn {
                assert!(
                    cmd.matches('\n').count() < spawns,
                    "a newline got into {cmd:?}"
                );
                if let Some(bad) = cmd.chars().find(|&c| c != '\n' && !safe.contains(&c)) {
                    panic!("spawn {cmd:?} holds {bad:?}, from neither the rules nor the safe set");
                }
            }
        }
    }
});
