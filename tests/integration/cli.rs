use crate::util::*;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn has_ansi(s: &str) -> bool {
    s.contains('\u{1b}')
}

// ---------------------------------------------------------------------------------------------
// D4: hostile service names.

/// Writes a valid definition at the path a lax implementation would build from `name`, so that
/// a name that is not rejected starts something (and the test sees it).
fn plant_decoy(sb: &Sandbox, name: &OsStr) {
    let mut file = sb.config.join("init.d").into_os_string();
    file.push("/");
    file.push(name);
    file.push(".yaml");
    let file = PathBuf::from(file);
    if let Some(parent) = file.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
    }
    let script = sb.script(
        "decoy.sh",
        &format!(
            "#!/bin/sh\necho $$ >> {}/decoy.started\nexec sleep 1000\n",
            sb.work.display()
        ),
    );
    let _ = std::fs::write(&file, format!("exec: {}\n", script.display()));
}

fn hostile_names() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "../../etc/passwd",
        "/",
        ".",
        "..",
        "a/b",
        "-x",
        "a\nb",
        ".hidden",
        "",
        "a b",
        "Ｘ",
        "x;touch pwned",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(OsString::from("a".repeat(300)));
    v.push(OsString::from("a".repeat(65)));
    v.push(OsString::from_vec(b"a\xffb".to_vec()));
    v
}

#[test]
fn d4_hostile_names_rejected_with_exit_2_and_nothing_created() {
    let sb = Sandbox::new();
    let names = hostile_names();
    for n in &names {
        plant_decoy(&sb, n);
    }
    let before = tree(sb.path());
    let mut failures = Vec::new();
    for n in &names {
        for action in ["start", "stop", "status", "restart", "reload"] {
            let args: Vec<OsString> = vec![action.into(), "--".into(), n.clone()];
            let r = svc_env(&sb, &[], &args);
            let valid_utf8 = n.to_str().is_some();
            if r.code != 2
                || r.stderr.contains("panicked")
                || (valid_utf8 && !r.stderr.contains("invalid service name"))
            {
                failures.push(format!(
                    "svc {action} -- {n:?}: exit {} (want 2), stderr {:?}",
                    r.code, r.stderr
                ));
            }
        }
    }
    // Creating the (empty) state and log directories is tolerated; nothing in them is.
    let mut after = tree(sb.path());
    after.retain(|l| l != "d state" && l != "d log");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(before, after, "hostile names changed the sandbox tree");
    assert!(
        !sb.work.join("decoy.started").exists(),
        "a decoy was started"
    );
    assert!(!Path::new("/tmp/etc/passwd.pid").exists());
    assert!(!Path::new("/.pid").exists());
}

#[test]
fn d4_longest_valid_name_is_accepted_as_a_name() {
    // 64 characters is valid (exit 4/5: no such service), 65 is not (exit 2).
    let sb = Sandbox::new();
    let ok = "a".repeat(64);
    sb.svc(["status", &ok]).code(4).no_panic();
    sb.svc(["start", &ok]).code(5).no_panic();
    let bad = "a".repeat(65);
    sb.svc(["status", &bad])
        .code(2)
        .stderr_has("invalid service name");
}

// ---------------------------------------------------------------------------------------------
// Exit codes for unknown services and for several names (docs/commands.md).

#[test]
fn unknown_service_status_4_actions_5() {
    let sb = Sandbox::new();
    let r = sb.svc(["status", "nosuch"]);
    r.code(4).stderr_has("no such service").no_panic();
    assert!(!r.stdout.contains("no such service"), "error on stdout");
    for action in [
        "start",
        "stop",
        "restart",
        "try-restart",
        "reload",
        "force-reload",
    ] {
        sb.svc([action, "nosuch"])
            .code(5)
            .stderr_has("nosuch")
            .no_panic();
    }
    assert!(!pidfile_exists(&sb, "nosuch"));
}

