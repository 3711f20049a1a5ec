//! The `health` key (SPEC §8.6, svc.yaml(5)): exactly one check — `tcp: "HOST:PORT"`,
//! `http: URL` (plain `http://`) or `exec: [argv]` — and its `interval`, `timeout`, `retries`
//! and `start_period`. That it needs `respawn` is checked with the other keys, in the parent.

use std::time::Duration;

use super::super::model::{Health, HealthCheck};
use super::super::yaml::{Entry, Node};
use super::sections::parse_host_port;
use super::Validator;

/// Default `interval`, `timeout` and `retries`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_RETRIES: u32 = 3;

/// `http://HOST[:PORT][/PATH]` as (host, port, path); `None` for anything else.
pub(crate) fn parse_http_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    let bracketed = authority.starts_with('[');
    let has_port = if bracketed {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let (host, port) = if has_port {
        parse_host_port(authority)?
    } else {
        let h = authority.trim_start_matches('[').trim_end_matches(']');
        (h.to_string(), 80)
    };
    if host.is_empty() || host.contains(['/', '[', ']']) {
        return None;
    }
    Some((host, port, path))
}

impl Validator<'_> {
    /// `health`: a mapping with one check and optional timings.
    pub(super) fn health(&mut self, n: &Node) -> Option<Health> {
        let m = self.mapping(
            "health",
            "a mapping with one of tcp, http or exec (and interval, timeout, retries, start_period)",
            n,
        )?;
        let mut checks: Vec<Option<HealthCheck>> = Vec::new();
        let mut h = Health {
            check: HealthCheck::Exec(Vec::new()),
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            start_period: Duration::ZERO,
        };
        let mut ok = true;
        for Entry {
            key: k, value: v, ..
        } in m
        {
            let p = ["health", k.as_str()];
            match k.as_str() {
                "tcp" => checks.push(self.health_tcp(&p, v)),
                "http" => checks.push(self.health_http(&p, v)),
                "exec" => checks.push(self.health_exec(&p, v)),
                "interval" | "timeout" | "start_period" => match self.duration(&p, v) {
                    Some(d) if d.is_zero() && k != "start_period" => {
                        self.problem(&p, format!("`health.{k}`: must be more than 0"));
                        ok = false;
                    }
                    Some(d) => match k.as_str() {
                        "interval" => h.interval = d,
                        "timeout" => h.timeout = d,
                        _ => h.start_period = d,
                    },
                    None => ok = false,
                },
                "retries" => match self.int_in(&p, v, 1, 1_000_000) {
                    Some(r) => h.retries = r as u32,
                    None => ok = false,
                },
                other => {
                    self.problem(
                        &p,
                        format!("`health`: unknown key `{other}`; expected tcp, http, exec, interval, timeout, retries, start_period"),
                    );
                    ok = false;
                }
            }
        }
        if checks.len() != 1 {
            self.problem(
                &["health"],
                format!(
                    "`health`: expected exactly one check, tcp, http or exec; found {}",
                    checks.len()
                ),
            );
            return None;
        }
        h.check = checks.pop().flatten()?;
        ok.then_some(h)
    }

    fn health_tcp(&mut self, p: &[&str], v: &Node) -> Option<HealthCheck> {
        match v {
            Node::Str(s) => match parse_host_port(s) {
                Some((host, port)) => Some(HealthCheck::Tcp { host, port }),
                None => {
                    self.problem(p, format!("`health.tcp`: {s:?} is not HOST:PORT; expected such as \"127.0.0.1:6379\""));
                    None
                }
            },
            other => {
                self.expected(p, "\"HOST:PORT\"", other);
                None
            }
        }
    }

    fn health_http(&mut self, p: &[&str], v: &Node) -> Option<HealthCheck> {
        match v {
            Node::Str(s) => match parse_http_url(s) {
                Some((host, port, path)) => Some(HealthCheck::Http {
                    url: s.clone(),
                    host,
                    port,
                    path,
                }),
                None => {
                    self.problem(p, format!("`health.http`: {s:?} is not a plain http:// URL; expected such as \"http://127.0.0.1:8080/health\" (https is not supported)"));
                    None
                }
            },
            other => {
                self.expected(p, "a URL such as \"http://127.0.0.1:8080/health\"", other);
                None
            }
        }
    }

    fn health_exec(&mut self, p: &[&str], v: &Node) -> Option<HealthCheck> {
        let what = "a list: the program (an absolute path or a name in PATH), then its arguments";
        let Node::Seq(items) = v else {
            self.expected(p, what, v);
            return None;
        };
        let argv = self.strings(p, v);
        if items.is_empty() || argv.len() != items.len() {
            if items.is_empty() {
                self.problem(
                    p,
                    format!("`health.exec`: expected {what}, found an empty list"),
                );
            }
            return None;
        }
        let program = &argv[0];
        if program.is_empty() || (!program.starts_with('/') && program.contains('/')) {
            self.problem(p, format!("`health.exec`: the program {program:?} is neither an absolute path nor a bare program name looked up in PATH"));
            return None;
        }
        Some(HealthCheck::Exec(argv))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_http_url;
    use crate::definition::tests::checked;
    use crate::definition::HealthCheck;
    use std::time::Duration;

    #[test]
    fn one_check_with_defaults_or_timings() {
        let d = checked("exec: /bin/true\nrespawn: true\nhealth: { tcp: \"127.0.0.1:6379\" }\n")
            .unwrap();
        let h = d.health.unwrap();
        assert_eq!(
            h.check,
            HealthCheck::Tcp {
                host: "127.0.0.1".into(),
                port: 6379
            }
        );
        assert_eq!(
            (h.interval, h.timeout, h.retries, h.start_period),
            (
                Duration::from_secs(10),
                Duration::from_secs(2),
                3,
                Duration::ZERO
            )
        );
        let d = checked("exec: /bin/true\nrespawn: true\nhealth:\n  exec: [check, -q]\n  interval: 200ms\n  timeout: 1s\n  retries: 5\n  start_period: 30s\n").unwrap();
        let h = d.health.unwrap();
        assert_eq!(
            h.check,
            HealthCheck::Exec(vec!["check".into(), "-q".into()])
        );
        assert_eq!(h.interval, Duration::from_millis(200));
        assert_eq!(h.retries, 5);
        assert_eq!(h.start_period, Duration::from_secs(30));
        assert!(checked("exec: /bin/true\n").unwrap().health.is_none());
    }

    #[test]
    fn problems_name_their_line() {
        for (text, line, words) in [
            (
                "exec: /bin/true\nhealth: { tcp: \"a:1\" }\n",
                2,
                "needs `respawn`",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth: {}\n",
                3,
                "exactly one check",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  tcp: \"a:1\"\n  http: http://a/\n",
                3,
                "found 2",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  tcp: a\n",
                4,
                "not HOST:PORT",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  http: https://a/\n",
                4,
                "plain http://",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  exec: []\n",
                4,
                "empty list",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  exec: [a/b]\n",
                4,
                "neither",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  exec: [x]\n  retries: 0\n",
                5,
                "out of range",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  exec: [x]\n  interval: 0s\n",
                5,
                "more than 0",
            ),
            (
                "exec: /bin/true\nrespawn: true\nhealth:\n  exec: [x]\n  every: 1s\n",
                5,
                "unknown key `every`",
            ),
        ] {
            let p = checked(text).unwrap_err();
            assert!(
                p.iter()
                    .any(|p| p.line == Some(line) && p.message.contains(words)),
                "{text}: {p:?}"
            );
        }
    }

    #[test]
    fn http_urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8080/health?x=1"),
            Some(("127.0.0.1".into(), 8080, "/health?x=1".into()))
        );
        assert_eq!(
            parse_http_url("http://localhost"),
            Some(("localhost".into(), 80, "/".into()))
        );
        assert_eq!(
            parse_http_url("http://[::1]:81/"),
            Some(("::1".into(), 81, "/".into()))
        );
        for bad in [
            "https://a/",
            "http://",
            "http://a:0/",
            "http://u@a/",
            "http://a/ b",
            "ftp://a",
        ] {
            assert_eq!(parse_http_url(bad), None, "{bad}");
        }
    }
}
