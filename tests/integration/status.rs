use crate::util::*;

use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

/// Kills the daemon (and its group) behind svc's back and waits until it is gone.
fn kill_behind_svcs_back(pid: i32) {
    // SAFETY: kill(2) of a process group the test created through svc and checked alive.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until(T, "killed daemon to die", || !alive(pid));
}

/// A sleeper that also traps HUP and appends a line to work/NAME.hup.
fn hup_daemon(sb: &Sandbox, name: &str, reload_signal: bool) -> PathBuf {
    let w = sb.work.display();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo hup >> {w}/{name}.hup' HUP\ntrap 'echo term > {w}/{name}.term; exit 0' TERM\necho $$ > {w}/{name}.started\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    let mut def = format!("exec: {}\nstop_timeout: 3\n", script.display());
    if reload_signal {
        def.push_str("reload_signal: HUP\n");
    }
    sb.service(name, &def);
    sb.work.join(format!("{name}.hup"))
}

fn json(r: &Run) -> Vec<Value> {
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("svc {:?}: stdout is not JSON ({e}):\n{}", r.args, r.stdout));
    v.as_array()
        .unwrap_or_else(|| panic!("svc {:?}: not a JSON array:\n{}", r.args, r.stdout))
        .clone()
}

fn entry<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no entry for {name} in {items:?}"))
}

// ---------------------------------------------------------------------------------------------
// Human status lines and exit codes 0/1/3/4 (docs/commands.md).

#[test]
fn status_lines_and_codes_running_stopped_dead_unknown() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));

    sb.svc(["status", "x"]).code(3).stdout_has("x is stopped");

    let pid = start_sleeper(&sb, "x");
    let started: i32 = std::fs::read_to_string(sb.work.join("x.started"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, started, "the PID file does not name the daemon");
    sb.svc(["status", "x"])
        .ok()
        .stdout_has(&format!("x is running (pid {pid}, up "));

    kill_behind_svcs_back(pid);
    sb.svc(["status", "x"])
        .code(1)
        .stdout_has("x is dead but pid file exists");

    sb.svc(["status", "nosuch"]).code(4).stderr_has("nosuch");

    // stop clears the dead state; status is then "stopped".
    sb.svc(["stop", "x"]).ok();
    sb.svc(["status", "x"]).code(3).stdout_has("x is stopped");
}

#[test]
fn status_without_names_prints_a_table_of_all_services() {
    let sb = Sandbox::new();
    for n in ["charlie", "alpha", "bravo"] {
        sb.service(n, &sb.sleeper(n));
    }
    // Not definitions: ignored.
    std::fs::write(sb.config.join("init.d/README"), "notes\n").unwrap();
    let pid = start_sleeper(&sb, "bravo");

    let r = sb.svc(["status"]);
    r.ok();
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let header: Vec<&str> = lines
        .first()
        .expect("a header")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "PID", "UPTIME", "RUNLEVELS"],
        "header:\n{}",
        r.stdout
    );
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["alpha", "bravo", "charlie"], "rows:\n{}", r.stdout);
    assert_eq!(rows[1][1], "running", "bravo row: {:?}", rows[1]);
    assert_eq!(rows[1][2], pid.to_string(), "bravo row: {:?}", rows[1]);
    assert_eq!(rows[0][1], "stopped", "alpha row: {:?}", rows[0]);
    assert_eq!(rows[2][1], "stopped", "charlie row: {:?}", rows[2]);
    sb.svc(["stop", "bravo"]).ok();
}

