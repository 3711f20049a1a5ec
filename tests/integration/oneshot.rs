//! One-shot tasks (`oneshot: true`, `stop_exec`; SPEC §8.1, docs/services.md "One-shot tasks"):
//! `start` runs the task to its end; exit 0 is `done`, anything else `failed`; a task past
//! `ready_timeout` is killed with its process group; `start` of a done task runs nothing,
//! `restart` runs it again; `stop` runs `stop_exec`; a done-record of another boot is stopped;
//! the keys a task cannot have; a switch starts what requires a task only once it is done.

use crate::util::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A task: a shell script that appends a line to work/NAME.runs each time it runs, then runs
/// `body`. Returns the definition text (without its `oneshot: true` line's extras).
fn task(sb: &Sandbox, name: &str, body: &str, extra: &str) -> PathBuf {
    let w = sb.work.display();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!("#!/bin/sh\necho run >> {w}/{name}.runs\n{body}\n"),
    );
    sb.service(
        name,
        &format!("oneshot: true\nexec: {}\n{extra}", script.display()),
    );
    sb.work.join(format!("{name}.runs"))
}

/// How many times the task ran (lines in its runs file).
fn runs(file: &Path) -> usize {
    std::fs::read_to_string(file)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn json_state(sb: &Sandbox, name: &str) -> Value {
    let r = sb.svc(["status", "--json", name]);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}:\n{}", r.stdout));
    v[0].clone()
}

/// The state directory holds nothing of the task but its done-record and lock.
#[track_caller]
fn no_run_left(sb: &Sandbox, name: &str) {
    for ext in ["pid", "state"] {
        let p = sb.state.join(format!("{name}.{ext}"));
        assert!(!p.exists(), "{} left after the task ended", p.display());
    }
}

#[test]
fn a_task_that_exits_0_is_done() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    // Detached: its own session, led by itself; a clean environment.
    let runs_file = task(
        &sb,
        "t",
        &format!(
            "cut -d' ' -f6 /proc/$$/stat > {w}/sid\necho $$ > {w}/pid\necho \"FROM_ENV=$FROM_ENV\" > {w}/env\necho hello from the task"
        ),
        "env: { FROM_ENV: yes }\n",
    );
    sb.svc(["start", "t"])
        .ok()
        .stdout_has("Starting t ... [ OK ]");
    assert_eq!(runs(&runs_file), 1);
    let read = |f: &str| std::fs::read_to_string(sb.work.join(f)).unwrap();
    assert_eq!(read("sid"), read("pid"), "the task leads its own session");
    assert_eq!(read("env"), "FROM_ENV=yes\n");
    let log = std::fs::read_to_string(sb.logfile("t")).unwrap();
    assert!(log.contains("hello from the task"), "{log}");
    no_run_left(&sb, "t");

    let st = sb.svc(["status", "t"]);
    st.ok();
    assert!(
        st.stdout.starts_with("t is done (exited 0, ") && st.stdout.trim_end().ends_with("s ago)"),
        "{}",
        st.stdout
    );
    let j = json_state(&sb, "t");
    assert_eq!(j["state"], "done", "{j}");
    assert_eq!(j["pid"], Value::Null, "{j}");
    assert_eq!(j["finished"]["how"], "exited 0", "{j}");
    // The table too.
    sb.svc(["status"]).ok().stdout_has("done");
    assert!(
        sb.state.join("t.done").exists(),
        "the done-record is <state>/t.done"
    );
}

