//! Supervised services (docs/services.md, issue 5): restart after a crash with a new PID, the
//! crash-loop limit (B14), stop for good, a supervisor killed with SIGKILL, log capture and
//! rotation without losing a line, a log directory that cannot be written for a while, and svc
//! killed in the middle of starting a supervised service (B11).

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// The supervisor's PID from `<state>/NAME.supervisor`.
fn supervisor_pid(sb: &Sandbox, name: &str) -> Option<i32> {
    let text = std::fs::read_to_string(sb.state.join(format!("{name}.supervisor"))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["supervisor"]["pid"].as_i64().map(|p| p as i32)
}

/// Lines of a file (empty when it does not exist).
/// A supervised daemon that appends "start PID" to work/NAME.starts, then waits (TERM ends it).
fn supervised(sb: &Sandbox, name: &str, respawn: &str) -> PathBuf {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\necho \"start $$\" >> {w}/{name}.starts\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
            w = sb.work.display()
        ),
    );
    sb.service(
        name,
        &format!(
            "exec: {}\nrespawn: {respawn}\nstop_timeout: 5\n",
            script.display()
        ),
    );
    script
}

/// Stops the service when the test ends, pass or fail (the sandbox guard then kills leftovers).
struct StopOnDrop<'a>(&'a Sandbox, &'a str);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        run_quietly(self.0.cmd(["stop", self.1]), SVC_LIMIT);
    }
}

#[test]
fn kill9_brings_the_service_back_with_a_new_pid() {
    let sb = Sandbox::new();
    let script = supervised(&sb, "phoenix", "true");
    let _stop = StopOnDrop(&sb, "phoenix");
    sb.svc(["start", "phoenix"]).ok().no_panic();
    let first = sb.pid("phoenix");
    let sup = supervisor_pid(&sb, "phoenix").expect("supervisor recorded");
    assert!(alive(sup));
    assert_eq!(
        proc_stat(first).map(|s| s.ppid),
        Some(sup),
        "the supervisor is the service's parent"
    );
    let starts = sb.work.join("phoenix.starts");
    // start does not wait for the script's first line: kill it once it has run.
    wait_until(LIMIT, "the first start line", || {
        file_lines(&starts).len() == 1
    });
    send_signal(first, libc::SIGKILL);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let n = file_lines(&starts).len();
        assert!(n <= 2, "started {n} times: {:?}", file_lines(&starts));
        if n == 2 {
            break;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "no restart within {LIMIT:?}; supervisor {sup} state {:?} alive {}\nstate file: {}\nsupervisor log: {}",
                proc_stat(sup).map(|s| s.state),
                alive(sup),
                std::fs::read_to_string(sb.state.join("phoenix.supervisor")).unwrap_or_default(),
                std::fs::read_to_string(sb.state.join("phoenix.supervisor.log")).unwrap_or_default()
            );
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    wait_until(LIMIT, "the pid file to name the new process", || {
        std::fs::read_to_string(sb.pidfile("phoenix"))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .is_some_and(|p| p != first && alive(p))
    });
    let second = sb.pid("phoenix");
    assert_eq!(file_lines(&starts)[1], format!("start {second}"));
    assert!(!alive(first) || proc_stat(first).is_none_or(|s| s.state == 'Z'));
    let st = status_json(&sb, "phoenix");
    assert_eq!(st["state"], "running");
    assert_eq!(st["pid"], second);
    assert_eq!(st["restarts"], 1);
    assert_eq!(st["last_exit"]["signal"], "SIGKILL");
    assert!(st["last_exit"]["code"].is_null());
    sb.svc(["status", "phoenix"])
        .code(0)
        .stdout_has("restarts: 1, last killed by SIGKILL");
    // The same supervisor did it, and `svc start` now says it already runs.
    assert_eq!(supervisor_pid(&sb, "phoenix"), Some(sup));
    sb.svc(["start", "phoenix"]).ok();
    assert_eq!(procs_with_arg(&script), vec![second]);
}

