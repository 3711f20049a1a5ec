//! `switch` (alias `telinit`), `boot`, `runlevel` (docs/commands.md, "Switching runlevels").
//!
//! A switch reads the target rcN.d, reports every problem before anything runs, plans with
//! [`crate::runlevel::plan`], then runs the plan: stops first, then starts, each phase on a pool
//! of `--jobs` threads that take a step as soon as the steps it waits for are done and every
//! step of a lower number is finished. A failure never stops the rest: what requires a failed
//! service is skipped. One global lock (`<state>/switch.lock`) makes a second switch wait;
//! the runlevel record and the timeline are written atomically, and a marker of the switch in
//! progress lets `svc runlevel` say when one was interrupted.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Instant, SystemTime};

use serde::Serialize;

mod gate;
use gate::StartGate;

use super::Context;
use crate::cli::SwitchOpts;
use crate::definition::{self, Definition};
use crate::exit::Code;
use crate::fdlimit;
use crate::lifecycle::{Liveness, Started, Stopped};
use crate::name::ServiceName;
use crate::process::worker::{Reply, Worker};
use crate::process::{cancel, pidfile};
use crate::runlevel::order::Order;
use crate::runlevel::plan::{self, LeftOut, Plan, Step};
use crate::runlevel::schedule::{Next, Schedule};
use crate::runlevel::{self, Kind};
use crate::timeline::{self, Timeline};

pub fn switch(ctx: &Context, level: &str, opts: &SwitchOpts) -> Code {
    match runlevel::parse_level(level) {
        Some(l) => run(ctx, &[l], opts),
        None => {
            ctx.out
                .error(&format!("invalid runlevel {level:?}: expected 0-6 or S"));
            Code::InvalidArgs
        }
    }
}

pub fn boot(ctx: &Context, level: Option<&str>, opts: &SwitchOpts) -> Code {
    let target = match level {
        Some(l) => match runlevel::parse_level(l) {
            Some(l) => l,
            None => {
                ctx.out
                    .error(&format!("invalid runlevel {l:?}: expected 0-6 or S"));
                return Code::InvalidArgs;
            }
        },
        None => match definition::load_settings(&ctx.dirs) {
            Ok(s) => s.default_runlevel.unwrap_or('3'),
            Err(problems) => {
                for p in problems {
                    ctx.out.problem(&p.to_string());
                }
                return Code::NotConfigured;
            }
        },
    };
    if target == 'S' {
        run(ctx, &['S'], opts)
    } else {
        run(ctx, &['S', target], opts)
    }
}

pub fn show_runlevel(ctx: &Context) -> Code {
    let record = std::fs::read_to_string(ctx.dirs.runlevel_record()).ok();
    warn_if_interrupted(ctx);
    match record {
        Some(r) if !r.trim().is_empty() => {
            ctx.out.line(r.trim());
            Code::Success
        }
        _ => {
            ctx.out.line("unknown");
            Code::Failure
        }
    }
}

/// Says on stderr when a switch was interrupted (its marker is left and no switch runs), so
/// `svc runlevel` and `svc status` point the operator at the switch that converges.
pub fn warn_if_interrupted(ctx: &Context) {
    if let Ok(target) = std::fs::read_to_string(marker(ctx)) {
        if !switch_running(ctx) {
            ctx.out.error(&format!(
                "a switch to runlevel {} was interrupted; `svc switch {}` finishes it",
                target.trim(),
                target.trim()
            ));
        }
    }
}

fn marker(ctx: &Context) -> std::path::PathBuf {
    ctx.dirs.state.join("runlevel.switching")
}

fn switch_running(ctx: &Context) -> bool {
    crate::lock::is_held(&ctx.dirs.switch_lock())
}

/// The plan of one level, for `--dry-run --json`.
#[derive(Serialize)]
struct DryRun<'a> {
    target: String,
    stop: &'a [Step],
    start: &'a [Step],
    kept: &'a [ServiceName],
    left_out: &'a [LeftOut],
    problems: Vec<String>,
}

/// What happened to one step (`Pending`: it never ran — the schedule says why).
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pending,
    Ok,
    Already,
    Failed(String),
    Skipped(String),
}

