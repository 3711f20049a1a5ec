//! The secure log of the super daemon (docs/inetd.md, the secure log): `<log>/secure`, one line per
//! decision,
//!
//! `<RFC 3339 time> svc-inetd[<pid>]: <ALLOW|DENY|LIMIT> service=<NAME> client=<ADDR>:<PORT>
//! rule=<RULE>`
//!
//! Each line is built in memory and appended with a single `write(2)` on a descriptor opened
//! `O_APPEND|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC` (mode 0640; [`crate::regular`]), so concurrent
//! writers never interleave, a symlink planted in place of the log is never followed and a FIFO
//! is refused instead of blocking the daemon. Every field is escaped: a control
//! character, a backslash or a space becomes `\xNN` (`\u{NNNN}` beyond Latin-1), so one event is
//! always exactly one line. A log that cannot be written never changes a verdict: the failure is
//! reported once on stderr and the daemon carries on. The time is [`crate::clock::rfc3339`].

use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::clock::rfc3339;

/// The decision a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    Limit,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "ALLOW",
            Decision::Deny => "DENY",
            Decision::Limit => "LIMIT",
        }
    }
}

/// The secure log: opened on first use (and again after a failure or [`SecureLog::reopen`]).
#[derive(Debug)]
pub struct SecureLog {
    path: PathBuf,
    file: Option<File>,
    /// A failure was already reported on stderr; stay quiet until a write succeeds again.
    reported: bool,
    pid: u32,
}

impl SecureLog {
    /// The log at `path`, written as process `pid`. Nothing is opened yet.
    pub fn new(path: &Path, pid: u32) -> SecureLog {
        SecureLog {
            path: path.to_owned(),
            file: None,
            reported: false,
            pid,
        }
    }

    /// `<log>/secure`.
    pub fn path_in(log_dir: &Path) -> PathBuf {
        log_dir.join("secure")
    }

    /// Closes the file so the next line opens it again (after a rotation, on SIGHUP).
    pub fn reopen(&mut self) {
        self.file = None;
    }

    /// Whether the file is open (the next line needs no new descriptor).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Appends one decision. Never fails: a write error is reported once on stderr.
    pub fn record(&mut self, decision: Decision, service: &str, client: SocketAddr, rule: &str) {
        let line = format_line(SystemTime::now(), self.pid, decision, service, client, rule);
        if let Err(e) = self.append(line.as_bytes()) {
            self.file = None;
            if !self.reported {
                self.reported = true;
                eprintln!(
                    "svc: cannot write the secure log {}: {e} (decisions are unaffected; reported once)",
                    self.path.display()
                );
            }
        } else {
            self.reported = false;
        }
    }

    fn append(&mut self, line: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(open(&self.path)?);
        }
        let f = self.file.as_mut().expect("opened above");
        // One write(2) per line: a short write is an error, never a second write that another
        // writer's line could land in between.
        let n = f.write(line)?;
        if n != line.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write ({n} of {} bytes)", line.len()),
            ));
        }
        Ok(())
    }
}

/// Opens (creating, mode 0640) the log for appending: never through a symlink or a second
/// hard link, never blocking on a FIFO ([`crate::regular::open_append`]).
pub fn open(path: &Path) -> io::Result<File> {
    crate::regular::open_append(path, 0o640)
}

/// One complete line, newline included.
pub fn format_line(
    time: SystemTime,
    pid: u32,
    decision: Decision,
    service: &str,
    client: SocketAddr,
    rule: &str,
) -> String {
    format!(
        "{} svc-inetd[{pid}]: {} service={} client={} rule={}\n",
        rfc3339(time),
        decision.as_str(),
        escape(service),
        escape(&client_text(client)),
        escape(rule)
    )
}

/// `ADDR:PORT`, `[ADDR]:PORT` for IPv6; an IPv4-mapped IPv6 address is written as IPv4.
pub fn client_text(client: SocketAddr) -> String {
    match client.ip().to_canonical() {
        std::net::IpAddr::V4(a) => format!("{a}:{}", client.port()),
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", client.port()),
    }
}

/// Makes a field safe for one line: control characters (C0, DEL, C1), backslash and space
/// become `\xNN` (or `\u{NNNN}`), so a field can neither end the line nor fake another field.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || c == '\\' || c == ' ' {
            let n = c as u32;
            if n < 0x100 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::tests::at;

    #[test]
    fn line_format_ipv4_and_ipv6() {
        let t = at(1_795_564_799);
        assert_eq!(
            format_line(
                t,
                42,
                Decision::Allow,
                "echo",
                "127.0.0.1:5000".parse().unwrap(),
                "hosts.allow:3"
            ),
            "2026-11-24T23:59:59Z svc-inetd[42]: ALLOW service=echo client=127.0.0.1:5000 rule=hosts.allow:3\n"
        );
        assert_eq!(
            format_line(
                t,
                42,
                Decision::Limit,
                "echo",
                "[::1]:7".parse().unwrap(),
                "per_source"
            ),
            "2026-11-24T23:59:59Z svc-inetd[42]: LIMIT service=echo client=[::1]:7 rule=per_source\n"
        );
        // An IPv4-mapped client is written as the IPv4 address it is.
        assert!(format_line(
            t,
            1,
            Decision::Deny,
            "x",
            "[::ffff:10.1.2.3]:9".parse().unwrap(),
            "default"
        )
        .contains(" client=10.1.2.3:9 "));
    }

    /// H1: control characters never split an event into two lines or fake a field.
    #[test]
    fn h1_control_characters_are_escaped() {
        let nasty = "a\nALLOW service=x\r\x1b[31m\0\u{85}\\ b\u{2028}";
        let e = escape(nasty);
        assert!(!e.chars().any(|c| c.is_control() || c == ' '), "{e:?}");
        assert_eq!(
            e,
            "a\\x0aALLOW\\x20service=x\\x0d\\x1b[31m\\x00\\x85\\x5c\\x20b\u{2028}"
        );
        let line = format_line(
            at(0),
            1,
            Decision::Deny,
            nasty,
            "127.0.0.1:1".parse().unwrap(),
            "hosts.deny:1\nforged",
        );
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        assert_eq!(line.split(' ').count(), 6, "{line:?}");
    }

    /// One decision about 127.0.0.1:1 for `echo` by the default rule.
    fn record(log: &mut SecureLog, decision: Decision) {
        log.record(decision, "echo", "127.0.0.1:1".parse().unwrap(), "default");
    }

    /// H2: the log is created 0640 and never written through a symlink or a hard link.
    #[test]
    fn h2_log_file_trust() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secure");
        let mut log = SecureLog::new(&p, 7);
        record(&mut log, Decision::Allow);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o}");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);

        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open(&link).is_err());
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(open(&hard).is_err());
        // A failing log does not panic, and keeps failing quietly.
        let mut bad = SecureLog::new(&link, 7);
        record(&mut bad, Decision::Deny);
        record(&mut bad, Decision::Deny);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }
}
