//! Runlevel switches and boot (docs/commands.md) and the faults of fault group E: start and
//! stop order by entry number, parallel starts of one number, dependencies across numbers,
//! failure isolation, dangling links, odd entry names, cycles, unknown and failed dependencies,
//! hung starts during boot, signals and a concurrent second switch, runlevels 0 and 6, services
//! kept across a switch, the runlevel record, `--dry-run`, `boot` and `--jobs`.
//!
//! Every daemon here reports what happens to it in files under `work/`: `started` gets its name
//! appended once it is ready (svc waits for `work/NAME.ready`, created right after), `stopped`
//! gets it appended when it handles TERM. Orders are read from those files, never from clocks.

use crate::util::*;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// helpers

/// Creates `runlevels/rcLEVEL.d/FILE` as a symlink to `../../init.d/NAME.yaml`, the way `svc
/// enable` does.
fn link_as(sb: &Sandbox, level: &str, file: &str, name: &str) {
    std::os::unix::fs::symlink(
        format!("../../init.d/{name}.yaml"),
        sb.config.join(format!("runlevels/rc{level}.d/{file}")),
    )
    .unwrap();
}

/// Creates the entry `PREFIX NAME` (e.g. `S20` + `web`) in rcLEVEL.d.
fn link(sb: &Sandbox, level: &str, prefix: &str, name: &str) {
    link_as(sb, level, &format!("{prefix}{name}"), name);
}

/// A daemon whose script is work/NAME.sh: it appends its PID to work/NAME.pids, runs `before`
/// (shell text, may block), appends NAME to work/started and creates work/NAME.ready (svc waits
/// for that file), then waits; on TERM it appends NAME to work/stopped and exits. `extra` is
/// added to the definition (`requires: [..]`, `ready_timeout: 1`, ...). Returns the script.
fn daemon_with(sb: &Sandbox, name: &str, before: &str, extra: &str) -> PathBuf {
    let w = sb.work.display();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo {name} >> {w}/stopped; exit 0' TERM\necho $$ >> {w}/{name}.pids\n{before}\necho {name} >> {w}/started\ntouch {w}/{name}.ready\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    let mut def = format!(
        "exec: {}\nready: {{ file: {w}/{name}.ready }}\n",
        script.display()
    );
    if !extra.contains("ready_timeout") {
        def.push_str("ready_timeout: 10\n");
    }
    def.push_str(extra);
    sb.service(name, &def);
    script
}

/// [`daemon_with`] without anything to do before it is ready.
fn daemon(sb: &Sandbox, name: &str, extra: &str) -> PathBuf {
    daemon_with(sb, name, ":", extra)
}

/// A service that fails to start: it exits at once, before its ready file appears.
fn failing(sb: &Sandbox, name: &str, extra: &str) -> PathBuf {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\necho $$ >> {w}/{name}.pids\necho {name} cannot start >&2\nexit 1\n",
            w = sb.work.display()
        ),
    );
    sb.service(
        name,
        &format!(
            "exec: {}\nready: {{ file: {}/{name}.ready }}\nready_timeout: 10\n{extra}",
            script.display(),
            sb.work.display()
        ),
    );
    script
}

/// The lines of a file under work/ (none if it does not exist).
fn lines(sb: &Sandbox, file: &str) -> Vec<String> {
    std::fs::read_to_string(sb.work.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Names in work/started, in the order the services became ready.
fn started(sb: &Sandbox) -> Vec<String> {
    lines(sb, "started")
}

/// Names in work/stopped, in the order the services handled TERM.
fn stopped(sb: &Sandbox) -> Vec<String> {
    lines(sb, "stopped")
}

/// Position of `name` in `order`, failing the test when it is missing.
#[track_caller]
fn pos(order: &[String], name: &str) -> usize {
    order
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} missing from {order:?}"))
}

/// True when `svc status NAME` says it runs and its PID file names a live process.
fn running(sb: &Sandbox, name: &str) -> bool {
    run(sb, &["status", name]).code == 0
        && std::fs::read_to_string(sb.pidfile(name))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .is_some_and(alive)
}

/// Asserts that the service was never launched: its script never ran and it has no PID file.
#[track_caller]
fn assert_never_started(sb: &Sandbox, name: &str) {
    assert!(
        !sb.work.join(format!("{name}.pids")).exists(),
        "{name} was launched: {:?}",
        lines(sb, &format!("{name}.pids"))
    );
    assert!(
        !sb.pidfile(name).exists(),
        "{name} has a PID file {}",
        sb.pidfile(name).display()
    );
    assert!(
        !started(sb).contains(&name.to_string()),
        "{name} became ready: {:?}",
        started(sb)
    );
}

/// Asserts that a daemon started by this file's helpers is no longer running and no process of
/// its script is left.
#[track_caller]
fn assert_stopped(sb: &Sandbox, name: &str, script: &Path) {
    assert_eq!(
        run(sb, &["status", name]).code,
        3,
        "{name} is not reported stopped"
    );
    assert!(
        procs_with_arg(script).is_empty(),
        "{name}: processes left: {:?}",
        procs_with_arg(script)
    );
}

/// The runlevel record, trimmed (`None` if it does not exist).
fn record(sb: &Sandbox) -> Option<String> {
    std::fs::read_to_string(sb.state.join("runlevel"))
        .ok()
        .map(|t| t.trim().to_string())
}

/// A line of `text` that contains every one of `words`.
fn line_with<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    text.lines().find(|l| words.iter().all(|w| l.contains(w)))
}

/// Asserts that some line of stdout or stderr names all of `words`.
#[track_caller]
fn assert_reported(r: &Run, words: &[&str]) {
    assert!(
        line_with(&r.stdout, words).is_some() || line_with(&r.stderr, words).is_some(),
        "svc {:?}: no line names all of {words:?}\n--- stdout\n{}--- stderr\n{}",
        r.args,
        r.stdout,
        r.stderr
    );
}

/// Runs `svc ARGS` with a deadline of `limit`.
#[track_caller]
fn run_within(sb: &Sandbox, args: &[&str], limit: Duration) -> Run {
    finish(spawn_svc(sb, args), args, limit)
}