#[test]
fn a_failing_task_fails_start_quoting_its_log_and_is_failed() {
    let sb = Sandbox::new();
    task(&sb, "t", "echo the disk is on fire\nexit 4", "");
    sb.svc(["start", "t"])
        .code(1)
        .stdout_has("Starting t ... [FAILED]")
        .stderr_has("exited with status 4")
        .stderr_has("the disk is on fire");
    no_run_left(&sb, "t");
    sb.svc(["status", "t"])
        .code(3)
        .stdout_has("t has failed (exited 4, ");
    assert_eq!(json_state(&sb, "t")["state"], "failed");

    // Killed by a signal: failed too.
    task(&sb, "k", "kill -KILL $$", "");
    sb.svc(["start", "k"])
        .code(1)
        .stderr_has("was killed by signal SIGKILL");
    sb.svc(["status", "k"])
        .code(3)
        .stdout_has("k has failed (killed by signal SIGKILL, ");

    // A failed task runs again at the next start.
    let runs_file = task(&sb, "t", "exit 0", "");
    sb.svc(["start", "t"]).ok();
    assert_eq!(runs(&runs_file), 2);
    sb.svc(["status", "t"]).ok().stdout_has("t is done");
}

#[test]
fn a_task_past_ready_timeout_is_killed_with_its_process_group() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    task(
        &sb,
        "slow",
        &format!("sleep 300 &\necho $! > {w}/child\necho $$ > {w}/main\nwait"),
        "ready_timeout: 1s\n",
    );
    let r = sb.svc(["start", "slow"]);
    r.code(1)
        .stderr_has("did not finish within 1s; its process group was killed");
    let main = read_pid(&sb.work.join("main"));
    let child = read_pid(&sb.work.join("child"));
    assert!(!alive(main), "the task {main} survived its timeout");
    assert!(
        !alive(child),
        "the task's child {child} survived its timeout"
    );
    assert!(group_members(main).is_empty());
    no_run_left(&sb, "slow");
    sb.svc(["status", "slow"])
        .code(3)
        .stdout_has("slow has failed (timed out after 1s, ");
}

#[test]
fn what_a_done_task_left_in_its_group_is_ended() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    task(
        &sb,
        "t",
        &format!("sleep 300 &\necho $! > {w}/child\nexit 0"),
        "stop_timeout: 2s\n",
    );
    sb.svc(["start", "t"]).ok();
    let child = read_pid(&sb.work.join("child"));
    assert!(!alive(child), "the task's child {child} outlived it");
    sb.svc(["status", "t"]).ok().stdout_has("t is done");
}

#[test]
fn start_of_a_done_task_runs_nothing_and_restart_runs_it_again() {
    let sb = Sandbox::new();
    let runs_file = task(&sb, "t", "exit 0", "");
    sb.svc(["start", "t"]).ok();
    sb.svc(["start", "t"])
        .ok()
        .stdout_has("t is already done (");
    assert_eq!(runs(&runs_file), 1, "start of a done task ran it again");
    sb.svc(["restart", "t"])
        .ok()
        .stdout_has("Starting t ... [ OK ]");
    assert_eq!(runs(&runs_file), 2, "restart did not run the task again");
    sb.svc(["status", "t"]).ok().stdout_has("t is done");
}

#[test]
fn stop_runs_stop_exec_and_then_the_task_is_stopped() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    let runs_file = task(
        &sb,
        "t",
        "exit 0",
        &format!(
            "env: {{ WHO: task }}\nstop_exec: [/bin/sh, -c, 'echo \"stopped $WHO\" >> {w}/stops']\n"
        ),
    );
    let stops = sb.work.join("stops");
    // Not done: stop runs nothing.
    sb.svc(["stop", "t"]).ok().stdout_has("t is not running");
    assert!(!stops.exists(), "stop_exec ran for a task that had not run");
    sb.svc(["start", "t"]).ok();
    sb.svc(["stop", "t"])
        .ok()
        .stdout_has("Stopping t ... [ OK ]");
    assert_eq!(std::fs::read_to_string(&stops).unwrap(), "stopped task\n");
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
    no_run_left(&sb, "t");
    assert!(!sb.state.join("t.done").exists());
    sb.svc(["stop", "t"]).ok().stdout_has("t is not running");
    assert_eq!(
        std::fs::read_to_string(&stops).unwrap(),
        "stopped task\n",
        "stop_exec ran again for a stopped task"
    );
    // Stopped: start runs it again.
    sb.svc(["start", "t"]).ok();
    assert_eq!(runs(&runs_file), 2);
}

