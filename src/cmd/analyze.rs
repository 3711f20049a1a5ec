//! `analyze`: the last runlevel transition, slowest first, its critical chain, and an SVG.

use std::path::Path;

use super::Context;
use crate::exit::Code;
use crate::timeline::{self, format_ms, Step, Timeline};

/// `svc analyze [--svg FILE] [--json]`: the report; with `--svg`, only `wrote FILE` (and with
/// `--json` too, only the JSON). Exit 0, or 1 when nothing was recorded yet, the record
/// cannot be read, or the SVG cannot be written.
pub fn run(ctx: &Context, svg: Option<&Path>, json: bool) -> Code {
    let path = ctx.dirs.timeline();
    let t = match Timeline::load(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.out
                .error("no runlevel transition recorded yet (run svc switch or svc boot)");
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

    let mut text = format!(
        "Last transition: to runlevel {}, {} services, total {}",
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