/// Runs the levels in order (boot: `S` then the target) under the global switch lock.
fn run(ctx: &Context, levels: &[char], opts: &SwitchOpts) -> Code {
    if let Err(e) = ctx.dirs.ensure_state() {
        ctx.out.error(&e.to_string());
        return Code::Failure;
    }
    let file = match crate::lock::open(&ctx.dirs.switch_lock()) {
        Ok(f) => f,
        Err(e) => {
            ctx.out.error(&format!(
                "cannot open {}: {e}",
                ctx.dirs.switch_lock().display()
            ));
            return if e.kind() == std::io::ErrorKind::PermissionDenied {
                Code::Privilege
            } else {
                Code::Failure
            };
        }
    };
    // A second switch waits for the one that runs; a dry run changes nothing and does not wait.
    let lock = if opts.dry_run {
        None
    } else {
        match crate::lock::exclusive(file) {
            Ok(l) => Some(l),
            Err(e) => {
                ctx.out.error(&format!(
                    "cannot lock {}: {e}",
                    ctx.dirs.switch_lock().display()
                ));
                return Code::Failure;
            }
        }
    };
    let requested = opts
        .jobs
        .unwrap_or_else(|| {
            // Most of a start is waiting (exec, readiness), not CPU: 16 per core.
            16 * crate::parallel::cpus()
        })
        .max(1);
    let jobs = fit_jobs(ctx, requested, opts.jobs.is_some());
    let t0 = Instant::now();
    let started_at_unix_ms = crate::clock::unix_ms(SystemTime::now());
    let mut steps: Vec<timeline::Step> = Vec::new();
    let mut code = Code::Success;
    let target: String = levels
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("+");
    let final_level = *levels.last().unwrap_or(&'S');
    if !opts.dry_run {
        let _ = pidfile::write_atomic(&marker(ctx), format!("{final_level}\n").as_bytes(), 0o644);
        // SIGTERM/SIGINT from now on cancel the switch instead of killing it.
        if let Err(e) = cancel::install() {
            ctx.out.error(&format!(
                "cannot make the switch cancellable by SIGTERM: {e}"
            ));
        }
    }
    for &level in levels {
        if cancel::requested() {
            break;
        }
        let c = run_level(ctx, level, opts, jobs, t0, &mut steps);
        if code == Code::Success {
            code = c;
        }
    }
    if opts.dry_run {
        return code;
    }
    if cancel::requested() {
        // Not reached: no record; the marker stays, so `svc runlevel` says it was interrupted.
        ctx.out.error(&format!(
            "switch to runlevel {final_level} cancelled (SIGTERM or SIGINT): nothing more was started"
        ));
        let tl = Timeline {
            target,
            started_at_unix_ms,
            total_ms: t0.elapsed().as_millis() as u64,
            services: steps,
        };
        let _ = tl.save(&ctx.dirs.timeline());
        drop(lock);
        return Code::Failure;
    }
    // The record: PREVIOUS CURRENT. A boot starts from N, like runlevel(8).
    let previous = if levels.len() > 1 {
        "N".to_string()
    } else {
        std::fs::read_to_string(ctx.dirs.runlevel_record())
            .ok()
            .and_then(|r| r.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| "N".to_string())
    };
    if let Err(e) = pidfile::write_atomic(
        &ctx.dirs.runlevel_record(),
        format!("{previous} {final_level}\n").as_bytes(),
        0o644,
    ) {
        ctx.out.error(&format!("cannot record the runlevel: {e}"));
        code = Code::Failure;
    }
    let _ = std::fs::remove_file(marker(ctx));
    let tl = Timeline {
        target,
        started_at_unix_ms,
        total_ms: t0.elapsed().as_millis() as u64,
        services: steps,
    };
    if let Err(e) = tl.save(&ctx.dirs.timeline()) {
        ctx.out.error(&format!("cannot write the timeline: {e}"));
    }
    drop(lock);
    code
}