#[test]
fn b14_crash_loop_backs_off_then_fails_and_stays_down() {
    let sb = Sandbox::new();
    let starts = sb.work.join("crash.starts");
    let script = sb.script(
        "crash.sh",
        &format!(
            "#!/bin/sh\ndate +%s.%N >> {}\nsleep 0.2\nexit 1\n",
            starts.display()
        ),
    );
    sb.service(
        "crash",
        &format!(
            "exec: {}\nrespawn: {{ max: 3, window: 60, backoff: 100ms }}\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "crash");
    let t0 = Instant::now();
    sb.svc(["start", "crash"]).ok();
    let sup = supervisor_pid(&sb, "crash").expect("supervisor recorded");
    wait_until(LIMIT, "state failed", || {
        status_json(&sb, "crash")["state"] == "failed"
    });
    // B14: spawns within the bound: the first start plus `max` restarts, never more.
    let times: Vec<f64> = file_lines(&starts)
        .iter()
        .map(|l| l.parse().expect("a timestamp"))
        .collect();
    assert_eq!(times.len(), 4, "1 start + 3 restarts, then it gives up");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Each instance runs 0.2 s; the waits before restarts are 0.1, 0.2, 0.4 s.
    assert!(gaps[0] >= 0.29, "first restart after the backoff: {gaps:?}");
    assert!(
        gaps[2] > gaps[0] + 0.2,
        "the backoff grows between restarts: {gaps:?}"
    );
    // Gave up: the supervisor is gone, so nothing can start it again.
    wait_until(LIMIT, "the supervisor to exit", || {
        proc_stat(sup).is_none_or(|s| s.state == 'Z')
    });
    assert!(procs_with_arg(&script).is_empty());
    let st = status_json(&sb, "crash");
    assert_eq!(st["restarts"], 3);
    assert_eq!(st["last_exit"]["code"], 1);
    assert!(st["pid"].is_null());
    sb.svc(["status", "crash"])
        .code(3)
        .stdout_has("crash has failed");
    // `failed` lasts until the next start or stop.
    sb.svc(["start", "crash"]).ok();
    wait_until(LIMIT, "a fifth start", || file_lines(&starts).len() == 5);
    sb.svc(["stop", "crash"]).ok();
    let st = status_json(&sb, "crash");
    assert_eq!(st["state"], "stopped");
}

#[test]
fn stop_ends_service_and_supervisor_for_good() {
    let sb = Sandbox::new();
    let script = supervised(&sb, "calm", "{ backoff: 0 }");
    let _stop = StopOnDrop(&sb, "calm");
    sb.svc(["start", "calm"]).ok();
    let pid = sb.pid("calm");
    let sup = supervisor_pid(&sb, "calm").unwrap();
    // start returns once the program runs, not once the script has recorded its start: a stop
    // before that line ends the shell before it writes it, and "one start" would read none.
    wait_until(Duration::from_secs(10), "calm's start line", || {
        !file_lines(&sb.work.join("calm.starts")).is_empty()
    });
    sb.svc(["stop", "calm"])
        .ok()
        .stdout_has("Stopping calm")
        .no_panic();
    // stop returns once both are gone — no wait needed.
    assert!(
        proc_stat(pid).is_none_or(|s| s.state == 'Z'),
        "service left"
    );
    assert!(
        proc_stat(sup).is_none_or(|s| s.state == 'Z'),
        "supervisor left"
    );
    assert!(procs_with_arg(&script).is_empty());
    assert!(!sb.pidfile("calm").exists());
    assert!(!sb.state.join("calm.supervisor").exists());
    assert_eq!(
        file_lines(&sb.work.join("calm.starts")).len(),
        1,
        "no restart"
    );
    sb.svc(["status", "calm"])
        .code(3)
        .stdout_has("calm is stopped");
    sb.svc(["stop", "calm"]).ok();
}

#[test]
fn supervisor_killed_leaves_the_service_running_and_manageable() {
    let sb = Sandbox::new();
    let count = sb.work.join("chatty.count");
    // Writes a line to stdout (the pipe to the supervisor) and a counter to a file, often.
    let script = sb.script(
        "chatty.sh",
        &format!(
            "#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo \"line $i\"; echo $i > {c}; sleep 0.005; done\n",
            c = count.display()
        ),
    );
    sb.service(
        "chatty",
        &format!(
            "exec: {}\nrespawn: true\nstop_timeout: 5\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "chatty");
    sb.svc(["start", "chatty"]).ok();
    let pid = sb.pid("chatty");
    let sup = supervisor_pid(&sb, "chatty").unwrap();
    let counter = || {
        std::fs::read_to_string(&count)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_until(LIMIT, "output in the log", || {
        file_lines(&sb.logfile("chatty")).len() > 10
    });
    send_signal(sup, libc::SIGKILL);
    wait_until(LIMIT, "the supervisor to die", || {
        proc_stat(sup).is_none_or(|s| s.state == 'Z')
    });
    // Still writing: output after the supervisor's death neither kills it (SIGPIPE) nor
    // blocks it (the pipe has room).
    let at_kill = counter();
    wait_until(LIMIT, "200 more lines written", || {
        counter() > at_kill + 200
    });
    assert!(alive(pid));
    assert_eq!(sb.pid("chatty"), pid);
    sb.svc(["status", "chatty"])
        .code(0)
        .stdout_has(&format!("pid {pid}"))
        .stderr_has("its supervisor is not running");
    // svc start gives it a new supervisor (the old instance is stopped and started again:
    // nobody reads its output any more, and it would block once the pipe is full).
    sb.svc(["start", "chatty"]).ok();
    let new_sup = supervisor_pid(&sb, "chatty").unwrap();
    assert_ne!(new_sup, sup);
    assert!(alive(new_sup));
    let new_pid = sb.pid("chatty");
    assert_ne!(new_pid, pid);
    assert!(
        proc_stat(pid).is_none_or(|s| s.state == 'Z'),
        "old instance left"
    );
    assert_eq!(proc_stat(new_pid).map(|s| s.ppid), Some(new_sup));
    sb.svc(["status", "chatty"])
        .code(0)
        .stdout_has("supervisor pid");
    sb.svc(["stop", "chatty"]).ok();
    assert!(proc_stat(new_pid).is_none_or(|s| s.state == 'Z'));
    assert!(procs_with_arg(&script).is_empty());
    sb.svc(["status", "chatty"]).code(3);
}

/// A service that prints `count` numbered lines, then waits.
fn printer(sb: &Sandbox, name: &str, count: u32, extra: &str) {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\nseq 1 {count} | sed 's/^/line number /'\ntouch {w}/{name}.done\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
            w = sb.work.display()
        ),
    );
    sb.service(
        name,
        &format!("exec: {}\nrespawn: true\n{extra}", script.display()),
    );
}

/// All lines of the current log and its rotated files, oldest first.
fn rotated_lines(sb: &Sandbox, name: &str) -> (Vec<String>, Vec<PathBuf>) {
    let base = sb.logfile(name);
    let mut files = Vec::new();
    for i in (1..1000).rev() {
        let p = PathBuf::from(format!("{}.{i}", base.display()));
        if p.exists() {
            files.push(p);
        }
    }
    files.push(base);
    let lines = files.iter().flat_map(|f| file_lines(f)).collect();
    (lines, files)
}

#[test]
fn log_rotation_loses_no_line_and_splits_none() {
    let sb = Sandbox::new();
    let n = 80_000;
    printer(&sb, "verbose", n, "log_max_size: 64K\nlog_keep: 100\n");
    let _stop = StopOnDrop(&sb, "verbose");
    sb.svc(["start", "verbose"]).ok();
    wait_until(LIMIT, "every line in the logs", || {
        file_lines(&sb.logfile("verbose"))
            .last()
            .is_some_and(|l| l == &format!("line number {n}"))
    });
    let (lines, files) = rotated_lines(&sb, "verbose");
    let expected: Vec<String> = (1..=n).map(|i| format!("line number {i}")).collect();
    if lines != expected {
        let mut seen = std::collections::HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            if let Some(prev) = seen.insert(l.clone(), i) {
                eprintln!("duplicate {l:?} at {prev} and {i}");
            }
        }
        for f in &files {
            eprintln!("{}: {} lines", f.display(), file_lines(f).len());
        }
        eprintln!(
            "supervisor log:\n{}",
            std::fs::read_to_string(sb.state.join("verbose.supervisor.log")).unwrap_or_default()
        );
    }
    assert_eq!(
        lines.len(),
        expected.len(),
        "line count across {} files",
        files.len()
    );
    assert!(lines == expected, "every line once, in order");
    // ~ 18 bytes per line: about 22 files of 64 KiB.
    assert!(files.len() > 15, "rotated {} times", files.len() - 1);
    for f in &files {
        let text = std::fs::read(f).unwrap();
        // Rotation waits for the end of the line the file ends in, so only the last line may
        // reach past the limit.
        let last = text[..text.len().saturating_sub(1)]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        assert!(
            last <= 64 * 1024,
            "{} holds {last} bytes before its last line",
            f.display()
        );
        assert!(text.ends_with(b"\n"), "{} ends inside a line", f.display());
    }
}

#[test]
fn log_rotation_keeps_log_keep_files() {
    let sb = Sandbox::new();
    let n = 40_000;
    printer(&sb, "keeper", n, "log_max_size: 64K\nlog_keep: 3\n");
    let _stop = StopOnDrop(&sb, "keeper");
    sb.svc(["start", "keeper"]).ok();
    wait_until(LIMIT, "the last line in the log", || {
        file_lines(&sb.logfile("keeper"))
            .last()
            .is_some_and(|l| l == &format!("line number {n}"))
    });
    let base = sb.logfile("keeper").display().to_string();
    for i in 1..=3 {
        assert!(Path::new(&format!("{base}.{i}")).exists(), "{base}.{i}");
    }
    assert!(!Path::new(&format!("{base}.4")).exists());
    // What is kept is the newest output, contiguous and in order.
    let (lines, _) = rotated_lines(&sb, "keeper");
    let first: u32 = lines[0]
        .strip_prefix("line number ")
        .unwrap()
        .parse()
        .unwrap();
    let expected: Vec<String> = (first..=n).map(|i| format!("line number {i}")).collect();
    assert!(lines == expected, "kept lines are contiguous from {first}");
    // `svc logs -n` reads the same log.
    sb.svc(["logs", "-n", "2", "keeper"])
        .ok()
        .stdout_has(&format!("line number {}\nline number {n}\n", n - 1));
}

/// A tmpfs mounted over the sandbox's log directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let mut umount = Command::new("umount");
        umount.arg("-l").arg(&self.0);
        run_quietly(umount, SVC_LIMIT);
    }
}