/// Waits (bounded) until a blocked lock request on `lock` shows in /proc/locks: someone waits
/// for the lock held by someone else. Any lock type (flock, POSIX, OFD) shows there.
#[track_caller]
fn wait_for_lock_waiter(lock: &Path, waiter: &mut std::process::Child) {
    wait_until(
        Duration::from_secs(20),
        "a second switch blocked on switch.lock",
        || {
            if let Ok(Some(status)) = waiter.try_wait() {
                panic!("the second switch ended ({status}) while the first still ran");
            }
            let Ok(ino) = std::fs::metadata(lock).map(|m| m.ino()) else {
                return false;
            };
            std::fs::read_to_string("/proc/locks")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("->"))
                .any(|l| {
                    l.split_whitespace().any(|f| {
                        f.matches(':').count() == 2
                            && f.rsplit(':').next() == Some(ino.to_string().as_str())
                    })
                })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// order

/// S entries start in ascending number order, whatever the names' order; each start waits for
/// the previous number's readiness.
#[test]
fn switch_starts_s_entries_in_ascending_number_order() {
    let sb = Sandbox::new();
    for (n, name) in [
        ("S30", "alpha"),
        ("S10", "delta"),
        ("S20", "charlie"),
        ("S05", "bravo"),
    ] {
        daemon(&sb, name, "");
        link(&sb, "3", n, name);
    }
    let r = run(&sb, &["switch", "3"]);
    r.ok();
    for name in ["alpha", "bravo", "charlie", "delta"] {
        r.stdout_has(&format!("Starting {name} ... [ OK ]"));
        assert!(running(&sb, name), "{name} is not running after the switch");
    }
    assert_eq!(started(&sb), ["bravo", "delta", "charlie", "alpha"]);
}

/// K entries stop the running services in ascending number order, each gone before the next
/// number is stopped.
#[test]
fn switch_stops_k_entries_in_ascending_number_order() {
    let sb = Sandbox::new();
    let mut scripts = Vec::new();
    for (n, name) in [("K30", "alpha"), ("K10", "charlie"), ("K20", "bravo")] {
        scripts.push((name, daemon(&sb, name, "")));
        link(&sb, "1", n, name);
    }
    run(&sb, &["start", "alpha", "bravo", "charlie"]).ok();

    let r = run(&sb, &["switch", "1"]);
    r.ok();
    assert_eq!(stopped(&sb), ["charlie", "bravo", "alpha"]);
    for (name, script) in &scripts {
        r.stdout_has(&format!("Stopping {name} ... [ OK ]"));
        assert_stopped(&sb, name, script);
    }
}

/// Two services with the same number start in parallel: each becomes ready only once the other
/// has been launched, so one after the other would time out (ready_timeout 10 s).
#[test]
fn services_with_the_same_number_start_in_parallel() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    for (me, other) in [("ping", "pong"), ("pong", "ping")] {
        daemon_with(
            &sb,
            me,
            &format!("touch {w}/{me}.up\nwhile [ ! -e {w}/{other}.up ]; do sleep 0.02; done"),
            "",
        );
        link(&sb, "3", "S20", me);
    }
    let r = run(&sb, &["switch", "3"]);
    r.ok();
    assert!(running(&sb, "ping"));
    assert!(running(&sb, "pong"));
}

/// `requires` across numbers: a service at S10 that requires one at S20 starts after it; the
/// same for `wants`.
#[test]
fn requires_across_numbers_starts_the_dependency_first() {
    let sb = Sandbox::new();
    daemon(&sb, "front", "requires: [back]\n");
    daemon(&sb, "back", "");
    daemon(&sb, "eager", "wants: [late]\n");
    daemon(&sb, "late", "");
    link(&sb, "3", "S10", "front");
    link(&sb, "3", "S20", "back");
    link(&sb, "3", "S05", "eager");
    link(&sb, "3", "S50", "late");

    run(&sb, &["switch", "3"]).ok();
    let order = started(&sb);
    assert_eq!(order.len(), 4, "{order:?}");
    assert!(pos(&order, "back") < pos(&order, "front"), "{order:?}");
    assert!(pos(&order, "late") < pos(&order, "eager"), "{order:?}");
    for name in ["front", "back", "eager", "late"] {
        assert!(running(&sb, name), "{name} is not running");
    }
}

/// `--jobs 1`: the switch still completes, one start at a time (no two daemons are ever in
/// their start phase together), in entry order.
#[test]
fn jobs_1_starts_one_service_at_a_time_and_completes() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    for (n, name) in [("S10", "cc"), ("S10", "aa"), ("S10", "bb"), ("S20", "dd")] {
        daemon_with(
            &sb,
            name,
            &format!(
                "touch {w}/{name}.busy\nfor f in {w}/*.busy; do [ \"$f\" = {w}/{name}.busy ] || echo {name} $f >> {w}/overlap; done\nsleep 0.2\nrm -f {w}/{name}.busy"
            ),
            "",
        );
        link(&sb, "3", n, name);
    }
    let r = run(&sb, &["switch", "3", "--jobs", "1"]);
    r.ok();
    assert_eq!(
        lines(&sb, "overlap"),
        Vec::<String>::new(),
        "starts overlapped with --jobs 1"
    );
    assert_eq!(started(&sb), ["aa", "bb", "cc", "dd"]);
    for name in ["aa", "bb", "cc", "dd"] {
        assert!(running(&sb, name), "{name} is not running");
    }
}

/// An unknown runlevel is an invalid argument (exit 2) and changes nothing.
#[test]
fn switch_rejects_an_unknown_runlevel() {
    let sb = Sandbox::new();
    for bad in ["7", "x", "33", "", "-1"] {
        let r = run(&sb, &["switch", "--", bad]);
        r.code(2).no_panic();
    }
    assert_eq!(record(&sb), None);
}

// ---------------------------------------------------------------------------------------------
// failures (E4) and problems found before anything runs (E1, E2, E3)

/// E4: a service that fails to start does not stop the switch: the service that requires it is
/// skipped and reported, an independent one is started, and the exit code is 1.
#[test]
fn e4_failed_dependency_skips_its_dependants_and_the_rest_starts() {
    let sb = Sandbox::new();
    failing(&sb, "broken", "");
    daemon(&sb, "needy", "requires: [broken]\n");
    daemon(&sb, "loner", "");
    link(&sb, "3", "S10", "broken");
    link(&sb, "3", "S20", "needy");
    link(&sb, "3", "S30", "loner");

    let r = run(&sb, &["switch", "3"]);
    r.code(1).no_panic();
    r.stdout_has("Starting broken ... [FAILED]")
        .stdout_has("Starting loner ... [ OK ]");
    assert!(running(&sb, "loner"));
    assert!(!running(&sb, "broken"));
    assert_never_started(&sb, "needy");
    // The summary: what was started, what failed, what was skipped and why.
    let lower = r.stdout.to_lowercase();
    assert!(
        lower.contains("failed"),
        "no failure in the summary:\n{}",
        r.stdout
    );
    assert!(
        lower.contains("skipped"),
        "no skip in the summary:\n{}",
        r.stdout
    );
    assert_reported(&r, &["needy", "broken"]);
    assert!(
        line_with(&r.stdout, &["loner"]).is_some(),
        "the summary does not name the started service:\n{}",
        r.stdout
    );
}

