//! Start and stop (docs/commands.md, docs/security.md) and the lifecycle faults of fault group B:
//! daemons that exit at once, exec failures, process groups, concurrent and interleaved
//! commands, daemons that ignore TERM or are stopped, a full state disk, svc itself killed or
//! interrupted, and binary output.

use crate::util::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon script in work/NAME.sh: prints `out PID` to stdout and `err PID` to stderr, records
/// its PID in work/NAME.started, and exits on TERM after appending `term PID` to work/NAME.term.
fn chatty(sb: &Sandbox, name: &str) -> PathBuf {
    sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo term $$ >> {w}/{name}.term; exit 0' TERM\necho out $$\necho err $$ >&2\necho $$ > {w}/{name}.started\nwhile :; do sleep 1 & wait $!; done\n",
            w = sb.work.display()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// start basics

/// §3.1.3, §3.1.4: the PID file holds the daemon's PID as decimal text and a newline, mode
/// 0644; the daemon leads its own session and process group, reads /dev/null and writes to an
/// appending log.
#[test]
fn start_writes_pid_file_and_detaches_the_daemon() {
    let sb = Sandbox::new();
    let script = chatty(&sb, "web");
    sb.service("web", &format!("exec: {}\n", script.display()));

    run(&sb, &["start", "web"])
        .ok()
        .stdout_has("Starting web")
        .stdout_has("[ OK ]");

    let text = std::fs::read_to_string(sb.pidfile("web")).expect("PID file after start");
    assert!(
        text.ends_with('\n')
            && text.len() > 1
            && !text.starts_with('0')
            && text[..text.len() - 1].bytes().all(|b| b.is_ascii_digit()),
        "PID file is not decimal text and one newline: {text:?}"
    );
    let pid: i32 = text.trim().parse().unwrap();
    assert_eq!(
        pid,
        read_pid(&sb.work.join("web.started")),
        "PID file names another process"
    );

    let meta = std::fs::symlink_metadata(sb.pidfile("web")).unwrap();
    assert!(meta.file_type().is_file(), "PID file is not a regular file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644, "PID file mode");
    assert_eq!(
        meta.uid(),
        nix::unistd::geteuid().as_raw(),
        "PID file owner"
    );

    let st = proc_stat(pid).expect("daemon in /proc");
    assert_eq!(
        (st.session, st.pgrp),
        (pid, pid),
        "daemon must lead its session and group"
    );
    assert_eq!(
        stat_field(pid, 7).as_deref(),
        Some("0"),
        "daemon has a controlling terminal"
    );

    let fd = |n: u32| std::fs::read_link(format!("/proc/{pid}/fd/{n}")).unwrap();
    assert_eq!(fd(0), Path::new("/dev/null"), "stdin");
    assert_eq!(fd(1), sb.logfile("web"), "stdout");
    assert_eq!(fd(2), sb.logfile("web"), "stderr");
    for n in [1, 2] {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}")).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert!(
            flags & libc::O_APPEND as u32 != 0,
            "fd {n} of the daemon is not O_APPEND"
        );
    }

    run(&sb, &["status", "web"])
        .ok()
        .stdout_has(&format!("web is running (pid {pid}"));
    run(&sb, &["stop", "web"])
        .ok()
        .stdout_has("Stopping web")
        .stdout_has("[ OK ]");
    assert!(!alive(pid), "daemon survived stop");
    assert_gone(&sb, "web", pid);
    run(&sb, &["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
}

/// docs/commands.md: the log is appended to — what was there stays, and a second start adds
/// to it.
#[test]
fn log_is_appended_across_starts() {
    let sb = Sandbox::new();
    let script = chatty(&sb, "app");
    sb.service("app", &format!("exec: {}\n", script.display()));
    std::fs::create_dir_all(&sb.log).unwrap();
    std::fs::write(sb.logfile("app"), "written before svc\n").unwrap();
    let log = || std::fs::read_to_string(sb.logfile("app")).unwrap_or_default();

    run(&sb, &["start", "app"]).ok();
    let first = sb.pid("app");
    wait_until(Duration::from_secs(10), "first daemon's output", || {
        log().contains(&format!("out {first}\n")) && log().contains(&format!("err {first}\n"))
    });
    run(&sb, &["stop", "app"]).ok();

    run(&sb, &["start", "app"]).ok();
    let second = sb.pid("app");
    assert_ne!(first, second);
    wait_until(Duration::from_secs(10), "second daemon's output", || {
        log().contains(&format!("out {second}\n")) && log().contains(&format!("err {second}\n"))
    });
    let text = log();
    assert!(
        text.starts_with("written before svc\n"),
        "log was truncated:\n{text}"
    );
    assert!(
        text.contains(&format!("out {first}\n")),
        "first run's output lost:\n{text}"
    );
    run(&sb, &["stop", "app"]).ok();
}

// ---------------------------------------------------------------------------------------------
// B1, B2: programs that do not get going

/// B1: a program that exits at once, with a readiness check: `start` fails at once (long before
/// ready_timeout), quotes the end of its log, and leaves nothing that looks like a running
/// service.
#[test]
fn b1_program_that_exits_at_once_fails_start() {
    let sb = Sandbox::new();
    let script = sb.script(
        "broken.sh",
        "#!/bin/sh\necho 'reading /etc/broken.conf'\necho 'fatal: broken.conf line 3: syntax error' >&2\nexit 1\n",
    );
    sb.service(
        "broken",
        &format!(
            "exec: {}\nready: {{ file: {}/never }}\nready_timeout: 30\n",
            script.display(),
            sb.work.display()
        ),
    );

    let t = Instant::now();
    let r = run(&sb, &["start", "broken"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "start waited {:?} for a program that had exited",
        t.elapsed()
    );
    assert_ne!(
        r.code, 0,
        "start of a program that exits at once succeeded:\n{}",
        r.stdout
    );
    r.no_panic()
        .stdout_has("[FAILED]")
        .stderr_has("exited with status 1")
        .stderr_has("fatal: broken.conf line 3: syntax error");
    assert!(
        !sb.pidfile("broken").exists(),
        "PID file left by a failed start"
    );
    run(&sb, &["status", "broken"]).code(3);
}

/// B1 without a readiness check: start does not wait (like start-stop-daemon --background; see
/// the README), so it may report the launch as done. But the service is never reported running
/// once the program is gone: either start already saw the exit and failed, or status says dead.
#[test]
fn b1_program_that_exits_at_once_is_never_reported_running() {
    let sb = Sandbox::new();
    let script = sb.script(
        "broken.sh",
        "#!/bin/sh\necho 'fatal: no config' >&2\nexit 1\n",
    );
    sb.service("broken", &format!("exec: {}\n", script.display()));
    let r = run(&sb, &["start", "broken"]);
    r.no_panic();
    if r.code == 0 {
        let pid = read_pid(&sb.pidfile("broken"));
        wait_until(Duration::from_secs(10), "the program to exit", || {
            !alive(pid)
        });
        run(&sb, &["status", "broken"])
            .code(1)
            .stdout_has("broken is dead but pid file exists");
    } else {
        r.stderr_has("fatal: no config");
        run(&sb, &["status", "broken"]).code(3);
    }
}

/// B2: `exec` that does not exist: LSB 5, the message names the path, reported at once.
#[test]
fn b2_missing_program_is_not_installed() {
    let sb = Sandbox::new();
    let missing = sb.work.join("no-such-daemon");
    sb.service("ghost", &format!("exec: {}\n", missing.display()));

    let (r, took) = timed(&sb, &["start", "ghost"]);
    r.code(5)
        .no_panic()
        .stderr_has(&missing.display().to_string());
    assert!(
        took < Duration::from_millis(1500),
        "exec failure took {took:?} to report"
    );
    assert!(!sb.pidfile("ghost").exists());
    run(&sb, &["status", "ghost"]).code(3);
}

/// B2: `exec` that is not executable (mode 0644, even for root): LSB 5 naming the path.
#[test]
fn b2_program_without_execute_permission_is_not_installed() {
    let sb = Sandbox::new();
    let script = sb.script("noexec.sh", "#!/bin/sh\necho ran\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    sb.service("noexec", &format!("exec: {}\n", script.display()));

    let (r, took) = timed(&sb, &["start", "noexec"]);
    r.code(5)
        .no_panic()
        .stderr_has(&script.display().to_string());
    assert!(
        took < Duration::from_millis(1500),
        "exec failure took {took:?} to report"
    );
    assert!(!sb.pidfile("noexec").exists());
    assert!(procs_with_arg(&script).is_empty());
}

/// B2: an executable without a `#!` line: execve fails with ENOEXEC, which `start` reports
/// as a generic failure (1) quoting the OS error — no silent fallback to /bin/sh.
#[test]
fn b2_script_without_shebang_fails_with_exec_format_error() {
    let sb = Sandbox::new();
    let marker = sb.work.join("shebangless.ran");
    let script = sb.script("shebangless", &format!("echo ran > {}\n", marker.display()));
    sb.service("shebangless", &format!("exec: {}\n", script.display()));

    let (r, took) = timed(&sb, &["start", "shebangless"]);
    r.code(1).no_panic();
    assert!(
        r.stderr.to_lowercase().contains("exec format error"),
        "stderr does not quote ENOEXEC:\n{}",
        r.stderr
    );
    assert!(
        took < Duration::from_millis(1500),
        "exec failure took {took:?} to report"
    );
    assert!(!sb.pidfile("shebangless").exists());
    assert!(!marker.exists(), "the script was run by a shell anyway");
}

/// Issue 10 item 11: an execute-only program (mode 0111) that svc, not being root, cannot
/// read is no "Exec format error": svc lets execve decide, and the program runs. As root svc
/// could read it anyway, so the test runs svc as the ordinary test user then (util::user).
#[test]
fn execute_only_program_runs_for_a_non_root_svc() {
    let Some(user) = ordinary_user("execute_only_program_runs_for_a_non_root_svc") else {
        return;
    };
    let sb = Sandbox::new();
    let (state, log) = (sb.path().join("user-state"), sb.path().join("user-log"));
    let prog = sb.work.join("xonly-sleep");
    std::fs::copy("/bin/sleep", &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o111)).unwrap();
    // The sandbox is private to root: let the user through to its own directories only.
    sb.open_to_others();
    for d in [&sb.config, &sb.work] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for d in [&state, &log] {
        std::fs::create_dir(d).unwrap();
        user.chown(d);
    }
    sb.service(
        "xonly",
        &format!("exec: {}\nargs: [\"300\"]\n", prog.display()),
    );
    let svc = |args: &[&str]| -> Run {
        let mut c = sb.user_command(&user);
        c.env("HOME", "/nonexistent")
            .arg("--config-dir")
            .arg(&sb.config)
            .arg("--state-dir")
            .arg(&state)
            .arg("--log-dir")
            .arg(&log)
            .args(args);
        output(c, display_args(args), SVC_LIMIT)
    };
    let r = svc(&["start", "xonly"]);
    r.ok().stdout_has("[ OK ]");
    let pid = read_pid(&state.join("xonly.pid"));
    assert_eq!(procs_with_arg(&prog), vec![pid], "the program does not run");
    svc(&["status", "xonly"])
        .ok()
        .stdout_has(&format!("xonly is running (pid {pid}"));
    svc(&["stop", "xonly"]).ok();
    assert!(!alive(pid));
}

/// Issue 10 item 11: a failure to read the program's first bytes (here EMFILE, provoked with a
/// tiny descriptor limit) is reported as itself, never as a false "Exec format error".
#[test]
fn unreadable_program_header_reports_the_real_error() {
    let sb = Sandbox::new();
    sb.service("lim", "exec: /bin/sleep\nargs: [\"300\"]\n");
    // Which step runs out of descriptors first depends on how many svc holds by then: try a
    // few limits; none may blame the program's format.
    let mut saw_emfile = false;
    for n in 4..=8 {
        let limit = format!("ulimit -n {n}; exec \"$@\"");
        let out = bounded_output(
            sb.wrapped("sh", &["-c", &limit, "sh"])
                .args(["start", "lim"]),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.to_lowercase().contains("exec format error"),
            "ulimit -n {n}: a false ENOEXEC:\n{stderr}"
        );
        saw_emfile |= stderr.contains("Too many open files");
        sb.svc(["stop", "lim"]);
    }
    assert!(saw_emfile, "no limit made svc run out of descriptors");
}

/// Issue 10 item 14b: a state directory whose path is not UTF-8 (byte 0xff) works like any
/// other: start records the daemon, the daemon gets the exact bytes in `SVC_STATE_DIR` and
/// `NOTIFY_SOCKET`, status and stop find it; a supervised service too.
#[test]
fn state_directory_with_non_utf8_bytes_works() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let state = sb.path().join(OsStr::from_bytes(b"state-\xff"));
    let seen = sb.work.join("env.seen");
    let script = sb.script(
        "bytes.py",
        &format!(
            "#!/usr/bin/python3\nimport os, signal, socket\nopen('{s}', 'wb').write(os.environb[b'SVC_STATE_DIR'])\naddr = os.environb[b'NOTIFY_SOCKET']\nif addr.startswith(b'@'):\n    addr = b'\\0' + addr[1:]\nsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', addr)\nwhile True:\n    signal.pause()\n",
            s = seen.display()
        ),
    );
    sb.service(
        "bytes",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\n",
            script.display()
        ),
    );
    sb.service(
        "kept",
        &format!("{}respawn: true\nstop_timeout: 3\n", sb.sleeper("kept")),
    );
    let svc = |args: &[&str]| svc_in(&sb.config, &state, &sb.log, args);
    svc(&["check"]).ok();
    svc(&["start", "bytes"]).ok().stdout_has("[ OK ]");
    let pid = read_pid(&state.join("bytes.pid"));
    assert_eq!(
        std::fs::read(&seen).unwrap(),
        state.as_os_str().as_bytes(),
        "SVC_STATE_DIR lost bytes"
    );
    svc(&["status", "bytes"])
        .ok()
        .stdout_has(&format!("bytes is running (pid {pid}"));
    svc(&["stop", "bytes"]).ok();
    assert!(!alive(pid));
    svc(&["status", "bytes"]).code(3);

    svc(&["start", "kept"]).ok();
    let kept = read_pid(&sb.work.join("kept.started"));
    svc(&["status", "kept"])
        .ok()
        .stdout_has(&format!("kept is running (pid {kept}"));
    svc(&["stop", "kept"]).ok();
    assert!(!alive(kept));
}

// ---------------------------------------------------------------------------------------------
// B3: the process group

/// B3: a daemon with children in its process group (which ignore TERM themselves): after
/// `stop`, no process of the group is left.
#[test]
fn b3_stop_leaves_no_process_of_the_group() {
    let sb = Sandbox::new();
    let child = sb.script(
        "child.sh",
        "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n",
    );
    let script = sb.script(
        "parent.sh",
        &format!(
            "#!/bin/sh\n{c} &\necho $! >> {w}/children\n{c} &\necho $! >> {w}/children\nsleep 1000 &\necho $! >> {w}/children\ntrap 'exit 0' TERM\necho $$ > {w}/parent.started\nwhile :; do sleep 1 & wait $!; done\n",
            c = child.display(),
            w = sb.work.display()
        ),
    );
    sb.service(
        "family",
        &format!(
            "exec: {}\nworkdir: {}\nstop_timeout: 2\n",
            script.display(),
            sb.work.display()
        ),
    );

    run(&sb, &["start", "family"]).ok();
    let pid = read_pid(&sb.work.join("parent.started"));
    let children: Vec<i32> = std::fs::read_to_string(sb.work.join("children"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(children.len(), 3);
    for c in &children {
        assert_eq!(
            proc_stat(*c).map(|s| s.pgrp),
            Some(pid),
            "child {c} not in the group"
        );
    }

    run(&sb, &["stop", "family"]).ok();
    for c in &children {
        assert!(!alive(*c), "child {c} survived stop");
    }
    assert_gone(&sb, "family", pid);
}

// ---------------------------------------------------------------------------------------------
// B5, B6: concurrency

/// B5: twenty `svc start X` at once start X exactly once, and the PID file names that daemon.
#[test]
fn b5_concurrent_starts_start_one_daemon() {
    let sb = Sandbox::new();
    sb.service("once", &sb.sleeper("once"));
    let script = sb.work.join("once.sh");

    let children: Vec<Child> = (0..20)
        .map(|_| spawn_svc(&sb, &["start", "once"]))
        .collect();
    for c in children {
        finish(c, &["start", "once"], SVC_LIMIT).ok().no_panic();
    }

    let daemons = procs_with_arg(&script);
    assert_eq!(
        daemons.len(),
        1,
        "daemons running after 20 starts: {daemons:?}"
    );
    assert_eq!(sb.pid("once"), daemons[0], "PID file names another process");
    run(&sb, &["stop", "once"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// B6: a burst of random parallel start/stop/restart/status; afterwards the PID file and /proc
/// agree and at most one daemon runs.
#[test]
fn b6_random_parallel_operations_leave_a_consistent_state() {
    let sb = Sandbox::new();
    sb.service("busy", &sb.sleeper("busy"));
    let script = sb.work.join("busy.sh");

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("random_parallel_operations seed {seed}");
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ops = ["start", "stop", "restart", "status"];
    let mut pending: Vec<(&str, Child)> = Vec::new();
    for _ in 0..8 {
        // rounds of up to 6 commands in parallel
        for _ in 0..6 {
            let op = ops[(next() % 4) as usize];
            pending.push((op, spawn_svc(&sb, &[op, "busy"])));
        }
        for (op, c) in pending.drain(..) {
            let r = finish(c, &[op, "busy"], SVC_LIMIT);
            r.no_panic();
            let allowed: &[i32] = if op == "status" { &[0, 1, 3] } else { &[0] };
            assert!(
                allowed.contains(&r.code),
                "svc {op} busy exited {}:\n{}{}",
                r.code,
                r.stdout,
                r.stderr
            );
        }
        let daemons = procs_with_arg(&script);
        assert!(daemons.len() <= 1, "several daemons: {daemons:?}");
    }

    let daemons = procs_with_arg(&script);
    let status = run(&sb, &["status", "busy"]);
    match daemons.as_slice() {
        [] => {
            status.code(3);
            assert!(
                !sb.pidfile("busy").exists(),
                "PID file of a stopped service"
            );
        }
        [pid] => {
            status.ok().stdout_has(&format!("(pid {pid}"));
            assert_eq!(sb.pid("busy"), *pid);
        }
        many => panic!("several daemons: {many:?}"),
    }
    run(&sb, &["stop", "busy"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

// ---------------------------------------------------------------------------------------------
// B7, B8, B9: stop

/// B7: a daemon that ignores TERM is killed after `stop_timeout`, not much later.
#[test]
fn b7_daemon_ignoring_term_is_killed_after_stop_timeout() {
    let sb = Sandbox::new();
    let script = sb.script(
        "stubborn.sh",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho $$ > {}/stubborn.started\nwhile :; do sleep 1; done\n",
            sb.work.display()
        ),
    );
    sb.service(
        "stubborn",
        &format!("exec: {}\nstop_timeout: 1\n", script.display()),
    );
    run(&sb, &["start", "stubborn"]).ok();
    let pid = read_pid(&sb.work.join("stubborn.started"));

    let (r, took) = timed(&sb, &["stop", "stubborn"]);
    r.ok();
    assert!(
        took >= Duration::from_millis(900),
        "KILL before stop_timeout ({took:?})"
    );
    assert!(
        took < Duration::from_secs(3),
        "stop took {took:?} with stop_timeout 1s"
    );
    assert!(!alive(pid));
    assert_gone(&sb, "stubborn", pid);
}

/// B8: a SIGSTOPped daemon gets SIGCONT after TERM, so it handles TERM itself and stop returns
/// long before the KILL timeout.
#[test]
fn b8_stopped_daemon_is_continued_and_stops_on_term() {
    let sb = Sandbox::new();
    sb.service(
        "frozen",
        &format!("{}stop_timeout: 20\n", sb.sleeper("frozen")),
    );
    run(&sb, &["start", "frozen"]).ok();
    let pid = read_pid(&sb.work.join("frozen.started"));
    // SAFETY: kill(2) on the daemon's PID, which is alive (it just wrote its file).
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
    }
    wait_until(Duration::from_secs(5), "daemon stopped", || {
        proc_stat(pid).map(|s| s.state) == Some('T')
    });

    let (r, took) = timed(&sb, &["stop", "frozen"]);
    r.ok();
    assert!(
        took < Duration::from_secs(5),
        "stop of a stopped daemon took {took:?}"
    );
    assert!(
        sb.work.join("frozen.term").exists(),
        "the daemon never handled TERM"
    );
    assert_gone(&sb, "frozen", pid);
}

/// B9: stop when stopped, start when running, restart when stopped and when running.
#[test]
fn b9_commands_are_idempotent() {
    let sb = Sandbox::new();
    sb.service("idem", &sb.sleeper("idem"));
    let script = sb.work.join("idem.sh");

    run(&sb, &["stop", "idem"])
        .ok()
        .stdout_has("idem is not running");
    run(&sb, &["start", "idem"]).ok();
    let first = sb.pid("idem");
    run(&sb, &["start", "idem"])
        .ok()
        .stdout_has("idem is already running");
    assert_eq!(sb.pid("idem"), first, "second start replaced the daemon");
    assert_eq!(procs_with_arg(&script), vec![first]);

    run(&sb, &["restart", "idem"]).ok();
    let second = sb.pid("idem");
    assert_ne!(second, first, "restart kept the old daemon");
    assert!(!alive(first), "restart left the old daemon running");
    assert_eq!(procs_with_arg(&script), vec![second]);

    run(&sb, &["stop", "idem"]).ok();
    run(&sb, &["stop", "idem"])
        .ok()
        .stdout_has("idem is not running");
    run(&sb, &["restart", "idem"]).ok();
    let third = sb.pid("idem");
    assert!(
        alive(third),
        "restart of a stopped service did not start it"
    );
    run(&sb, &["status", "idem"]).ok();
    run(&sb, &["stop", "idem"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// §3.2: stop is woken by the exit itself: with stop_timeout 10s, a daemon that exits at once
/// on TERM is stopped in well under a second.
#[test]
fn stop_is_woken_by_the_exit() {
    let sb = Sandbox::new();
    sb.service(
        "quick",
        &format!("{}stop_timeout: 10\n", sb.sleeper("quick")),
    );
    run(&sb, &["start", "quick"]).ok();
    let pid = read_pid(&sb.work.join("quick.started"));

    let (r, took) = timed(&sb, &["stop", "quick"]);
    r.ok();
    assert!(
        took < Duration::from_secs(1),
        "stop took {took:?}: polling, not woken by exit?"
    );
    assert!(
        sb.work.join("quick.term").exists(),
        "daemon did not get TERM"
    );
    assert_gone(&sb, "quick", pid);
}

/// §3.2 without pidfds (SVC_NO_PIDFD=1): the fallback still stops promptly and completely.
#[test]
fn stop_works_without_pidfd() {
    let sb = Sandbox::new();
    sb.service(
        "nopidfd",
        &format!("{}stop_timeout: 10\n", sb.sleeper("nopidfd")),
    );
    let with_fallback = |args: &[&str]| {
        let mut c = sb.cmd(args);
        c.env("SVC_NO_PIDFD", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        finish(c.spawn().unwrap(), args, SVC_LIMIT)
    };
    with_fallback(&["start", "nopidfd"]).ok();
    let pid = read_pid(&sb.work.join("nopidfd.started"));
    with_fallback(&["status", "nopidfd"]).ok();

    let t0 = Instant::now();
    with_fallback(&["stop", "nopidfd"]).ok();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(2), "fallback stop took {took:?}");
    assert!(
        sb.work.join("nopidfd.term").exists(),
        "daemon did not get TERM"
    );
    assert_gone(&sb, "nopidfd", pid);
}

// ---------------------------------------------------------------------------------------------
// B10, B11, B15: svc's own failures

/// Unmounts a tmpfs when dropped, even when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let mut umount = Command::new("umount");
        umount.arg("-l").arg(&self.0);
        run_quietly(umount, SVC_LIMIT);
    }
}

/// B10: a full state disk. svc cannot record what it launched, so start fails, stops what it
/// launched, and leaves no (empty) PID file; once space is back, start works.
#[test]
fn b10_full_state_disk_fails_start_without_leaving_a_daemon() {
    if skip_unless_root("full_state_disk_fails_start_without_leaving_a_daemon") {
        return;
    }
    let sb = Sandbox::new();
    sb.service("full", &sb.sleeper("full"));
    let script = sb.work.join("full.sh");
    std::fs::create_dir_all(&sb.state).unwrap();
    let mounted = bounded_output(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k,mode=0755", "tmpfs"])
            .arg(&sb.state),
    );
    if !mounted.status.success() {
        skip(
            "full_state_disk_fails_start_without_leaving_a_daemon",
            &format!(
                "mount not permitted: {}",
                String::from_utf8_lossy(&mounted.stderr)
            ),
        );
        return;
    }
    let _guard = Mount(sb.state.clone());
    let filler = sb.state.join("filler");
    let _ = bounded_status(
        Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", filler.display()))
            .arg("bs=1024")
            .stderr(Stdio::null()),
    );
    assert!(
        std::fs::write(sb.state.join("probe"), "12345\n").is_err(),
        "the state tmpfs is not full"
    );
    let _ = std::fs::remove_file(sb.state.join("probe"));

    let r = run(&sb, &["start", "full"]);
    assert_ne!(
        r.code, 0,
        "start succeeded on a full state disk:\n{}",
        r.stdout
    );
    r.no_panic();
    let left = procs_with_arg(&script);
    assert!(
        left.is_empty(),
        "daemon left running after a failed start: {left:?}"
    );
    assert!(!sb.pidfile("full").exists(), "PID file left on a full disk");
    for e in std::fs::read_dir(&sb.state).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            e.metadata().unwrap().len() > 0 || name.ends_with(".lock"),
            "empty state file left on a full disk: {name}"
        );
    }

    std::fs::remove_file(&filler).unwrap();
    run(&sb, &["start", "full"]).ok();
    let pid = sb.pid("full");
    assert_eq!(procs_with_arg(&script), vec![pid]);
    run(&sb, &["stop", "full"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// True when a thread of `pid` has a child (/proc/PID/task/TID/children).
fn has_child(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.filter_map(Result::ok).any(|t| {
                std::fs::read_to_string(t.path().join("children"))
                    .is_ok_and(|c| !c.trim().is_empty())
            })
        })
        .unwrap_or(false)
}

/// B11: svc SIGKILLed during a start (here while it waits for a readiness file that never
/// comes): the next status does not crash, the next stop finds the daemon, and nothing is left.
#[test]
fn b11_svc_killed_mid_start_converges() {
    let sb = Sandbox::new();
    sb.service(
        "slow",
        &format!(
            "{}ready: {{ file: {}/slow.ready }}\nready_timeout: 30\n",
            sb.sleeper("slow"),
            sb.work.display()
        ),
    );
    let script = sb.work.join("slow.sh");
    let started = sb.work.join("slow.started");

    // Kill points, each several times: at once, as soon as svc has forked (before it can have
    // recorded the daemon), once the daemon runs.
    for round in 0..12 {
        let point = round % 3;
        let _ = std::fs::remove_file(&started);
        let mut child = spawn_svc(&sb, &["start", "slow"]);
        match point {
            0 => {}
            1 => {
                // Spin rather than back off: the window between fork and record is short.
                let deadline = Instant::now() + Duration::from_secs(10);
                while !has_child(child.id() as i32) {
                    assert!(Instant::now() < deadline, "svc did not fork within 10 s");
                    std::hint::spin_loop();
                }
            }
            _ => wait_for_file(&started, Duration::from_secs(10)),
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let daemon = std::fs::read_to_string(&started)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());

        let status = run(&sb, &["status", "slow"]);
        status.no_panic();
        assert!(
            [0, 1, 3].contains(&status.code),
            "status after svc was killed (point {point}): exit {}\n{}{}",
            status.code,
            status.stdout,
            status.stderr
        );
        run(&sb, &["stop", "slow"]).ok().no_panic();
        let left = procs_with_arg(&script);
        assert!(
            left.is_empty(),
            "point {point}: daemon {left:?} left after stop: svc was killed after launching \
             it and the next svc cannot see it"
        );
        if let Some(pid) = daemon {
            assert!(
                group_members(pid).is_empty(),
                "point {point}: group {pid} left"
            );
        }
        run(&sb, &["status", "slow"]).code(3);
    }
}

/// B15: SIGINT, SIGTERM or SIGHUP to `svc stop` while it waits for the daemon: no panic, and
/// the state svc leaves is consistent: either the daemon is gone with its PID file, or it still
/// runs and status says so. A second stop finishes the job.
#[test]
fn b15_signals_to_svc_mid_stop_leave_consistent_state() {
    let sb = Sandbox::new();
    let term = sb.work.join("lingering.term");
    let script = sb.script(
        "lingering.sh",
        &format!(
            "#!/bin/sh\ntrap 'echo term $$ >> {t}' TERM\necho $$ > {w}/lingering.started\nwhile :; do sleep 1 & wait $!; done\n",
            t = term.display(),
            w = sb.work.display()
        ),
    );
    sb.service(
        "lingering",
        &format!("exec: {}\nstop_timeout: 2\n", script.display()),
    );

    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        run(&sb, &["start", "lingering"]).ok();
        let pid = sb.pid("lingering");
        // start returns once the script runs, not once its shell has set the TERM trap: a
        // TERM before that ends the shell with no line (the wait below then timed out).
        let started = sb.work.join("lingering.started");
        wait_until(
            Duration::from_secs(10),
            "the daemon's trap to be set",
            || std::fs::read_to_string(&started).is_ok_and(|t| t.trim() == pid.to_string()),
        );
        let stopper = spawn_svc(&sb, &["stop", "lingering"]);
        let svc_pid = stopper.id() as i32;
        wait_until(Duration::from_secs(10), "TERM reached the daemon", || {
            std::fs::read_to_string(&term)
                .unwrap_or_default()
                .contains(&format!("term {pid}\n"))
        });
        // SAFETY: kill(2) on our own child, which has not been waited for yet.
        unsafe {
            libc::kill(svc_pid, sig);
        }
        let r = finish(stopper, &["stop", "lingering"], SVC_LIMIT);
        r.no_panic();

        let status = run(&sb, &["status", "lingering"]);
        if alive(pid) {
            status.ok().stdout_has(&format!("(pid {pid}"));
            assert_eq!(sb.pid("lingering"), pid, "signal {sig}: PID file changed");
        } else {
            status.code(3);
            assert!(group_members(pid).is_empty(), "signal {sig}: group left");
            assert!(
                !sb.pidfile("lingering").exists(),
                "signal {sig}: stale PID file"
            );
        }
        run(&sb, &["stop", "lingering"]).ok();
        assert_gone(&sb, "lingering", pid);
    }
    assert!(procs_with_arg(&script).is_empty());
}

// ---------------------------------------------------------------------------------------------
// B13: output

/// B13: a daemon that writes a megabyte of binary (non-UTF-8) output: start, status and stop
/// work and the log holds all of it.
#[test]
fn b13_binary_output_is_logged() {
    let sb = Sandbox::new();
    let done = sb.work.join("noisy.done");
    let script = sb.script(
        "noisy.sh",
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\nhead -c 1000000 /dev/urandom\nprintf '\\377\\376 end of noise\\n' >&2\ntouch {}\nwhile :; do sleep 1 & wait $!; done\n",
            done.display()
        ),
    );
    sb.service("noisy", &format!("exec: {}\n", script.display()));

    run(&sb, &["start", "noisy"]).ok().no_panic();
    wait_for_file(&done, Duration::from_secs(20));
    let log = std::fs::read(sb.logfile("noisy")).unwrap();
    assert!(log.len() >= 1_000_000, "log holds {} bytes", log.len());
    assert!(
        log.ends_with(b"\xff\xfe end of noise\n"),
        "log lacks the last line"
    );
    run(&sb, &["status", "noisy"]).ok().no_panic();
    run(&sb, &["stop", "noisy"]).ok().no_panic();
    assert!(procs_with_arg(&script).is_empty());
}

/// B13: a daemon that prints invalid UTF-8 and dies while svc waits for it: start fails and
/// quotes the log without panicking.
#[test]
fn b13_failed_start_quotes_non_utf8_log_lines() {
    let sb = Sandbox::new();
    let script = sb.script(
        "garbled.sh",
        "#!/bin/sh\nprintf 'fatal: bad bytes \\377\\376\\001 here\\n'\nexit 2\n",
    );
    sb.service(
        "garbled",
        &format!(
            "exec: {}\nready: {{ file: {}/garbled.ready }}\nready_timeout: 20\n",
            script.display(),
            sb.work.display()
        ),
    );
    let r = run(&sb, &["start", "garbled"]);
    assert_ne!(
        r.code, 0,
        "start of a daemon that died succeeded:\n{}",
        r.stdout
    );
    r.no_panic().stderr_has("fatal: bad bytes");
}

/// B4: a child that leaves the service's process group with setsid. Without containment
/// (svc as an ordinary user) it is outside what stop signals: stop still stops the service,
/// and warns about the survivor by PID instead of pretending all is gone. With containment
/// (root and a cgroup2, SPEC §8.7) stop ends it too, and has nothing to warn about — unless
/// the service was started before a cgroup2 was mounted: it has no cgroup, and stop warns.
#[test]
fn b4_child_escaping_with_setsid_is_reported_by_stop() {
    let escaper = |sb: &Sandbox, out: &Path| {
        let script = sb.script(
            "escaper.sh",
            &format!(
                "#!/bin/sh\nsetsid sh -c 'echo $$ > {o}/escaped.pid; exec sleep 1000' &\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
                o = out.display()
            ),
        );
        sb.service(
            "escaper",
            &format!("exec: {}\nstop_timeout: 5\n", script.display()),
        );
    };
    let escaped_of = |out: &Path| {
        let escaped = read_pid(&out.join("escaped.pid"));
        wait_until(
            Duration::from_secs(10),
            "the escaped child to lead its own session",
            || proc_stat(escaped).is_some_and(|s| s.session == escaped),
        );
        escaped
    };
    // A stop that succeeded and named the survivor, which does survive.
    let warned = |r: Run, escaped: i32| {
        r.ok()
            .stderr_has(&format!("process {escaped}"))
            .stderr_has("left the service's process group");
        assert!(
            alive(escaped),
            "the escaped process is gone: the warning would be wrong"
        );
    };
    if containment() {
        let sb = Sandbox::new();
        escaper(&sb, &sb.work);
        run(&sb, &["start", "escaper"]).ok();
        let escaped = escaped_of(&sb.work);
        let r = run(&sb, &["stop", "escaper"]);
        r.ok().no_panic();
        assert!(
            !r.stderr.contains("left the service's process group"),
            "stop warned although containment ends the child:\n{}",
            r.stderr
        );
        assert!(
            !alive(escaped),
            "the escaped process {escaped} survived stop"
        );
        run(&sb, &["status", "escaper"]).code(3);

        // Started where no cgroup2 was mounted yet (early in a boot: here a tmpfs over
        // /sys/fs/cgroup in a mount namespace of its own), stopped once it is: the service
        // has no cgroup to end, so the child survives and stop says so.
        let sb = Sandbox::new();
        escaper(&sb, &sb.work);
        before_cgroup2(&sb, &["start", "escaper"]).ok();
        let escaped = escaped_of(&sb.work);
        assert!(
            service_cgroup_dir(&sb, "escaper").is_some_and(|d| !d.exists()),
            "a start without a cgroup2 mounted made the service's cgroup"
        );
        warned(run(&sb, &["stop", "escaper"]), escaped);
        send_signal(escaped, libc::SIGKILL);
    }
    let Some(user) = ordinary_user("b4_child_escaping_with_setsid_is_reported_by_stop") else {
        return;
    };
    let sb = Sandbox::new();
    sb.give_dirs_to(&user);
    let out = sb.work.join("out");
    std::fs::create_dir_all(&out).unwrap();
    user.chown(&out);
    escaper(&sb, &out);
    sb.svc_as(&user, &["start", "escaper"]).ok();
    let escaped = escaped_of(&out);
    let st = sb.svc_as(&user, &["status", "--json", "escaper"]);
    let st: serde_json::Value = serde_json::from_str(&st.stdout).expect("status --json");
    assert!(st[0]["tasks"].is_null(), "tasks without containment: {st}");
    warned(sb.svc_as(&user, &["stop", "escaper"]), escaped);
    sb.svc_as(&user, &["status", "escaper"]).code(3);
    send_signal(escaped, libc::SIGKILL);
}

/// B13: the log file is a symlink (to a file someone wants overwritten): svc does not write
/// through it; start fails, the target is unchanged and nothing runs.
#[test]
fn b13_log_file_symlink_is_not_followed() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    let target = sb.work.join("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    std::fs::create_dir_all(&sb.log).unwrap();
    std::os::unix::fs::symlink(&target, sb.logfile("x")).unwrap();
    let r = run(&sb, &["start", "x"]);
    assert_ne!(r.code, 0, "start wrote its log through a symlink");
    r.no_panic().stderr_has("cannot open log");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    assert!(!sb.work.join("x.started").exists(), "the daemon ran");
    assert!(!sb.pidfile("x").exists());
}

/// docs/commands.md: stopping a service that running services require says so and stops only it;
/// `--with-dependents` stops the dependants first (their TERM is recorded before the
/// dependency's).
#[test]
fn stop_of_a_required_service_warns_and_with_dependents_stops_them_first() {
    let sb = Sandbox::new();
    let order = sb.work.join("order");
    for name in ["db", "app"] {
        let script = sb.script(
            &format!("{name}.sh"),
            &format!(
                "#!/bin/sh\ntrap 'echo {name} >> {o}; exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
                o = order.display()
            ),
        );
        let extra = if name == "app" {
            "requires: [db]\n"
        } else {
            ""
        };
        sb.service(name, &format!("exec: {}\n{extra}", script.display()));
    }
    run(&sb, &["start", "app"]).ok();
    assert!(alive(sb.pid("db")) && alive(sb.pid("app")));

    let r = run(&sb, &["stop", "db"]);
    r.ok()
        .stderr_has("db is required by running services app")
        .stderr_has("--with-dependents");
    run(&sb, &["status", "db"]).code(3);
    run(&sb, &["status", "app"]).ok();

    run(&sb, &["start", "db"]).ok();
    let _ = std::fs::remove_file(&order);
    run(&sb, &["stop", "--with-dependents", "db"]).ok();
    run(&sb, &["status", "app"]).code(3);
    run(&sb, &["status", "db"]).code(3);
    let text = std::fs::read_to_string(&order).unwrap();
    assert_eq!(text, "app\ndb\n", "dependants must stop first");
}
