//! `svc access-check NAME ADDRESS` (docs/inetd.md, "Access control"): svc's tcpdmatch.
//!
//! Prints one line on stdout, `access-check: NAME from ADDRESS: allowed (RULE)` or `... denied
//! (RULE)`, RULE being `hosts.allow:LINE`, `hosts.deny:LINE`, `default`, or
//! `hosts.allow:unreadable` / `hosts.deny:unreadable`; then, for a rule with `spawn`,
//! `access-check: spawn (not run): COMMAND` for each command line. Exit 0 allowed, 1 denied,
//! 2 for an ADDRESS that is not an IP address (optionally with `:port`, `[v6]:port`). Problems
//! in the rule files go to stderr and never change the exit code. Host names are looked up
//! only when a rule needs them.

use std::net::{IpAddr, SocketAddr};

use super::Context;
use crate::access::{Rules, SystemResolver};
use crate::exit::Code;
use crate::name::ServiceName;

/// `1.2.3.4`, `1.2.3.4:22`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:22`.
fn parse_address(s: &str) -> Option<(SocketAddr, bool)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some((sa, true));
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| (SocketAddr::new(ip, 0), false))
}

pub fn run(ctx: &Context, name: &ServiceName, address: &str) -> Code {
    let Some((client, with_port)) = parse_address(address) else {
        ctx.out.error(&format!(
            "invalid address {address:?}: expected an IP address, optionally with :port \
             (IPv6 with a port as [ADDR]:PORT)"
        ));
        return Code::InvalidArgs;
    };
    let rules = Rules::load(&ctx.dirs.config);
    for p in rules.problems() {
        ctx.out.problem(&p.to_string());
    }
    let verdict = rules.check(name.as_str(), client, &SystemResolver);
    let shown = if with_port {
        client.to_string()
    } else {
        client.ip().to_string()
    };
    let word = if verdict.allowed { "allowed" } else { "denied" };
    ctx.out.line(&format!(
        "access-check: {name} from {shown}: {word} ({})",
        verdict.rule
    ));
    if let Some(spawn) = &verdict.spawn {
        for l in spawn.lines() {
            ctx.out.line(&format!("access-check: spawn (not run): {l}"));
        }
    }
    if verdict.allowed {
        Code::Success
    } else {
        Code::Failure
    }
}