/// E4: a `requires` on a service that has no definition is reported before anything runs; the
/// service (and what requires it) is left out, the rest runs, exit 1.
#[test]
fn e4_unknown_dependency_is_reported_and_its_dependants_left_out() {
    let sb = Sandbox::new();
    daemon(&sb, "orphan", "requires: [phantom]\n");
    daemon(&sb, "grandchild", "requires: [orphan]\n");
    daemon(&sb, "fine", "");
    link(&sb, "3", "S10", "orphan");
    link(&sb, "3", "S20", "grandchild");
    link(&sb, "3", "S30", "fine");

    let r = run(&sb, &["switch", "3"]);
    r.code(1).no_panic();
    r.stderr_has("phantom").stderr_has("orphan");
    assert_never_started(&sb, "orphan");
    assert_never_started(&sb, "grandchild");
    assert!(running(&sb, "fine"));
    assert_eq!(started(&sb), ["fine"]);
}

/// E1: a link to a missing definition is reported (naming the file), left out with what
/// requires it, and the rest of the runlevel starts; exit 1.
#[test]
fn e1_dangling_link_is_reported_and_the_rest_starts() {
    let sb = Sandbox::new();
    link(&sb, "3", "S10", "ghost");
    daemon(&sb, "haunted", "requires: [ghost]\n");
    daemon(&sb, "solid", "");
    link(&sb, "3", "S20", "solid");
    link(&sb, "3", "S30", "haunted");

    let r = run(&sb, &["switch", "3"]);
    r.code(1).no_panic();
    r.stderr_has("S10ghost");
    assert!(running(&sb, "solid"));
    assert_never_started(&sb, "haunted");
    assert_eq!(started(&sb), ["solid"]);
    assert_eq!(record(&sb).as_deref(), Some("N 3"));
}

/// E2: odd entry names. `S1a`, `S2c`, `S99 x` and a directory `S30y` are badly formed and
/// reported by name; `s20lower` and README are ignored; `S100d` is number 10 of service `0d`;
/// `S20x` and `K20x` coexist. The good entries run numerically, then bytewise.
#[test]
fn e2_odd_entry_names_are_parsed_strictly_and_run_in_numeric_then_bytewise_order() {
    let sb = Sandbox::new();
    for name in ["a", "b", "c", "0d", "x", "y", "lower"] {
        daemon(&sb, name, "");
    }
    for (file, name) in [
        ("S1a", "a"),
        ("S10b", "b"),
        ("S2c", "c"),
        ("S100d", "0d"),
        ("S99 x", "x"),
        ("s20lower", "lower"),
        ("S20x", "x"),
        ("K20x", "x"),
    ] {
        link_as(&sb, "3", file, name);
    }
    std::fs::create_dir(sb.config.join("runlevels/rc3.d/S30y")).unwrap();
    std::fs::write(sb.config.join("runlevels/rc3.d/README"), "not an entry\n").unwrap();

    let plan = run(&sb, &["switch", "3", "--dry-run", "--json"]);
    let v: Value = serde_json::from_str(&plan.stdout)
        .unwrap_or_else(|e| panic!("dry-run JSON: {e}\n{}", plan.stdout));
    let names: Vec<&str> = v["start"]
        .as_array()
        .expect("start array")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["0d", "b", "x"], "plan: {}", plan.stdout);
    let numbers: Vec<u64> = v["start"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [10, 10, 20], "plan: {}", plan.stdout);

    let r = run(&sb, &["switch", "3", "--jobs", "1"]);
    r.code(1).no_panic();
    for bad in ["S1a", "S2c", "S99 x", "S30y"] {
        r.stderr_has(bad);
    }
    assert!(
        !r.stderr.contains("README") && !r.stderr.contains("s20lower"),
        "non-entries must be ignored silently:\n{}",
        r.stderr
    );
    assert_eq!(started(&sb), ["0d", "b", "x"]);
    for name in ["a", "c", "y", "lower"] {
        assert_never_started(&sb, name);
    }
    for name in ["0d", "b", "x"] {
        assert!(running(&sb, name), "{name} is not running");
    }
}

/// E3: dependency cycles (a→b→c→a and a→a) are found before anything starts, reported with every
/// service of the cycle, and left out with what requires them; the rest starts; no hang.
#[test]
fn e3_dependency_cycle_is_reported_and_the_rest_starts_without_hanging() {
    let sb = Sandbox::new();
    daemon(&sb, "cyc-alpha", "requires: [cyc-beta]\n");
    daemon(&sb, "cyc-beta", "requires: [cyc-gamma]\n");
    daemon(&sb, "cyc-gamma", "wants: [cyc-alpha]\n");
    daemon(&sb, "selfish", "requires: [selfish]\n");
    daemon(&sb, "hanger", "requires: [cyc-alpha]\n");
    daemon(&sb, "free", "");
    link(&sb, "2", "S10", "cyc-alpha");
    link(&sb, "2", "S20", "cyc-beta");
    link(&sb, "2", "S30", "cyc-gamma");
    link(&sb, "2", "S15", "selfish");
    link(&sb, "2", "S40", "hanger");
    link(&sb, "2", "S50", "free");

    let r = run_within(&sb, &["boot", "2"], Duration::from_secs(20));
    r.code(1).no_panic();
    assert!(
        line_with(&r.stderr, &["cyc-alpha", "cyc-beta", "cyc-gamma"]).is_some(),
        "no message names every service of the cycle:\n{}",
        r.stderr
    );
    r.stderr_has("selfish");
    for name in ["cyc-alpha", "cyc-beta", "cyc-gamma", "selfish", "hanger"] {
        assert_never_started(&sb, name);
    }
    assert!(running(&sb, "free"));
    assert_eq!(started(&sb), ["free"]);
}

// ---------------------------------------------------------------------------------------------
// boot (E5)

