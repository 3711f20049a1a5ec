//! start, stop, restart, try-restart, reload, force-reload (docs/commands.md, "Starting and
//! stopping").

use super::Context;
use crate::definition::Definition;
use crate::exit::{Code, HasCode};
use crate::lifecycle::{LifecycleError, Liveness, Started, Stopped};
use crate::name::ServiceName;
use std::cell::OnceCell;

use crate::runlevel::graph::Path;
use crate::runlevel::order::Order;

/// Runs `f` for each name in order; the exit code is the first non-zero one.
fn each(ctx: &Context, names: &[ServiceName], f: impl Fn(&Context, &ServiceName) -> Code) -> Code {
    Code::first_failure(names.iter().map(|n| f(ctx, n)).collect::<Vec<_>>())
}

/// [`each`] for commands that need the definition: a name that does not load gives its code.
fn each_loaded(
    ctx: &Context,
    names: &[ServiceName],
    f: impl Fn(&Context, &Definition) -> Code,
) -> Code {
    each(ctx, names, |ctx, n| match ctx.load(n) {
        Ok(def) => f(ctx, &def),
        Err(c) => c,
    })
}

/// Reports that `verb` ("Stopping") failed for `def`; the error's exit code.
fn failed(ctx: &Context, verb: &str, def: &Definition, e: &LifecycleError) -> Code {
    ctx.out
        .action_failed(verb, def.name.as_str(), &e.to_string());
    e.code()
}

pub fn start(ctx: &Context, names: &[ServiceName]) -> Code {
    let order = OnceCell::new();
    each(ctx, names, |ctx, n| {
        start_one(ctx, n, &mut Path::default(), false, &order)
    })
}

/// What `def` requires: its `requires`, or — for a script whose INIT INFO header gives them —
/// the header's `Required-Start` resolved through `Provides` and facilities as a switch resolves
/// them (SPEC §9; the order of every definition, made once per command when first needed).
fn requirements(ctx: &Context, def: &Definition, order: &OnceCell<Order>) -> Vec<ServiceName> {
    if def.lsb.is_none() || def.keys.given("requires") {
        return def.requires.clone();
    }
    order
        .get_or_init(|| Order::new(&ctx.dirs, &all_definitions(ctx)))
        .deps(&def.name)
        .map_or_else(|| def.requires.clone(), |d| d.requires)
}

/// Starts `name` after its `requires` (recursively, dependencies first).
/// `chain` is the path from the service the user named; a requirement on it closes a cycle.
/// `tested`: the named service's `config_test` has run already (restart).
fn start_one(
    ctx: &Context,
    name: &ServiceName,
    chain: &mut Path,
    tested: bool,
    order: &OnceCell<Order>,
) -> Code {
    let def = match ctx.load(name) {
        Ok(d) => d,
        Err(c) => return c,
    };
    chain.push(name);
    for dep in &requirements(ctx, &def, order) {
        if chain.contains(dep) {
            ctx.out.action_failed(
                "Starting",
                name.as_str(),
                &format!("{name}: dependency cycle: {}", chain.arrows_to(dep)),
            );
            chain.pop();
            return Code::NotConfigured;
        }
        let running = match crate::definition::load(&ctx.dirs, dep) {
            Ok(d) => matches!(ctx.life.probe(&d), Liveness::Running { .. }),
            Err(_) => false,
        };
        if running {
            continue;
        }
        let code = start_one(ctx, dep, chain, false, order);
        if code != Code::Success {
            ctx.out.action_failed(
                "Starting",
                name.as_str(),
                &format!("{name}: required service {dep} did not start"),
            );
            chain.pop();
            return Code::Failure;
        }
    }
    chain.pop();
    launch(ctx, &def, tested)
}

/// Starts `def`; `tested`: its `config_test` has run already (restart).
fn launch(ctx: &Context, def: &Definition, tested: bool) -> Code {
    let started = if tested {
        ctx.life.start_tested(def)
    } else {
        ctx.life.start(def)
    };
    match started {
        Ok(Started::Launched(_)) => {
            ctx.out.action_ok("Starting", def.name.as_str());
            Code::Success
        }
        Ok(Started::AlreadyRunning(pid)) => {
            ctx.out
                .line(&format!("{} is already running (pid {pid})", def.name));
            Code::Success
        }
        Ok(Started::AlreadyDone(ago)) => {
            ctx.out.line(&format!(
                "{} is already done ({} ago)",
                def.name,
                crate::clock::uptime(ago)
            ));
            Code::Success
        }
        Ok(Started::Restarting(supervisor)) => {
            ctx.out.line(&format!(
                "{} is supervised and waiting to be restarted (supervisor pid {supervisor}); `svc restart` starts it now",
                def.name
            ));
            Code::Success
        }
        Err(e) => failed(ctx, "Starting", def, &e),
    }
}

