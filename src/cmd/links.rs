//! `enable`, `disable`, `list` (docs/commands.md, "Runlevels"): S/K links in runlevels/rcN.d.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Context;
use crate::definition::{self, DefinitionError, Failed};
use crate::exit::{Code, HasCode};
use crate::name::ServiceName;
use crate::runlevel::insserv;
use crate::runlevel::links::{self, LevelState, LinkError};
use crate::runlevel::order::Order;
use crate::runlevel::LEVELS;

pub fn enable(
    ctx: &Context,
    name: &ServiceName,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Code {
    // Arguments first: a bad one is exit 2 whatever the service.
    if let Err(e) = check_args(levels, start, stop) {
        return fail(ctx, e);
    }
    let def = match ctx.load(name) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let sysv = definition::sysv::is_script_path(&ctx.dirs, &def.file);
    let planned = if sysv {
        sysv_plan(ctx, &def, levels, start, stop)
    } else {
        links::plan(&ctx.dirs, &def, levels, start, stop)
    };
    let plan = match planned {
        Ok(p) => p,
        Err(e) => return fail(ctx, e),
    };
    let place = match (&ctx.dirs.sysv, sysv) {
        // A SysV script's links go where update-rc.d puts them: DIR/rcN.d -> ../init.d/NAME.
        (Some(dir), true) => {
            let dir = dir.clone();
            links::Place {
                dir: Box::new(move |l| dir.join(format!("rc{l}.d"))),
                target: std::path::PathBuf::from(format!("../init.d/{name}")),
            }
        }
        _ => links::Place::config(&ctx.dirs, name),
    };
    let changed = match links::apply_at(&ctx.dirs, name, &plan, &place) {
        Ok(c) => c,
        Err(e) => return fail(ctx, e),
    };
    let kill = plan.kill_levels();
    let mut what = format!("S{:02} in {}", plan.start, level_list(&plan.start_levels));
    if !kill.is_empty() {
        what.push_str(&format!(", K{:02} in {}", plan.stop, level_list(&kill)));
    }
    if changed {
        ctx.out.line(&format!("{name} enabled: {what}"));
    } else {
        ctx.out.line(&format!("{name} already enabled: {what}"));
    }
    Code::Success
}

/// The plan of a SysV script: levels from its header, numbers as insserv gives them
/// ([`insserv`]), among every service's resolved dependencies and existing entries.
fn sysv_plan(
    ctx: &Context,
    def: &definition::Definition,
    levels: Option<&str>,
    start: Option<u8>,
    stop: Option<u8>,
) -> Result<links::Plan, LinkError> {
    let loaded = definition::load_all(&ctx.dirs)
        .map_err(|e| LinkError::new(Code::Failure, e.to_string()))?;
    let order = Order::new(&ctx.dirs, &loaded.ok);
    let existing = links::states(&ctx.dirs)?;
    let defaults = loaded
        .ok
        .iter()
        .map(|d| (d.name.clone(), insserv::default_levels(d)))
        .collect();
    let numbering = insserv::Numbering {
        order: &order,
        existing: &existing,
        defaults: &defaults,
    };
    insserv::plan(def, &numbering, levels, start, stop)
}

fn check_args(levels: Option<&str>, start: Option<u8>, stop: Option<u8>) -> Result<(), LinkError> {
    if let Some(l) = levels {
        links::parse_levels(l)?;
    }
    if let Some(n) = start {
        links::check_number("--start", n)?;
    }
    if let Some(n) = stop {
        links::check_number("--stop", n)?;
    }
    Ok(())
}

/// `2 3 4 5`
fn level_list(levels: &[char]) -> String {
    levels
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn fail(ctx: &Context, e: LinkError) -> Code {
    ctx.out.error(&e.message);
    e.code
}

/// Removes every S/K entry of the service. Works without a definition too (cleaning up links
/// left by a removed service); exit 5 only when there is neither a definition nor a link.
pub fn disable(ctx: &Context, name: &ServiceName) -> Code {
    let removed = match links::remove_all(&ctx.dirs, name) {
        Ok(r) => r,
        Err(e) => return fail(ctx, e),
    };
    if removed.is_empty() {
        if !definition::exists(&ctx.dirs, name) {
            ctx.out.error(&format!(
                "no such service {name} ({} does not exist)",
                ctx.dirs.definition(name).display()
            ));
            return Code::NotInstalled;
        }
        ctx.out.line(&format!("{name} was not enabled"));
    } else {
        ctx.out.line(&format!(
            "{name} disabled: removed {}",
            removed
                .iter()
                .map(|l| format!("rc{}.d/{}", l.level, l.file_name()))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    Code::Success
}

/// One service of `svc list --json`.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    /// "0".."6", "S" -> "on" | "off"
    levels: BTreeMap<String, &'static str>,
    start: BTreeMap<String, u8>,
    stop: BTreeMap<String, u8>,
}

impl Row {
    fn new(name: &ServiceName, st: &LevelState) -> Row {
        let key = |c: &char| c.to_string();
        Row {
            name: name.to_string(),
            levels: LEVELS
                .iter()
                .map(|l| (key(l), if st.on.contains(l) { "on" } else { "off" }))
                .collect(),
            start: st.start.iter().map(|(l, n)| (key(l), *n)).collect(),
            stop: st.stop.iter().map(|(l, n)| (key(l), *n)).collect(),
        }
    }

    /// `0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off`
    fn columns(&self) -> String {
        LEVELS
            .iter()
            .map(|l| format!("{l}:{}", self.levels[&l.to_string()]))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The chkconfig-style table (or JSON) of the named services, or of every definition.
pub fn list(ctx: &Context, names: &[ServiceName], json: bool) -> Code {
    let mut codes = Vec::new();
    // Every definition, loaded once when no names are given.
    let mut all = None;
    if names.is_empty() {
        let loaded = match ctx.load_all(Code::NotConfigured) {
            Ok(l) => l,
            Err(c) => return c,
        };
        for failed in &loaded.failed {
            if let Failed::BadName { path, why } = failed {
                ctx.out.error(&format!("{}: {why}", path.display()));
                codes.push(Code::NotConfigured);
            }
        }
        all = Some(loaded);
    }
    // Every rcN.d is read once for all services (not once per service).
    let states = match links::states(&ctx.dirs) {
        Ok(s) => s,
        Err(e) => return fail(ctx, e),
    };
    let mut invalid = |name: &ServiceName, e: &DefinitionError| {
        if let DefinitionError::NotFound { .. } = e {
            ctx.out.error(&e.to_string());
        } else {
            ctx.out.error(&format!("{name}: invalid definition:"));
            ctx.out.problem(&e.to_string());
        }
        codes.push(e.code());
    };
    let mut valid: Vec<ServiceName> = Vec::new();
    match all {
        Some(loaded) => {
            for failed in &loaded.failed {
                if let Failed::Invalid { name, error, .. } = failed {
                    invalid(name, error);
                }
            }
            valid.extend(loaded.ok.into_iter().map(|d| d.name));
        }
        None => {
            for name in names {
                match definition::load(&ctx.dirs, name) {
                    Ok(_) => valid.push(name.clone()),
                    Err(e) => invalid(name, &e),
                }
            }
        }
    }
    let rows: Vec<Row> = valid
        .iter()
        .map(|name| {
            Row::new(
                name,
                &states.get(name.as_str()).cloned().unwrap_or_default(),
            )
        })
        .collect();
    if json {
        ctx.out.json(&rows);
    } else if !rows.is_empty() {
        let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let text = rows
            .iter()
            .map(|r| format!("{:<w$} {}", r.name, r.columns()))
            .collect::<Vec<_>>()
            .join("\n");
        ctx.out.line(&text);
    }
    Code::first_failure(codes)
}