/// `svc boot` runs rcS.d, then the `default_runlevel` of svc.yaml (2 here, not 3).
#[test]
fn boot_runs_rcs_then_the_default_runlevel() {
    let sb = Sandbox::new();
    std::fs::write(sb.config.join("svc.yaml"), "default_runlevel: 2\n").unwrap();
    daemon(&sb, "early", "");
    daemon(&sb, "two", "");
    daemon(&sb, "three", "");
    link(&sb, "S", "S50", "early");
    link(&sb, "2", "S10", "two");
    link(&sb, "3", "S10", "three");

    let r = run(&sb, &["boot"]);
    r.ok();
    assert_eq!(started(&sb), ["early", "two"]);
    assert_never_started(&sb, "three");
    let rec = record(&sb).expect("runlevel record after boot");
    let fields: Vec<&str> = rec.split_whitespace().collect();
    assert_eq!(fields.len(), 2, "record {rec:?}");
    assert!(matches!(fields[0], "N" | "S"), "record {rec:?}");
    assert_eq!(fields[1], "2", "record {rec:?}");
    let shown = run(&sb, &["runlevel"]);
    shown.ok();
    assert_eq!(shown.stdout.trim(), rec);

    let tl = svc::timeline::Timeline::load(&sb.state.join("timeline.json"))
        .expect("timeline.json after boot");
    assert!(tl.target.contains('2'), "timeline target {:?}", tl.target);
    for name in ["early", "two"] {
        let step = tl
            .services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the timeline: {tl:?}"));
        assert_eq!(step.action, "start");
        assert_eq!(step.outcome, "ok");
    }
}

/// `svc boot N` overrides `default_runlevel`; without svc.yaml the default is 3.
#[test]
fn boot_with_a_runlevel_overrides_the_default() {
    let sb = Sandbox::new();
    daemon(&sb, "four", "");
    daemon(&sb, "three", "");
    link(&sb, "4", "S10", "four");
    link(&sb, "3", "S10", "three");
    run(&sb, &["boot", "4"]).ok();
    assert_eq!(started(&sb), ["four"]);
    assert_eq!(
        record(&sb).and_then(|r| r.split_whitespace().nth(1).map(str::to_string)),
        Some("4".into())
    );

    let sb = Sandbox::new();
    daemon(&sb, "three", "");
    link(&sb, "3", "S10", "three");
    run(&sb, &["boot"]).ok();
    assert_eq!(started(&sb), ["three"]);
}

/// E5: a service that never becomes ready (ready_timeout 1 s) fails, is not left behind, and
/// does not stop the boot: the later entries of rcS.d and of the runlevel start; bounded total.
#[test]
fn e5_hung_start_during_boot_does_not_stop_the_boot() {
    let sb = Sandbox::new();
    let hung = daemon_with(
        &sb,
        "hung",
        "while :; do sleep 1 & wait $!; done",
        "ready_timeout: 1\n",
    );
    daemon(&sb, "after", "");
    daemon(&sb, "later", "");
    link(&sb, "S", "S10", "hung");
    link(&sb, "S", "S20", "after");
    link(&sb, "2", "S10", "later");

    let (r, took) = timed(&sb, &["boot", "2"]);
    r.code(1).no_panic();
    assert!(took < Duration::from_secs(15), "boot took {took:?}");
    r.stdout_has("Starting hung ... [FAILED]");
    assert_eq!(started(&sb), ["after", "later"]);
    assert!(running(&sb, "after"));
    assert!(running(&sb, "later"));
    assert!(!running(&sb, "hung"));
    assert!(
        procs_with_arg(&hung).is_empty(),
        "the hung daemon was left running: {:?}",
        procs_with_arg(&hung)
    );
}

// ---------------------------------------------------------------------------------------------
// signals and concurrency (E6)

/// E6: a second switch started while one runs waits for it (it blocks on switch.lock), and runs
/// after it: its service starts only after the first switch's blocked service became ready.
#[test]
fn e6_second_switch_waits_for_the_first() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    daemon_with(
        &sb,
        "gate",
        &format!("touch {w}/gate.up\nwhile [ ! -e {w}/release ]; do sleep 0.02; done"),
        "ready_timeout: 60\n",
    );
    daemon(&sb, "five", "");
    link(&sb, "3", "S10", "gate");
    link(&sb, "5", "S20", "five");

    let first_args = ["switch", "3"];
    let first = spawn_svc(&sb, &first_args);
    wait_for_file(&sb.work.join("gate.up"), Duration::from_secs(20));
    let second_args = ["switch", "5"];
    let mut second = spawn_svc(&sb, &second_args);
    wait_for_lock_waiter(&sb.state.join("switch.lock"), &mut second);
    assert_never_started(&sb, "five");

    std::fs::write(sb.work.join("release"), "").unwrap();
    finish(first, &first_args, SVC_LIMIT).ok();
    finish(second, &second_args, SVC_LIMIT).ok();
    assert_eq!(started(&sb), ["gate", "five"]);
    assert_eq!(record(&sb).as_deref(), Some("3 5"));
    assert!(running(&sb, "gate"));
    assert!(running(&sb, "five"));
}