#[test]
fn status_json_has_name_state_pid_uptime() {
    let sb = Sandbox::new();
    sb.service("run", &sb.sleeper("run"));
    sb.service("off", &sb.sleeper("off"));
    sb.service("dead", &sb.sleeper("dead"));
    let pid = start_sleeper(&sb, "run");
    let dead = start_sleeper(&sb, "dead");
    kill_behind_svcs_back(dead);

    let r = sb.svc(["status", "--json", "run", "off", "dead"]);
    r.code(3);
    let items = json(&r);
    assert_eq!(items.len(), 3, "{}", r.stdout);
    let names: Vec<&str> = items.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["run", "off", "dead"], "argument order");

    let run = entry(&items, "run");
    assert_eq!(run["state"], "running");
    assert_eq!(run["pid"].as_i64(), Some(pid as i64));
    assert!(run["uptime_s"].as_f64().is_some_and(|u| u >= 0.0), "{run}");

    let off = entry(&items, "off");
    assert_eq!(off["state"], "stopped");
    assert!(off["pid"].is_null(), "{off}");
    assert!(off["uptime_s"].is_null(), "{off}");

    let d = entry(&items, "dead");
    assert_eq!(d["state"], "dead");
    assert!(d["uptime_s"].is_null(), "{d}");

    // Single names keep the status exit codes.
    sb.svc(["status", "--json", "run"]).ok();
    sb.svc(["status", "--json", "off"]).code(3);
    sb.svc(["status", "--json", "dead"]).code(1);

    // Without names: every definition.
    let r = sb.svc(["status", "--json"]);
    r.ok();
    let all = json(&r);
    let mut names: Vec<&str> = all.iter().map(|v| v["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["dead", "off", "run"]);

    // Uptime is real: it grows past one second.
    wait_until(T, "uptime_s >= 1", || {
        let r = sb.svc(["status", "--json", "run"]);
        json(&r)[0]["uptime_s"].as_f64().is_some_and(|u| u >= 1.0)
    });
    sb.svc(["stop", "run", "dead"]).ok();
}

// ---------------------------------------------------------------------------------------------
// reload, force-reload, try-restart, restart (docs/commands.md).

#[test]
fn reload_sends_the_reload_signal() {
    let sb = Sandbox::new();
    let hup = hup_daemon(&sb, "h", true);
    let pid = start_sleeper(&sb, "h");
    sb.svc(["reload", "h"]).ok().no_panic();
    wait_for_file(&hup, T);
    assert!(alive(pid), "reload killed the daemon");
    assert_eq!(sb.pid("h"), pid, "reload changed the PID");
    assert!(!sb.work.join("h.term").exists(), "reload sent TERM");
    sb.svc(["stop", "h"]).ok();
}

#[test]
fn reload_without_reload_signal_exits_3_running_or_not() {
    let sb = Sandbox::new();
    let hup = hup_daemon(&sb, "n", false);
    sb.svc(["reload", "n"]).code(3).no_panic();
    let pid = start_sleeper(&sb, "n");
    sb.svc(["reload", "n"]).code(3);
    assert!(alive(pid), "reload without reload_signal hurt the daemon");
    assert!(!hup.exists(), "a signal was sent");
    sb.svc(["stop", "n"]).ok();
}

#[test]
fn reload_when_not_running_exits_7() {
    let sb = Sandbox::new();
    let hup = hup_daemon(&sb, "h", true);
    sb.svc(["reload", "h"]).code(7).no_panic();
    assert!(!pidfile_exists(&sb, "h"), "reload started the service");
    // Dead with a PID file: still not running.
    let pid = start_sleeper(&sb, "h");
    kill_behind_svcs_back(pid);
    sb.svc(["reload", "h"]).code(7);
    assert!(!hup.exists());
    sb.svc(["reload", "nosuch"]).code(5);
}

#[test]
fn force_reload_reloads_when_it_can() {
    let sb = Sandbox::new();
    let hup = hup_daemon(&sb, "h", true);
    let pid = start_sleeper(&sb, "h");
    sb.svc(["force-reload", "h"]).ok();
    wait_for_file(&hup, T);
    assert_eq!(
        sb.pid("h"),
        pid,
        "force-reload restarted instead of reloading"
    );
    assert!(alive(pid));
    sb.svc(["stop", "h"]).ok();
}

#[test]
fn force_reload_without_reload_signal_restarts() {
    let sb = Sandbox::new();
    hup_daemon(&sb, "n", false);
    let old = start_sleeper(&sb, "n");
    sb.svc(["force-reload", "n"]).ok();
    let new = sb.pid("n");
    assert_ne!(
        new, old,
        "force-reload without reload_signal did not restart"
    );
    assert!(!alive(old), "old daemon still alive");
    assert!(
        sb.work.join("n.term").exists(),
        "old daemon was not sent TERM"
    );
    assert!(alive(new));
    sb.svc(["status", "n"]).ok();
    sb.svc(["stop", "n"]).ok();
}

#[test]
fn try_restart_when_stopped_does_nothing() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    sb.svc(["try-restart", "x"]).ok().no_panic();
    assert!(
        !pidfile_exists(&sb, "x"),
        "try-restart started a stopped service"
    );
    assert!(
        !sb.work.join("x.started").exists(),
        "try-restart started a stopped service"
    );
    sb.svc(["status", "x"]).code(3);
}

#[test]
fn try_restart_when_running_restarts() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    let old = start_sleeper(&sb, "x");
    sb.svc(["try-restart", "x"]).ok();
    let new = sb.pid("x");
    assert_ne!(new, old);
    assert!(!alive(old), "old daemon still alive after try-restart");
    assert!(alive(new));
    sb.svc(["stop", "x"]).ok();
}