#[test]
fn several_names_exit_with_first_non_zero_in_argument_order() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("b", &sb.sleeper("b"));
    let a = start_sleeper(&sb, "a");

    // status: a running (0), nosuch unknown (4), b stopped (3).
    let r = sb.svc(["status", "a", "nosuch", "b"]);
    r.code(4);
    let ia = r.stdout.find("a is running").expect("line for a");
    let ib = r.stdout.find("b is stopped").expect("line for b");
    assert!(ia < ib, "lines not in argument order:\n{}", r.stdout);
    sb.svc(["status", "a", "b", "nosuch"]).code(3);
    sb.svc(["status", "b", "a"]).code(3);
    sb.svc(["status", "a"]).ok();

    // start: the unknown name fails with 5, the known one after it is still started.
    sb.svc(["start", "nosuch", "b"]).code(5);
    let b = sb.pid("b");
    assert!(alive(b), "b was not started after an unknown name");

    // stop: a is stopped although a later name is unknown.
    sb.svc(["stop", "a", "nosuch"]).code(5);
    assert!(!alive(a), "a still alive after stop");
    sb.svc(["stop", "b"]).ok();
    sb.svc(["status", "a", "b"]).code(3);
}

// ---------------------------------------------------------------------------------------------
// Help, version, usage errors (I2).

#[test]
fn help_and_version_exit_0() {
    let sb = Sandbox::new();
    let r = sb.svc(["--help"]);
    r.ok().no_panic();
    assert!(
        r.stdout.contains("start") && r.stdout.contains("status"),
        "{}",
        r.stdout
    );
    let r = sb.svc(["--version"]);
    r.ok().stdout_has(env!("CARGO_PKG_VERSION"));
    for cmd in ["start", "stop", "status", "check", "reload"] {
        let r = sb.svc([cmd, "--help"]);
        r.ok().no_panic();
        assert!(!r.stdout.is_empty(), "svc {cmd} --help printed nothing");
    }
}

#[test]
fn i2_unknown_subcommand_and_bad_usage_exit_2() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    for args in [
        vec!["frobnicate", "a"],
        vec!["--bogus-flag", "status", "a"],
        vec!["start"],
        vec!["status", "--bogus", "a"],
    ] {
        let r = sb.svc(&args);
        r.code(2).no_panic();
        assert!(!r.stderr.is_empty(), "svc {args:?}: no error message");
        assert!(!r.stdout.contains("Starting"), "svc {args:?} acted");
    }
    assert!(!pidfile_exists(&sb, "a"), "a usage error started a service");
}

// ---------------------------------------------------------------------------------------------
// Closed stdout (B15, I5): no panic, exit codes preserved, work still done.

/// Runs svc with stdout a pipe whose read end is already closed.
fn svc_closed_stdout(sb: &Sandbox, args: &[&str]) -> Run {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array with new descriptors we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2");
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let mut c = sb.cmd(args);
    c.stdout(Stdio::from(write)).stderr(Stdio::piped());
    run_timeout(c, display_args(args), SVC_LIMIT)
}

#[test]
fn b15_closed_stdout_no_panic_and_exit_codes_kept() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("b", &sb.sleeper("b"));

    let r = svc_closed_stdout(&sb, &["start", "a"]);
    r.no_panic().ok();
    let a = sb.pid("a");
    assert!(
        alive(a),
        "start with a closed stdout did not leave a running"
    );

    svc_closed_stdout(&sb, &["status", "a"]).no_panic().ok();
    svc_closed_stdout(&sb, &["status", "b"]).no_panic().code(3);
    svc_closed_stdout(&sb, &["status"]).no_panic().ok();
    svc_closed_stdout(&sb, &["status", "--json", "a"])
        .no_panic()
        .ok();
    svc_closed_stdout(&sb, &["check"]).no_panic().ok();
    svc_closed_stdout(&sb, &["--help"]).no_panic().ok();

    svc_closed_stdout(&sb, &["stop", "a"]).no_panic().ok();
    assert!(!alive(a), "stop with a closed stdout left a running");
    sb.svc(["status", "a"]).code(3);
}

#[test]
fn b15_pipe_into_true_no_panic() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    start_sleeper(&sb, "a");
    let script = format!(
        "\"$0\" --config-dir {c} --state-dir {s} --log-dir {l} status a | true; echo \"rc=$?\"",
        c = sb.config.display(),
        s = sb.state.display(),
        l = sb.log.display()
    );
    let mut c = Command::new("sh");
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("-c")
        .arg(script)
        .arg(SVC)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let r = run_timeout(c, vec!["sh -c svc status a | true".into()], SVC_LIMIT);
    r.ok().no_panic();
    sb.svc(["stop", "a"]).ok();
}

// ---------------------------------------------------------------------------------------------
// Streams, --quiet, colour (docs/commands.md; I5).