/// E6: TERM, INT or HUP to `svc switch` while it waits for a service leaves a whole runlevel
/// record (the old one or the new one), and running the switch again converges: every service
/// runs exactly once, as status says.
#[test]
fn e6_signal_mid_switch_leaves_a_whole_record_and_rerun_converges() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let sb = Sandbox::new();
        let w = sb.work.display().to_string();
        let base = daemon(&sb, "base", "");
        let gate = daemon_with(
            &sb,
            "gate",
            &format!("touch {w}/gate.up\nwhile [ ! -e {w}/release ]; do sleep 0.02; done"),
            "ready_timeout: 60\n",
        );
        let tail = daemon(&sb, "tail", "");
        link(&sb, "2", "S10", "base");
        for (n, name) in [("S10", "base"), ("S20", "gate"), ("S30", "tail")] {
            link(&sb, "3", n, name);
        }
        run(&sb, &["switch", "2"]).ok();
        assert_eq!(record(&sb).as_deref(), Some("N 2"));
        let base_pid = sb.pid("base");

        let args = ["switch", "3"];
        let child = spawn_svc(&sb, &args);
        wait_for_file(&sb.work.join("gate.up"), Duration::from_secs(20));
        // SAFETY: kill(2) on our own child, which has not been waited for.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        let r = finish(child, &args, Duration::from_secs(20));
        assert_ne!(
            r.code, 0,
            "signal {sig}: the interrupted switch reported success"
        );
        let rec = record(&sb);
        assert!(
            matches!(rec.as_deref(), Some("N 2") | Some("2 3")),
            "signal {sig}: runlevel record {rec:?} is neither the old nor the new one"
        );
        assert!(!started(&sb).contains(&"tail".to_string()));
        // The interruption is visible to the operator, with the switch that converges.
        for cmd in [&["runlevel"][..], &["status"][..]] {
            run(&sb, cmd)
                .stderr_has("a switch to runlevel 3 was interrupted; `svc switch 3` finishes it");
        }

        std::fs::write(sb.work.join("release"), "").unwrap();
        let again = run(&sb, &["switch", "3"]);
        again.ok();
        let rec = record(&sb).unwrap_or_default();
        assert_eq!(
            rec.split_whitespace().collect::<Vec<_>>().last(),
            Some(&"3"),
            "signal {sig}: record {rec:?} after the second switch"
        );
        assert_eq!(sb.pid("base"), base_pid, "base was restarted");
        for (name, script) in [("base", &base), ("gate", &gate), ("tail", &tail)] {
            assert!(running(&sb, name), "signal {sig}: {name} not running");
            assert_eq!(
                procs_with_arg(script),
                [sb.pid(name)],
                "signal {sig}: processes of {name} do not match its PID file"
            );
        }
        for cmd in [&["runlevel"][..], &["status"][..]] {
            let r = run(&sb, cmd);
            assert!(
                !r.stderr.contains("interrupted"),
                "signal {sig}: still reported as interrupted after converging: {}",
                r.stderr
            );
        }
        let status = run(&sb, &["status", "--json"]);
        let rows: Value = serde_json::from_str(&status.stdout).expect("status JSON");
        for row in rows.as_array().expect("status array") {
            assert_eq!(row["state"], "running", "signal {sig}: {row}");
            let pid = row["pid"].as_i64().expect("pid") as i32;
            assert!(alive(pid), "signal {sig}: {row} names a dead process");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// runlevels 0 and 6 (E7), kept services (E8)

/// Runlevel 0 or 6: the running services with K entries stop in K order; a service already
/// stopped is skipped; one that ignores TERM is killed after its stop_timeout and the rest
/// goes on; the total is bounded.
fn halt_like(level: &str) {
    let sb = Sandbox::new();
    let stubborn = sb.script(
        "stubborn.sh",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho $$ > {}/stubborn.pids\nwhile :; do sleep 1; done\n",
            sb.work.display()
        ),
    );
    sb.service(
        "stubborn",
        &format!("exec: {}\nstop_timeout: 1\n", stubborn.display()),
    );
    let mut scripts = vec![("stubborn", stubborn)];
    for name in ["alpha", "bravo", "charlie", "idle"] {
        scripts.push((name, daemon(&sb, name, "")));
    }
    for (n, name) in [
        ("K05", "stubborn"),
        ("K10", "charlie"),
        ("K20", "idle"),
        ("K30", "alpha"),
        ("K40", "bravo"),
    ] {
        link(&sb, level, n, name);
    }
    run(&sb, &["start", "stubborn", "alpha", "bravo", "charlie"]).ok();
    let stubborn_pid = read_pid(&sb.work.join("stubborn.pids"));

    let (r, took) = timed(&sb, &["switch", level]);
    r.ok();
    assert!(
        took < Duration::from_secs(10),
        "switch {level} took {took:?}"
    );
    assert_eq!(stopped(&sb), ["charlie", "alpha", "bravo"]);
    assert!(!alive(stubborn_pid), "stubborn survived");
    assert!(
        !r.stdout.contains("Stopping idle"),
        "an already stopped service was stopped:\n{}",
        r.stdout
    );
    for (name, script) in &scripts {
        assert_stopped(&sb, name, script);
    }
    assert_never_started(&sb, "idle");
    assert_eq!(
        record(&sb).and_then(|r| r.split_whitespace().nth(1).map(str::to_string)),
        Some(level.to_string())
    );
}

#[test]
fn e7_runlevel_0_stops_k_entries_in_order_and_skips_stopped_ones() {
    halt_like("0");
}

#[test]
fn e7_runlevel_6_stops_k_entries_in_order_and_skips_stopped_ones() {
    halt_like("6");
}

/// E8: a service with S entries in the old and the new runlevel keeps running (same PID, launched
/// once); a K entry stops only what runs.
#[test]
fn e8_services_in_both_levels_keep_their_pid_across_a_switch() {
    let sb = Sandbox::new();
    daemon(&sb, "keep", "");
    let three = daemon(&sb, "three", "");
    daemon(&sb, "five", "");
    daemon(&sb, "never", "");
    link(&sb, "3", "S10", "keep");
    link(&sb, "3", "S20", "three");
    link(&sb, "5", "S10", "keep");
    link(&sb, "5", "S20", "five");
    link(&sb, "5", "K30", "three");
    link(&sb, "5", "K40", "never");

    run(&sb, &["switch", "3"]).ok();
    let pid = sb.pid("keep");
    let r = run(&sb, &["switch", "5"]);
    r.ok();
    assert_eq!(sb.pid("keep"), pid, "keep got a new PID");
    assert!(alive(pid));
    assert_eq!(lines(&sb, "keep.pids").len(), 1, "keep was launched twice");
    assert!(
        !r.stdout.contains("Starting keep") && !r.stdout.contains("Stopping keep"),
        "keep was acted on:\n{}",
        r.stdout
    );
    assert_eq!(stopped(&sb), ["three"]);
    assert_stopped(&sb, "three", &three);
    assert!(running(&sb, "five"));
    assert_never_started(&sb, "never");
    assert_eq!(started(&sb), ["keep", "three", "five"]);
}

// ---------------------------------------------------------------------------------------------
// the runlevel record, dry runs, the timeline

/// `svc runlevel` says `unknown` (exit 1) before any switch, then `N 3` after the first and
/// `3 5` after the second (`telinit` is `switch`); the record file holds the same line.
#[test]
fn runlevel_record_holds_previous_and_current() {
    let sb = Sandbox::new();
    let r = run(&sb, &["runlevel"]);
    r.code(1).stdout_has("unknown");

    run(&sb, &["switch", "3"]).ok();
    assert_eq!(record(&sb).as_deref(), Some("N 3"));
    let r = run(&sb, &["runlevel"]);
    r.ok();
    assert_eq!(r.stdout.trim(), "N 3");

    run(&sb, &["telinit", "5"]).ok();
    assert_eq!(record(&sb).as_deref(), Some("3 5"));
    let r = run(&sb, &["runlevel"]);
    r.ok();
    assert_eq!(r.stdout.trim(), "3 5");
    let left: Vec<String> = std::fs::read_dir(&sb.state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("runlevel") && n != "runlevel")
        .collect();
    assert!(left.is_empty(), "temporary record files left: {left:?}");
}

