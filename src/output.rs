//! Everything svc prints (docs/commands.md, output): results on stdout, errors on stderr, colour
//! only on a terminal and never with `NO_COLOR` or `--no-color`, nothing but errors with `--quiet`.
//! A closed stdout (`svc status | head -0`) is not an error: writes that fail are dropped.

use std::io::{IsTerminal, Write};

use colored::Colorize;
use serde::Serialize;

use crate::lifecycle::{Finished, State, Status};

/// The printer for one command run.
#[derive(Debug, Clone)]
pub struct Output {
    quiet: bool,
}

/// One row of `status` output. (`Default`: an empty row, for tests.)
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusRow {
    pub name: String,
    pub state: &'static str,
    pub pid: Option<i32>,
    pub uptime_s: Option<u64>,
    pub rss_kib: Option<u64>,
    pub description: Option<String>,
    pub runlevels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Supervised (`respawn:`) services only: restarts since `svc start` and how the last
    /// instance ended (`{"code": N, "signal": null}`, or null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<Option<crate::supervise::LastExit>>,
    /// One-shot tasks that ran: how and when the last run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<Finished>,
    /// The health check's verdict (`starting`, `healthy`, `unhealthy`), null without a check
    /// (or when no supervisor has recorded one); the last failure, or null.
    pub health: Option<&'static str>,
    pub health_error: Option<String>,
    /// When the running service started (RFC 3339, UTC), how many live processes its process
    /// group holds and the sum of their resident memory; null when not running.
    pub since: Option<String>,
    pub processes: Option<usize>,
    pub memory_bytes: Option<u64>,
    /// With containment (SPEC §8.7): the processes in the service's cgroup (0 when it has
    /// none now); null without containment.
    pub tasks: Option<usize>,
}

/// When a running service started and what it holds (`status`): from its cgroup where it has
/// one (SPEC §8.7), else from its process group.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Unix seconds of the main process's start.
    pub since_unix: Option<u64>,
    /// The main process's resident memory in KiB.
    pub rss_kib: Option<u64>,
    pub processes: Option<usize>,
    pub memory_bytes: Option<u64>,
    /// The processes in the service's cgroup, and the cgroup's directory; `None` without
    /// containment.
    pub cgroup: Option<(usize, std::path::PathBuf)>,
}

/// The lines under the status line of `status NAME`.
#[derive(Debug, Clone)]
pub struct Detail {
    pub description: Option<String>,
    pub pid: Option<i32>,
    pub usage: Usage,
    pub health: Option<&'static str>,
    /// The log file and its last lines, or why they cannot be read; `None` with `log: none`.
    pub log: Option<(std::path::PathBuf, Result<Vec<String>, String>)>,
}

impl StatusRow {
    pub fn new(
        name: &str,
        status: &Status,
        description: Option<String>,
        runlevels: &[char],
    ) -> StatusRow {
        StatusRow {
            name: name.to_string(),
            state: status.state.as_str(),
            pid: status.pid,
            uptime_s: status.uptime_s,
            rss_kib: None,
            description,
            runlevels: runlevels.iter().map(|c| c.to_string()).collect(),
            note: status.note.clone(),
            restarts: status.restarts,
            last_exit: status.restarts.map(|_| status.last_exit.clone()),
            finished: status.finished.clone(),
            health: status.health.map(|h| h.as_str()),
            health_error: status.health_error.clone(),
            since: None,
            processes: None,
            memory_bytes: None,
            tasks: None,
        }
    }

    /// The row with the service's usage.
    pub fn with_usage(mut self, usage: &Usage) -> StatusRow {
        self.since = usage.since_unix.map(|s| {
            crate::clock::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        });
        self.rss_kib = usage.rss_kib;
        self.processes = usage.processes;
        self.memory_bytes = usage.memory_bytes;
        self.tasks = usage.cgroup.as_ref().map(|(n, _)| *n);
        self
    }
}

impl Output {
    pub fn new(quiet: bool, no_color: bool) -> Output {
        let color = !no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        colored::control::set_override(color);
        Output { quiet }
    }