/// The parallelism the open-file limit affords: svc's soft limit is raised to the hard one
/// first (the programs it launches keep the original, see `crate::fdlimit`), then `--jobs` is
/// bounded by the descriptors left, so that no start fails for svc's own descriptors. An
/// explicit `--jobs` that had to be lowered is reported.
fn fit_jobs(ctx: &Context, requested: usize, explicit: bool) -> usize {
    let soft = match fdlimit::raise() {
        Ok(soft) => soft,
        Err(_) => fdlimit::current().map_or(1024, |(soft, _)| soft),
    };
    let jobs = fdlimit::fit_jobs(requested, soft, fdlimit::open_now());
    if explicit && jobs < requested {
        ctx.out.error(&format!(
            "--jobs {requested}: running {jobs} at a time, as many as the open-file limit ({soft}) allows"
        ));
    }
    jobs
}

/// Plans and runs one level; appends its steps to the timeline.
fn run_level(
    ctx: &Context,
    level: char,
    opts: &SwitchOpts,
    jobs: usize,
    t0: Instant,
    timeline: &mut Vec<timeline::Step>,
) -> Code {
    let (entries, problems) = runlevel::scan(&ctx.dirs, level);
    let mut problem_lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    // Runlevels 0 and 6 only stop: their S entries are not started (a broken definition
    // of one is still reported, below).
    let only_stops = matches!(level, '0' | '6');
    // Liveness, asked only of the services the plan asks about, once each. An LSB script is
    // not asked before its start: `start` of a running service succeeds (LSB), so the switch
    // runs it either way, without a `status` run first (docs/lsb.md, "Switches"); its K
    // entries are asked, so that only a running script is stopped.
    // The entries' own services are probed in the pass that loads every definition, on the
    // thread that loaded each (`definition::load_all_map`); the plan asks about others
    // (requirements pulled in) one by one as it needs them.
    let stopped: BTreeSet<&ServiceName> = entries
        .iter()
        .filter(|e| e.kind == Kind::Kill)
        .map(|e| &e.name)
        .collect();
    let entered: BTreeSet<&ServiceName> = entries
        .iter()
        .filter(|e| !only_stops || e.kind == Kind::Kill)
        .map(|e| &e.name)
        .collect();
    let asked = |d: &Definition| {
        entered.contains(&d.name)
            && (stopped.contains(&d.name) || d.kind != definition::Kind::Script)
    };
    // Every definition, loaded once: entries, their dependencies, and dependants for stops.
    let mut defs: BTreeMap<ServiceName, Definition> = BTreeMap::new();
    let mut up_front: BTreeMap<ServiceName, bool> = BTreeMap::new();
    let mut broken: Vec<LeftOut> = Vec::new();
    let loaded = definition::load_all_map(&ctx.dirs, |def| {
        let live = asked(&def).then(|| matches!(ctx.life.probe(&def), Liveness::Running { .. }));
        (def, live)
    });
    match loaded {
        Ok((ok, failed)) => {
            for failed in failed {
                // A file whose name is no service name is nobody's definition.
                let definition::Failed::Invalid { name, error, .. } = failed else {
                    continue;
                };
                if entries.iter().any(|x| x.name == name) {
                    problem_lines.push(error.to_string());
                    broken.push(LeftOut {
                        name,
                        why: "its definition is invalid".into(),
                    });
                }
            }
            for (d, live) in ok {
                if let Some(live) = live {
                    up_front.insert(d.name.clone(), live);
                }
                defs.insert(d.name.clone(), d);
            }
        }
        Err(e) => problem_lines.push(format!("{}: {e}", ctx.dirs.init_d().display())),
    }
    let entries: Vec<_> = if only_stops {
        entries
            .into_iter()
            .filter(|e| e.kind == Kind::Kill)
            .collect()
    } else {
        entries
    };
    let probed: RefCell<BTreeMap<ServiceName, bool>> = RefCell::new(up_front);
    let is_running = |n: &ServiceName| {
        if let Some(r) = probed.borrow().get(n) {
            return *r;
        }
        let r = defs
            .get(n)
            .is_some_and(|d| matches!(ctx.life.probe(d), Liveness::Running { .. }));
        probed.borrow_mut().insert(n.clone(), r);
        r
    };
    let runs_before_start = |n: &ServiceName| match defs.get(n) {
        Some(d) if d.kind == definition::Kind::Script => false,
        _ => is_running(n),
    };
    // Headers resolved: Provides, facilities, X-Start-Before (SPEC §9).
    let order = Order::new(&ctx.dirs, defs.values());
    let deps = |n: &ServiceName| order.deps(n);
    let p: Plan = plan::plan_with(&entries, &deps, &runs_before_start, &is_running, &broken);

    if opts.dry_run {
        print_plan(ctx, level, &p, &problem_lines, opts.json);
        return if problem_lines.is_empty() && p.left_out.is_empty() {
            Code::Success
        } else {
            Code::Failure
        };
    }
    for line in &problem_lines {
        ctx.out.problem(line);
    }
    for l in &p.left_out {
        ctx.out.error(&format!(
            "{}: left out of runlevel {level}: {}",
            l.name, l.why
        ));
    }
    let stopped = execute(ctx, &defs, &p.stop, true, jobs, t0, timeline);
    let started = execute(ctx, &defs, &p.start, false, jobs, t0, timeline);
    for l in &p.left_out {
        timeline.push(timeline::Step {
            name: l.name.to_string(),
            action: "start".into(),
            number: 0,
            begin_ms: None,
            ready_ms: None,
            end_ms: None,
            outcome: "skipped".into(),
            after: Vec::new(),
            error: Some(l.why.clone()),
        });
    }
    summarize(ctx, level, &stopped, &started, &p, &problem_lines)
}