/// `--dry-run` prints the plan and does nothing: no process, no PID file, no record, the
/// running service with a K entry still runs.
#[test]
fn dry_run_starts_and_stops_nothing() {
    let sb = Sandbox::new();
    daemon(&sb, "web", "requires: [db]\n");
    daemon(&sb, "db", "");
    daemon(&sb, "old", "");
    link(&sb, "3", "S20", "web");
    link(&sb, "3", "S30", "db");
    link(&sb, "3", "K10", "old");
    run(&sb, &["start", "old"]).ok();
    let old = sb.pid("old");

    let r = run(&sb, &["switch", "3", "--dry-run"]);
    r.ok();
    for name in ["web", "db", "old"] {
        r.stdout_has(name);
    }
    assert_never_started(&sb, "web");
    assert_never_started(&sb, "db");
    assert_eq!(sb.pid("old"), old);
    assert!(running(&sb, "old"));
    assert!(stopped(&sb).is_empty());
    assert_eq!(record(&sb), None);
}

/// `--dry-run --json` is the plan: target, the running services to stop, the services to start
/// in execution order with their numbers and what they wait for, and the problems.
#[test]
fn dry_run_json_is_the_plan_in_execution_order() {
    let sb = Sandbox::new();
    daemon(&sb, "web", "requires: [db]\n");
    daemon(&sb, "db", "");
    daemon(&sb, "cron", "");
    daemon(&sb, "old", "");
    daemon(&sb, "dormant", "");
    daemon(&sb, "kept", "");
    link(&sb, "3", "S10", "web");
    link(&sb, "3", "S30", "db");
    link(&sb, "3", "S20", "cron");
    link(&sb, "3", "S40", "kept");
    link(&sb, "3", "K10", "old");
    link(&sb, "3", "K20", "dormant");
    run(&sb, &["start", "old", "kept"]).ok();

    let r = run(&sb, &["switch", "3", "--dry-run", "--json"]);
    r.ok();
    let v: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", r.stdout));
    assert_eq!(v["target"], "3", "{v}");
    let stop: Vec<(&str, u64)> = v["stop"]
        .as_array()
        .expect("stop array")
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["number"].as_u64().unwrap()))
        .collect();
    assert_eq!(stop, [("old", 10)], "{v}");
    let start = v["start"].as_array().expect("start array");
    let names: Vec<String> = start
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["cron", "db", "web"], "{v}");
    assert!(pos(&names, "db") < pos(&names, "web"), "{v}");
    for (name, number) in [("web", 10), ("cron", 20), ("db", 30)] {
        let s = start.iter().find(|s| s["name"] == name).unwrap();
        assert_eq!(s["number"], number, "{s}");
        assert!(s["after"].is_array(), "{s}");
    }
    let web = start.iter().find(|s| s["name"] == "web").unwrap();
    assert!(
        web["after"].as_array().unwrap().iter().any(|a| a == "db"),
        "web does not wait for db: {web}"
    );
    assert_eq!(v["problems"], serde_json::json!([]), "{v}");
    assert_never_started(&sb, "web");
    assert_never_started(&sb, "db");
    assert_never_started(&sb, "cron");
}

/// Every switch writes `<state>/timeline.json`: one step per service with its action, number,
/// outcome and why it failed.
#[test]
fn switch_writes_a_timeline_of_every_service() {
    let sb = Sandbox::new();
    daemon(&sb, "good", "");
    failing(&sb, "bad", "");
    daemon(&sb, "old", "");
    link(&sb, "3", "S10", "good");
    link(&sb, "3", "S20", "bad");
    link(&sb, "3", "K10", "old");
    run(&sb, &["start", "old"]).ok();

    run(&sb, &["switch", "3"]).code(1);
    let tl = svc::timeline::Timeline::load(&sb.state.join("timeline.json"))
        .expect("timeline.json after a switch");
    assert_eq!(tl.target, "3");
    let step = |name: &str| {
        tl.services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the timeline: {tl:?}"))
            .clone()
    };
    let old = step("old");
    assert_eq!((old.action.as_str(), old.number), ("stop", 10));
    assert_eq!(old.outcome, "ok");
    let good = step("good");
    assert_eq!((good.action.as_str(), good.number), ("start", 10));
    assert_eq!(good.outcome, "ok");
    let (b, rdy) = (good.begin_ms.unwrap(), good.ready_ms.unwrap());
    assert!(
        b <= rdy && rdy <= tl.total_ms,
        "{good:?} total {}",
        tl.total_ms
    );
    let bad = step("bad");
    assert_eq!((bad.action.as_str(), bad.number), ("start", 20));
    assert_eq!(bad.outcome, "failed");
    assert!(bad.ready_ms.is_none());
    assert!(bad.error.is_some(), "no reason for the failure: {bad:?}");
}

/// Issue 10 item 3: `base` has a K entry and `app`, which requires it, an S entry in the same
/// rcN.d. The K entry wins: base is stopped; app is left out with a problem line (never started
/// on top of a stopped requirement), the switch exits 1; a running app is stopped before base.
#[test]
fn a_service_is_never_started_on_a_requirement_the_level_stops() {
    let sb = Sandbox::new();
    daemon(&sb, "base", "");
    daemon(&sb, "app", "requires: [base]\n");
    daemon(&sb, "other", "");
    link(&sb, "3", "K20", "base");
    link(&sb, "3", "S30", "app");
    link(&sb, "3", "S40", "other");
    // Nothing runs: base is not pulled in for app, app is not started.
    let r = run(&sb, &["switch", "3"]);
    r.code(1)
        .stderr_has(
            "app: left out of runlevel 3: requires base, which this runlevel stops (K20base)",
        )
        .stdout_has("left out: app: requires base, which this runlevel stops (K20base)");
    assert_never_started(&sb, "base");
    assert_never_started(&sb, "app");
    assert!(running(&sb, "other"), "{}{}", r.stdout, r.stderr);
    // Both run: base stops as its K entry says, app with it and first.
    run(&sb, &["start", "app"]).ok();
    assert!(running(&sb, "base") && running(&sb, "app"));
    let r = run(&sb, &["switch", "3"]);
    r.code(1).stdout_has("left out: app:");
    assert!(
        !running(&sb, "base") && !running(&sb, "app"),
        "{}",
        r.stdout
    );
    assert_eq!(stopped(&sb), ["app", "base"]);
    assert!(running(&sb, "other"));
    run(&sb, &["stop", "other"]).ok();
}