    /// A result line on stdout (suppressed by `--quiet`).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    /// An error on stderr, prefixed with `svc: `.
    pub fn error(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "svc: {text}");
    }

    /// A problem report line on stderr, as is (`FILE:LINE: message`).
    pub fn problem(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// `Starting httpd ... [ OK ]`
    pub fn action_ok(&self, verb: &str, name: &str) {
        self.line(&format!("{verb} {name} ... [{}]", " OK ".green().bold()));
    }

    /// `Starting httpd ... [FAILED]` on stdout, the reason on stderr. With `--quiet` that line
    /// is not printed, so the reason names the service itself (`svc: httpd: reason`) unless
    /// it already does.
    pub fn action_failed(&self, verb: &str, name: &str, reason: &str) {
        self.line(&format!("{verb} {name} ... [{}]", "FAILED".red().bold()));
        if self.quiet && !names_service(reason, name) {
            self.error(&format!("{name}: {reason}"));
        } else {
            self.error(reason);
        }
    }

    /// One `status NAME` line (with its `restarts:` line for a supervised service), and under
    /// it the detailed block when `detail` is given (`status` of one name).
    pub fn status_line(&self, name: &str, status: &Status, detail: Option<&Detail>) {
        let text = match status.state {
            State::Running => match status.pid {
                Some(pid) => format!(
                    "{name} is {} (pid {pid}, up {})",
                    "running".green(),
                    crate::clock::uptime(status.uptime_s.unwrap_or(0))
                ),
                // An LSB script says it runs, but svc does not know the PID.
                None => format!("{name} is {} (no PID)", "running".green()),
            },
            State::Starting => match status.pid {
                Some(pid) => format!("{name} is {} (pid {pid})", "starting".yellow()),
                None => format!("{name} is {} (restarting)", "starting".yellow()),
            },
            State::Stopped => format!("{name} is stopped"),
            State::Dead => format!("{name} is {}", "dead but pid file exists".red()),
            State::Failed => format!("{name} has {}{}", "failed".red(), finished(status)),
            State::Done => format!("{name} is {}{}", "done".green(), finished(status)),
            State::Unknown => format!("{name}: status {}", "unknown".red()),
        };
        let text = match (&status.health, &status.health_error) {
            (Some(crate::supervise::Health::Unhealthy), Some(why)) => {
                format!("{text}, {}: {why}", "unhealthy".red())
            }
            _ => text,
        };
        let mut lines = vec![text];
        let restarts = status.restarts.map(|n| {
            let last = status
                .last_exit
                .as_ref()
                .map(|e| format!(", last {}", e.describe()))
                .unwrap_or_default();
            let sup = status
                .supervisor
                .map(|p| format!(", supervisor pid {p}"))
                .unwrap_or_default();
            format!("  restarts: {n}{last}{sup}")
        });
        match detail {
            Some(d) => detail_lines(d, restarts, &mut lines),
            None => lines.extend(restarts.filter(|_| restarts_line(status))),
        }
        self.lines(&lines);
        if let Some(note) = &status.note {
            self.error(&format!("{name}: {note}"));
        }
    }

    /// Result lines on stdout in one write (suppressed by `--quiet`).
    pub fn lines(&self, lines: &[String]) {
        if !self.quiet {
            let mut text = lines.join("\n");
            text.push('\n');
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }

    /// The table of `status` without names.
    pub fn status_table(&self, rows: &[StatusRow]) {
        let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        // A HEALTH column only when some service has a check (SPEC §8.6), last, so the
        // columns scripts read keep their places.
        let health = rows.iter().any(|r| r.health.is_some());
        let mut text = format!(
            "{:<w$}  {:<8}  {:>7}  {:>8}  RUNLEVELS",
            "NAME", "STATE", "PID", "UPTIME"
        );
        if health {
            text.push_str("  HEALTH");
        }
        for r in rows {
            let state = match r.state {
                "running" | "done" => format!("{:<8}", r.state).green(),
                "dead" | "failed" | "invalid" => format!("{:<8}", r.state).red(),
                "starting" => format!("{:<8}", r.state).yellow(),
                _ => format!("{:<8}", r.state).normal(),
            };
            let pid = r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            let up = r
                .uptime_s
                .map(crate::clock::uptime)
                .unwrap_or_else(|| "-".into());
            let levels = if r.runlevels.is_empty() {
                "-".to_string()
            } else {
                r.runlevels.concat()
            };
            text.push_str(&format!(
                "\n{:<w$}  {state}  {pid:>7}  {up:>8}  {levels}",
                r.name
            ));
            if health {
                let h = match r.health {
                    Some(h @ "unhealthy") => h.red(),
                    Some(h) => h.normal(),
                    None => "-".normal(),
                };
                let pad = "RUNLEVELS".len().saturating_sub(levels.chars().count());
                text.push_str(&format!("{}  {h}", " ".repeat(pad)));
            }
        }
        self.line(&text);
    }

    /// JSON for scripts; printed even with `--quiet` (it was asked for).
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        if let Ok(text) = serde_json::to_string_pretty(value) {
            let _ = writeln!(out, "{text}");
        }
    }
}

