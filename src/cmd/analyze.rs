//! `analyze`: a runlevel transition (the last one, or one of the few before it), slowest
//! first, its critical chain, and an SVG; `--list` lists the recorded transitions.

use std::path::Path;

use super::Context;
use crate::clock::{self, format_ms};
use crate::exit::Code;
use crate::timeline::{self, Step, Timeline};

/// `svc analyze [--svg FILE] [--json] [--transition N]`: the report of the transition N before
/// the last (0: the last); with `--svg`, only `wrote FILE` (and with `--json` too, only the
/// JSON). Exit 0, or 1 when nothing (or no transition N) was recorded, the record cannot be
/// read, or the SVG cannot be written.
pub fn run(ctx: &Context, svg: Option<&Path>, json: bool, n: usize) -> Code {
    let path = timeline::nth_path(&ctx.dirs.timeline(), n);
    let t = match Timeline::load(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && n == 0 => {
            ctx.out
                .error("no runlevel transition recorded yet (run svc switch or svc boot)");
            return Code::Failure;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.out.error(&format!(
                "no transition {n} recorded (the last {} are kept; svc analyze --list shows them)",
                timeline::KEEP
            ));
            return Code::Failure;
        }
        Err(e) => {
            ctx.out.error(&format!("{}: {e}", path.display()));
            return Code::Failure;
        }
    };
    let blame = timeline::blame(&t);
    let chain = timeline::critical_chain(&t);

    if let Some(file) = svg {
        let text = timeline::to_svg(&t);
        if let Err(e) = crate::process::pidfile::write_atomic(file, text.as_bytes(), 0o644) {
            ctx.out
                .error(&format!("cannot write {}: {e}", file.display()));
            return Code::Failure;
        }
        if !json {
            ctx.out.line(&format!("wrote {}", file.display()));
            return Code::Success;
        }
    }

    if json {
        let names =
            |steps: &[&Step]| -> Vec<String> { steps.iter().map(|s| s.name.clone()).collect() };
        ctx.out.json(&serde_json::json!({
            "timeline": t,
            "blame": names(&blame),
            "critical_chain": names(&chain),
        }));
        return Code::Success;
    }

    let which = match n {
        0 => "Last transition".to_string(),
        1 => "Transition before the last".to_string(),
        n => format!("Transition {n} before the last"),
    };
    let mut text = format!(
        "{which}: to runlevel {}, {} services, total {}",
        t.target,
        t.services.len(),
        format_ms(t.total_ms)
    );
    let first_col = |s: &Step| match s.duration_ms() {
        Some(d) if s.outcome != "already" || d > 0 => format_ms(d),
        _ => s.outcome.clone(),
    };
    let w = blame.iter().map(|s| first_col(s).len()).max().unwrap_or(0);
    for s in &blame {
        text.push_str(&format!("\n  {:>w$} {}", first_col(s), describe(s)));
        if let Some(e) = &s.error {
            text.push_str(&format!(": {e}"));
        }
    }
    text.push_str("\nCritical chain:");
    if chain.is_empty() {
        text.push_str("\n  (nothing got ready)");
    }
    for s in &chain {
        text.push_str(&format!(
            "\n  {} @{} +{}",
            describe(s),
            format_ms(s.begin_ms.unwrap_or(0)),
            format_ms(s.duration_ms().unwrap_or(0))
        ));
    }
    ctx.out.line(&text);
    Code::Success
}

/// `httpd`, or `httpd (stop)` for a stop.
fn describe(s: &Step) -> String {
    if s.action == "stop" {
        format!("{} (stop)", s.name)
    } else {
        s.name.clone()
    }
}

/// `svc analyze --list [--json]`: one line per recorded transition, the last first:
/// `N  WHEN  to runlevel T  S services  total D[  F failed]`. Exit 1 when none is recorded.
pub fn list(ctx: &Context, json: bool) -> Code {
    let latest = ctx.dirs.timeline();
    let mut found = Vec::new();
    for n in 0..timeline::KEEP {
        let path = timeline::nth_path(&latest, n);
        match Timeline::load(&path) {
            Ok(t) => found.push((n, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => ctx.out.error(&format!("{}: {e}", path.display())),
        }
    }
    if found.is_empty() {
        ctx.out
            .error("no runlevel transition recorded yet (run svc switch or svc boot)");
        return Code::Failure;
    }
    let failed = |t: &Timeline| t.services.iter().filter(|s| s.outcome == "failed").count();
    if json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .map(|(n, t)| {
                serde_json::json!({
                    "transition": n,
                    "target": t.target,
                    "started_at_unix_ms": t.started_at_unix_ms,
                    "total_ms": t.total_ms,
                    "services": t.services.len(),
                    "failed": failed(t),
                })
            })
            .collect();
        ctx.out.json(&rows);
        return Code::Success;
    }
    let w = found.iter().map(|(_, t)| t.target.len()).max().unwrap_or(1);
    let lines: Vec<String> = found
        .iter()
        .map(|(n, t)| {
            let f = match failed(t) {
                0 => String::new(),
                f => format!("  {f} failed"),
            };
            format!(
                "{n}  {}  to runlevel {:<w$}  {} services  total {}{f}",
                clock::utc(t.started_at_unix_ms),
                t.target,
                t.services.len(),
                format_ms(t.total_ms)
            )
        })
        .collect();
    ctx.out.line(&lines.join("\n"));
    Code::Success
}