#[test]
fn i5_results_on_stdout_errors_on_stderr() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("bad", "exec: /bin/true\nbogus_key: 1\n");

    let r = sb.svc(["start", "a"]);
    r.ok().stdout_has("Starting a ... [ OK ]");
    assert!(r.stderr.is_empty(), "start a wrote to stderr: {}", r.stderr);

    let r = sb.svc(["status", "a"]);
    r.ok().stdout_has("a is running");
    assert!(r.stderr.is_empty(), "status wrote to stderr: {}", r.stderr);

    let r = sb.svc(["start", "bad"]);
    r.code(6).stderr_has("bad.yaml:2");
    assert!(!r.stdout.contains("bogus_key"), "error detail on stdout");

    let r = sb.svc(["stop", "a"]);
    r.ok().stdout_has("Stopping a ... [ OK ]");
    assert!(r.stderr.is_empty(), "stop wrote to stderr: {}", r.stderr);
}

#[test]
fn quiet_prints_nothing_on_stdout() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    let r = sb.svc(["--quiet", "start", "a"]);
    r.ok();
    assert_eq!(r.stdout, "", "--quiet start printed on stdout");
    let a = sb.pid("a");
    assert!(alive(a));

    for args in [
        vec!["-q", "status", "a"],
        vec!["status", "a", "--quiet"],
        vec!["--quiet", "start", "a"],
    ] {
        let r = sb.svc(&args);
        r.ok();
        assert_eq!(r.stdout, "", "svc {args:?} printed on stdout");
    }
    // Errors are still reported.
    let r = sb.svc(["--quiet", "start", "nosuch"]);
    r.code(5);
    assert_eq!(r.stdout, "");
    assert!(!r.stderr.is_empty(), "--quiet hid an error");

    let r = sb.svc(["stop", "-q", "a"]);
    r.ok();
    assert_eq!(r.stdout, "", "--quiet stop printed on stdout");
    assert!(!alive(a));
    let r = sb.svc(["-q", "status", "a"]);
    r.code(3);
    assert_eq!(r.stdout, "");
}

/// Issue 10 item 18: with --quiet the `Starting X ... [FAILED]` line is gone, so the error line
/// itself names the service that failed (`svc: X: reason`), once; without --quiet the output
/// is unchanged.
#[test]
fn quiet_failure_names_the_service() {
    let sb = Sandbox::new();
    sb.service("good", &sb.sleeper("good"));
    let missing = sb.work.join("no-such-program");
    sb.service("broken", &format!("exec: {}\n", missing.display()));
    sb.service(
        "needy",
        &format!("{}requires: [broken]\n", sb.sleeper("needy")),
    );

    let r = sb.svc(["-q", "start", "good", "broken"]);
    r.code(5);
    assert_eq!(r.stdout, "");
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("no-such-program"))
        .unwrap_or_else(|| panic!("no reason on stderr:\n{}", r.stderr));
    assert!(
        line.starts_with("svc: broken: "),
        "the failure does not name the service: {line:?}\n{}",
        r.stderr
    );

    // A reason that already names the service is not prefixed twice.
    let r = sb.svc(["--quiet", "start", "needy"]);
    r.code(1);
    assert!(
        r.stderr
            .lines()
            .any(|l| l == "svc: needy: required service broken did not start"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("needy: needy:"), "{}", r.stderr);
    assert!(
        r.stderr.lines().any(|l| l.starts_with("svc: broken: ")),
        "{}",
        r.stderr
    );

    // Without --quiet: the result line names it and the reason is printed as before.
    let r = sb.svc(["start", "broken"]);
    r.code(5).stdout_has("Starting broken ... [FAILED]");
    assert!(
        r.stderr.starts_with(&format!("svc: {}", missing.display())),
        "{}",
        r.stderr
    );
    sb.svc(["stop", "good"]).ok();
}

