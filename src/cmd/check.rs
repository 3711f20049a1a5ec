//! `svc check`: every problem in every definition, reported at once (svc.yaml(5) and
//! docs/services.md).
//!
//! Besides each file's own problems: file names that are not service names, `requires` on services
//! that have no definition, dependency cycles (naming every service in the cycle), and `svc.yaml`;
//! and every runlevel directory (docs/commands.md, "Runlevels" and "Switching runlevels"): badly
//! formed entries, entries naming a missing definition, a service with both S and K entries in one
//! directory, a service started in a directory that stops one it requires. Problems go to stderr as
//! `FILE:LINE[:COL]: message` (`FILE: message` for runlevel entries); a summary to stdout. Also the
//! access rule files, hosts.allow and hosts.deny (docs/inetd.md, "Access control"); `.yml` files in
//! init.d/ (never read); and, unless `--no-host-checks`, what `start` would refuse on this host (a
//! missing program, a `user:` that needs root, a missing working directory).

use std::collections::BTreeMap;

use std::path::Path;

use super::Context;
use crate::definition::{
    self, envfile, Definition, DefinitionError, Failed, LogTarget, Problem, Program,
};
use crate::exit::{Code, HasCode};
use crate::lifecycle::script as legacy;
use crate::lifecycle::{self, LifecycleError};
use crate::name::ServiceName;
use crate::runlevel::{self, Kind};

