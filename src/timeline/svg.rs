//! The timeline as a standalone SVG picture (`svc analyze --svg`).
//!
//! Three columns, so that nothing is drawn over a label: on the left each row's label (name,
//! and duration or outcome); in the middle the chart — the time axis, the dependency arrows
//! and one bar per step that began, from its beginning to when it was ready, gone or failed; on
//! the right the reason of a failed or skipped step, shortened to [`REASON_CHARS`] characters
//! (all of it in the tooltip). Arrows run from the end of one bar to the beginning of another,
//! so they never leave the chart. The columns are sized from their texts with a generous width
//! per character, and the axis starts right of the label column, so no text is clipped at an
//! edge and a long reason cannot make the picture wide.

use super::{Step, Timeline};
use crate::clock::{format_ms, utc};

const MARGIN: f64 = 10.0;
const TOP: f64 = 70.0;
const ROW: f64 = 22.0;
const BAR_H: f64 = 14.0;
const CHART_W: f64 = 800.0;
const GAP: f64 = 12.0;
/// The width allowed per character of a 12 px label: more than most characters of the usual
/// sans-serif fonts take (DejaVu Sans: 0.5-0.65 em for most letters and digits).
const CHAR_W: f64 = 7.5;
/// The label column is at least this many characters wide.
const MIN_LABEL_CHARS: usize = 10;
/// A reason longer than this is shortened (with `…`) in the picture.
pub const REASON_CHARS: usize = 44;

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
.bar.failed, .swatch.failed { fill: #e06060; stroke: #c00; }
.skipped { fill: #999; font-style: italic; }
.reason { fill: #a00; }
.dep { stroke: #888; stroke-width: 1; fill: none; }
.arrowhead { fill: #888; }
";

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

/// When the step's bar ends: ready or gone, else when it failed; a failure recorded by an
/// earlier version (no `end_ms`) is drawn as a sliver at its beginning.
fn bar_end(s: &Step) -> u64 {
    let begin = s.begin_ms.unwrap_or(0);
    s.ready_ms.or(s.end_ms).unwrap_or(begin).max(begin)
}

/// The left column: `db 1.200s`, `old (stop) 5ms`, `mail failed after 3ms`, `relay skipped`.
fn label(s: &Step) -> String {
    let stop = if s.action == "stop" { " (stop)" } else { "" };
    let what = match (s.outcome.as_str(), s.duration_ms()) {
        ("failed", _) => match (s.begin_ms, s.end_ms) {
            (Some(b), Some(e)) => format!("failed after {}", format_ms(e.saturating_sub(b))),
            _ => "failed".to_string(),
        },
        ("skipped", _) => "skipped".to_string(),
        ("already", Some(0)) => "already".to_string(),
        (_, Some(d)) => format_ms(d),
        (o, None) => o.to_string(),
    };
    format!("{}{stop} {what}", s.name)
}

/// A reason on one line (a quoted log may span several), at most `max` characters: a longer
/// one keeps its first third and its end (where the OS error or the last log line is), with
/// `…` between.
fn shorten(text: &str, max: usize) -> String {
    let chars: Vec<char> = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    if chars.len() <= max {
        return chars.into_iter().collect();
    }
    let head = max.saturating_sub(1) / 3;
    let tail = max.saturating_sub(1) - head;
    let mut s: String = chars[..head].iter().collect();
    s.push('…');
    s.extend(&chars[chars.len() - tail..]);
    s
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// The timeline as a standalone SVG picture: one `<rect class="bar OUTCOME">` per step that
/// began (`ok`, `failed`, `stop` for stops, `already` for services that were already in the
/// wanted state), rows sorted by when they began, each with its label on the left and a
/// `<title>` tooltip; an x axis in milliseconds with ticks; an arrow from the end of each
/// dependency's bar to the start of its dependant's bar; reasons on the right. Skipped steps
/// get a row with text and no bar.
pub fn to_svg(t: &Timeline) -> String {
    let steps = &t.services;
    let span = steps
        .iter()
        .flat_map(|s| [s.begin_ms, s.ready_ms, s.end_ms])
        .flatten()
        .chain([t.total_ms, 1])
        .max()
        .unwrap_or(1);

    let labels: Vec<String> = steps.iter().map(label).collect();
    let reasons: Vec<Option<String>> = steps
        .iter()
        .map(|s| s.error.as_deref().map(|e| shorten(e, REASON_CHARS)))
        .collect();
    let label_w = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(MIN_LABEL_CHARS) as f64
        * CHAR_W;
    let chart_left = MARGIN + label_w + GAP;
    let chart_right = chart_left + CHART_W;
    let reason_x = chart_right + GAP;
    let reason_w = reasons
        .iter()
        .flatten()
        .map(|r| text_width(r))
        .fold(0.0, f64::max);
    let heading = format!(
        "svc: transition to runlevel {}, {} services, total {}",
        t.target,
        steps.len(),
        format_ms(t.total_ms)
    );
    let width = [
        if reason_w > 0.0 {
            reason_x + reason_w + MARGIN
        } else {
            chart_right + MARGIN
        },
        // The heading is 15 px bold.
        MARGIN + text_width(&heading) * 1.4 + MARGIN,
    ]
    .into_iter()
    .fold(0.0, f64::max)
    .ceil();
    let chart_bottom = TOP + steps.len() as f64 * ROW;
    let height = (chart_bottom + 40.0).ceil();

    let scale = CHART_W / span as f64;
    let x_of = |ms: u64| chart_left + ms as f64 * scale;
    // Rows: steps that began, by begin time (then as recorded), then the rest.
    let mut rows: Vec<usize> = (0..steps.len()).collect();
    rows.sort_by_key(|&i| (steps[i].begin_ms.is_none(), steps[i].begin_ms, i));
    let mut row_of = vec![0usize; steps.len()];
    for (r, &i) in rows.iter().enumerate() {
        row_of[i] = r;
    }
    let y_of = |i: usize| TOP + row_of[i] as f64 * ROW;

    let mut svg = String::new();
    svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\n"
    ));
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
        "<text class=\"heading\" x=\"{MARGIN}\" y=\"20\">{}</text>\n",
        xml_escape(&heading)
    ));
    svg.push_str(&format!(
        "<text class=\"sub\" x=\"{MARGIN}\" y=\"38\">began {}</text>\n",
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
        let full = match &s.error {
            Some(e) => format!("{}: {e}", labels[i]),
            None => labels[i].clone(),
        };
        let class = match (s.action.as_str(), s.outcome.as_str()) {
            (_, "skipped") => "skipped",
            (_, "failed") => "failed",
            ("stop", _) => "stop",
            (_, "already") => "already",
            _ => "ok",
        };
        svg.push_str(&format!(
            "<text class=\"label {class}\" x=\"{MARGIN}\" y=\"{text_y:.1}\">{label}<title>{}</title></text>\n",
            xml_escape(&full)
        ));
        if let Some(r) = &reasons[i] {
            svg.push_str(&format!(
                "<text class=\"reason\" x=\"{reason_x:.1}\" y=\"{text_y:.1}\">{}<title>{}</title></text>\n",
                xml_escape(r),
                xml_escape(&full)
            ));
        }
        let Some(begin) = s.begin_ms else { continue };
        let x = x_of(begin);
        let w = (x_of(bar_end(s)) - x).max(2.0);
        let tip = match (s.ready_ms, s.end_ms) {
            (Some(r), _) => format!(
                "{full}: {} @{} +{} (ready at {})",
                s.action,
                format_ms(begin),
                format_ms(r.saturating_sub(begin)),
                format_ms(r)
            ),
            (None, Some(e)) => format!(
                "{full}: {} @{}, ended at {}, never ready",
                s.action,
                format_ms(begin),
                format_ms(e)
            ),
            (None, None) => format!("{full}: {} @{}, never ready", s.action, format_ms(begin)),
        };
        svg.push_str(&format!(
            "<rect class=\"bar {class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\">\
             <title>{}</title></rect>\n",
            xml_escape(&tip)
        ));
    }

    // The legend.
    let ly = chart_bottom + 18.0;
    let mut lx = MARGIN;
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
    use super::super::tests::{sample, step, timeline};
    use super::*;

    /// The number after `name="` in `tag` (an element's text).
    fn attr(tag: &str, name: &str) -> f64 {
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..].split('"').next().unwrap().parse().unwrap()
    }

    /// Every element whose opening tag starts with `start`.
    fn elements<'a>(svg: &'a str, start: &str) -> Vec<&'a str> {
        svg.match_indices(start)
            .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
            .collect()
    }

    #[test]
    fn ticks_and_escaping() {
        assert_eq!(tick_label(1500), "1.5s");
        assert_eq!(tick_label(2000), "2s");
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(1000), 100);
        assert_eq!(tick_step(1100), 200);
        assert_eq!(tick_step(45_000), 5000);
        assert_eq!(
            xml_escape("a&b<c>\"d'\u{1}"),
            "a&amp;b&lt;c&gt;&quot;d&apos;\u{fffd}"
        );
        assert_eq!(shorten("a\n  b", 10), "a b");
        assert_eq!(shorten("abcdefgh", 7), "ab…efgh");
        assert_eq!(
            shorten(&"x".repeat(100), REASON_CHARS).chars().count(),
            REASON_CHARS
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
        assert!(svg.contains("class=\"label skipped\""));
        // net->db, net->cache, cache->httpd; web2 never began, so no arrow to it.
        assert_eq!(svg.matches("class=\"dep\"").count(), 3);
        assert!(svg.contains("&lt;bad&gt; &amp; &quot;quoted&quot;"));
        assert!(!svg.contains("<bad>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_failure_ends_when_it_failed() {
        // mail began at 400 and failed at 402 (sample's end_ms), in a transition of 1000 ms.
        let svg = to_svg(&sample());
        let failed = elements(&svg, "<rect class=\"bar failed\"")[0];
        let ok = elements(&svg, "<rect class=\"bar ok\"");
        let db = ok[1];
        assert!(attr(failed, "width") <= 2.0, "{failed}");
        assert!(attr(db, "width") > 200.0, "{db}");
        assert!(svg.contains("mail failed after 2ms"), "{svg}");
    }

    #[test]
    fn columns_keep_texts_off_the_chart_and_the_picture_narrow() {
        let mut t = sample();
        t.services[5].error = Some("x".repeat(500));
        let svg = to_svg(&t);
        let width = attr(elements(&svg, "<svg")[0], "width");
        assert!(width <= 1400.0, "{width}");
        let grid = elements(&svg, "<line class=\"grid\"");
        let chart_left = attr(grid[0], "x1");
        let chart_right = chart_left + CHART_W;
        // Every arrow stays inside the chart.
        for p in elements(&svg, "<path class=\"dep\"") {
            let d = p.split("d=\"").nth(1).unwrap();
            for x in d
                .split(['M', 'L', ' '])
                .filter_map(|v| v.split(',').next()?.parse::<f64>().ok())
            {
                assert!((chart_left..=chart_right).contains(&x), "{p}");
            }
        }
        // Labels end before it, reasons start after it.
        for l in elements(&svg, "<text class=\"label") {
            let at = svg.find(l).unwrap() + l.len() + 1;
            let text = &svg[at..at + svg[at..].find('<').unwrap()];
            assert!(attr(l, "x") + text_width(text) <= chart_left, "{l}{text}");
        }
        for r in elements(&svg, "<text class=\"reason\"") {
            assert!(attr(r, "x") > chart_right, "{r}");
        }
        assert!(svg.contains('…'));
        // The first tick label has room left of its middle.
        let tick = elements(&svg, "<text class=\"tick\"")[0];
        assert!(attr(tick, "x") > 30.0, "{tick}");
    }

    #[test]
    fn a_failure_of_an_earlier_version_is_a_sliver() {
        let mut s = step("x", 10, Some(100), None, &[]);
        s.end_ms = None;
        let svg = to_svg(&timeline(vec![s]));
        let failed = elements(&svg, "<rect class=\"bar failed\"")[0];
        assert_eq!(attr(failed, "width"), 2.0, "{failed}");
    }
}