pub fn stop(ctx: &Context, names: &[ServiceName], with_dependents: bool) -> Code {
    // Every definition, read once for all the names: whether another service requires one
    // can only be known from all of them (read side by side, `crate::parallel`).
    let all = std::cell::OnceCell::new();
    each_loaded(ctx, names, |ctx, def| {
        let dependents =
            running_dependents(ctx, all.get_or_init(|| all_definitions(ctx)), &def.name);
        let mut codes = Vec::new();
        if !dependents.is_empty() {
            let list: Vec<&str> = dependents.iter().map(|d| d.name.as_str()).collect();
            if with_dependents {
                codes.extend(dependents.iter().map(|d| stop_def(ctx, d)));
            } else {
                ctx.out.error(&format!(
                    "{} is required by running services {}; stopping only {} (--with-dependents stops them too)",
                    def.name,
                    list.join(", "),
                    def.name
                ));
            }
        }
        codes.push(stop_def(ctx, def));
        Code::first_failure(codes)
    })
}

/// Every valid definition in init.d/.
fn all_definitions(ctx: &Context) -> Vec<Definition> {
    crate::definition::load_all(&ctx.dirs)
        .map(|loaded| loaded.ok)
        .unwrap_or_default()
}

/// Running services that require `name`, directly or not, in the order they must stop
/// (dependants before what they depend on: [`Graph::dependants`] reversed).
fn running_dependents(ctx: &Context, defs: &[Definition], name: &ServiceName) -> Vec<Definition> {
    // Headers resolved as a switch resolves them (Provides, facilities).
    Order::new(&ctx.dirs, defs)
        .graph()
        .dependants(name)
        .iter()
        .rev()
        .filter_map(|n| defs.iter().find(|d| d.name == *n))
        .filter(|d| matches!(ctx.life.probe(d), Liveness::Running { .. }))
        .cloned()
        .collect()
}

fn stop_def(ctx: &Context, def: &Definition) -> Code {
    match ctx.life.stop(def) {
        Ok(Stopped::Stopped { escaped, .. }) => {
            ctx.out.action_ok("Stopping", def.name.as_str());
            for (pid, comm) in escaped {
                ctx.out.error(&format!(
                    "{}: warning: process {pid} ({comm}) left the service's process group and is still running; svc does not stop it",
                    def.name
                ));
            }
            Code::Success
        }
        Ok(Stopped::NotRunning) => {
            ctx.out.line(&format!("{} is not running", def.name));
            Code::Success
        }
        Err(e) => failed(ctx, "Stopping", def, &e),
    }
}

pub fn restart(ctx: &Context, names: &[ServiceName]) -> Code {
    each_loaded(ctx, names, restart_def)
}

/// `config_test` first (a broken configuration leaves the running service alone), then stop
/// and start.
fn restart_def(ctx: &Context, def: &Definition) -> Code {
    if let Err(e) = ctx.life.config_test(def) {
        return failed(ctx, "Restarting", def, &e);
    }
    match stop_def(ctx, def) {
        Code::Success => start_one(ctx, &def.name, &mut Path::default(), true, &OnceCell::new()),
        c => c,
    }
}

pub fn try_restart(ctx: &Context, names: &[ServiceName]) -> Code {
    each_loaded(ctx, names, |ctx, def| match ctx.life.probe(def) {
        Liveness::Running { .. } => restart_def(ctx, def),
        _ => {
            ctx.out
                .line(&format!("{} is not running; nothing to do", def.name));
            Code::Success
        }
    })
}

pub fn reload(ctx: &Context, names: &[ServiceName]) -> Code {
    each_loaded(ctx, names, reload_def)
}

fn reload_def(ctx: &Context, def: &Definition) -> Code {
    match ctx.life.reload(def) {
        Ok(_) => {
            ctx.out.action_ok("Reloading", def.name.as_str());
            Code::Success
        }
        Err(e) => failed(ctx, "Reloading", def, &e),
    }
}

pub fn force_reload(ctx: &Context, names: &[ServiceName]) -> Code {
    each_loaded(ctx, names, |ctx, def| match def.reload_signal {
        Some(_) => reload_def(ctx, def),
        None => restart_def(ctx, def),
    })
}