#[test]
fn log_dir_full_for_a_while_loses_nothing_and_keeps_the_service() {
    if skip_unless_root("log_dir_full_for_a_while_loses_nothing_and_keeps_the_service") {
        return;
    }
    let sb = Sandbox::new();
    std::fs::create_dir_all(&sb.log).unwrap();
    let mounted = bounded_status(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&sb.log)
            .stderr(Stdio::null()),
    )
    .success();
    if !mounted {
        skip("log_dir_full…", "cannot mount a tmpfs here");
        return;
    }
    let _mount = Tmpfs(sb.log.clone());
    let filler = sb.log.join("filler");
    // Fill the file system to the last byte.
    let _ = bounded_status(
        Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", filler.display()))
            .stderr(Stdio::null()),
    );
    let n = 3000;
    let go = sb.work.join("go");
    let script = sb.script(
        "patient.sh",
        &format!(
            "#!/bin/sh\nwhile [ ! -e {go} ]; do sleep 0.01; done\nseq 1 {n} | sed 's/^/entry /'\ntouch {w}/patient.done\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
            go = go.display(),
            w = sb.work.display()
        ),
    );
    sb.service(
        "patient",
        &format!("exec: {}\nrespawn: true\n", script.display()),
    );
    let _stop = StopOnDrop(&sb, "patient");
    sb.svc(["start", "patient"]).ok();
    let pid = sb.pid("patient");
    std::fs::write(&go, "").unwrap();
    let sup_log = sb.state.join("patient.supervisor.log");
    wait_until(LIMIT, "the supervisor to report the full disk", || {
        std::fs::read_to_string(&sup_log).is_ok_and(|t| t.contains("cannot write log"))
    });
    wait_for_file(&sb.work.join("patient.done"), LIMIT);
    assert!(
        alive(pid),
        "the service keeps running while its log cannot be written"
    );
    std::fs::remove_file(&filler).unwrap();
    wait_until(LIMIT, "the held output in the log", || {
        file_lines(&sb.logfile("patient")).len() == n as usize
    });
    let expected: Vec<String> = (1..=n).map(|i| format!("entry {i}")).collect();
    assert!(file_lines(&sb.logfile("patient")) == expected);
    let report = std::fs::read_to_string(&sup_log).unwrap();
    assert!(
        report.contains("writable again; nothing was lost"),
        "{report}"
    );
    assert_eq!(
        report.matches("cannot write log").count(),
        1,
        "reported once: {report}"
    );
    assert_eq!(sb.pid("patient"), pid);
    sb.svc(["stop", "patient"]).ok();
}