#[test]
fn a_failing_stop_exec_fails_stop_and_the_task_is_stopped_all_the_same() {
    let sb = Sandbox::new();
    task(
        &sb,
        "t",
        "exit 0",
        "stop_exec: [/bin/sh, -c, 'echo cannot unload the rules; exit 2']\n",
    );
    sb.svc(["start", "t"]).ok();
    sb.svc(["stop", "t"])
        .code(1)
        .stdout_has("Stopping t ... [FAILED]")
        .stderr_has("stop_exec /bin/sh exited with status 2")
        .stderr_has("cannot unload the rules");
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
}

#[test]
fn stop_without_stop_exec_forgets_the_task() {
    let sb = Sandbox::new();
    let runs_file = task(&sb, "t", "exit 0", "");
    sb.svc(["start", "t"]).ok();
    sb.svc(["stop", "t"])
        .ok()
        .stdout_has("Stopping t ... [ OK ]");
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
    sb.svc(["start", "t"]).ok();
    assert_eq!(runs(&runs_file), 2);
}

#[test]
fn a_done_record_of_another_boot_means_stopped() {
    let sb = Sandbox::new();
    let runs_file = task(&sb, "t", "exit 0", "");
    sb.svc(["start", "t"]).ok();
    let path = sb.state.join("t.done");
    let mut record: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(record["boot_id"], boot.trim(), "{record:?}");
    let other = if boot.starts_with('0') {
        "11111111-1111-4111-8111-111111111111"
    } else {
        "00000000-0000-4000-8000-000000000000"
    };
    record.insert("boot_id".into(), other.into());
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
    sb.svc(["start", "t"])
        .ok()
        .stdout_has("Starting t ... [ OK ]");
    assert_eq!(runs(&runs_file), 2, "after a reboot the task runs again");
    sb.svc(["status", "t"]).ok().stdout_has("t is done");
}

#[test]
fn while_it_runs_the_task_is_starting_and_start_returns_when_it_is_done() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    task(
        &sb,
        "t",
        &format!("echo $$ > {w}/main\nwhile [ ! -e {w}/go ]; do sleep 0.05; done"),
        "",
    );
    let child = spawn_svc(&sb, &["start", "t"]);
    let main = read_pid(&sb.work.join("main"));
    let st = sb.svc(["status", "t"]);
    st.ok().stdout_has(&format!("t is starting (pid {main})"));
    std::fs::write(sb.work.join("go"), "").unwrap();
    finish(child, &["start", "t"], T)
        .ok()
        .stdout_has("Starting t ... [ OK ]");
    sb.svc(["status", "t"]).ok().stdout_has("t is done");
}

#[test]
fn keys_a_task_cannot_have_are_definition_errors_naming_file_and_line() {
    let sb = Sandbox::new();
    sb.service(
        "bad",
        "oneshot: true\nexec: /bin/true\nrespawn: {}\nforking: true\nsocket: {port: 7000}\nready: {file: /tmp/r}\npidfile: /run/bad.pid\n",
    );
    sb.service("bad2", "exec: /bin/true\nstop_exec: [/bin/true]\n");
    sb.service("bad3", "oneshot: true\nscript: /etc/init.d/whatever\n");
    let r = sb.svc(["check", "--no-host-checks"]);
    r.code(6);
    let file = |n: &str| {
        sb.config
            .join(format!("init.d/{n}.yaml"))
            .display()
            .to_string()
    };
    for (name, line, key) in [
        ("bad", 3, "respawn"),
        ("bad", 4, "forking"),
        ("bad", 5, "socket"),
        ("bad", 6, "ready"),
        ("bad", 7, "pidfile"),
        ("bad3", 2, "script"),
    ] {
        r.stderr_has(&format!(
            "{}:{line}: `{key}` cannot be used with `oneshot: true`",
            file(name)
        ));
    }
    r.stderr_has(&format!(
        "{}:2: `stop_exec` needs `oneshot: true`",
        file("bad2")
    ));
    sb.svc(["start", "bad"]).code(6);
    // A stop_exec program that is not there: `svc check` says so at its line.
    sb.service(
        "t",
        "oneshot: true\nexec: /bin/true\nstop_exec: [/nonexistent/unload]\n",
    );
    sb.svc(["check"]).code(6).stderr_has(&format!(
        "{}:3: `stop_exec`: /nonexistent/unload",
        file("t")
    ));
}