/// Issue 10 item 12: stopping N services reads the process table a bounded number of times,
/// not once per service (10,000 stops took over 400 s against 23 s to start them). Each daemon
/// leaves a child in its process group when it exits, so every stop must look for what is
/// left of its group. In a PID namespace of its own, so that no other process of the machine
/// makes svc read the table again: counted are svc's opens of the /proc directory.
#[test]
fn stopping_many_services_does_not_scan_proc_once_per_service() {
    let test = "stopping_many_services_does_not_scan_proc_once_per_service";
    if skip_without_pidns(test) {
        return;
    }
    let sb = Sandbox::new();
    const N: usize = 24;
    // TERM ends the shell, not its `sleep`, which svc then finds left in the group.
    let script = sb.script(
        "lingering.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\nsleep 100000 &\nwait\n",
    );
    for i in 0..N {
        let name = format!("d{i:02}");
        sb.service(&name, &format!("exec: {}\n", script.display()));
        link(&sb, "3", "S20", &name);
        link(&sb, "0", "K20", &name);
    }
    let Some(strace) = strace(test) else {
        return;
    };
    // Inside the namespace: switch 3, then switch 0 under strace (the namespace's init, sh,
    // stays to reap). Not switch 3: strace -f would follow the daemons and wait for them.
    let trace = sb.work.join("switch0.trace");
    let inner = sb.script(
        "inner.sh",
        &format!(
            "#!/bin/sh\n\"$@\" switch --jobs 4 3 > {w}/switch3.out 2>&1 || exit 90\n{strace} -f -qq -e trace=openat -o {t} \"$@\" switch --jobs 4 0\n",
            w = sb.work.display(),
            t = trace.display()
        ),
    );
    let out = bounded_output(sb.wrapped(
        "unshare",
        &["--pid", "--fork", "--mount-proc", inner.to_str().unwrap()],
    ));
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: vec!["switch".into(), "0".into()],
    };
    r.ok();
    let opened = opened(&trace);
    let scans = opened.iter().filter(|p| *p == "/proc").count();
    assert!(
        r.stdout.contains(&format!("stopped {N}")),
        "{}{}\n{}",
        r.stdout,
        r.stderr,
        std::fs::read_to_string(sb.work.join("switch3.out")).unwrap_or_default()
    );
    assert!(
        scans <= 8,
        "svc switch 0 of {N} services opened /proc {scans} times (want at most 8)"
    );
}