#[test]
fn b11_svc_killed_while_starting_a_supervised_service_converges() {
    let sb = Sandbox::new();
    let script = supervised(&sb, "fragile", "true");
    let starts = sb.work.join("fragile.starts");
    for round in 0..12 {
        let point = round % 3;
        let _ = std::fs::remove_file(&starts);
        let mut child = sb
            .cmd(["start", "fragile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match point {
            0 => {}
            1 => wait_until(LIMIT, "svc to record a supervisor", || {
                sb.state.join("fragile.supervisor").exists()
                    || child.try_wait().ok().flatten().is_some()
            }),
            _ => wait_for_file(&starts, LIMIT),
        }
        let _ = child.kill();
        let _ = child.wait();
        let status = sb.svc(["status", "fragile"]);
        status.no_panic();
        assert!(
            [0, 3].contains(&status.code),
            "round {round}: status after svc was killed: {}\n{}{}",
            status.code,
            status.stdout,
            status.stderr
        );
        sb.svc(["stop", "fragile"]).ok().no_panic();
        assert!(
            procs_with_arg(&script).is_empty(),
            "round {round}: service left after stop"
        );
        let supervisors: Vec<i32> = all_pids()
            .into_iter()
            .filter(|&p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| {
                        String::from_utf8_lossy(&c).contains(&*sb.state.to_string_lossy())
                            && String::from_utf8_lossy(&c).contains("supervise")
                    })
                    .unwrap_or(false)
                    && proc_stat(p).is_some_and(|s| s.state != 'Z')
            })
            .collect();
        assert!(
            supervisors.is_empty(),
            "round {round}: supervisor {supervisors:?} left"
        );
        sb.svc(["status", "fragile"]).code(3);
    }
}