#[test]
fn restart_when_stopped_starts_and_when_running_replaces() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    sb.svc(["restart", "x"]).ok();
    let first = sb.pid("x");
    assert!(
        alive(first),
        "restart of a stopped service did not start it"
    );
    sb.svc(["status", "x"]).ok();
    sb.svc(["restart", "x"]).ok();
    let second = sb.pid("x");
    assert_ne!(first, second);
    assert!(!alive(first), "restart left the old daemon");
    assert!(alive(second));
    sb.svc(["stop", "x"]).ok();
    assert!(!alive(second));
}

/// Issue 10 ("never block on what another user controls"): a FIFO planted at a service's
/// identity record or lock file in the state directory never hangs `status`, `stop` or
/// `start`: each answers at once, and the lock that is not a regular file is named.
#[test]
fn fifos_in_the_state_directory_never_block() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    std::fs::create_dir_all(&sb.state).unwrap();
    let fifo = |path: &std::path::Path| {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    let run = |args: &[&str]| {
        let child = spawn_svc(&sb, args);
        finish(child, args, Duration::from_secs(10))
    };
    fifo(&sb.state.join("x.state"));
    fifo(&sb.state.join("x.lock"));
    run(&["status", "x"]).code(3);
    run(&["start", "x"])
        .code(1)
        .stderr_has("x.lock")
        .stderr_has("not a regular file");
    assert!(!pidfile_exists(&sb, "x"), "nothing was started");
    std::fs::remove_file(sb.state.join("x.lock")).unwrap();
    // The record is no regular file either: start does not wait on it and replaces it.
    run(&["start", "x"]).ok();
    run(&["status", "x"]).ok();
    run(&["stop", "x"]).ok();
}

// ---------------------------------------------------------------------------------------------
// `status NAME`: the detailed block (SPEC §8.6, docs/commands.md "status").

/// A daemon that writes six log lines and forks one long-lived child: two processes in its
/// group. Returns the file holding the child's PID.
fn forking_daemon(sb: &Sandbox, name: &str) -> PathBuf {
    let w = sb.work.display();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'kill $c; exit 0' TERM\nfor i in 1 2 3 4 5 6; do echo line $i; done\nsleep 1000 &\nc=$!\necho $c > {w}/{name}.child\necho $$ > {w}/{name}.started\nwait\n"
        ),
    );
    sb.service(
        name,
        &format!(
            "description: A forking test daemon\nexec: {}\nstop_timeout: 3\n",
            script.display()
        ),
    );
    sb.work.join(format!("{name}.child"))
}

#[test]
fn one_name_shows_the_detailed_block() {
    let sb = Sandbox::new();
    let child = forking_daemon(&sb, "x");
    sb.service("y", &sb.sleeper("y"));
    let pid = start_sleeper(&sb, "x");
    wait_for_file(&child, T);
    let log = sb.log.join("x.log");
    wait_until(T, "six lines in the log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("line 6"))
    });

    let r = sb.svc(["status", "x"]);
    r.ok()
        .stdout_has(&format!("x is running (pid {pid}, up "))
        .stdout_has("  description: A forking test daemon\n")
        .stdout_has(&format!("  main pid: {pid}\n"))
        .stdout_has("  processes: 2\n")
        .stdout_has(" UTC (")
        .stdout_has(&format!("  log: {}\n", log.display()))
        .stdout_has("    line 2\n    line 3\n    line 4\n    line 5\n    line 6\n");
    assert!(
        !r.stdout.contains("line 1"),
        "more than 5 log lines:\n{}",
        r.stdout
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("x is running"), "{}", r.stdout);
    let since = lines
        .iter()
        .find_map(|l| l.strip_prefix("  since: "))
        .unwrap_or_else(|| panic!("no since line:\n{}", r.stdout));
    assert!(since.ends_with(" ago)"), "{since}");
    let memory = lines
        .iter()
        .find_map(|l| l.strip_prefix("  memory: "))
        .unwrap_or_else(|| panic!("no memory line:\n{}", r.stdout));
    let value: f64 = memory.split(' ').next().unwrap().parse().unwrap();
    assert!(value > 0.0, "memory {memory}");
    assert!(memory.ends_with("iB") || memory.ends_with(" B"), "{memory}");

    // A stopped service: its state and description, no PID or usage.
    let r = sb.svc(["status", "y"]);
    r.code(3).stdout_has("y is stopped");
    for absent in ["main pid", "processes:", "memory:", "since:"] {
        assert!(!r.stdout.contains(absent), "{absent} in\n{}", r.stdout);
    }

    // Several names: one line each, no block.
    let r = sb.svc(["status", "x", "y"]);
    r.code(3);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(!r.stdout.contains("main pid"), "{}", r.stdout);

    // --quiet prints nothing.
    assert_eq!(sb.svc(["-q", "status", "x"]).stdout, "");
    sb.svc(["stop", "x"]).ok();
}

