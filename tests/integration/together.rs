//! The keys of docs/services.md's second part working together, in the order a start and a
//! stop run them: config_test, the env files, the runtime directories, pre_start, the program
//! (a daemon or a one-shot task), and at stop post_stop, then the directories go. Each piece
//! has its own module (hooks, envfile, rundir, oneshot); this one checks the order between
//! them and what a failure at one step leaves of the others.
//!
//! The runtime directories live under the real /run (the tests run as root): their names hold
//! the sandbox's random name, and a guard removes them whatever the outcome.

use crate::util::*;
use std::path::{Path, PathBuf};

/// Removes a directory a test may have left under /run, when dropped.
struct Gone(PathBuf);

impl Drop for Gone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A runtime_dir name no other test uses, and its path under /run (with its guard).
fn run_dir(sb: &Sandbox) -> (String, PathBuf, Gone) {
    let name = format!("{}-t", sb.path().file_name().unwrap().to_string_lossy());
    let path = Path::new("/run").join(&name);
    (name, path.clone(), Gone(path))
}

/// A command that appends its words and whether $RUNTIME_DIRECTORY exists to work/steps.
fn step(sb: &Sandbox) -> (PathBuf, PathBuf) {
    let steps = sb.work.join("steps");
    let script = sb.script(
        "step.sh",
        &format!(
            "#!/bin/sh\nif [ -d \"$RUNTIME_DIRECTORY\" ]; then d=dir; else d=nodir; fi\necho \"$* $d\" >> {s}\nexit ${{FAIL:-0}}\n",
            s = steps.display()
        ),
    );
    (script, steps)
}

/// A daemon: pre_start finds the runtime directory made and its arguments expanded from the
/// env file; post_stop runs at stop while the directory is still there, and then it is gone.
#[test]
fn a_daemon_start_and_stop_run_every_step_in_order() {
    if skip_unless_root("a_daemon_start_and_stop_run_every_step_in_order") {
        return;
    }
    let sb = Sandbox::new();
    let (name, dir, _gone) = run_dir(&sb);
    let (step, steps) = step(&sb);
    let env = sb.work.join("app.env");
    std::fs::write(&env, "WHO=\"from the file\"\nOPTS=\"-a -b\"\n").unwrap();
    sb.service(
        "app",
        &format!(
            "{}runtime_dir: {name}\nenv_file: {e}\nconfig_test: [{s}, config_test, \"${{WHO}}\"]\npre_start: [[{s}, pre_start, $OPTS]]\npost_stop: [[{s}, post_stop]]\n",
            sb.sleeper("app"),
            e = env.display(),
            s = step.display()
        ),
    );
    sb.svc(["start", "app"]).ok();
    assert!(dir.is_dir(), "{} was not made", dir.display());
    assert_eq!(
        file_lines(&steps),
        ["config_test from the file nodir", "pre_start -a -b dir"],
        "config_test runs before the directory is made; pre_start after, with $OPTS split"
    );
    sb.svc(["stop", "app"]).ok();
    assert_eq!(file_lines(&steps).last().unwrap(), "post_stop dir");
    assert!(!dir.exists(), "{} is still there after stop", dir.display());
}

/// A failing config_test starts nothing and makes nothing: no runtime directory, no pre_start.
#[test]
fn a_failing_config_test_makes_no_runtime_directory() {
    if skip_unless_root("a_failing_config_test_makes_no_runtime_directory") {
        return;
    }
    let sb = Sandbox::new();
    let (name, dir, _gone) = run_dir(&sb);
    let (step, steps) = step(&sb);
    sb.service(
        "app",
        &format!(
            "{}runtime_dir: {name}\nenv: {{FAIL: \"1\"}}\nconfig_test: [{s}, config_test]\npre_start: [[{s}, pre_start]]\n",
            sb.sleeper("app"),
            s = step.display()
        ),
    );
    sb.svc(["start", "app"]).code(6);
    assert_eq!(file_lines(&steps), ["config_test nodir"]);
    assert!(!dir.exists(), "{} was made", dir.display());
}