/// What the `web` daemon of the switch test found at its start (once it has written it whole).
fn what_web_saw(file: &Path) -> String {
    wait_until(T, "web to record what it saw", || {
        std::fs::read_to_string(file).is_ok_and(|t| t.ends_with('\n'))
    });
    std::fs::read_to_string(file).unwrap()
}

/// A switch orders a task like any service, and what requires it starts only once it is done:
/// both have the same number, so only `requires` orders them.
#[test]
fn a_switch_starts_what_requires_a_task_only_once_it_is_done() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    task(
        &sb,
        "prep",
        &format!("sleep 0.5\necho prepared > {w}/prepared"),
        "",
    );
    let web = sb.script(
        "web.sh",
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\nif [ -e {w}/prepared ]; then echo saw > {w}/web.saw; else echo missing > {w}/web.saw; fi\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service(
        "web",
        &format!("exec: {}\nrequires: [prep]\n", web.display()),
    );
    for n in ["prep", "web"] {
        std::os::unix::fs::symlink(
            format!("../../init.d/{n}.yaml"),
            sb.config.join(format!("runlevels/rc3.d/S20{n}")),
        )
        .unwrap();
    }
    sb.svc(["switch", "3"]).ok();
    let saw = sb.work.join("web.saw");
    assert_eq!(what_web_saw(&saw), "saw\n");
    sb.svc(["status", "prep"]).ok().stdout_has("prep is done");
    // A second switch keeps the done task: it does not run again.
    sb.svc(["switch", "3"]).ok();
    assert_eq!(runs(&sb.work.join("prep.runs")), 1);
    sb.svc(["stop", "web"]).ok();

    // `svc start web` runs the task it requires first, the same way.
    std::fs::remove_file(&saw).unwrap();
    std::fs::remove_file(sb.work.join("prepared")).unwrap();
    sb.svc(["stop", "prep"]).ok();
    sb.svc(["start", "web"]).ok();
    assert_eq!(what_web_saw(&saw), "saw\n");
    sb.svc(["stop", "web"]).ok();
}

/// SIGTERM to a switch that waits for a task: the task and what it started are killed, the
/// switch gives up, and the task is not `done`.
#[test]
fn a_cancelled_switch_kills_the_task_it_waits_for() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    task(
        &sb,
        "t",
        &format!("sleep 300 &\necho $! > {w}/child\necho $$ > {w}/main\nwait"),
        "ready_timeout: 60s\n",
    );
    std::os::unix::fs::symlink(
        "../../init.d/t.yaml",
        sb.config.join("runlevels/rc3.d/S10t"),
    )
    .unwrap();
    let args = ["switch", "3"];
    let child = spawn_svc(&sb, &args);
    let main = read_pid(&sb.work.join("main"));
    let task_child = read_pid(&sb.work.join("child"));
    send_signal(child.id() as i32, libc::SIGTERM);
    let r = finish(child, &args, T);
    assert_ne!(r.code, 0, "the cancelled switch reported success");
    wait_until(T, "the task and its child to be gone", || {
        !alive(main) && !alive(task_child)
    });
    no_run_left(&sb, "t");
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
}

/// A done-record svc cannot replace (a directory planted there): start fails naming it, and
/// the task does not run.
#[test]
fn a_done_record_that_cannot_be_replaced_fails_start_and_runs_nothing() {
    let sb = Sandbox::new();
    let runs_file = task(&sb, "t", "exit 0", "");
    std::fs::create_dir_all(sb.state.join("t.done/x")).unwrap();
    sb.svc(["start", "t"]).code(1).stderr_has(&format!(
        "cannot remove {}",
        sb.state.join("t.done").display()
    ));
    assert_eq!(runs(&runs_file), 0);
    sb.svc(["status", "t"]).code(3).stdout_has("t is stopped");
}