#[test]
fn json_has_since_processes_and_memory() {
    let sb = Sandbox::new();
    let child = forking_daemon(&sb, "x");
    sb.service("y", &sb.sleeper("y"));
    let pid = start_sleeper(&sb, "x");
    wait_for_file(&child, T);

    for args in [
        vec!["status", "--json", "x"],
        vec!["status", "--json", "x", "y"],
        vec!["status", "--json"],
    ] {
        let r = sb.svc(&args);
        let items = json(&r);
        let x = entry(&items, "x");
        assert_eq!(x["pid"], pid, "{args:?}: {x}");
        assert_eq!(x["processes"], 2, "{args:?}: {x}");
        assert!(x["memory_bytes"].as_u64().unwrap() > 0, "{args:?}: {x}");
        let since = x["since"].as_str().unwrap_or_else(|| panic!("{x}"));
        assert!(since.ends_with('Z') && since.contains('T'), "{since}");
        if args.len() != 3 {
            let y = entry(&items, "y");
            for k in ["since", "processes", "memory_bytes"] {
                assert!(y[k].is_null(), "{args:?}: y.{k} = {}", y[k]);
            }
        }
    }
    sb.svc(["stop", "x"]).ok();
}

/// A log line's escape sequences are not passed to the terminal.
#[test]
fn log_tail_escapes_control_characters() {
    let sb = Sandbox::new();
    let script = sb.script(
        "e.sh",
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\nprintf 'red \\033[31m!\\n'\necho $$ > {}/e.started\nwhile :; do sleep 1 & wait $!; done\n",
            sb.work.display()
        ),
    );
    sb.service("e", &format!("exec: {}\n", script.display()));
    start_sleeper(&sb, "e");
    let log = sb.log.join("e.log");
    wait_until(T, "the line in the log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("red"))
    });
    let r = sb.svc(["status", "e"]);
    r.ok().stdout_has("    red \\x1b[31m!\n");
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    sb.svc(["stop", "e"]).ok();
}

/// A supervised service's block has its restarts and its health check's verdict, in order.
#[test]
fn detailed_block_of_a_supervised_service_has_restarts_and_health() {
    let sb = Sandbox::new();
    let child = forking_daemon(&sb, "s");
    let def = std::fs::read_to_string(sb.config.join("init.d/s.yaml")).unwrap();
    sb.service(
        "s",
        &format!("{def}respawn: true\nhealth:\n  exec: [/bin/true]\n"),
    );
    let pid = start_sleeper(&sb, "s");
    wait_for_file(&child, T);
    let r = sb.svc(["status", "s"]);
    r.ok()
        .stdout_has(&format!("  main pid: {pid}\n"))
        .stdout_has("  processes: 2\n")
        .stdout_has("  restarts: 0, supervisor pid ")
        .stdout_has("  health: ");
    let at = |what: &str| {
        r.stdout
            .find(what)
            .unwrap_or_else(|| panic!("{what} not in\n{}", r.stdout))
    };
    assert!(at("  memory: ") < at("  restarts: ") && at("  restarts: ") < at("  health: "));
    assert!(at("  health: ") < at("  log: "), "{}", r.stdout);
    assert_eq!(r.stdout.matches("restarts:").count(), 1, "{}", r.stdout);
    sb.svc(["stop", "s"]).ok();
}

/// The log tail is read as `svc logs` reads it: never through a symlink (issue 8), and a log
/// that cannot be read is named, with the exit code of the status unchanged.
#[test]
fn log_tail_never_follows_a_symlink() {
    let sb = Sandbox::new();
    sb.service("s", &sb.sleeper("s"));
    let secret = sb.work.join("shadow");
    std::fs::write(&secret, "root:SECRET:19000::::::\n").unwrap();
    std::fs::create_dir_all(&sb.log).unwrap();
    std::os::unix::fs::symlink(&secret, sb.log.join("s.log")).unwrap();
    let r = sb.svc(["status", "s"]);
    r.code(3)
        .stdout_has("s is stopped")
        .stdout_has("  log: ")
        .stdout_has("symbolic link");
    assert!(!r.stdout.contains("SECRET"), "{}", r.stdout);
}