/// `svc check`; `host_checks`: also what `start` would refuse on this host (see
/// [`host_problems`]), left out with `--no-host-checks`.
pub fn run(ctx: &Context, host_checks: bool) -> Code {
    let mut problems: Vec<Problem> = Vec::new();
    let mut warnings: Vec<Problem> = Vec::new();
    let loaded = match ctx.load_all(Code::NotConfigured) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let total = loaded.total();
    for failed in loaded.failed {
        match failed {
            Failed::BadName { path, why } => problems.push(Problem {
                file: path,
                line: None,
                column: None,
                message: format!("the file name is not a service name: {why}"),
            }),
            Failed::Invalid {
                error: DefinitionError::Invalid(p),
                ..
            } => problems.extend(p),
            Failed::Invalid { path, error, .. } => problems.push(Problem {
                file: path,
                line: None,
                column: None,
                message: error.to_string(),
            }),
        }
    }
    let defs: BTreeMap<ServiceName, Definition> =
        loaded.ok.into_iter().map(|d| (d.name.clone(), d)).collect();
    if let Err(p) = definition::load_settings(&ctx.dirs) {
        problems.extend(p);
    }
    for d in defs.values() {
        let undefined =
            |key: &str, deps: &[ServiceName], message: &dyn Fn(&ServiceName) -> String| {
                deps.iter()
                    .filter(|dep| !defs.contains_key(*dep))
                    .map(|dep| Problem {
                        file: d.file.clone(),
                        line: line_of(d, key),
                        column: None,
                        message: message(dep),
                    })
                    .collect::<Vec<_>>()
            };
        // Header-derived ones are resolved (Provides, facilities) by the order below.
        if d.lsb.is_none() || d.keys.given("requires") {
            problems.extend(undefined("requires", &d.requires, &|dep| {
                format!("`requires`: no definition for service {dep}")
            }));
        }
        if d.lsb.is_none() || d.keys.given("wants") {
            warnings.extend(undefined("wants", &d.wants, &|dep| {
                format!("warning: `wants`: no definition for service {dep} (tolerated)")
            }));
        }
    }
    let (facilities, facility_problems) = runlevel::order::facilities(&ctx.dirs);
    problems.extend(facility_problems.into_iter().map(|p| Problem {
        file: p.file,
        line: p.line,
        column: None,
        message: p.message,
    }));
    let order = runlevel::order::Order::of(defs.values(), &facilities);
    provides_warnings(&defs, &mut warnings);
    for m in &order.missing {
        let def = &defs[&m.service];
        // A `script:` definition: named as its other `requires` are (its file, `script` line).
        if def.file != m.script {
            problems.push(Problem {
                file: def.file.clone(),
                line: line_of(def, "script"),
                column: None,
                message: format!("`requires`: no definition for service {}", m.name),
            });
            continue;
        }
        problems.push(Problem {
            file: m.script.clone(),
            line: Some(m.line),
            column: None,
            message: format!(
                "`Required-Start`: {} is no service and no service provides it (insserv refuses this too; `svc switch` leaves {} out)",
                m.name, m.service
            ),
        });
    }
    for cycle in order.graph().cycles() {
        let first = &defs[&cycle[0]];
        // A SysV script is named at its header's Required-Start line.
        let header_line = first
            .lsb
            .as_ref()
            .filter(|h| h.script == first.file)
            .map(|h| h.line("Required-Start"));
        problems.push(Problem {
            file: first.file.clone(),
            line: header_line
                .or_else(|| line_of(first, "requires"))
                .or_else(|| line_of(first, "wants")),
            column: None,
            message: format!(
                "dependency cycle: {}",
                runlevel::graph::cycle_arrows(&cycle)
            ),
        });
    }
    if host_checks {
        host_problems(ctx, &defs, &mut problems);
    }
    expansion_warnings(&defs, &mut warnings);
    stray_files(ctx, &mut problems, &mut warnings);
    for path in definition::sysv::bad_names(&ctx.dirs) {
        warnings.push(Problem {
            file: path,
            line: None,
            column: None,
            message: "warning: an LSB script whose file name is not a service name: not a service (ignored)".into(),
        });
    }
    let dirs_checked = runlevel_problems(ctx, &mut problems, &mut warnings);
    runlevel_contradictions(ctx, &order, &mut problems);
    access_problems(ctx, &mut problems, &mut warnings);
    for w in &warnings {
        ctx.out.problem(&w.to_string());
    }
    for p in &problems {
        ctx.out.problem(&p.to_string());
    }
    let places = match ctx.dirs.sysv_init_d() {
        Some(sysv) => format!("{} and {}", ctx.dirs.init_d().display(), sysv.display()),
        None => ctx.dirs.init_d().display().to_string(),
    };
    if problems.is_empty() {
        ctx.out.line(&format!(
            "checked {total} definitions in {places} and {dirs_checked} runlevel directories: no problems"
        ));
        Code::Success
    } else {
        ctx.out.line(&format!(
            "checked {total} definitions in {places} and {dirs_checked} runlevel directories: {} problem{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
        Code::NotConfigured
    }
}

/// The line of top-level `key` in a definition's file, as the parser saw it.
/// A name in the `Provides` of several scripts (insserv refuses that): a warning naming each
/// header's line; a header that depends on the name waits for all of them.
fn provides_warnings(defs: &BTreeMap<ServiceName, Definition>, warnings: &mut Vec<Problem>) {
    let mut by_name: BTreeMap<&str, Vec<&Definition>> = BTreeMap::new();
    for d in defs.values() {
        for p in d.lsb.iter().flat_map(|h| &h.info.provides) {
            if p != d.name.as_str() && !defs.keys().any(|n| n.as_str() == p) {
                by_name.entry(p.as_str()).or_default().push(d);
            }
        }
    }
    for (name, list) in by_name.into_iter().filter(|(_, l)| l.len() > 1) {
        let services: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
        for d in list {
            let Some(h) = &d.lsb else { continue };
            warnings.push(Problem {
                file: h.script.clone(),
                line: Some(h.line("Provides")),
                column: None,
                message: format!(
                    "warning: `Provides`: {name} is provided by {} (insserv refuses this); what depends on {name} waits for all of them",
                    services.join(", ")
                ),
            });
        }
    }
}

fn line_of(d: &Definition, key: &str) -> Option<usize> {
    d.keys.line(key)
}

/// What `start` (or `svc inetd`, for a `socket:` service) would refuse on this host although
/// the definition is valid, found with the very checks they make before forking: the program
/// ([`lifecycle::program`]: found, executable, a binary or `#!` script, as root writable by
/// root only; [`legacy::check_script`] for `script:`) and the credentials
/// ([`lifecycle::credentials`]: another user needs root). Plus what only the launched child
/// would find out: a working directory that is not a directory, and a `log:` file whose
/// directory does not exist (svc creates only its own log directory).
fn host_problems(
    ctx: &Context,
    defs: &BTreeMap<ServiceName, Definition>,
    problems: &mut Vec<Problem>,
) {
    for d in defs.values() {
        let mut at = |key: &str, message: String| {
            problems.push(Problem {
                file: d.file.clone(),
                line: line_of(d, key),
                column: None,
                message: format!("`{key}`: {message}"),
            })
        };
        let would_fail = |e: &LifecycleError| {
            format!("{e} (svc start would fail with exit {})", e.code().as_i32())
        };
        let program = match &d.program {
            Program::Exec(exec) => lifecycle::program(d, exec).err().map(|e| ("exec", e)),
            Program::Script(s) => legacy::check_script(d, s).err().map(|e| ("script", e)),
        };
        if let Some((key, e)) = program {
            at(key, would_fail(&e));
        }
        if let Err(e) = lifecycle::env_files(d) {
            at("env_file", would_fail(&e));
        }
        hook_programs(d, &mut at);
        if let Some(Err(e)) = d.stop_exec.as_ref().map(|a| lifecycle::program(d, &a[0])) {
            at(
                "stop_exec",
                format!("{e} (svc stop would fail with exit {})", e.code().as_i32()),
            );
        }
        if let Err(e) = lifecycle::credentials(d) {
            let key = if d.user.is_some() { "user" } else { "group" };
            at(key, would_fail(&e));
        }
        if matches!(d.program, Program::Script(_)) {
            // The script's own business.
            continue;
        }
        match std::fs::metadata(&d.workdir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => at(
                "workdir",
                format!("{} is not a directory", d.workdir.display()),
            ),
            Err(e) => at("workdir", format!("{}: {e}", d.workdir.display())),
        }
        if let LogTarget::Path(log) = &d.log {
            let dir = log.parent().unwrap_or(Path::new("/"));
            if dir != ctx.dirs.log && !dir.is_dir() {
                at(
                    "log",
                    format!(
                        "the directory of {} does not exist: expected {} to be a directory",
                        log.display(),
                        dir.display()
                    ),
                );
            }
        }
    }
}

/// `${NAME}` or a whole-argument `$NAME` in `args` (docs/services.md, "Expansion in
/// arguments") whose NAME neither `env:`, the env files (those that can be read now) nor svc's
/// own environment define: passed on as written at start, usually a typo. A warning.
fn expansion_warnings<'a>(
    defs: &'a BTreeMap<ServiceName, Definition>,
    warnings: &mut Vec<Problem>,
) {
    for d in defs.values() {
        let from_files = lifecycle::env_files(d).unwrap_or_default();
        let defined = |n: &str| {
            lifecycle::BASE_ENV.contains(&n)
                || d.env.iter().any(|(k, _)| k == n)
                || from_files.iter().any(|(k, _)| k == n)
        };
        // Every argument list svc expands (§8.5): `args`, and the hooks' arguments after
        // their program (a program itself is never expanded, as `exec` is not).
        let after_program = |argv: &'a Vec<String>| argv.get(1..).unwrap_or(&[]);
        let mut lists: Vec<(&str, &[String])> = vec![("args", &d.args)];
        let hooks = [
            ("pre_start", &d.hooks.pre_start),
            ("post_stop", &d.hooks.post_stop),
        ];
        for (key, argvs) in hooks {
            lists.extend(argvs.iter().map(|a| (key, after_program(a))));
        }
        for (key, argv) in [
            ("config_test", &d.hooks.config_test),
            ("stop_exec", &d.stop_exec),
        ] {
            lists.extend(argv.iter().map(|a| (key, after_program(a))));
        }
        for (key, arg) in lists
            .into_iter()
            .flat_map(|(k, l)| l.iter().map(move |a| (k, a)))
        {
            for name in envfile::references(arg) {
                if defined(name) {
                    continue;
                }
                let written = if *arg == format!("${name}") {
                    format!("${name}")
                } else {
                    format!("${{{name}}}")
                };
                warnings.push(Problem {
                    file: d.file.clone(),
                    line: line_of(d, key),
                    column: None,
                    message: format!(
                        "warning: `{key}`: {written}: {name} is defined by neither `env`, `env_file` nor svc's environment; it is passed on as written"
                    ),
                });
            }
        }
    }
}

/// `init.d/NAME.yml`: svc reads only `NAME.yaml`, so such a file is never a service. A problem,
/// or a warning when `NAME.yaml` is there too (a leftover copy).
fn stray_files(ctx: &Context, problems: &mut Vec<Problem>, warnings: &mut Vec<Problem>) {
    let Ok(rd) = std::fs::read_dir(ctx.dirs.init_d()) else {
        return;
    };
    let mut found: Vec<std::path::PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    found.sort();
    for path in found {
        let yaml = path.with_extension("yaml");
        let stem = yaml.file_name().unwrap_or_default().to_string_lossy();
        let p = |message: String| Problem {
            file: path.clone(),
            line: None,
            column: None,
            message,
        };
        if yaml.exists() {
            warnings.push(p(format!(
                "warning: ignored: svc reads only NAME.yaml files ({stem} is the one it reads)"
            )));
        } else {
            problems.push(p(format!(
                "ignored: svc reads only NAME.yaml files: expected {stem} (rename it)"
            )));
        }
    }
}

/// Every runlevel directory (docs/commands.md, "Runlevels" and "Switching runlevels"): badly formed
/// entries, entries without a definition, and a service with both an S and a K entry in one
/// directory (errors); several S (or K) entries of one service in one directory (a warning).
/// Returns how many directories exist.
fn runlevel_problems(
    ctx: &Context,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> usize {
    let mut found = 0;
    for level in runlevel::LEVELS {
        found += runlevel::level_dirs(&ctx.dirs, level)
            .iter()
            .filter(|d| d.is_dir())
            .count();
        let (entries, bad) = runlevel::scan(&ctx.dirs, level);
        problems.extend(bad.into_iter().map(|p| Problem {
            file: p.path,
            line: None,
            column: None,
            message: p.message,
        }));
        let mut by_name: BTreeMap<&str, Vec<&runlevel::Entry>> = BTreeMap::new();
        for e in &entries {
            by_name.entry(e.name.as_str()).or_default().push(e);
        }
        for (name, es) in by_name {
            let file_names = |kind: Option<Kind>| -> Vec<String> {
                es.iter()
                    .filter(|e| kind.is_none_or(|k| e.kind == k))
                    .map(|e| {
                        e.path
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect()
            };
            let starts = file_names(Some(Kind::Start));
            let kills = file_names(Some(Kind::Kill));
            let dir = es[0].path.parent().unwrap_or(Path::new("")).to_path_buf();
            if !starts.is_empty() && !kills.is_empty() {
                problems.push(Problem {
                    file: dir.clone(),
                    line: None,
                    column: None,
                    message: format!(
                        "{name} has both S and K entries here ({}): it would be started and stopped",
                        file_names(None).join(", ")
                    ),
                });
            }
            for (kind, list) in [("S", starts), ("K", kills)] {
                if list.len() > 1 {
                    warnings.push(Problem {
                        file: dir.clone(),
                        line: None,
                        column: None,
                        message: format!(
                            "warning: {name} has several {kind} entries here ({}); the first counts",
                            list.join(", ")
                        ),
                    });
                }
            }
        }
    }
    found
}

/// A runlevel that starts a service and stops one it requires (docs/commands.md, "Switching
/// runlevels"; the rule of [`runlevel::plan::contradictions`]): one problem per dependant and
/// stopped requirement, naming both and their entries. rc0.d and rc6.d start nothing, so they
/// cannot contradict.
fn runlevel_contradictions(
    ctx: &Context,
    order: &runlevel::order::Order,
    problems: &mut Vec<Problem>,
) {
    let deps = |n: &ServiceName| order.deps(n);
    for level in runlevel::LEVELS {
        if matches!(level, '0' | '6') {
            continue;
        }
        let (entries, _) = runlevel::scan(&ctx.dirs, level);
        for c in runlevel::plan::contradictions(&entries, &deps) {
            let entry = c
                .start_entry
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            problems.push(Problem {
                file: c
                    .start_entry
                    .parent()
                    .map_or_else(|| runlevel::level_dir(&ctx.dirs, level), Path::to_path_buf),
                line: None,
                column: None,
                message: format!(
                    "{} ({entry}) {}: `svc switch {level}` leaves {} out",
                    c.dependant,
                    c.why(),
                    c.dependant
                ),
            });
        }
    }
}

/// hosts.allow and hosts.deny (docs/inetd.md, "Access control"): lines that fail closed are errors,
/// suspicious patterns warnings.
fn access_problems(ctx: &Context, problems: &mut Vec<Problem>, warnings: &mut Vec<Problem>) {
    let rules = crate::access::Rules::load(&ctx.dirs.config);
    for p in rules.problems() {
        let converted = Problem {
            file: p.file.clone().into(),
            line: (p.line > 0).then_some(p.line),
            column: None,
            message: if p.is_warning {
                format!("warning: {}", p.message)
            } else {
                p.message.clone()
            },
        };
        if p.is_warning {
            warnings.push(converted);
        } else {
            problems.push(converted);
        }
    }
}

/// The programs of `pre_start`, `post_stop` and `config_test` (SPEC §8.2), found and checked
/// as at launch.
fn hook_programs(d: &Definition, at: &mut impl FnMut(&str, String)) {
    let h = &d.hooks;
    let all = [("pre_start", &h.pre_start), ("post_stop", &h.post_stop)]
        .into_iter()
        .flat_map(|(k, cmds)| cmds.iter().map(move |c| (k, c)))
        .chain(h.config_test.iter().map(|c| ("config_test", c)));
    for (key, argv) in all {
        if let Some(Err(e)) = argv.first().map(|p| lifecycle::program(d, p)) {
            at(key, format!("{e} (the command could not be run)"));
        }
    }
}