fn print_plan(ctx: &Context, level: char, p: &Plan, problems: &[String], json: bool) {
    if json {
        ctx.out.json(&DryRun {
            target: level.to_string(),
            stop: &p.stop,
            start: &p.start,
            kept: &p.kept,
            left_out: &p.left_out,
            problems: problems.to_vec(),
        });
        return;
    }
    ctx.out.line(&format!("Plan for runlevel {level}:"));
    for s in &p.stop {
        ctx.out
            .line(&format!("  stop  K{:02} {}{}", s.number, s.name, after(s)));
    }
    for s in &p.start {
        ctx.out
            .line(&format!("  start S{:02} {}{}", s.number, s.name, after(s)));
    }
    for k in &p.kept {
        ctx.out.line(&format!("  keep  {k} (running)"));
    }
    for l in &p.left_out {
        ctx.out.line(&format!("  leave out {}: {}", l.name, l.why));
    }
    for pr in problems {
        ctx.out.problem(pr);
    }
}

fn after(s: &Step) -> String {
    if s.after.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = s.after.iter().map(|n| n.as_str()).collect();
        format!(" (after {})", names.join(", "))
    }
}

/// Runs one phase on `jobs` threads; returns each step's outcome, in plan order.
fn execute(
    ctx: &Context,
    defs: &BTreeMap<ServiceName, Definition>,
    steps: &[Step],
    stopping: bool,
    jobs: usize,
    t0: Instant,
    timeline: &mut Vec<timeline::Step>,
) -> Vec<(ServiceName, Outcome)> {
    if steps.is_empty() {
        return Vec::new();
    }
    let schedule = Mutex::new(Schedule::new(steps));
    let outcomes = Mutex::new(vec![Outcome::Pending; steps.len()]);
    let times = Mutex::new(vec![(None::<u64>, None::<u64>); steps.len()]);
    let wake = Condvar::new();
    // Threads waiting on `wake`, counted under the schedule's lock: a finished step wakes no
    // more of them than there are (std's `notify_one` is a system call even with no waiter,
    // and a priority number of 1,000 steps has hundreds ready at each finish).
    let idle = AtomicUsize::new(0);
    let ms = || t0.elapsed().as_millis() as u64;
    // The next step that may run now (`runlevel::schedule` keeps the order, the skips and the
    // waits); a cancelled switch starts (or stops) nothing more, and what runs finishes.
    let next = |sched: &mut Schedule| -> Next {
        if cancel::requested() {
            sched.cancel("cancelled: svc was asked to stop");
        }
        sched.take()
    };

    // Each thread of a start phase drives one worker process, forked now while this process
    // has one thread.
    // fork() copies and write-protects the whole address space under one lock, so forks from
    // the threads of one process run one at a time; small single-threaded workers fork in
    // parallel. If a worker cannot be made, its thread does the work itself.
    // Stops fork nothing: their threads do the work themselves.
    let serve = |name: &ServiceName| match defs.get(name).map(|d| run_step(ctx, d, stopping)) {
        Some(Outcome::Ok) => Reply::Done,
        Some(Outcome::Already) => Reply::Already,
        Some(Outcome::Failed(m)) => Reply::Failed(m),
        Some(_) => Reply::Failed("unexpected outcome".into()),
        None => Reply::Failed("unknown service".into()),
    };
    // Only one priority number runs at a time, so no more threads than its most steps: a
    // thread (and a start phase's worker process) made for nothing costs its making.
    let threads = jobs.min(schedule.lock().map_or(steps.len(), |s| s.widest()));
    let mut workers: Vec<Option<Worker>> = Vec::new();
    for _ in 0..threads {
        let w = if stopping {
            None
        } else {
            // SAFETY: no thread has been started yet (the scoped threads below come after the
            // workers), so this process has one thread.
            unsafe { Worker::spawn(&serve, &mut workers) }.ok()
        };
        workers.push(w);
    }

    // No step runs until every thread exists: each new thread takes a PID, and a new PID
    // makes the process table that stops share (`Procfs::table`) stale, so threads still being
    // made while the first stops ran would have those stops scan /proc again and again.
    let go = (Mutex::new(false), Condvar::new());
    std::thread::scope(|scope| {
        let start = StartGate(&go);
        for mut worker in workers.drain(..) {
            let (schedule, outcomes, times, wake, idle, next, go) =
                (&schedule, &outcomes, &times, &wake, &idle, &next, &go);
            scope.spawn(move || {
                StartGate::wait(go);
                loop {
                    let i = {
                        let mut sched = schedule.lock().unwrap_or_else(|e| e.into_inner());
                        loop {
                            match next(&mut sched) {
                                Next::Done => {
                                    // Everything is finished: let the others see it and leave.
                                    wake.notify_all();
                                    if let Some(w) = worker.take() {
                                        w.finish();
                                    }
                                    return;
                                }
                                Next::Run(i) => break i,
                                Next::Wait => {
                                    idle.fetch_add(1, Ordering::Relaxed);
                                    sched = wake.wait(sched).unwrap_or_else(|e| e.into_inner());
                                    idle.fetch_sub(1, Ordering::Relaxed);
                                }
                            }
                        }
                    };
                    let begin = ms();
                    let def = &defs[&steps[i].name];
                    let outcome = match worker.as_mut().map(|w| w.run(&def.name)) {
                        Some(Ok(Reply::Done)) => Outcome::Ok,
                        Some(Ok(Reply::Already)) => Outcome::Already,
                        Some(Ok(Reply::Failed(m))) => Outcome::Failed(m),
                        Some(Err(_)) => {
                            // The worker died: this thread carries on by itself.
                            worker = None;
                            run_step(ctx, def, stopping)
                        }
                        None => run_step(ctx, def, stopping),
                    };
                    let end = ms();
                    times.lock().unwrap_or_else(|e| e.into_inner())[i] = (Some(begin), Some(end));
                    let ok = matches!(outcome, Outcome::Ok | Outcome::Already);
                    outcomes.lock().unwrap_or_else(|e| e.into_inner())[i] = outcome;
                    let (to_wake, idle_now) = {
                        let mut sched = schedule.lock().unwrap_or_else(|e| e.into_inner());
                        sched.finish(i, ok);
                        (sched.to_wake(), idle.load(Ordering::Relaxed))
                    };
                    // Only threads with a step to take are woken: the last step of a priority
                    // number makes the whole next one runnable, a thread for each of its steps
                    // at once; a step that readies nothing wakes no one (a woken thread that
                    // finds nothing to do costs two context switches for nothing). This thread
                    // takes one of the ready steps itself, next time round the loop.
                    if to_wake == usize::MAX {
                        wake.notify_all();
                    } else {
                        for _ in 1..to_wake.min(idle_now + 1) {
                            wake.notify_one();
                        }
                    }
                }
            });
        }
        drop(start);
    });

    let sched = schedule.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut st = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    for (i, o) in st.iter_mut().enumerate() {
        if let Some(why) = sched.skipped(i) {
            *o = Outcome::Skipped(why.to_string());
        }
    }
    let times = times.into_inner().unwrap_or_else(|e| e.into_inner());
    for (i, s) in steps.iter().enumerate() {
        let (begin, end) = times[i];
        let (outcome, error, ready) = match &st[i] {
            Outcome::Ok => ("ok", None, end),
            Outcome::Already => ("already", None, end),
            Outcome::Failed(e) => ("failed", Some(e.clone()), None),
            Outcome::Skipped(e) => ("skipped", Some(e.clone()), None),
            Outcome::Pending => ("skipped", None, None),
        };
        timeline.push(timeline::Step {
            name: s.name.to_string(),
            action: if stopping { "stop" } else { "start" }.into(),
            number: s.number,
            begin_ms: begin,
            ready_ms: ready,
            end_ms: end,
            outcome: outcome.into(),
            after: s.after.iter().map(|a| a.to_string()).collect(),
            error,
        });
    }
    steps.iter().map(|s| s.name.clone()).zip(st).collect()
}

