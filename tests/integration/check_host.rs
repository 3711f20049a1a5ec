//! `svc check` reports what `svc start` would refuse on this host although the definition is
//! valid (issue 10 item 16): a program that is missing, not executable or (as root) writable by
//! others; a `user:` while svc is not root; a working directory or log directory that does not
//! exist; a `.yml` file that svc never reads. Each is a problem (`FILE:LINE: message`, exit 6),
//! `svc start` indeed fails on it, and `--no-host-checks` leaves these checks out.

use crate::util::*;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(10);

fn check(sb: &Sandbox, extra: &[&str]) -> Run {
    let mut args = vec!["check"];
    args.extend_from_slice(extra);
    svc_timeout(sb, &[], &args, QUICK)
}

/// `FILE:LINE:` of the problem that mentions every one of `words`, if there is one.
fn problem_line<'a>(stderr: &'a str, words: &[&str]) -> Option<&'a str> {
    stderr.lines().find(|l| words.iter().all(|w| l.contains(w)))
}

#[test]
fn programs_start_could_not_run_are_problems() {
    let sb = Sandbox::new();
    let plain = sb.work.join("plain-file");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let not_a_program = sb.script("not-a-program", "just text, no #! line\n");
    // (service, exec value, words its problem must hold, the exit code `svc start` gives)
    let missing = sb.work.join("missing");
    let cases = [
        ("gone", missing.display().to_string(), "No such file", 5),
        (
            "unknown",
            "no-such-program-svc-test".to_string(),
            "not found in PATH",
            5,
        ),
        ("noexec", plain.display().to_string(), "not executable", 5),
        (
            "dir",
            sb.work.display().to_string(),
            "not a regular file",
            5,
        ),
        (
            "format",
            not_a_program.display().to_string(),
            "Exec format error",
            1,
        ),
    ];
    for (name, exec, _, _) in &cases {
        sb.service(name, &format!("description: {name}\nexec: {exec}\n"));
    }
    sb.service("fine", &sb.sleeper("fine"));

    let r = check(&sb, &[]);
    r.code(6).no_panic();
    for (name, exec, words, start_code) in &cases {
        let file = format!("{name}.yaml:2:");
        let line = problem_line(&r.stderr, &[&file, "`exec`", exec, words]);
        assert!(
            line.is_some(),
            "no `{file} `exec`: {exec} ... {words}` problem in\n{}",
            r.stderr
        );
        // It is what `start` would hit.
        let s = sb.svc(["start", name]);
        assert_eq!(
            s.code, *start_code,
            "svc start {name}: {}{}",
            s.stdout, s.stderr
        );
    }
    assert!(!r.stderr.contains("fine.yaml"), "{}", r.stderr);
    r.stdout_has(&format!("{} problems", cases.len()));

    // Without the host checks the same configuration is clean.
    let r = check(&sb, &["--no-host-checks"]);
    r.ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn a_program_others_can_write_is_a_problem_for_root() {
    if skip_unless_root("a_program_others_can_write_is_a_problem_for_root") {
        return;
    }
    let sb = Sandbox::new();
    let prog = sb.script("prog", "#!/bin/sh\nexec sleep 100\n");
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o757)).unwrap();
    sb.service("x", &format!("exec: {}\n", prog.display()));
    let r = check(&sb, &[]);
    r.code(6);
    assert!(
        problem_line(&r.stderr, &["x.yaml:1:", "`exec`", "writable"]).is_some(),
        "{}",
        r.stderr
    );
    sb.svc(["start", "x"]).code(6);
    check(&sb, &["--no-host-checks"]).ok();
}

#[test]
fn missing_working_or_log_directory_is_a_problem() {
    let sb = Sandbox::new();
    let nowhere = sb.work.join("nowhere");
    let exec = sb.sleeper("w");
    sb.service("w", &format!("{exec}workdir: {}\n", nowhere.display()));
    sb.service(
        "l",
        &format!("{}log: {}/l.log\n", sb.sleeper("l"), nowhere.display()),
    );
    let r = check(&sb, &[]);
    r.code(6);
    assert!(
        problem_line(&r.stderr, &["w.yaml:2:", "`workdir`", "nowhere"]).is_some(),
        "{}",
        r.stderr
    );
    assert!(
        problem_line(&r.stderr, &["l.yaml:2:", "`log`", "nowhere"]).is_some(),
        "{}",
        r.stderr
    );
    sb.svc(["start", "w"]).code(1);
    sb.svc(["start", "l"]).code(1);
    assert!(!sb.work.join("w.started").exists() && !sb.work.join("l.started").exists());
}

#[test]
fn a_yml_file_is_reported_not_silently_ignored() {
    let sb = Sandbox::new();
    let yml = sb.config.join("init.d/web.yml");
    std::fs::write(&yml, sb.sleeper("web")).unwrap();
    let r = check(&sb, &[]);
    r.code(6);
    assert!(
        problem_line(&r.stderr, &["web.yml", "web.yaml"]).is_some(),
        "{}",
        r.stderr
    );
    // It is ignored indeed.
    sb.svc(["start", "web"]).code(5);

    // Beside a web.yaml it is a leftover: a warning only.
    sb.service("web", &sb.sleeper("web"));
    let r = check(&sb, &[]);
    r.ok();
    assert!(
        problem_line(&r.stderr, &["warning", "web.yml"]).is_some(),
        "{}",
        r.stderr
    );
}

/// As an ordinary user, a `user:` other than oneself needs root: start refuses it (exit 4) and
/// check says so; as root the same definition is fine.
#[test]
fn a_user_svc_cannot_switch_to_is_a_problem() {
    let test = "a_user_svc_cannot_switch_to_is_a_problem";
    if skip_unless_root(test) {
        return;
    }
    let Some(user) = ordinary_user(test) else {
        return;
    };
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [&sb.state, &sb.log] {
        std::fs::create_dir_all(d).unwrap();
        user.chown(d);
    }
    sb.service("x", &format!("{}user: root\n", sb.sleeper("x")));
    check(&sb, &[]).ok();
    let as_user = |args: &[&str]| -> Run {
        let mut c = sb.cmd_as(&user);
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        run_timeout(c, args.iter().map(|a| a.to_string()).collect(), QUICK)
    };
    let r = as_user(&["check"]);
    r.code(6);
    assert!(
        problem_line(&r.stderr, &["x.yaml:2:", "`user`", "root"]).is_some(),
        "{}",
        r.stderr
    );
    as_user(&["start", "x"]).code(4);
    as_user(&["check", "--no-host-checks"]).ok();
}