#[test]
fn restart_gives_a_new_instance_and_resets_the_count() {
    let sb = Sandbox::new();
    supervised(&sb, "again", "true");
    let _stop = StopOnDrop(&sb, "again");
    sb.svc(["start", "again"]).ok();
    let first = sb.pid("again");
    send_signal(first, libc::SIGKILL);
    wait_until(LIMIT, "a restart", || {
        status_json(&sb, "again")["restarts"] == 1
            && status_json(&sb, "again")["state"] == "running"
    });
    sb.svc(["restart", "again"]).ok();
    let st = status_json(&sb, "again");
    assert_eq!(st["state"], "running");
    assert_eq!(st["restarts"], 0);
    assert!(st["last_exit"].is_null());
    assert_ne!(st["pid"], first);
}

#[test]
fn respawn_with_forking_or_socket_is_a_definition_error() {
    let sb = Sandbox::new();
    sb.service(
        "both",
        "exec: /bin/true\nforking: true\npidfile: /tmp/x.pid\nrespawn: true\n",
    );
    sb.svc(["check"])
        .code(6)
        .stderr_has("both.yaml")
        .stderr_has("`respawn` needs a program that stays in the foreground");
    sb.svc(["start", "both"]).code(6);
    sb.service(
        "both",
        "exec: /bin/cat\nsocket: { port: 7999 }\nrespawn: true\nlog_max_size: 10 apples\n",
    );
    sb.svc(["check"])
        .code(6)
        .stderr_has("`respawn` and `socket` exclude each other")
        .stderr_has("log_max_size");
}