/// Starts or stops one service, printing its line; the outcome for the scheduler.
fn run_step(ctx: &Context, def: &Definition, stopping: bool) -> Outcome {
    if stopping {
        match ctx.life.stop(def) {
            Ok(Stopped::Stopped { .. }) => {
                ctx.out.action_ok("Stopping", def.name.as_str());
                Outcome::Ok
            }
            Ok(Stopped::NotRunning) => Outcome::Already,
            Err(e) => {
                ctx.out
                    .action_failed("Stopping", def.name.as_str(), &e.to_string());
                Outcome::Failed(e.to_string())
            }
        }
    } else {
        match ctx.life.start(def) {
            Ok(Started::Launched(_)) => {
                ctx.out.action_ok("Starting", def.name.as_str());
                Outcome::Ok
            }
            Ok(Started::AlreadyRunning(_) | Started::Restarting(_) | Started::AlreadyDone(_)) => {
                Outcome::Already
            }
            Err(e) => {
                ctx.out
                    .action_failed("Starting", def.name.as_str(), &e.to_string());
                Outcome::Failed(e.to_string())
            }
        }
    }
}

/// The summary: what started, stopped, failed (and why), was skipped or left out.
fn summarize(
    ctx: &Context,
    level: char,
    stopped: &[(ServiceName, Outcome)],
    started: &[(ServiceName, Outcome)],
    p: &Plan,
    problems: &[String],
) -> Code {
    let pick = |list: &[(ServiceName, Outcome)], f: &dyn Fn(&Outcome) -> bool| -> Vec<String> {
        list.iter()
            .filter(|(_, o)| f(o))
            .map(|(n, _)| n.to_string())
            .collect()
    };
    let ok_started = pick(started, &|o| *o == Outcome::Ok);
    let ok_stopped = pick(stopped, &|o| *o == Outcome::Ok);
    let mut failures: Vec<String> = Vec::new();
    for (n, o) in stopped.iter().chain(started) {
        match o {
            Outcome::Failed(why) => failures.push(format!("failed: {n}: {}", first_line(why))),
            Outcome::Skipped(why) => failures.push(format!("skipped: {n}: {why}")),
            _ => {}
        }
    }
    for l in &p.left_out {
        failures.push(format!("left out: {}: {}", l.name, l.why));
    }
    for pr in problems {
        failures.push(format!("problem: {}", first_line(pr)));
    }
    let mut text = format!(
        "Runlevel {level}: started {}, stopped {}, kept {}",
        ok_started.len(),
        ok_stopped.len(),
        p.kept.len()
    );
    if !failures.is_empty() {
        text.push_str(&format!(", {} problem(s)", failures.len()));
    }
    ctx.out.line(&text);
    for f in &failures {
        ctx.out.line(&format!("  {f}"));
    }
    if failures.is_empty() {
        Code::Success
    } else {
        Code::Failure
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
