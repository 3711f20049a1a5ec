//! The boot timeline: when each service of a runlevel transition began to start (or stop) and
//! when it was ready, kept as `<state>/timeline.json` for `svc analyze`. Nothing in the SysV
//! world shows one; this is svc's `systemd-analyze blame`.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One runlevel transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The runlevel switched to (`"3"`, `"S"`; `boot` records rcS.d and the target in one
    /// timeline, with target `"S+3"`).
    pub target: String,
    /// Unix time in milliseconds when the transition began; every other time is relative to it.
    pub started_at_unix_ms: u64,
    /// Milliseconds from the beginning to the end of the transition.
    pub total_ms: u64,
    pub services: Vec<Step>,
}

/// What happened to one service during the transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// `"start"` or `"stop"`.
    pub action: String,
    /// The entry's number (NN of `S<NN>name` / `K<NN>name`).
    pub number: u8,
    /// When svc began to start (or stop) it; `None` if it was skipped.
    pub begin_ms: Option<u64>,
    /// When it was ready (start) or gone (stop); `None` if it failed or was skipped.
    pub ready_ms: Option<u64>,
    /// `"ok"`, `"failed"`, `"skipped"` (a dependency failed or was left out) or `"already"`
    /// (already running / already stopped: nothing was done).
    pub outcome: String,
    /// The services it waited for (its `requires` and `wants` that were part of the transition).
    pub after: Vec<String>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Timeline {
    /// Reads `<state>/timeline.json`.
    pub fn load(path: &Path) -> std::io::Result<Timeline> {
        let text = std::fs::read(path)?;
        serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Writes it atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::process::pidfile::write_atomic(path, &text, 0o644)
    }
}

impl Step {
    /// How long it took: `ready_ms - begin_ms`; `None` unless it has both.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.ready_ms?.saturating_sub(self.begin_ms?))
    }
}

/// The steps slowest first, like `systemd-analyze blame`: every step with a duration, longest
/// first (ties by name), then the ones without (failed, then already/other, then skipped), in
/// the order they were recorded.
pub fn blame(t: &Timeline) -> Vec<&Step> {
    let mut timed: Vec<&Step> = t
        .services
        .iter()
        .filter(|s| s.duration_ms().is_some())
        .collect();
    timed.sort_by(|a, b| {
        b.duration_ms()
            .cmp(&a.duration_ms())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut untimed: Vec<&Step> = t
        .services
        .iter()
        .filter(|s| s.duration_ms().is_none())
        .collect();
    untimed.sort_by_key(|s| match s.outcome.as_str() {
        "failed" => 0,
        "skipped" => 2,
        _ => 1,
    });
    timed.extend(untimed);
    timed
}

/// Whether `p` (at index `pi`) had to be finished before `s` (at index `si`) could begin:
/// `s` waited for it (`after`), or it is a barrier. Entries run in ascending number order, so a
/// lower number of the same action is a barrier; so is every stop for a start (stops come
/// first), and an entry of the same action recorded earlier with a *higher* number (an earlier
/// phase: `boot` records rcS.d before the target runlevel, and each phase is recorded in
/// execution order). An approximation: `switch` runs a required service at its dependant's
/// lower number when it has to, and the step records only the entry's own number; since the
/// predecessor must also have been ready before the step began, the chain stays a real one.
fn blocks(p: &Step, pi: usize, s: &Step, si: usize) -> bool {
    if s.after.contains(&p.name) {
        return true;
    }
    if p.action == s.action {
        p.number < s.number || (pi < si && p.number > s.number)
    } else {
        p.action == "stop" && s.action == "start"
    }
}

/// The critical chain, first to last: it ends at the step that was ready last and walks back,
/// from each step, to the predecessor (a service it waited for, or a barrier: see `blocks`)
/// that was ready last before it began. Steps without both times are never part of it; an
/// empty timeline (or one where nothing got ready) has an empty chain.
pub fn critical_chain(t: &Timeline) -> Vec<&Step> {
    let steps = &t.services;
    let timed = |s: &Step| s.begin_ms.is_some() && s.ready_ms.is_some();
    let last = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| timed(s))
        .max_by_key(|(i, s)| (s.ready_ms, s.begin_ms, *i));
    let Some((mut cur, _)) = last else {
        return Vec::new();
    };
    let mut seen = vec![false; steps.len()];
    seen[cur] = true;
    let mut chain = vec![&steps[cur]];
    loop {
        let s = &steps[cur];
        let begin = s.begin_ms.unwrap_or(0);
        let pred = steps
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                !seen[*i]
                    && timed(p)
                    && p.ready_ms.is_some_and(|r| r <= begin)
                    && blocks(p, *i, s, cur)
            })
            .max_by_key(|(i, p)| (p.ready_ms, s.after.contains(&p.name), *i));
        match pred {
            Some((i, p)) => {
                seen[i] = true;
                chain.push(p);
                cur = i;
            }
            None => break,
        }
    }
    chain.reverse();
    chain
}