#[test]
fn exec_failure_of_a_supervised_service_is_reported_by_start() {
    let sb = Sandbox::new();
    sb.service("ghost", "exec: /nonexistent/daemon\nrespawn: true\n");
    sb.svc(["start", "ghost"])
        .code(5)
        .stderr_has("/nonexistent/daemon");
    assert!(!sb.state.join("ghost.supervisor").exists());
    sb.svc(["status", "ghost"]).code(3);
}

#[test]
fn log_timestamps_prefix_every_line_when_asked() {
    let sb = Sandbox::new();
    printer(&sb, "stamped", 50, "log_timestamps: true\n");
    let _stop = StopOnDrop(&sb, "stamped");
    sb.svc(["start", "stamped"]).ok();
    wait_until(LIMIT, "50 lines in the log", || {
        file_lines(&sb.logfile("stamped")).len() == 50
    });
    for (i, line) in file_lines(&sb.logfile("stamped")).iter().enumerate() {
        let (stamp, rest) = line.split_once(' ').expect("a time, a space, the line");
        assert_eq!(rest, format!("line number {}", i + 1));
        // 2026-11-25T01:56:16.123456Z
        assert_eq!(stamp.len(), 27, "{stamp}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{stamp}"
        );
    }
    // Only a supervisor can add them.
    sb.service("plain", "exec: /bin/cat\nlog_timestamps: true\n");
    sb.svc(["check"])
        .code(6)
        .stderr_has("plain.yaml")
        .stderr_has("`log_timestamps` needs `respawn`");
}

