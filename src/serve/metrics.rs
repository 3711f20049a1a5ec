//! The Prometheus text format of every service (SPEC §10): `GET /metrics` and
//! `svc status --prometheus` (for node_exporter's textfile collector). Pure: rows in, text out.
//!
//! The families, each with its `# HELP` and `# TYPE` lines and one sample per service in the
//! order given (labelled `name="NAME"`, `socket:` services included):
//! - `svc_service_up` (gauge): 1 when the state is `running`, else 0 — `starting` is not up
//!   yet, and a finished one-shot task (`done`) runs nothing;
//! - `svc_service_state` (gauge): one sample per svc state ([`STATES`], label `state`), 1 for
//!   the current one (a state svc does not know counts as `unknown`), so
//!   `svc_service_state{state="failed"} == 1` selects the failed services;
//! - `svc_service_start_time_seconds` (gauge): when the running service started, in Unix
//!   seconds, from the row's `since` or else its uptime; absent where neither is known;
//! - `svc_service_restarts_total` (counter): a supervised service's restarts since
//!   `svc start`; 0 for every other service, so each series exists and `rate()` works on all;
//! - `svc_service_memory_bytes` (gauge), where known: the resident memory of the service's
//!   processes (its cgroup's `memory.current` where there is one);
//! - `svc_service_tasks` (gauge), with containment only (SPEC §8.7): the processes in the
//!   service's cgroup, 0 when it has none now;
//!
//! and `svc_runlevel` (gauge): the current runlevel, `S` as -1, absent when unknown. A family
//! with no sample at all is left out, `# HELP` and `# TYPE` included.

use std::fmt::Write;

use super::Service;
use crate::output::StatusRow;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every state svc gives a service (`lifecycle::State::as_str`): the values of the `state`
/// label of `svc_service_state`.
pub const STATES: [&str; 7] = [
    "running", "starting", "stopped", "dead", "failed", "done", "unknown",
];

/// The exposition text for `services` and the current runlevel.
pub fn render(services: &[Service], runlevel: Option<char>) -> String {
    render_at(
        services,
        runlevel,
        crate::clock::unix_secs(std::time::SystemTime::now()),
    )
}

/// [`render`] at `now` (Unix seconds), which only a start time computed from an uptime needs.
fn render_at(services: &[Service], runlevel: Option<char>, now: u64) -> String {
    let rows: Vec<&StatusRow> = services.iter().map(|s| &s.row).collect();
    let mut out = String::new();
    family(
        &mut out,
        "svc_service_up",
        "gauge",
        "Whether the service runs: 1 when its state is running, else 0.",
        rows.iter()
            .map(|r| (name_label(r), Some(u64::from(r.state == "running")))),
    );
    let current = |r: &StatusRow| match STATES.contains(&r.state) {
        true => r.state,
        false => "unknown",
    };
    family(
        &mut out,
        "svc_service_state",
        "gauge",
        "The service's state: 1 for the current one, 0 for the others.",
        rows.iter().flat_map(|r| {
            STATES.iter().map(move |s| {
                let labels = format!("{},state=\"{s}\"", name_label(r));
                (labels, Some(u64::from(current(r) == *s)))
            })
        }),
    );
    family(
        &mut out,
        "svc_service_start_time_seconds",
        "gauge",
        "When the running service started, in seconds since the Unix epoch.",
        rows.iter().map(|r| (name_label(r), start_time(r, now))),
    );
    family(
        &mut out,
        "svc_service_restarts_total",
        "counter",
        "How often the supervisor restarted the service since svc start (0 unless supervised).",
        rows.iter()
            .map(|r| (name_label(r), Some(u64::from(r.restarts.unwrap_or(0))))),
    );
    family(
        &mut out,
        "svc_service_memory_bytes",
        "gauge",
        "The resident memory of the service's processes, in bytes.",
        rows.iter().map(|r| (name_label(r), r.memory_bytes)),
    );
    family(
        &mut out,
        "svc_service_tasks",
        "gauge",
        "The processes in the service's cgroup (with containment only).",
        rows.iter()
            .map(|r| (name_label(r), r.tasks.map(|n| n as u64))),
    );
    if let Some(level) = runlevel.and_then(runlevel_value) {
        let _ = write!(
            out,
            "# HELP svc_runlevel The current runlevel (S, single user, as -1).\n\
             # TYPE svc_runlevel gauge\nsvc_runlevel {level}\n"
        );
    }
    out
}

