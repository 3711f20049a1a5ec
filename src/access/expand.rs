//! `%` expansions in `spawn` commands, made safe for `/bin/sh -c`.

use std::net::{IpAddr, SocketAddr};

use super::pattern::{Client, HostName};

/// The letters after `%` that expand to something.
pub(crate) const KNOWN: &str = "aAcdhHnNprRsu%";

/// What an expansion may contain: letters, digits and `.-_:@/`; anything else becomes `_`, and
/// so does a leading `-` (so a value can never be read as a command option).
pub fn sanitise(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_:@/".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('-') {
        out.replace_range(0..1, "_");
    }
    out
}

fn addr(ip: IpAddr) -> String {
    ip.to_string()
}

/// Expands `template` for one connection. Unknown sequences expand to nothing (and are warned
/// about when the rule is parsed).
pub(crate) fn expand(
    template: &str,
    client: &Client<'_>,
    daemon: &str,
    server: Option<SocketAddr>,
) -> String {
    let host_or_addr = || match client.name() {
        HostName::Verified(n) => n.clone(),
        _ => addr(client.ip),
    };
    let server_addr = || server.map_or("unknown".to_string(), |s| addr(s.ip()));
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let value = match chars.next() {
            Some('%') => {
                out.push('%');
                continue;
            }
            Some('a') => addr(client.ip),
            Some('A') | Some('H') => server_addr(),
            Some('c') | Some('h') => host_or_addr(),
            Some('d') => daemon.to_string(),
            Some('n') => match client.name() {
                HostName::Verified(n) => n.clone(),
                HostName::Unknown => "unknown".to_string(),
                HostName::Paranoid => "paranoid".to_string(),
            },
            Some('N') => "unknown".to_string(),
            Some('p') => std::process::id().to_string(),
            Some('r') => client.port.to_string(),
            Some('R') => server.map_or("unknown".to_string(), |s| s.port().to_string()),
            Some('s') => match server {
                Some(s) => format!("{daemon}@{}", addr(s.ip())),
                None => daemon.to_string(),
            },
            Some('u') => "unknown".to_string(),
            _ => String::new(),
        };
        out.push_str(&sanitise(&value));
    }
    out
}