/// Runs `svc ARGS` with the open-file limit `soft`:`hard` (setrlimit before exec), as
/// `prlimit --nofile=SOFT:HARD svc ARGS` would.
fn run_with_nofile(sb: &Sandbox, soft: u64, hard: u64, args: &[&str]) -> Run {
    use std::os::unix::process::CommandExt;
    let mut c = sb.cmd(args);
    // SAFETY: setrlimit on a stack value, between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = bounded_output(c);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// Issue 10 item 10: a boot never fails for svc's own descriptors. With `ulimit -n 64` and
/// `--jobs 1024`, most of 1,000 services failed with EMFILE; svc now raises its soft limit to
/// the hard one and runs as many jobs at once as the descriptors left allow. The programs it
/// launches keep the limit svc was started with, unless their definition sets one.
#[test]
fn a_boot_fits_its_parallelism_to_the_open_file_limit() {
    let sb = Sandbox::new();
    const N: usize = 150;
    let w = sb.work.display().to_string();
    // A daemon that writes its open-file limit to work/NAME.nofile, then waits.
    let daemon = |name: &str, extra: &str| {
        let script = sb.script(
            &format!("{name}.sh"),
            &format!("#!/bin/sh\nulimit -n > {w}/{name}.nofile\nwhile :; do sleep 1000; done\n"),
        );
        sb.service(name, &format!("exec: {}\n{extra}", script.display()));
        link(&sb, "0", "K20", name);
    };
    for i in 0..N {
        let name = format!("t{i:03}");
        daemon(&name, "");
        link(&sb, "3", "S20", &name);
    }
    let r = run_with_nofile(&sb, 64, 64, &["boot", "3", "--jobs", "1024"]);
    let head: String = r
        .stdout
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .join("\n");
    let err: String = r.stderr.lines().take(5).collect::<Vec<_>>().join("\n");
    assert_eq!(r.code, 0, "{head}\n{err}");
    assert!(
        r.stdout
            .contains(&format!("Runlevel 3: started {N}, stopped 0, kept 0\n")),
        "{head}\n{err}"
    );
    assert!(r.stderr.contains("--jobs 1024: running "), "{err}");
    // What each daemon wrote once it ran (a switch does not wait for that: no readiness).
    let read = |f: &str| {
        let path = sb.work.join(f);
        let text = || {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        wait_until(Duration::from_secs(10), f, || !text().is_empty());
        text()
    };
    assert_eq!(read("t007.nofile"), "64");

    // A soft limit below the hard one: svc raises its own; the programs keep 64, or the
    // limit their definition sets.
    daemon("plain", "");
    daemon("own", "limits: { nofile: 100 }\n");
    link(&sb, "2", "S10", "plain");
    link(&sb, "2", "S10", "own");
    let r = run_with_nofile(&sb, 64, 4096, &["switch", "2", "--jobs", "1024"]);
    r.ok()
        .stdout_has("Runlevel 2: started 2, stopped 0, kept 0");
    assert_eq!(read("plain.nofile"), "64", "{}{}", r.stdout, r.stderr);
    assert_eq!(read("own.nofile"), "100");
    let r = run_with_nofile(&sb, 64, 64, &["switch", "0", "--jobs", "1024"]);
    let err: String = r.stderr.lines().take(5).collect::<Vec<_>>().join("\n");
    assert_eq!(r.code, 0, "{err}");
    assert!(
        r.stdout.contains(&format!("stopped {}", N + 2)),
        "{}",
        r.stdout.lines().last().unwrap_or_default()
    );
}

/// `svc switch 3`, sent SIGTERM once `name`'s daemon has started (its `NAME.pids` file); what
/// the switch did, within 10 s.
fn switch_3_sigtermed_once_started(sb: &Sandbox, name: &str) -> Run {
    let child = spawn_svc(sb, &["switch", "3"]);
    wait_for_file(
        &sb.work.join(format!("{name}.pids")),
        Duration::from_secs(10),
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    finish(child, &["switch", "3"], Duration::from_secs(10))
}

/// Issue 10 item 13: SIGTERM to a switch cancels it: nothing more starts, the readiness wait
/// (30 s here) is given up and what it launched stopped, the switch exits 1 at once without
/// recording the runlevel, and `svc runlevel` says it was interrupted.
#[test]
fn sigterm_cancels_a_switch_at_once() {
    let sb = Sandbox::new();
    daemon(&sb, "first", "");
    daemon_with(&sb, "slow", "sleep 100000 & wait $!", "ready_timeout: 30\n");
    daemon(&sb, "late", "");
    link(&sb, "3", "S10", "first");
    link(&sb, "3", "S20", "slow");
    link(&sb, "3", "S30", "late");
    let r = switch_3_sigtermed_once_started(&sb, "slow");
    r.code(1)
        .stderr_has("switch to runlevel 3 cancelled")
        .stdout_has("slow: start cancelled before it was ready");
    assert_eq!(started(&sb), ["first"]);
    assert_eq!(stopped(&sb), ["slow"]);
    assert_never_started(&sb, "late");
    assert!(running(&sb, "first"));
    assert!(!running(&sb, "slow"));
    assert!(record(&sb).is_none(), "{:?}", record(&sb));
    run(&sb, &["runlevel"]).stderr_has("was interrupted");
    run(&sb, &["stop", "first"]).ok();
}

/// Issue 10 item 13 for `forking: true`: SIGTERM also gives up the waits of a forking launch —
/// for a launcher that does not exit (`hang`) and for a PID file that never comes (`nopid`,
/// whose launcher left a daemon behind) — instead of waiting out their ready_timeout of 30 s.
/// What those launches created is stopped; the switch exits 1 at once.
#[test]
fn sigterm_cancels_the_waits_of_a_forking_launch() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    let sleeper = sb.script(
        "forked-daemon.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    let launchers = [
        (
            "hang",
            format!("#!/bin/sh\ntouch {w}/hang.waiting\nwhile :; do sleep 1 & wait $!; done\n"),
        ),
        (
            "nopid",
            format!(
                "#!/bin/sh\n{d} </dev/null >/dev/null 2>&1 &\necho $! > {w}/nopid.daemon\ntouch {w}/nopid.waiting\nexit 0\n",
                d = sleeper.display()
            ),
        ),
    ];
    let mut scripts = vec![sleeper.clone()];
    for (name, body) in &launchers {
        let script = sb.script(&format!("{name}.sh"), body);
        sb.service(
            name,
            &format!(
                "exec: {}\nforking: true\npidfile: {w}/{name}.pid\nready_timeout: 30\nstop_timeout: 2\n",
                script.display()
            ),
        );
        link(&sb, "3", "S20", name);
        scripts.push(script);
    }
    daemon(&sb, "late", "");
    link(&sb, "3", "S30", "late");
    let child = spawn_svc(&sb, &["switch", "3"]);
    for name in ["hang", "nopid"] {
        wait_for_file(
            &sb.work.join(format!("{name}.waiting")),
            Duration::from_secs(10),
        );
    }
    // The launcher of nopid has exited: svc waits for its PID file now.
    let daemon_pid = read_pid(&sb.work.join("nopid.daemon"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let r = finish(child, &["switch", "3"], Duration::from_secs(10));
    r.code(1)
        .stderr_has("switch to runlevel 3 cancelled")
        .stdout_has("hang: start cancelled before the launcher exited")
        .stdout_has("nopid: start cancelled before");
    assert_never_started(&sb, "late");
    assert!(!alive(daemon_pid), "nopid's daemon was left running");
    for s in &scripts {
        assert!(
            procs_with_arg(s).is_empty(),
            "{} left running\n{}{}",
            s.display(),
            r.stdout,
            r.stderr
        );
    }
}

/// Issue 10 item 13: a Ctrl-C at the terminal sends SIGINT to the switch's whole process group
/// — its workers, and the keeper of a forking launch under way, too. The switch cancels; the
/// keeper must not die of it and leave that launch's daemon to init: everything the launch
/// created is stopped.
#[test]
fn ctrl_c_cancels_a_switch_and_its_forking_launch_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    let daemon = sb.script(
        "cc-daemon.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    let launcher = sb.script(
        "cc.sh",
        &format!(
            "#!/bin/sh\nsetsid {d} </dev/null >/dev/null 2>&1 &\necho $! > {w}/cc.daemon\nwhile :; do sleep 1 & wait $!; done\n",
            d = daemon.display()
        ),
    );
    sb.service(
        "cc",
        &format!(
            "exec: {}\nforking: true\npidfile: {w}/cc.pid\nready_timeout: 30\nstop_timeout: 2\n",
            launcher.display()
        ),
    );
    link(&sb, "3", "S20", "cc");
    let child = sb
        .cmd(["switch", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let daemon_pid = read_pid(&sb.work.join("cc.daemon"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-(child.id() as i32)),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let r = finish(child, &["switch", "3"], Duration::from_secs(10));
    r.code(1).stderr_has("switch to runlevel 3 cancelled");
    wait_until(
        Duration::from_secs(10),
        "the launch's processes to be gone",
        || {
            !alive(daemon_pid)
                && procs_with_arg(&launcher).is_empty()
                && procs_with_arg(&daemon).is_empty()
        },
    );
}

/// Issue 10 item 13 for a supervised service (`respawn`): its readiness wait runs in its
/// supervisor, which must give it up too when the switch is cancelled, stopping the instance
/// (and itself), rather than make the switch wait out ready_timeout (30 s here).
#[test]
fn sigterm_cancels_the_readiness_wait_of_a_supervised_service() {
    let sb = Sandbox::new();
    let script = daemon_with(
        &sb,
        "sup",
        "sleep 100000 & wait $!",
        "respawn: true\nready_timeout: 30\nstop_timeout: 2\n",
    );
    daemon(&sb, "late", "");
    link(&sb, "3", "S20", "sup");
    link(&sb, "3", "S30", "late");
    let r = switch_3_sigtermed_once_started(&sb, "sup");
    r.code(1)
        .stderr_has("switch to runlevel 3 cancelled")
        .stdout_has("sup: start cancelled before it was ready");
    assert_never_started(&sb, "late");
    wait_until(
        Duration::from_secs(10),
        "sup and its supervisor to be gone",
        || procs_with_arg(&script).is_empty() && run(&sb, &["status", "sup"]).code == 3,
    );
}
