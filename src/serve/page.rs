//! The read-only status page (`GET /`): the table of `svc status` as one self-contained HTML5
//! document — inline CSS, no script, no form, nothing fetched from elsewhere — so any browser
//! (or `chromium --headless --dump-dom`) shows it as served. Pure apart from [`render`]
//! reading the host name and the clock.
//!
//! On top: the host, the runlevel and when the page was made. Then one row per service in the
//! order given, with the columns of `svc status` (NAME, STATE, PID, UPTIME, RUNLEVELS, HEALTH)
//! and DESCRIPTION, formatted as the terminal table formats them (`clock::uptime`, `-` for
//! nothing). Each row carries its service's name in `id="service-NAME"` and `data-name`, and its
//! state in `data-state`; a `socket:` service is marked "on demand". Every value is escaped.

use std::fmt::Write;

use super::Service;

/// The page for `services` and the current runlevel.
pub fn render(services: &[Service], runlevel: Option<char>) -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown host".into());
    let now = crate::clock::unix_ms(std::time::SystemTime::now());
    render_at(services, runlevel, &host, now)
}

/// The style: the terminal table's colours (green running and done, yellow starting, red dead
/// and failed), numbers right-aligned in equal widths.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}
p.meta{margin:0 0 1em;color:#555}
table{border-collapse:collapse}
th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state-running,.state-done{color:#1a7f37;font-weight:bold}
.state-starting{color:#9a6700;font-weight:bold}
.state-dead,.state-failed,.state-unknown,.health-unhealthy{color:#cf222e;font-weight:bold}
.tag{font-size:.8em;color:#555;border:1px solid #bbb;border-radius:3px;padding:0 .3em;margin-left:.4em}
.note{display:block;font-size:.85em;color:#555}
";

/// [`render`] for a given host name and time (Unix milliseconds).
fn render_at(services: &[Service], runlevel: Option<char>, host: &str, now_ms: u64) -> String {
    let host = escape(host);
    let level = match runlevel {
        Some(c) => escape(&c.to_string()),
        None => "unknown".into(),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>svc on {host}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>svc on {host}</h1>\n\
         <p class=\"meta\">Runlevel <strong id=\"runlevel\">{level}</strong> · \
         {count} · generated <time datetime=\"{iso}\">{utc}</time></p>\n",
        count = match services.len() {
            1 => "1 service".to_string(),
            n => format!("{n} services"),
        },
        iso =
            crate::clock::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(now_ms)),
        utc = crate::clock::utc(now_ms),
    );
    out.push_str(
        "<table id=\"services\">\n<thead><tr><th>NAME</th><th>STATE</th><th>PID</th>\
         <th>UPTIME</th><th>RUNLEVELS</th><th>HEALTH</th><th>DESCRIPTION</th></tr></thead>\n\
         <tbody>\n",
    );
    for s in services {
        row(&mut out, s);
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

/// One `<tr>` of the table.
fn row(out: &mut String, s: &Service) {
    let r = &s.row;
    let name = escape(&r.name);
    let state = escape(r.state);
    let pid = r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    let up = r
        .uptime_s
        .map(crate::clock::uptime)
        .unwrap_or_else(|| "-".into());
    let levels = match r.runlevels.is_empty() {
        true => "-".to_string(),
        false => escape(&r.runlevels.concat()),
    };
    let tag = match s.on_demand {
        true => "<span class=\"tag\">on demand</span>",
        false => "",
    };
    let note = r
        .note
        .as_deref()
        .map(|n| format!("<span class=\"note\">{}</span>", escape(n)))
        .unwrap_or_default();
    let health = match (r.health, &r.health_error) {
        (Some(h), Some(why)) => format!(
            "<span class=\"health-{h}\">{h}</span><span class=\"note\">{}</span>",
            escape(why),
            h = escape(h)
        ),
        (Some(h), None) => format!("<span class=\"health-{h}\">{h}</span>", h = escape(h)),
        (None, _) => "-".into(),
    };
    let desc = r.description.as_deref().map(escape).unwrap_or_default();
    let _ = writeln!(
        out,
        "<tr id=\"service-{name}\" data-name=\"{name}\" data-state=\"{state}\">\
         <td>{name}{tag}</td><td class=\"state-{state}\">{state}{note}</td>\
         <td class=\"num\">{pid}</td><td class=\"num\">{up}</td><td>{levels}</td>\
         <td>{health}</td><td>{desc}</td></tr>"
    );
}

/// Text for HTML, in content and in double-quoted attributes: `& < > " '` as references.
/// Control characters other than tab and line feed (not allowed in HTML text) become U+FFFD.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            '\t' | '\n' => s.push(c),
            c if c.is_control() => s.push('\u{FFFD}'),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::StatusRow;

    fn service(name: &str, state: &'static str) -> Service {
        Service {
            row: StatusRow {
                name: name.to_string(),
                state,
                ..StatusRow::default()
            },
            on_demand: false,
            log: None,
        }
    }

    /// 2026-11-24 23:59:59 UTC.
    const NOW: u64 = 1_795_564_799_000;

    #[test]
    fn the_table_of_status_with_host_runlevel_and_time() {
        let mut web = service("web", "running");
        web.row.pid = Some(4242);
        web.row.uptime_s = Some(192);
        web.row.runlevels = vec!["2".into(), "3".into()];
        web.row.description = Some("The web server".into());
        web.row.health = Some("healthy");
        let mut echo = service("echo", "stopped");
        echo.on_demand = true;
        let page = render_at(&[web, service("db", "dead"), echo], Some('2'), "box1", NOW);
        assert!(
            page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
            "{page}"
        );
        assert!(page.ends_with("</html>\n"));
        for part in [
            "<title>svc on box1</title>",
            "<strong id=\"runlevel\">2</strong>",
            "3 services",
            "<time datetime=\"2026-11-24T23:59:59Z\">2026-11-24 23:59:59 UTC</time>",
            "<th>NAME</th><th>STATE</th><th>PID</th><th>UPTIME</th><th>RUNLEVELS</th>\
             <th>HEALTH</th><th>DESCRIPTION</th>",
            "<tr id=\"service-web\" data-name=\"web\" data-state=\"running\"><td>web</td>\
             <td class=\"state-running\">running</td><td class=\"num\">4242</td>\
             <td class=\"num\">3m12s</td><td>23</td>\
             <td><span class=\"health-healthy\">healthy</span></td><td>The web server</td></tr>",
            "<tr id=\"service-db\" data-name=\"db\" data-state=\"dead\"><td>db</td>\
             <td class=\"state-dead\">dead</td><td class=\"num\">-</td><td class=\"num\">-</td>\
             <td>-</td><td>-</td><td></td></tr>",
            "<td>echo<span class=\"tag\">on demand</span></td>",
        ] {
            assert!(page.contains(part), "no {part:?} in\n{page}");
        }
        // Rows in the order given.
        let at = |n: &str| page.find(&format!("id=\"service-{n}\"")).unwrap();
        assert!(at("web") < at("db") && at("db") < at("echo"));
    }

    #[test]
    fn read_only_and_self_contained() {
        let page = render_at(&[service("a", "stopped")], None, "h", NOW);
        for absent in [
            "<script", "<form", "<input", "<link", "<img", "src=", "href=", "http",
        ] {
            assert!(!page.contains(absent), "{absent} in\n{page}");
        }
        assert!(page.contains("Runlevel <strong id=\"runlevel\">unknown</strong>"));
        assert!(page.contains("1 service ·"));
    }

    #[test]
    fn every_value_is_escaped() {
        let mut s = service("x<b>&\"'", "stopped");
        s.row.description = Some("<script>alert(1)</script> & co".into());
        s.row.note = Some("pid file <bad>".into());
        s.row.health = Some("unhealthy");
        s.row.health_error = Some("exit \"1\" <x>\u{1b}[31m".into());
        s.row.runlevels = vec!["<".into()];
        let page = render_at(&[s], Some('S'), "<host>", NOW);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>"));
        assert!(!page.contains("<bad>"));
        assert!(!page.contains("<x>"));
        assert!(!page.contains("<host>"));
        assert!(!page.contains('\u{1b}'));
        for part in [
            "id=\"service-x&lt;b&gt;&amp;&quot;&#39;\"",
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co",
            "<span class=\"note\">pid file &lt;bad&gt;</span>",
            "exit &quot;1&quot; &lt;x&gt;\u{FFFD}[31m",
            "<td>&lt;</td>",
            "svc on &lt;host&gt;",
            "<strong id=\"runlevel\">S</strong>",
        ] {
            assert!(page.contains(part), "no {part:?} in\n{page}");
        }
    }

    #[test]
    fn the_host_name_and_clock_are_read() {
        let page = render(&[service("a", "running")], Some('3'));
        let host = nix::unistd::gethostname().unwrap();
        let title = format!("<title>svc on {}</title>", escape(&host.to_string_lossy()));
        assert!(page.contains(&title), "{page}");
        assert!(page.contains("id=\"service-a\""));
    }
}