#[test]
fn no_ansi_escapes_when_not_a_terminal() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("bad", "exec: /bin/true\nnice: 100\n");
    for envs in [
        vec![],
        vec![("NO_COLOR", "1")],
        vec![("TERM", "xterm-256color")],
    ] {
        let mut runs = vec![
            svc_env(&sb, &envs, &["start", "a"]),
            svc_env(&sb, &envs, &["status", "a"]),
            svc_env(&sb, &envs, &["status"]),
            svc_env(&sb, &envs, &["start", "bad"]),
            svc_env(&sb, &envs, &["check"]),
        ];
        runs.push(svc_env(&sb, &envs, &["stop", "a"]));
        for r in &runs {
            assert!(
                !has_ansi(&r.stdout) && !has_ansi(&r.stderr),
                "svc {:?} with {envs:?} wrote ANSI escapes:\n{:?}\n{:?}",
                r.args,
                r.stdout,
                r.stderr
            );
        }
    }
}

/// Runs svc with stdout and stderr on a pseudo-terminal; returns the exit code and what the
/// terminal received.
fn svc_on_tty(sb: &Sandbox, envs: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let mut master = 0;
    let mut slave = 0;
    // SAFETY: openpty writes two new descriptors into the given integers; the name, termios
    // and winsize arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut c = sb.cmd(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let r = run_timeout(c, display_args(args), SVC_LIMIT);
    // The child has exited and our copy of the slave is closed: read what is buffered, without
    // blocking should a leaked copy of the slave keep the terminal open.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let mut f = std::fs::File::from(master);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    (r.code, String::from_utf8_lossy(&buf).into_owned())
}

#[test]
fn no_color_and_flag_disable_colour_on_a_terminal() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    let term = [("TERM", "xterm-256color")];
    let no_color = [("TERM", "xterm-256color"), ("NO_COLOR", "1")];

    // Control: on a terminal, without NO_COLOR, svc does colour, so the checks below mean
    // something.
    let (code, out) = svc_on_tty(&sb, &term, &["status", "nosuch"]);
    assert_eq!(code, 4, "status nosuch on a tty: {out:?}");
    let (code, out) = svc_on_tty(&sb, &term, &["start", "a"]);
    assert_eq!(code, 0, "start on a tty: {out:?}");
    assert!(
        has_ansi(&out),
        "control: no colour on a terminal at all: {out:?}"
    );
    sb.svc(["stop", "a"]).ok();

    let (code, out) = svc_on_tty(&sb, &no_color, &["start", "a"]);
    assert_eq!(code, 0, "start on a tty: {out:?}");
    assert!(out.contains("[ OK ]"), "start printed {out:?}");
    assert!(!has_ansi(&out), "NO_COLOR: escapes in {out:?}");

    let (code, out) = svc_on_tty(&sb, &no_color, &["status", "a"]);
    assert_eq!(code, 0);
    assert!(!has_ansi(&out), "NO_COLOR: escapes in {out:?}");

    let (code, out) = svc_on_tty(&sb, &term, &["--no-color", "status", "a"]);
    assert_eq!(code, 0);
    assert!(out.contains("a is running"), "status printed {out:?}");
    assert!(!has_ansi(&out), "--no-color: escapes in {out:?}");

    let (code, out) = svc_on_tty(&sb, &term, &["stop", "--no-color", "a"]);
    assert_eq!(code, 0);
    assert!(out.contains("[ OK ]"), "stop printed {out:?}");
    assert!(!has_ansi(&out), "--no-color: escapes in {out:?}");
}

// ---------------------------------------------------------------------------------------------
// Directories: flag > environment > default (docs/commands.md).

/// A script that records which configuration launched it and prints a line to its log.
fn which_script(sb: &Sandbox, tag: &str) -> PathBuf {
    sb.script(
        &format!("which-{tag}.sh"),
        &format!(
            "#!/bin/sh\necho {tag} > {w}/x.which\necho hello-{tag}\nwhile :; do sleep 1 & wait $!; done\n",
            w = sb.work.display()
        ),
    )
}