#[test]
fn waiting_to_restart_shows_as_starting_and_restart_ends_the_wait() {
    let sb = Sandbox::new();
    let starts = sb.work.join("slowpoke.starts");
    let script = sb.script(
        "slowpoke.sh",
        &format!(
            "#!/bin/sh\necho $$ >> {}\nsleep 0.2\nexit 2\n",
            starts.display()
        ),
    );
    sb.service(
        "slowpoke",
        &format!(
            "exec: {}\nrespawn: {{ max: 3, window: 60, backoff: 30 }}\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "slowpoke");
    sb.svc(["start", "slowpoke"]).ok();
    wait_until(LIMIT, "the 30 s backoff", || {
        status_json(&sb, "slowpoke")["state"] == "starting"
    });
    // LSB: no process runs, so status says "not running" (3) while the state is `starting`.
    sb.svc(["status", "slowpoke"])
        .code(3)
        .stdout_has("slowpoke is starting (restarting)")
        .stderr_has("restarting in")
        .stderr_has("last exited with status 2");
    sb.svc(["start", "slowpoke"])
        .ok()
        .stdout_has("waiting to be restarted");
    assert_eq!(
        file_lines(&starts).len(),
        1,
        "start does not cut the backoff short"
    );
    sb.svc(["restart", "slowpoke"]).ok();
    wait_until(LIMIT, "a second instance", || {
        file_lines(&starts).len() == 2
    });
    sb.svc(["stop", "slowpoke"]).ok();
}

#[test]
fn output_written_while_stopping_reaches_the_log() {
    let sb = Sandbox::new();
    // On TERM it writes 3 MiB (three times the pipe) and then a last line, and exits.
    let script = sb.script(
        "verbose-exit.sh",
        "#!/bin/sh\ntrap 'head -c 3000000 /dev/zero | tr \"\\\\0\" x; echo; echo goodbye; exit 0' TERM\necho up\nwhile :; do sleep 1 & wait $!; done\n",
    );
    sb.service(
        "talker",
        &format!(
            "exec: {}\nrespawn: true\nstop_timeout: 10\nlog_max_size: 100M\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "talker");
    sb.svc(["start", "talker"]).ok();
    wait_until(LIMIT, "up in the log", || {
        file_lines(&sb.logfile("talker"))
            .first()
            .is_some_and(|l| l == "up")
    });
    sb.svc(["stop", "talker"]).ok();
    // Not killed half-way for want of a reader: the farewell is in the log.
    let lines = file_lines(&sb.logfile("talker"));
    let tail: Vec<String> = lines.iter().map(|l| l.chars().take(40).collect()).collect();
    assert!(
        lines.last().is_some_and(|l| l == "goodbye"),
        "the last line is not the farewell (lines shortened): {tail:?}"
    );
    assert_eq!(lines.len(), 3, "{tail:?}");
    assert_eq!(lines[1].len(), 3_000_000);
}

/// Issue 10 item 14: `log_max_size` has a floor (64K: `log_max_size: 1` with `log_keep: 1000`
/// meant a thousand renames per line) and a ceiling, `log_keep` at most 1000; out of range is a
/// definition error naming file, line and the range.
#[test]
fn log_size_and_keep_out_of_range_are_definition_errors() {
    let sb = Sandbox::new();
    let file = sb.config.join("init.d/tiny.yaml");
    for (extra, line, says) in [
        (
            "log_max_size: 1\nlog_keep: 1000\n",
            4,
            "`log_max_size`: 1 byte is out of range, expected 64K (65536 bytes) to 1024G",
        ),
        (
            "log_max_size: 65535\n",
            4,
            "`log_max_size`: 65535 bytes is out of range, expected 64K",
        ),
        (
            "log_max_size: 2000G\n",
            4,
            "`log_max_size`: 2147483648000 bytes is out of range, expected 64K (65536 bytes) to 1024G",
        ),
        ("log_keep: 1001\n", 4, "`log_keep`: 1001 is out of range, expected 0 to 1000"),
    ] {
        sb.service(
            "tiny",
            &format!("exec: /bin/sleep\nargs: [\"100\"]\nrespawn: true\n{extra}"),
        );
        let want = format!("{}:{line}: {says}", file.display());
        sb.svc(["check"]).code(6).stderr_has(&want);
        sb.svc(["start", "tiny"]).code(6).stderr_has(says);
    }
    // The bounds themselves are accepted.
    sb.service(
        "tiny",
        "exec: /bin/sleep\nargs: [\"100\"]\nrespawn: true\nlog_max_size: 64K\nlog_keep: 1000\n",
    );
    sb.svc(["check"]).ok();
    sb.service(
        "tiny",
        "exec: /bin/sleep\nargs: [\"100\"]\nrespawn: true\nlog_max_size: 1024G\nlog_keep: 0\n",
    );
    sb.svc(["check"]).ok();
}

/// Issue 10 item 7: a FIFO at a supervised service's log path: the supervisor never blocks on
/// it — start and stop finish at once, the output is held (as for an unwritable log directory)
/// and the problem is reported in the supervisor's log.
#[test]
fn a_fifo_at_the_log_path_never_blocks_the_supervisor() {
    let sb = Sandbox::new();
    printer(&sb, "piped", 10, "");
    let _stop = StopOnDrop(&sb, "piped");
    std::fs::create_dir_all(&sb.log).unwrap();
    let log = sb.logfile("piped");
    let c = std::ffi::CString::new(log.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let limit = Duration::from_secs(10);
    let run = |args: &[&str]| finish(spawn_svc(&sb, args), args, limit);
    run(&["start", "piped"]).ok();
    let sup_log = sb.state.join("piped.supervisor.log");
    wait_until(LIMIT, "the supervisor to report the FIFO", || {
        std::fs::read_to_string(&sup_log)
            .unwrap_or_default()
            .contains(&format!(
                "cannot write log {}: not a regular file (it is a FIFO)",
                log.display()
            ))
    });
    run(&["logs", "piped"]).code(1).stderr_has("FIFO");
    run(&["stop", "piped"]).ok();
}

/// Seconds in the "restarting in N.Ns" note of `svc status NAME`.
fn restarting_in(sb: &Sandbox, name: &str) -> f64 {
    let (left, text) = restart_note(sb, name);
    left.unwrap_or_else(|| panic!("no readable restart note in:\n{text}"))
}

/// The seconds of `status NAME`'s "restarting in Ns" note, if it has one; and the output.
fn restart_note(sb: &Sandbox, name: &str) -> (Option<f64>, String) {
    let r = sb.svc(["status", name]);
    let text = format!("{}{}", r.stdout, r.stderr);
    let left = text.find("restarting in ").and_then(|at| {
        let rest = &text[at + "restarting in ".len()..];
        rest[..rest.find('s')?].parse().ok()
    });
    (left, text)
}

/// Issue 10 item 14: the supervisor waits on the monotonic clock, and `status` must count down
/// on the same clock: a wall clock that jumped (here: the state file's wall-clock time moved an
/// hour ahead, exactly what a clock set back by an hour looks like) does not turn a 30 s
/// backoff into "restarting in 3630s". A state file written by an older svc (wall-clock time
/// only) is still read.
#[test]
fn restart_countdown_ignores_wall_clock_jumps() {
    let sb = Sandbox::new();
    let script = sb.script("jumpy.sh", "#!/bin/sh\nsleep 0.2\nexit 3\n");
    sb.service(
        "jumpy",
        &format!(
            "exec: {}\nrespawn: {{ max: 3, window: 60, backoff: 30 }}\n",
            script.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "jumpy");
    sb.svc(["start", "jumpy"]).ok();
    // In the 30 s backoff: the countdown has started (a status between an exit and the
    // supervisor's next step may show 0 s left).
    wait_until(LIMIT, "the 30 s backoff", || {
        restart_note(&sb, "jumpy").0.is_some_and(|left| left > 1.0)
    });
    let left = restarting_in(&sb, "jumpy");
    assert!(left > 0.0 && left <= 30.0, "{left}");

    let state_file = sb.state.join("jumpy.supervisor");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let wall = state["retry_at_ms"].as_u64().expect("retry_at_ms written");
    state["retry_at_ms"] = (wall + 3_600_000).into();
    std::fs::write(&state_file, serde_json::to_vec(&state).unwrap()).unwrap();
    let left = restarting_in(&sb, "jumpy");
    assert!(left > 0.0 && left <= 30.0, "after the jump: {left}");

    // An older svc's state file: only the wall-clock time.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let obj = state.as_object_mut().unwrap();
    obj.retain(|k, _| k != "retry_at_mono_ms");
    obj.insert("retry_at_ms".into(), (now_ms + 20_000).into());
    std::fs::write(&state_file, serde_json::to_vec(&state).unwrap()).unwrap();
    let left = restarting_in(&sb, "jumpy");
    assert!(left > 10.0 && left <= 20.0, "old state file: {left}");
    sb.svc(["stop", "jumpy"]).ok();
}

/// A FIFO where the supervisor's state file should be (whoever can write the state directory
/// can put one there) is refused at once: `status`, `stop` and `start` never wait on it, and
/// `start` replaces it with a proper file.
#[test]
fn a_fifo_as_the_supervisor_state_never_blocks() {
    let sb = Sandbox::new();
    // A sandbox script, so the sandbox guard finds it even if the test fails.
    sb.service("sup", &format!("{}respawn: true\n", sb.sleeper("sup")));
    std::fs::create_dir_all(&sb.state).unwrap();
    let state = sb.state.join("sup.supervisor");
    let c = std::ffi::CString::new(state.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let run = |args: &[&str]| {
        let child = spawn_svc(&sb, args);
        finish(child, args, Duration::from_secs(10))
    };
    run(&["status", "sup"]).code(3);
    run(&["stop", "sup"]).ok();
    // Stopped on the way out from here on (before, a stop could itself wait on the FIFO).
    let _stop = StopOnDrop(&sb, "sup");
    run(&["start", "sup"]).ok();
    assert!(std::fs::metadata(&state).unwrap().is_file());
    run(&["status", "sup"]).ok();
    run(&["stop", "sup"]).ok();
}
