//! The supervisor's report of its first launch to `svc start`, one line on the supervisor's
//! fd 3 ([`REPORT_FD`](super::REPORT_FD)): `ok PID` once the service is ready, or
//! `err CODE MESSAGE` (the LSB code of the failure, and its message) after the supervisor has
//! undone the launch. Both ends of the exchange are here.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// What a supervisor reported.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// `ok PID`: the service runs (and is ready) as PID.
    Launched(i32),
    /// `err CODE MESSAGE`: the launch failed with this LSB code; the supervisor has exited.
    Failed { code: i32, message: String },
    /// Anything else; the line itself unless it began with `ok `.
    Garbled(Option<String>),
}

/// The line reporting a launch.
pub fn launched(pid: i32) -> String {
    format!("ok {pid}\n")
}

/// The line reporting a failure with its LSB code.
pub fn failed(code: i32, e: &dyn std::fmt::Display) -> String {
    format!("err {code} {e}\n")
}

/// Reads a report line (its trailing newline ignored). A code that is not a number is 1.
pub fn parse(line: &str) -> Report {
    let line = line.trim_end_matches('\n');
    if let Some(pid) = line.strip_prefix("ok ") {
        return match pid.trim().parse() {
            Ok(pid) => Report::Launched(pid),
            Err(_) => Report::Garbled(None),
        };
    }
    if let Some(rest) = line.strip_prefix("err ") {
        let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        return Report::Failed {
            code: code.parse().unwrap_or(1),
            message: msg.to_string(),
        };
    }
    Report::Garbled(Some(line.to_string()))
}

/// The supervisor's report, read until it closes the pipe (or `deadline`), and whether the
/// supervisor was told to stop: when the switch that waits for it is cancelled (SIGTERM, see
/// `process::cancel`) while no report has come, the supervisor gets SIGTERM once — it then
/// gives up its readiness wait, stops the instance and reports that — and the report is still
/// read.
pub fn read(fd: OwnedFd, supervisor: i32, deadline: Instant) -> (Option<String>, bool) {
    let mut file = File::from(fd);
    let mut buf = Vec::new();
    let mut told = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return (None, told);
        }
        let step = (deadline - now).min(Duration::from_millis(100));
        match crate::process::handle::poll_fds(&[file.as_fd()], Some(step)) {
            Ok(true) => {}
            Ok(false) => {
                if !told && buf.is_empty() && crate::process::cancel::requested() {
                    // Our own unreaped child: its PID cannot be reused.
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(supervisor),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                    told = true;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return (None, told),
        }
        let mut chunk = [0u8; 4096];
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    ((!text.is_empty()).then_some(text), told)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_back_as_written() {
        assert_eq!(parse(&launched(42)), Report::Launched(42));
        assert_eq!(
            parse(&failed(5, &"web: /bin/x: not found")),
            Report::Failed {
                code: 5,
                message: "web: /bin/x: not found".into()
            }
        );
        assert_eq!(
            parse("err x oops"),
            Report::Failed {
                code: 1,
                message: "oops".into()
            }
        );
        assert_eq!(parse("ok nope"), Report::Garbled(None));
        assert_eq!(parse("what\n"), Report::Garbled(Some("what".into())));
    }
}
