//! `status` (docs/commands.md, "Starting and stopping"): one line per named service, or a table of
//! all.

use super::Context;
use crate::definition::{self, DefinitionError, Failed};
use crate::exit::{Code, HasCode};
use crate::name::ServiceName;
use crate::output::StatusRow;
use crate::runlevel;

pub fn run(ctx: &Context, names: &[ServiceName], json: bool) -> Code {
    if names.is_empty() {
        return all(ctx, json);
    }
    let mut rows = Vec::new();
    let mut codes = Vec::new();
    for name in names {
        match definition::load(&ctx.dirs, name) {
            Ok(def) => {
                let st = ctx.life.status(&def);
                if !json {
                    ctx.out.status_line(name.as_str(), &st);
                }
                codes.push(st.code());
                rows.push(StatusRow::new(
                    name.as_str(),
                    &st,
                    def.description.clone(),
                    &runlevel::start_levels(&ctx.dirs, name),
                ));
            }
            Err(e) => {
                report(ctx, &e);
                codes.push(Code::STATUS_UNKNOWN);
            }
        }
    }
    if json {
        ctx.out.json(&rows);
    }
    Code::first_failure(codes)
}

fn report(ctx: &Context, e: &DefinitionError) {
    match e {
        DefinitionError::NotFound { name, path } => ctx.out.error(&format!(
            "no such service {name} ({} does not exist)",
            path.display()
        )),
        other => ctx.out.error(&other.to_string()),
    }
}

fn all(ctx: &Context, json: bool) -> Code {
    super::switch::warn_if_interrupted(ctx);
    let loaded = match ctx.load_all(Code::STATUS_UNKNOWN) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let mut code = Code::Success;
    for failed in &loaded.failed {
        match failed {
            Failed::BadName { path, why } => ctx.out.error(&format!("{}: {why}", path.display())),
            Failed::Invalid { error, .. } => {
                ctx.out.error(&error.to_string());
                code = error.code();
            }
        }
    }
    let levels = runlevel::start_levels_all(&ctx.dirs);
    let rows: Vec<StatusRow> = loaded
        .ok
        .iter()
        .map(|def| {
            let st = ctx.life.status(def);
            StatusRow::new(
                def.name.as_str(),
                &st,
                def.description.clone(),
                levels
                    .get(def.name.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            )
        })
        .collect();
    if json {
        ctx.out.json(&rows);
    } else {
        ctx.out.status_table(&rows);
    }
    code
}
