//! `status` (SPEC §3.4): one line per named service, or a table of all.

use super::Context;
use crate::definition::{self, DefinitionError};
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
    let files = match definition::list_files(&ctx.dirs) {
        Ok(f) => f,
        Err(e) => {
            ctx.out
                .error(&format!("cannot read {}: {e}", ctx.dirs.init_d().display()));
            return Code::STATUS_UNKNOWN;
        }
    };
    let mut rows = Vec::new();
    let mut code = Code::Success;
    let levels = runlevel::start_levels_all(&ctx.dirs);
    for (name, path) in files {
        let name = match name {
            Ok(n) => n,
            Err(e) => {
                ctx.out.error(&format!("{}: {e}", path.display()));
                continue;
            }
        };
        match definition::load_file(&path, &name) {
            Ok(def) => {
                let st = ctx.life.status(&def);
                rows.push(StatusRow::new(
                    name.as_str(),
                    &st,
                    def.description.clone(),
                    levels.get(name.as_str()).map(Vec::as_slice).unwrap_or(&[]),
                ));
            }
            Err(e) => {
                ctx.out.error(&e.to_string());
                code = e.code();
            }
        }
    }
    if json {
        ctx.out.json(&rows);
    } else {
        ctx.out.status_table(&rows);
    }
    code
}