/// One metric family: its `# HELP` and `# TYPE` lines and the samples that have a value
/// (`labels` without braces); nothing when no sample has one.
fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl Iterator<Item = (String, Option<u64>)>,
) {
    let samples: Vec<(String, u64)> = samples.filter_map(|(l, v)| Some((l, v?))).collect();
    if samples.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// `name="NAME"`, the value escaped.
fn name_label(r: &StatusRow) -> String {
    format!("name=\"{}\"", escape_label(&r.name))
}

/// A label value as the text format writes it: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `# HELP` text as the format writes it: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The runlevel as a number: `0`–`6` as themselves, `S` (single user) as -1; anything else is
/// not a runlevel svc knows, so absent.
fn runlevel_value(level: char) -> Option<i32> {
    match level {
        'S' | 's' => Some(-1),
        c => c.to_digit(10).filter(|d| *d <= 6).map(|d| d as i32),
    }
}

/// When the service started: its `since`, else `now` less its uptime.
fn start_time(r: &StatusRow, now: u64) -> Option<u64> {
    r.since
        .as_deref()
        .and_then(parse_rfc3339)
        .or_else(|| r.uptime_s.map(|up| now.saturating_sub(up)))
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ`, the form `clock::rfc3339` writes (UTC, whole
/// seconds); `None` for anything else, or an instant before the epoch.
fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        match part.bytes().all(|c| c.is_ascii_digit()) {
            true => part.parse().ok(),
            false => None,
        }
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, min, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`, the
/// inverse of `clock::civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as `status --json` gives it, in `state`, with nothing else known.
    pub(crate) fn row(name: &str, state: &'static str) -> StatusRow {
        StatusRow {
            name: name.to_string(),
            state,
            ..StatusRow::default()
        }
    }

    fn service(row: StatusRow) -> Service {
        Service {
            row,
            on_demand: false,
            log: None,
        }
    }

    /// The sample lines of `text` (no comments).
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn every_family_with_help_type_and_one_sample_per_service() {
        let mut web = row("web", "running");
        web.pid = Some(42);
        web.uptime_s = Some(100);
        web.since = Some("2026-11-24T23:59:59Z".into());
        web.restarts = Some(3);
        web.memory_bytes = Some(4096);
        web.tasks = Some(2);
        let mut echo = service(row("echo", "stopped"));
        echo.on_demand = true;
        let text = render_at(
            &[service(web), service(row("db", "dead")), echo],
            Some('2'),
            2_000_000_000,
        );
        let expected = "\
# HELP svc_service_up Whether the service runs: 1 when its state is running, else 0.
# TYPE svc_service_up gauge
svc_service_up{name=\"web\"} 1
svc_service_up{name=\"db\"} 0
svc_service_up{name=\"echo\"} 0
";
        assert!(text.starts_with(expected), "{text}");
        for line in [
            "svc_service_state{name=\"web\",state=\"running\"} 1",
            "svc_service_state{name=\"web\",state=\"stopped\"} 0",
            "svc_service_state{name=\"db\",state=\"dead\"} 1",
            "svc_service_state{name=\"db\",state=\"running\"} 0",
            "svc_service_state{name=\"echo\",state=\"stopped\"} 1",
            "svc_service_start_time_seconds{name=\"web\"} 1795564799",
            "svc_service_restarts_total{name=\"web\"} 3",
            "svc_service_restarts_total{name=\"db\"} 0",
            "svc_service_restarts_total{name=\"echo\"} 0",
            "svc_service_memory_bytes{name=\"web\"} 4096",
            "svc_service_tasks{name=\"web\"} 2",
            "svc_runlevel 2",
            "# TYPE svc_service_restarts_total counter",
            "# TYPE svc_service_state gauge",
            "# TYPE svc_runlevel gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // Seven states for each of three services; only web's usage is known.
        let count = |prefix: &str| {
            samples(&text)
                .iter()
                .filter(|l| l.starts_with(prefix))
                .count()
        };
        assert_eq!(count("svc_service_state{"), 21);
        assert_eq!(count("svc_service_start_time_seconds{"), 1);
        assert_eq!(count("svc_service_memory_bytes{"), 1);
        assert_eq!(count("svc_service_tasks{"), 1);
        // Every family is described once, before its samples, and its samples are together.
        let mut seen: Vec<&str> = Vec::new();
        for l in samples(&text) {
            let fam = l.split(['{', ' ']).next().unwrap_or("");
            if seen.last() != Some(&fam) {
                assert!(!seen.contains(&fam), "{fam} split in\n{text}");
                assert!(text.contains(&format!("# TYPE {fam} ")), "{fam} untyped");
                assert!(
                    text.contains(&format!("# HELP {fam} ")),
                    "{fam} undescribed"
                );
                seen.push(fam);
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn exactly_one_state_is_current_and_an_unknown_one_counts_as_unknown() {
        for state in STATES.iter().copied().chain(["invalid"]) {
            let text = render_at(&[service(row("a", state))], None, 0);
            let ones: Vec<&str> = samples(&text)
                .into_iter()
                .filter(|l| l.starts_with("svc_service_state{") && l.ends_with(" 1"))
                .collect();
            let want = if state == "invalid" { "unknown" } else { state };
            assert_eq!(
                ones,
                [format!(
                    "svc_service_state{{name=\"a\",state=\"{want}\"}} 1"
                )]
            );
            let up = if state == "running" { 1 } else { 0 };
            assert!(text.contains(&format!("svc_service_up{{name=\"a\"}} {up}\n")));
        }
    }

    #[test]
    fn start_time_from_uptime_when_since_is_missing_or_unreadable() {
        let mut r = row("a", "running");
        r.uptime_s = Some(30);
        let text = render_at(&[service(r.clone())], None, 1000);
        assert!(text.contains("svc_service_start_time_seconds{name=\"a\"} 970\n"));
        r.since = Some("yesterday".into());
        let text = render_at(&[service(r)], None, 1000);
        assert!(text.contains("svc_service_start_time_seconds{name=\"a\"} 970\n"));
    }

    #[test]
    fn tasks_with_containment_only() {
        // Without containment the process count is not the cgroup's: no sample.
        let mut r = row("a", "running");
        r.processes = Some(5);
        let text = render_at(&[service(r.clone())], None, 0);
        assert!(!text.contains("svc_service_tasks"), "{text}");
        r.tasks = Some(0);
        let text = render_at(&[service(r)], None, 0);
        assert!(text.contains("svc_service_tasks{name=\"a\"} 0\n"));
    }

    #[test]
    fn runlevel_numbers_single_user_and_unknown() {
        let line = |l| {
            render_at(&[], l, 0)
                .lines()
                .find(|x| x.starts_with("svc_runlevel "))
                .map(str::to_string)
        };
        assert_eq!(line(Some('3')).as_deref(), Some("svc_runlevel 3"));
        assert_eq!(line(Some('0')).as_deref(), Some("svc_runlevel 0"));
        assert_eq!(line(Some('S')).as_deref(), Some("svc_runlevel -1"));
        assert_eq!(line(Some('N')), None);
        assert_eq!(line(None), None);
        // Nothing to say about no service and no runlevel: no family, not even its comments.
        assert_eq!(render_at(&[], None, 0), "");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        let text = render_at(&[service(row("x\"y", "stopped"))], None, 0);
        assert!(
            text.contains("svc_service_up{name=\"x\\\"y\"} 0\n"),
            "{text}"
        );
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn rfc3339_round_trips_with_the_clock() {
        for secs in [
            0u64,
            951_782_400,
            1_709_251_199,
            1_795_564_799,
            4_107_542_400,
        ] {
            let text = crate::clock::rfc3339(crate::clock::tests::at(secs));
            assert_eq!(parse_rfc3339(&text), Some(secs), "{text}");
        }
        for bad in [
            "",
            "2026-11-24 23:59:59Z",
            "2026-11-24T23:59:59",
            "2026-13-24T23:59:59Z",
            "2026-11-24T24:00:00Z",
            "+026-11-24T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2026-11-24T23:59:59.5Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
