//! `status` (docs/commands.md, "Starting and stopping"): the detailed block for one named
//! service, one line per named service for several, or a table of all; and what a running
//! service holds (its processes and their memory: from its cgroup, SPEC §8.7, else its process
//! group).

use super::Context;
use crate::definition::{self, DefinitionError, Failed};
use crate::definition::{Definition, Kind};
use crate::exit::{Code, HasCode};
use crate::lifecycle::Status;
use crate::logview::LogView;
use crate::name::ServiceName;
use crate::output::{Detail, StatusRow, Usage};
use crate::process::record::Record;
use crate::runlevel;

/// How many log lines the detailed block of `status NAME` shows.
const LOG_TAIL: usize = 5;

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
                let use_ = usage(ctx, &def, &st);
                if !json {
                    // A one-shot task keeps its one line: how and when it ended is what there is.
                    let detail = (names.len() == 1 && def.kind != Kind::Oneshot)
                        .then(|| detail(ctx, &def, &st, &use_));
                    ctx.out.status_line(name.as_str(), &st, detail.as_ref());
                }
                codes.push(st.code());
                // The rows are for --json only; their runlevels cost a read of each rc?.d.
                if json {
                    rows.push(
                        StatusRow::new(
                            name.as_str(),
                            &st,
                            def.description.clone(),
                            &runlevel::start_levels(&ctx.dirs, name),
                        )
                        .with_usage(&use_),
                    );
                }
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
    let levels = runlevel::start_levels_all(&ctx.dirs);
    // Each service probed as soon as its definition is loaded, on the thread that loaded it
    // (`definition::load_all_map`, side by side); the rows keep the files' order, and only
    // the rows are kept.
    let probed = ctx.load_all_map(Code::STATUS_UNKNOWN, |def| {
        let st = ctx.life.status(&def);
        let row = StatusRow::new(
            def.name.as_str(),
            &st,
            def.description.clone(),
            levels
                .get(def.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        // The text table has no column for them: the process table is read for JSON only.
        if json {
            row.with_usage(&usage(ctx, &def, &st))
        } else {
            row
        }
    });
    let (rows, failed) = match probed {
        Ok(p) => p,
        Err(c) => return c,
    };
    let mut code = Code::Success;
    for failed in &failed {
        match failed {
            Failed::BadName { path, why } => ctx.out.error(&format!("{}: {why}", path.display())),
            Failed::Invalid { error, .. } => {
                ctx.out.error(&error.to_string());
                code = error.code();
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

/// When a running service started, and what it holds now. With containment (SPEC §8.7) that
/// is its cgroup: its processes, and `memory.current` where the memory controller is on (else
/// their resident memory). Without, the live processes of the group its launch record names
/// and of its main process's own group (a daemon that called `setsid` has left the launch
/// group), each counted once — nothing is known there without a main PID.
fn usage(ctx: &Context, def: &Definition, st: &Status) -> Usage {
    let procfs = &ctx.life.procfs;
    let now = crate::clock::unix_secs(std::time::SystemTime::now());
    let since_unix = st.uptime_s.map(|up| now.saturating_sub(up));
    // Read here, not by the status: the text table of all services shows no memory.
    let main_rss = st.pid.and_then(|p| procfs.rss_kib(p));
    let rss_of = |p: i32| match st.pid {
        Some(main) if main == p => main_rss,
        _ => procfs.rss_kib(p),
    };
    let rss = |members: &[i32]| -> Option<u64> {
        let memory: Vec<u64> = members.iter().filter_map(|p| rss_of(*p)).collect();
        (!memory.is_empty()).then(|| memory.iter().sum::<u64>() * 1024)
    };
    if let Some(cg) = ctx.life.cgroup(def) {
        let members = cg.procs();
        return Usage {
            since_unix,
            rss_kib: main_rss,
            processes: (!members.is_empty() || st.pid.is_some()).then_some(members.len()),
            memory_bytes: cg.memory_bytes().or_else(|| rss(&members)),
            cgroup: Some((members.len(), cg.path())),
        };
    }
    let Some(pid) = st.pid else {
        return Usage::default();
    };
    let mut groups: Vec<i32> = Record::load(&ctx.dirs.record(&def.name))
        .map(|r| r.pgid)
        .into_iter()
        .collect();
    // One read of the main process's stat serves both questions below.
    let main = procfs.stat(pid);
    if let Some(s) = &main {
        groups.push(s.pgrp);
    }
    groups.retain(|g| *g > 1);
    groups.dedup();
    let mut members: Vec<i32> = groups
        .iter()
        .flat_map(|g| procfs.group_members(*g))
        .collect();
    if !members.contains(&pid) && main.is_some_and(|s| !s.is_zombie()) {
        members.push(pid);
    }
    members.sort_unstable();
    members.dedup();
    Usage {
        since_unix,
        rss_kib: main_rss,
        processes: Some(members.len()),
        memory_bytes: rss(&members),
        cgroup: None,
    }
}

/// The detailed block of `status NAME`: its usage and the last lines of its log.
fn detail(ctx: &Context, def: &Definition, st: &Status, usage: &Usage) -> Detail {
    let log = def.log_path(&ctx.dirs).map(|path| {
        let mut buf = Vec::new();
        let read = LogView::new(&path).print_last(LOG_TAIL, &mut buf);
        let lines = match read {
            Ok(_) => Ok(String::from_utf8_lossy(&buf)
                .lines()
                .map(str::to_string)
                .collect()),
            Err(e) => Err(e.to_string()),
        };
        (path, lines)
    });
    Detail {
        description: def.description.clone(),
        pid: st.pid,
        usage: usage.clone(),
        health: st.health.map(|h| h.as_str()),
        log,
    }
}

/// One service as `svc serve` and `status --prometheus` see it (SPEC §10): its `status --json`
/// row with usage, its kind and log, and its `status` exit code. `levels`: its start runlevels.
pub(super) fn service(
    ctx: &Context,
    def: &Definition,
    levels: &[char],
) -> (crate::serve::Service, Code) {
    let st = ctx.life.status(def);
    let row = StatusRow::new(def.name.as_str(), &st, def.description.clone(), levels)
        .with_usage(&usage(ctx, def, &st));
    let service = crate::serve::Service {
        row,
        on_demand: def.kind == Kind::OnDemand,
        log: def.log_path(&ctx.dirs),
    };
    (service, st.code())
}

/// The current runlevel from the runlevel record (`N 2`: the last word), `None` when unknown.
pub(super) fn current_runlevel(ctx: &Context) -> Option<char> {
    let record = std::fs::read_to_string(ctx.dirs.runlevel_record()).ok()?;
    let last = record.split_whitespace().last()?;
    let mut chars = last.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='6' | 'S')), None) => Some(c),
        _ => None,
    }
}

/// `status --prometheus`: the text of `GET /metrics` (SPEC §10) for the named services, or
/// all of them, for node_exporter's textfile collector. Exit code as `status` of them.
pub fn prometheus(ctx: &Context, names: &[ServiceName]) -> Code {
    let levels = runlevel::start_levels_all(&ctx.dirs);
    let levels_of = |n: &ServiceName| levels.get(n.as_str()).cloned().unwrap_or_default();
    let mut services = Vec::new();
    let mut code = Code::Success;
    if names.is_empty() {
        let loaded = match ctx.load_all(Code::STATUS_UNKNOWN) {
            Ok(l) => l,
            Err(c) => return c,
        };
        for failed in &loaded.failed {
            match failed {
                Failed::BadName { path, why } => {
                    ctx.out.error(&format!("{}: {why}", path.display()))
                }
                Failed::Invalid { error, .. } => {
                    ctx.out.error(&error.to_string());
                    code = error.code();
                }
            }
        }
        services.extend(
            loaded
                .ok
                .iter()
                .map(|d| service(ctx, d, &levels_of(&d.name)).0),
        );
    } else {
        let mut codes = Vec::new();
        for name in names {
            match definition::load(&ctx.dirs, name) {
                Ok(def) => {
                    let (s, c) = service(ctx, &def, &levels_of(name));
                    codes.push(c);
                    services.push(s);
                }
                Err(e) => {
                    report(ctx, &e);
                    codes.push(Code::STATUS_UNKNOWN);
                }
            }
        }
        code = Code::first_failure(codes);
    }
    let text = crate::serve::metrics::render(&services, current_runlevel(ctx));
    ctx.out.line(text.trim_end_matches('\n'));
    code
}