/// A duration for people: `340ms` below a second, else `1.234s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// An axis label: `250ms`, `2s`, `1.5s`.
fn tick_label(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!(
            "{}s",
            format_ms(ms).trim_end_matches('s').trim_end_matches('0')
        )
    }
}

/// The smallest 1-2-5 step that gives at most ten intervals over `span` milliseconds.
fn tick_step(span: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if span / step <= 10 {
                return step;
            }
        }
        magnitude *= 10;
    }
}

/// Text for XML content and attribute values: `&<>"'` escaped, characters XML 1.0 does not
/// allow replaced by U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `2024-05-01 12:00:00 UTC` for Unix milliseconds (civil-from-days, proleptic Gregorian).
fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

const SVG_STYLE: &str = "
text { font-family: sans-serif; font-size: 12px; fill: #222; }
.heading { font-size: 15px; font-weight: bold; }
.sub { fill: #555; }
.tick { font-size: 10px; fill: #666; }
.grid { stroke: #ddd; stroke-width: 1; }
.background { fill: #fff; }
.bar.ok, .swatch.ok { fill: #4a90d9; }
.bar.already, .swatch.already { fill: #b8c7d9; }
.bar.stop, .swatch.stop { fill: #9b9b9b; }
.bar.failed, .swatch.failed { fill: #e06060; fill-opacity: 0.5; stroke: #c00; stroke-dasharray: 4 2; }
.skipped { fill: #999; font-style: italic; }
.dep { stroke: #888; stroke-width: 1; fill: none; }
.arrowhead { fill: #888; }
";

/// The timeline as a standalone SVG picture: one `<rect class=\"bar OUTCOME\">` per step that
/// began (`ok`, `failed`, `stop` for stops, `already` for services that were already in the
/// wanted state), rows sorted by when they began, each labelled with name and duration and
/// carrying a `<title>` tooltip; an x axis in milliseconds with ticks; an arrow from the end of
/// each dependency's bar to the start of its dependant's bar. A failed step has no end: its
/// (dashed) bar runs to the end of the transition. Skipped steps get a row with text and no bar.
pub fn to_svg(t: &Timeline) -> String {
    const LEFT: f64 = 10.0;
    const TOP: f64 = 70.0;
    const ROW: f64 = 22.0;
    const BAR_H: f64 = 14.0;
    const CHART_W: f64 = 800.0;

    let steps = &t.services;
    let span = steps
        .iter()
        .flat_map(|s| [s.begin_ms, s.ready_ms])
        .flatten()
        .chain([t.total_ms, 1])
        .max()
        .unwrap_or(1);
    let scale = CHART_W / span as f64;
    let x_of = |ms: u64| LEFT + ms as f64 * scale;

    // Rows: steps that began, by begin time (then as recorded), then the rest.
    let mut rows: Vec<usize> = (0..steps.len()).collect();
    rows.sort_by_key(|&i| (steps[i].begin_ms.is_none(), steps[i].begin_ms, i));
    let mut row_of = vec![0usize; steps.len()];
    for (r, &i) in rows.iter().enumerate() {
        row_of[i] = r;
    }
    let y_of = |i: usize| TOP + row_of[i] as f64 * ROW;
    let bar_end = |s: &Step| s.ready_ms.unwrap_or(span).max(s.begin_ms.unwrap_or(0));

    let label = |s: &Step| -> String {
        let stop = if s.action == "stop" { " (stop)" } else { "" };
        let what = match (s.outcome.as_str(), s.duration_ms()) {
            ("failed", _) => "failed".to_string(),
            ("skipped", _) => "skipped".to_string(),
            ("already", Some(0)) => "already".to_string(),
            (_, Some(d)) => format_ms(d),
            (o, None) => o.to_string(),
        };
        let why = s
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!("{}{stop} {what}{why}", s.name)
    };

    let labels: Vec<String> = steps.iter().map(label).collect();
    let label_w = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(60) as f64
        * 7.0;
    let width = (LEFT + CHART_W + 10.0 + label_w + 10.0).ceil();
    let chart_bottom = TOP + steps.len() as f64 * ROW;
    let height = (chart_bottom + 40.0).ceil();

    let mut svg = String::new();
    svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\n"
    ));
    let heading = format!(
        "svc: transition to runlevel {}, {} services, total {}",
        t.target,
        steps.len(),
        format_ms(t.total_ms)
    );
    svg.push_str(&format!("<title>{}</title>\n", xml_escape(&heading)));
    svg.push_str(&format!("<style>{SVG_STYLE}</style>\n"));
    svg.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">\
         <path class=\"arrowhead\" d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n",
    );
    svg.push_str(&format!(
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\"/>\n"
    ));
    svg.push_str(&format!(
        "<text class=\"heading\" x=\"{LEFT}\" y=\"20\">{}</text>\n",
        xml_escape(&heading)
    ));
    svg.push_str(&format!(
        "<text class=\"sub\" x=\"{LEFT}\" y=\"38\">began {}</text>\n",
        xml_escape(&utc(t.started_at_unix_ms))
    ));

    // The axis: a grid line and a label per tick.
    let step = tick_step(span);
    let mut ms = 0;
    while ms <= span {
        let x = x_of(ms);
        svg.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{chart_bottom:.1}\"/>\n",
            TOP - 8.0
        ));
        svg.push_str(&format!(
            "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            TOP - 12.0,
            tick_label(ms)
        ));
        ms += step;
    }

    // Dependencies first, so the bars are drawn over them.
    for (si, s) in steps.iter().enumerate() {
        let Some(begin) = s.begin_ms else { continue };
        for dep in &s.after {
            let d = steps
                .iter()
                .enumerate()
                .filter(|(di, d)| d.name == *dep && *di != si && d.begin_ms.is_some())
                .min_by_key(|(di, d)| (d.action != s.action, *di > si, si.abs_diff(*di)));
            let Some((di, d)) = d else { continue };
            let (x1, y1) = (x_of(bar_end(d)), y_of(di) + BAR_H / 2.0);
            // To the near edge of the dependant's bar, so the arrowhead stays visible.
            let y2 = if y_of(si) >= y_of(di) {
                y_of(si)
            } else {
                y_of(si) + BAR_H
            };
            let x2 = x_of(begin);
            svg.push_str(&format!(
                "<path class=\"dep\" d=\"M{x1:.1},{y1:.1} L{x2:.1},{y2:.1}\" \
                 marker-end=\"url(#arrow)\"><title>{} waited for {}</title></path>\n",
                xml_escape(&s.name),
                xml_escape(&d.name)
            ));
        }
    }

    for (i, s) in steps.iter().enumerate() {
        let y = y_of(i);
        let text_y = y + BAR_H - 3.0;
        let label = xml_escape(&labels[i]);
        let Some(begin) = s.begin_ms else {
            svg.push_str(&format!(
                "<text class=\"skipped\" x=\"{:.1}\" y=\"{text_y:.1}\">{label}<title>{label}</title></text>\n",
                LEFT
            ));
            continue;
        };
        let class = match (s.action.as_str(), s.outcome.as_str()) {
            (_, "failed") => "failed",
            ("stop", _) => "stop",
            (_, "already") => "already",
            _ => "ok",
        };
        let x = x_of(begin);
        let w = (x_of(bar_end(s)) - x).max(1.0);
        let tip = match s.ready_ms {
            Some(r) => format!(
                "{}: {} @{} +{} (ready at {})",
                labels[i],
                s.action,
                format_ms(begin),
                format_ms(r.saturating_sub(begin)),
                format_ms(r)
            ),
            None => format!(
                "{}: {} @{}, never ready",
                labels[i],
                s.action,
                format_ms(begin)
            ),
        };
        svg.push_str(&format!(
            "<rect class=\"bar {class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\">\
             <title>{}</title></rect>\n",
            xml_escape(&tip)
        ));
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{text_y:.1}\">{label}</text>\n",
            x + w + 5.0
        ));
    }

    // The legend.
    let ly = chart_bottom + 18.0;
    let mut lx = LEFT;
    for (class, text) in [
        ("ok", "started"),
        ("stop", "stopped"),
        ("already", "already in place"),
        ("failed", "failed"),
    ] {
        svg.push_str(&format!(
            "<rect class=\"swatch {class}\" x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{text}</text>\n",
            ly - 10.0,
            lx + 16.0
        ));
        lx += 130.0;
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(
        name: &str,
        number: u8,
        begin: Option<u64>,
        ready: Option<u64>,
        after: &[&str],
    ) -> Step {
        let outcome = match (begin, ready) {
            (Some(_), Some(_)) => "ok",
            (Some(_), None) => "failed",
            _ => "skipped",
        };
        Step {
            name: name.into(),
            action: "start".into(),
            number,
            begin_ms: begin,
            ready_ms: ready,
            outcome: outcome.into(),
            after: after.iter().map(|a| a.to_string()).collect(),
            error: None,
        }
    }

    fn timeline(services: Vec<Step>) -> Timeline {
        Timeline {
            target: "3".into(),
            started_at_unix_ms: 1_714_564_800_000,
            total_ms: 1000,
            services,
        }
    }

    fn names<'a>(steps: &[&'a Step]) -> Vec<&'a str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// net (S10, 0..100); db (S20, after net, 100..400) and cache (S20, 100..150) in parallel;
    /// httpd (S30, wants cache, 400..460): it waited for db as a barrier.
    fn sample() -> Timeline {
        let mut stop = step("old", 50, Some(0), Some(5), &[]);
        stop.action = "stop".into();
        let mut failed = step("mail", 30, Some(400), None, &[]);
        failed.error = Some("exec failed".into());
        timeline(vec![
            stop,
            step("net", 10, Some(5), Some(100), &[]),
            step("db", 20, Some(100), Some(400), &["net"]),
            step("cache", 20, Some(100), Some(150), &["net"]),
            step("httpd", 30, Some(400), Some(460), &["cache"]),
            failed,
            step("web2", 40, None, None, &["mail"]),
        ])
    }

    #[test]
    fn blame_slowest_first_then_failed_then_skipped() {
        let t = sample();
        assert_eq!(
            names(&blame(&t)),
            ["db", "net", "httpd", "cache", "old", "mail", "web2"]
        );
        assert_eq!(t.services[2].duration_ms(), Some(300));
        assert_eq!(t.services[5].duration_ms(), None);
    }

    #[test]
    fn chain_walks_back_through_barriers_and_dependencies() {
        let t = sample();
        // httpd waited for cache (after) but db (a lower number) finished later: db is the
        // blocker; db waited for net; net for the stop of old.
        assert_eq!(names(&critical_chain(&t)), ["old", "net", "db", "httpd"]);
    }

    #[test]
    fn chain_prefers_dependency_on_a_tie_and_ignores_parallel_peers() {
        let t = timeline(vec![
            step("a", 10, Some(0), Some(50), &[]),
            step("b", 10, Some(0), Some(50), &[]),
            step("c", 20, Some(50), Some(90), &["a"]),
            // Same number as c, began after c was ready: c is no barrier for it, a and b are.
            step("d", 20, Some(95), Some(100), &[]),
        ]);
        assert_eq!(names(&critical_chain(&t)), ["b", "d"]);
        let t = timeline(t.services[..3].to_vec());
        assert_eq!(names(&critical_chain(&t)), ["a", "c"]);
    }

    #[test]
    fn chain_across_boot_phases_and_degenerate_timelines() {
        // boot: rcS.d (S40 sysinit) then rc3.d (S10 net): the earlier phase is a barrier.
        let t = timeline(vec![
            step("sysinit", 40, Some(0), Some(30), &[]),
            step("net", 10, Some(30), Some(60), &[]),
        ]);
        assert_eq!(names(&critical_chain(&t)), ["sysinit", "net"]);
        assert!(critical_chain(&timeline(vec![])).is_empty());
        let t = timeline(vec![step("x", 10, Some(0), None, &[])]);
        assert!(critical_chain(&t).is_empty());
        // Zero-length steps at the same instant do not loop.
        let t = timeline(vec![
            step("p", 10, Some(0), Some(0), &["q"]),
            step("q", 10, Some(0), Some(0), &["p"]),
        ]);
        assert_eq!(critical_chain(&t).len(), 2);
    }

    #[test]
    fn durations_and_ticks() {
        assert_eq!(format_ms(340), "340ms");
        assert_eq!(format_ms(1234), "1.234s");
        assert_eq!(format_ms(2000), "2.000s");
        assert_eq!(tick_label(1500), "1.5s");
        assert_eq!(tick_label(2000), "2s");
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(1000), 100);
        assert_eq!(tick_step(1100), 200);
        assert_eq!(tick_step(45_000), 5000);
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_714_564_800_000), "2024-05-01 12:00:00 UTC");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape("a&b<c>\"d'\u{1}"),
            "a&amp;b&lt;c&gt;&quot;d&apos;\u{fffd}"
        );
    }

    #[test]
    fn svg_has_one_bar_per_step_that_began() {
        let mut t = sample();
        t.services[5].error = Some("<bad> & \"quoted\"".into());
        let svg = to_svg(&t);
        assert!(svg.starts_with("<?xml"));
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 6);
        assert_eq!(svg.matches("class=\"bar failed\"").count(), 1);
        assert_eq!(svg.matches("class=\"bar stop\"").count(), 1);
        assert!(svg.contains("class=\"skipped\""));
        // net->db, net->cache, cache->httpd; web2 never began, so no arrow to it.
        assert_eq!(svg.matches("class=\"dep\"").count(), 3);
        assert!(svg.contains("&lt;bad&gt; &amp; &quot;quoted&quot;"));
        assert!(!svg.contains("<bad>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