/// A failing pre_start launches nothing and leaves no runtime directory behind.
#[test]
fn a_failing_pre_start_removes_the_runtime_directory() {
    if skip_unless_root("a_failing_pre_start_removes_the_runtime_directory") {
        return;
    }
    let sb = Sandbox::new();
    let (name, dir, _gone) = run_dir(&sb);
    let (step, steps) = step(&sb);
    sb.service(
        "app",
        &format!(
            "{}runtime_dir: {name}\nenv: {{FAIL: \"2\"}}\npre_start: [[{s}, pre_start]]\n",
            sb.sleeper("app"),
            s = step.display()
        ),
    );
    sb.svc(["start", "app"]).code(1);
    assert_eq!(file_lines(&steps), ["pre_start dir"]);
    assert!(!sb.work.join("app.started").exists(), "the program ran");
    assert!(!dir.exists(), "{} is still there", dir.display());
}

/// A one-shot task: pre_start and the task find the directory; it stays while the task is
/// done; stop runs stop_exec (its arguments expanded), then post_stop, then the directory goes.
#[test]
fn a_oneshot_task_runs_every_step_in_order() {
    if skip_unless_root("a_oneshot_task_runs_every_step_in_order") {
        return;
    }
    let sb = Sandbox::new();
    let (name, dir, _gone) = run_dir(&sb);
    let (step, steps) = step(&sb);
    sb.service(
        "task",
        &format!(
            "oneshot: true\nexec: {s}\nargs: [task, \"${{MODE}}\"]\nenv: {{MODE: fast}}\nruntime_dir: {name}\npre_start: [[{s}, pre_start]]\nstop_exec: [{s}, stop_exec, \"${{MODE}}\"]\npost_stop: [[{s}, post_stop]]\n",
            s = step.display()
        ),
    );
    sb.svc(["start", "task"]).ok();
    sb.svc(["status", "task"]).ok().stdout_has("task is done");
    assert!(dir.is_dir(), "a done task keeps its runtime directory");
    sb.svc(["stop", "task"]).ok();
    assert_eq!(
        file_lines(&steps),
        [
            "pre_start dir",
            "task fast dir",
            "stop_exec fast dir",
            "post_stop dir"
        ]
    );
    assert!(!dir.exists(), "{} is still there after stop", dir.display());
}

/// A task that fails runs post_stop and leaves no runtime directory.
#[test]
fn a_failing_oneshot_runs_post_stop_and_removes_the_directory() {
    if skip_unless_root("a_failing_oneshot_runs_post_stop_and_removes_the_directory") {
        return;
    }
    let sb = Sandbox::new();
    let (name, dir, _gone) = run_dir(&sb);
    let (step, steps) = step(&sb);
    let fail = sb.script(
        "fail.sh",
        &format!("#!/bin/sh\n{} task\nexit 4\n", step.display()),
    );
    sb.service(
        "task",
        &format!(
            "oneshot: true\nexec: {f}\nruntime_dir: {name}\npost_stop: [[{s}, post_stop]]\n",
            f = fail.display(),
            s = step.display()
        ),
    );
    sb.svc(["start", "task"]).code(1);
    assert_eq!(file_lines(&steps), ["task dir", "post_stop dir"]);
    assert!(!dir.exists(), "{} is still there", dir.display());
}

/// A restart reads the env files the start will read before it stops anything: a broken one
/// fails the restart with exit 6, naming its line, and the running service keeps its PID.
#[test]
fn a_broken_env_file_fails_a_restart_before_the_stop() {
    let sb = Sandbox::new();
    let env = sb.work.join("app.env");
    std::fs::write(&env, "GOOD=1\n").unwrap();
    sb.service(
        "app",
        &format!("{}env_file: {}\n", sb.sleeper("app"), env.display()),
    );
    sb.svc(["start", "app"]).ok();
    let pid = sb.pid("app");
    std::fs::write(&env, "GOOD=1\nthis line has no equals sign\n").unwrap();
    sb.svc(["restart", "app"])
        .code(6)
        .stderr_has(&format!("{}:2:", env.display()));
    assert_eq!(
        sb.pid("app"),
        pid,
        "the restart stopped the running service"
    );
    assert!(alive(pid), "the running service is gone");
    sb.svc(["stop", "app"]).ok();
}