/// The block under the status line of `status NAME`, added to `lines`.
fn detail_lines(d: &Detail, restarts: Option<String>, lines: &mut Vec<String>) {
    if let Some(desc) = &d.description {
        lines.push(format!("  description: {desc}"));
    }
    if let Some(since) = d.usage.since_unix {
        let now = crate::clock::unix_secs(std::time::SystemTime::now());
        lines.push(format!(
            "  since: {} ({} ago)",
            crate::clock::utc(since * 1000),
            crate::clock::uptime(now.saturating_sub(since))
        ));
    }
    if let Some(pid) = d.pid {
        lines.push(format!("  main pid: {pid}"));
    }
    if let Some(n) = d.usage.processes {
        lines.push(format!("  processes: {n}"));
    }
    if let Some(b) = d.usage.memory_bytes {
        lines.push(format!("  memory: {}", bytes(b)));
    }
    if let Some((_, dir)) = &d.usage.cgroup {
        lines.push(format!("  cgroup: {}", dir.display()));
    }
    lines.extend(restarts);
    if let Some(h) = d.health {
        lines.push(format!("  health: {h}"));
    }
    match &d.log {
        Some((path, Ok(tail))) => {
            lines.push(format!("  log: {}", path.display()));
            lines.extend(tail.iter().map(|l| format!("    {}", escape_controls(l))));
        }
        Some((path, Err(why))) => lines.push(format!("  log: {} ({why})", path.display())),
        None => lines.push("  log: none".to_string()),
    }
}

/// ` (exited 0, 3m12s ago)` for a one-shot task that ran, else nothing.
fn finished(status: &Status) -> String {
    status
        .finished
        .as_ref()
        .map(|f| format!(" ({}, {} ago)", f.how, crate::clock::uptime(f.ago_s)))
        .unwrap_or_default()
}

/// Whether an error text already starts by naming the service (`httpd: ...`).
fn names_service(reason: &str, name: &str) -> bool {
    reason
        .strip_prefix(name)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// Whether `status NAME` prints a `restarts:` line under the status line: a supervised service
/// that restarted, has a supervisor or ended once.
fn restarts_line(status: &Status) -> bool {
    status
        .restarts
        .is_some_and(|n| n > 0 || status.supervisor.is_some() || status.last_exit.is_some())
}

/// A log line with its control characters (a terminal's escape sequences) shown as `\xNN`:
/// what a service wrote must not drive the operator's terminal.
fn escape_controls(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => c.to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Bytes for people, in binary units: `512 B`, `3.4 KiB`, `12.0 MiB`, `1.5 GiB`.
fn bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_their_escapes() {
        assert_eq!(escape_controls("a\x1b[31mred\tx"), "a\\x1b[31mred\tx");
    }

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3482), "3.4 KiB");
        assert_eq!(bytes(12 << 20), "12.0 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn a_reason_naming_the_service_is_recognised() {
        assert!(names_service(
            "httpd: required service x did not start",
            "httpd"
        ));
        assert!(!names_service("/usr/sbin/httpd: not found", "httpd"));
        assert!(!names_service("httpd2: x", "httpd"));
    }
}