/// svc without the sandbox's directory flags: only what `args` and `envs` say.
fn bare_svc(sb: &Sandbox, envs: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut c = Command::new(SVC);
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", sb.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    run_timeout(c, display_args(args), SVC_LIMIT)
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn directories_flag_beats_environment() {
    let sb = Sandbox::new();
    let root = sb.path();
    for tag in ["A", "B"] {
        let init = root.join(format!("conf{tag}/init.d"));
        std::fs::create_dir_all(&init).unwrap();
        let script = which_script(&sb, tag);
        std::fs::write(init.join("x.yaml"), format!("exec: {}\n", script.display())).unwrap();
    }
    let (conf_a, state_a, log_a) = (root.join("confA"), root.join("stateA"), root.join("logA"));
    let (conf_b, state_b, log_b) = (root.join("confB"), root.join("stateB"), root.join("logB"));
    let env: [(&str, &Path); 3] = [
        ("SVC_CONFIG_DIR", &conf_a),
        ("SVC_STATE_DIR", &state_a),
        ("SVC_LOG_DIR", &log_a),
    ];
    let which = sb.work.join("x.which");

    // Environment only: everything in the A directories, created on demand.
    bare_svc(&sb, &env, &["start", "x"]).ok();
    // The daemon writes the file with `echo`: wait for the whole line, not just the file.
    wait_until(Duration::from_secs(5), "x.which", || {
        std::fs::read_to_string(&which).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(std::fs::read_to_string(&which).unwrap().trim(), "A");
    assert!(
        state_a.join("x.pid").exists(),
        "no PID file in SVC_STATE_DIR"
    );
    wait_until(
        Duration::from_secs(5),
        "hello-A in the SVC_LOG_DIR log",
        || std::fs::read_to_string(log_a.join("x.log")).is_ok_and(|t| t.contains("hello-A")),
    );
    bare_svc(&sb, &env, &["stop", "x"]).ok();
    std::fs::remove_file(&which).unwrap();

    // Flags beat the environment, one by one.
    let flags = [
        "--config-dir",
        conf_b.to_str().unwrap(),
        "--state-dir",
        state_b.to_str().unwrap(),
        "--log-dir",
        log_b.to_str().unwrap(),
    ];
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["start", "x"]);
    bare_svc(&sb, &env, &args).ok();
    // The daemon writes the file with `echo`: wait for the whole line, not just the file.
    wait_until(Duration::from_secs(5), "x.which", || {
        std::fs::read_to_string(&which).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(
        std::fs::read_to_string(&which).unwrap().trim(),
        "B",
        "--config-dir did not beat SVC_CONFIG_DIR"
    );
    assert!(
        state_b.join("x.pid").exists(),
        "--state-dir did not beat SVC_STATE_DIR"
    );
    assert!(
        !state_a.join("x.pid").exists(),
        "PID file written to SVC_STATE_DIR"
    );
    wait_until(
        Duration::from_secs(5),
        "hello-B in the --log-dir log",
        || std::fs::read_to_string(log_b.join("x.log")).is_ok_and(|t| t.contains("hello-B")),
    );
    let log_a_text = std::fs::read_to_string(log_a.join("x.log")).unwrap_or_default();
    assert!(
        !log_a_text.contains("hello-B"),
        "output logged to SVC_LOG_DIR"
    );
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["stop", "x"]);
    bare_svc(&sb, &env, &args).ok();
}

#[test]
fn state_and_log_dirs_created_with_mode_0755_whatever_the_umask() {
    let sb = Sandbox::new();
    sb.service("x", &sb.sleeper("x"));
    assert!(!sb.state.exists() && !sb.log.exists());
    // Start under a restrictive caller umask.
    let mut c = sb.wrapped("sh", &["-c", "umask 077; exec \"$@\"", "sh"]);
    c.args(["start", "x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_timeout(c, vec!["umask 077; svc start x".into()], SVC_LIMIT).ok();
    let (state, log) = (mode_of(&sb.state), mode_of(&sb.log));
    assert_eq!(
        (state, log),
        (0o755, 0o755),
        "state/log directory modes under umask 077: {state:o}/{log:o}, want 755/755"
    );
    let pid_mode = mode_of(&sb.pidfile("x"));
    assert_eq!(
        pid_mode & 0o022,
        0,
        "PID file is group/world-writable: {pid_mode:o}"
    );
    sb.svc(["stop", "x"]).ok();
}

/// Runs svc as the ordinary test user (util::user: svc-test when we are root, else ourselves),
/// from the sandbox's own copy of the binary: that user may not read the checkout.
#[test]
fn directories_default_to_xdg_locations_for_ordinary_users() {
    let Some(user) = ordinary_user("directories_default_to_xdg_locations_for_ordinary_users")
    else {
        return;
    };
    let (uid, gid) = (user.uid, user.gid);
    let sb = Sandbox::new();
    // Let the ordinary user reach its home inside the sandbox (and the sandbox's svc binary).
    let svc = sb.user_svc();
    let home = sb.path().join("home");
    let run = home.join("run");
    for d in [
        home.join(".config/svc/init.d"),
        home.join("xdgconf/svc/init.d"),
        run.clone(),
    ] {
        std::fs::create_dir_all(&d).unwrap();
    }
    let daemon = home.join("d.sh");
    std::fs::write(
        &daemon,
        "#!/bin/sh\necho \"hello $1\"\nwhile :; do sleep 1 & wait $!; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&daemon, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        home.join(".config/svc/init.d/x.yaml"),
        format!(
            "exec: {}\nargs: [x]\nworkdir: {}\n",
            daemon.display(),
            home.display()
        ),
    )
    .unwrap();
    std::fs::write(
        home.join("xdgconf/svc/init.d/y.yaml"),
        format!(
            "exec: {}\nargs: [y]\nworkdir: {}\n",
            daemon.display(),
            home.display()
        ),
    )
    .unwrap();
    let chown = bounded_status(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(&home),
    );
    assert!(chown.success());

    let svc_as = |envs: &[(&str, &Path)], args: &[&str]| -> Run {
        let mut c = Command::new(&svc);
        c.process_group(0)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &run)
            .args(args)
            .current_dir(&home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            c.env(k, v);
        }
        // std drops the supplementary groups when root switches uid.
        user.apply(&mut c);
        run_timeout(c, display_args(args), SVC_LIMIT)
    };

    // HOME-based defaults: ~/.config/svc, $XDG_RUNTIME_DIR/svc, ~/.local/state/svc/log.
    svc_as(&[], &["start", "x"]).ok();
    let pidfile = run.join("svc/x.pid");
    assert!(pidfile.exists(), "no PID file at {}", pidfile.display());
    let log = home.join(".local/state/svc/log/x.log");
    wait_until(
        Duration::from_secs(5),
        "hello x in ~/.local/state/svc/log/x.log",
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("hello x")),
    );
    assert_eq!(std::fs::metadata(&pidfile).unwrap().uid(), uid);
    svc_as(&[], &["status", "x"]).ok();
    svc_as(&[], &["stop", "x"]).ok();

    // XDG_CONFIG_HOME and XDG_STATE_HOME replace the HOME-based paths.
    let xdg_conf = home.join("xdgconf");
    let xdg_state = home.join("xdgstate");
    let xdg: [(&str, &Path); 2] = [
        ("XDG_CONFIG_HOME", &xdg_conf),
        ("XDG_STATE_HOME", &xdg_state),
    ];
    svc_as(&xdg, &["status", "x"]).code(4);
    svc_as(&xdg, &["start", "y"]).ok();
    let log = xdg_state.join("svc/log/y.log");
    wait_until(
        Duration::from_secs(5),
        "hello y in $XDG_STATE_HOME/svc/log/y.log",
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("hello y")),
    );
    // The environment beats XDG defaults.
    let env_state = home.join("envstate");
    let env: [(&str, &Path); 3] = [
        ("XDG_CONFIG_HOME", &xdg_conf),
        ("XDG_STATE_HOME", &xdg_state),
        ("SVC_STATE_DIR", &env_state),
    ];
    svc_as(&env, &["status", "y"]).code(3);
    svc_as(&xdg, &["stop", "y"]).ok();
}

/// I1: an ordinary user acting on root's services gets LSB 4 (insufficient privilege), and
/// nothing changes: the service still runs, its PID file and record are untouched.
#[test]
fn i1_ordinary_user_on_roots_service_exits_4_and_changes_nothing() {
    let test = "i1_ordinary_user_on_roots_service_exits_4_and_changes_nothing";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.service("x", &format!("{}reload_signal: HUP\n", sb.sleeper("x")));
    sb.svc(["start", "x"]).ok();
    let pid = sb.pid("x");
    let record = std::fs::read(sb.state.join("x.state")).unwrap();
    for action in ["stop", "restart", "reload"] {
        let out = bounded_output(sb.cmd_as(&user).args([action, "x"]));
        assert_eq!(
            out.status.code(),
            Some(4),
            "{action} as {}: {}",
            user.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(alive(pid), "{action} as {} stopped the service", user.name);
        assert_eq!(sb.pid("x"), pid);
        assert_eq!(std::fs::read(sb.state.join("x.state")).unwrap(), record);
    }
    sb.svc(["status", "x"]).ok();
    sb.svc(["stop", "x"]).ok();
}
