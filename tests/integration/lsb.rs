//! LSB init-script shims (`svc lsb-script`): the generated scripts run with every action give
//! the exit code `svc ACTION NAME` gives in the same state; `--install` writes them atomically
//! and leaves foreign scripts alone; Debian's insserv accepts their headers and orders them by
//! the services' `requires`/`wants`; and the header parser reads every real script under
//! /etc/init.d.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use svc::lsb::{InitInfo, LsbError};

const WAIT: Duration = Duration::from_secs(20);

/// A daemon that records HUPs in work/NAME.hup and its PID in work/NAME.started.
fn daemon(sb: &Sandbox, name: &str) -> String {
    let w = sb.work.display();
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo hup >> {w}/{name}.hup' HUP\ntrap 'exit 0' TERM\n\
             echo $$ > {w}/{name}.started\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    format!("exec: {}\nstop_timeout: 5\n", script.display())
}

/// `svc lsb-script NAME` saved as work/NAME.init.
#[track_caller]
fn generate(sb: &Sandbox, name: &str) -> PathBuf {
    let r = sb.svc(["lsb-script", name]);
    r.ok();
    let p = sb.work.join(format!("{name}.init"));
    std::fs::write(&p, &r.stdout).unwrap();
    p
}

/// Runs `sh SCRIPT ARGS` with an empty environment: the script must find svc and the
/// configuration on its own, as under `service`, which clears the environment.
fn run_script(script: &Path, args: &[&str]) -> Run {
    let out = bounded_output(
        Command::new("/bin/sh")
            .arg(script)
            .args(args)
            // In the sandbox: whatever a broken script would create lands there.
            .current_dir(script.parent().unwrap())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null()),
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: std::iter::once(format!("sh {}", script.display()))
            .chain(args.iter().map(|a| a.to_string()))
            .collect(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Running,
    Stopped,
    Dead,
}

/// Brings `name` into `state` through svc itself.
#[track_caller]
fn set_state(sb: &Sandbox, name: &str, state: State) {
    match state {
        State::Running => {
            sb.svc(["start", name]).ok();
        }
        State::Stopped => {
            sb.svc(["stop", name]).ok();
        }
        State::Dead => {
            sb.svc(["stop", name]).ok();
            // A PID no process can have: "dead but pid file exists".
            std::fs::create_dir_all(&sb.state).unwrap();
            std::fs::write(sb.pidfile(name), "999999999\n").unwrap();
        }
    }
}

/// In `state`, `svc ACTION NAME` and `sh SCRIPT ACTION` exit with `expected`.
#[track_caller]
fn same_code(sb: &Sandbox, script: &Path, name: &str, state: State, action: &str, expected: i32) {
    set_state(sb, name, state);
    let direct = sb.svc([action, name]);
    set_state(sb, name, state);
    let shim = run_script(script, &[action]);
    assert_eq!(
        (direct.code, shim.code),
        (expected, expected),
        "{name} {state:?} {action}: svc exited {}, the script {}, expected {expected}\n\
         --- svc stderr\n{}--- script stdout\n{}--- script stderr\n{}",
        direct.code,
        shim.code,
        direct.stderr,
        shim.stdout,
        shim.stderr
    );
}

#[test]
fn every_action_exits_like_svc() {
    let sb = Sandbox::new();
    sb.service("plain", &daemon(&sb, "plain"));
    sb.service(
        "hup",
        &format!("{}reload_signal: HUP\n", daemon(&sb, "hup")),
    );
    let plain = generate(&sb, "plain");
    let hup = generate(&sb, "hup");

    use State::*;
    // (state, action, expected LSB code) for the service without reload_signal.
    let table: &[(State, &str, i32)] = &[
        (Stopped, "status", 3),
        (Running, "status", 0),
        (Dead, "status", 1),
        (Stopped, "start", 0),
        (Running, "start", 0),
        (Stopped, "stop", 0),
        (Running, "stop", 0),
        (Stopped, "restart", 0),
        (Running, "restart", 0),
        (Stopped, "try-restart", 0),
        (Running, "try-restart", 0),
        (Stopped, "reload", 3),
        (Running, "reload", 3),
        (Stopped, "force-reload", 0),
        (Running, "force-reload", 0),
    ];
    for &(state, action, code) in table {
        same_code(&sb, &plain, "plain", state, action, code);
    }
    // With reload_signal: 7 when not running, 0 (and a HUP delivered) when running.
    same_code(&sb, &hup, "hup", Stopped, "reload", 7);
    same_code(&sb, &hup, "hup", Running, "reload", 0);
    let hups = sb.work.join("hup.hup");
    wait_for_file(&hups, WAIT);

    // The script really acts: start through it, then svc sees the daemon; stop through it.
    set_state(&sb, "plain", Stopped);
    run_script(&plain, &["start"]).ok();
    let pid = sb.pid("plain");
    assert!(alive(pid), "the daemon started by the script is not alive");
    sb.svc(["status", "plain"])
        .ok()
        .stdout_has("plain is running");
    run_script(&plain, &["stop"]).ok();
    wait_until(WAIT, "the daemon to be gone", || !alive(pid));
    sb.svc(["status", "plain"]).code(3);
    set_state(&sb, "hup", Stopped);
}

#[test]
fn bad_actions_are_usage_errors() {
    let sb = Sandbox::new();
    sb.service("plain", &daemon(&sb, "plain"));
    let script = generate(&sb, "plain");
    // svc itself rejects an unknown command with 2 as well.
    sb.svc(["frobnicate", "plain"]).code(2);
    for args in [
        &["frobnicate"][..],
        &[],
        &["start", "extra"],
        &["START"],
        &[""],
    ] {
        let r = run_script(&script, args);
        r.code(2).stderr_has("Usage: ");
        assert!(r
            .stderr
            .contains("start|stop|restart|try-restart|reload|force-reload|status"));
        assert!(
            !sb.pidfile("plain").exists(),
            "{args:?} must not start anything"
        );
    }
}

#[test]
fn missing_svc_binary_is_not_installed() {
    let sb = Sandbox::new();
    sb.service("plain", &daemon(&sb, "plain"));
    let script = generate(&sb, "plain");
    let text = std::fs::read_to_string(&script).unwrap();
    let svc_line = format!("SVC='{SVC}'");
    assert!(
        text.contains(&svc_line),
        "the svc path is baked in:\n{text}"
    );
    let gone = sb.work.join("gone.init");
    std::fs::write(
        &gone,
        text.replace(&svc_line, &format!("SVC='{}/no-svc'", sb.work.display())),
    )
    .unwrap();
    run_script(&gone, &["start"])
        .code(5)
        .stderr_has("is not installed");
    run_script(&gone, &["status"]).code(4);
}

/// Directories whose names need every kind of quoting: the script must still address them.
#[test]
fn hostile_directory_names_are_quoted() {
    let sb = Sandbox::new();
    let base = sb
        .work
        .join("it's a \"$(touch PWNED)\" `touch PWNED2` $HOME\\ dir\nx");
    let (config, state, log) = (base.join("config"), base.join("state"), base.join("log"));
    std::fs::create_dir_all(config.join("init.d")).unwrap();
    std::fs::write(config.join("init.d/plain.yaml"), daemon(&sb, "plain")).unwrap();
    let svc = |args: &[&str]| svc_in(&config, &state, &log, args);
    let r = svc(&["lsb-script", "plain"]);
    r.ok();
    let script = sb.work.join("plain.init");
    std::fs::write(&script, &r.stdout).unwrap();
    run_script(&script, &["status"]).code(3);
    run_script(&script, &["start"]).ok();
    assert!(
        state.join("plain.pid").exists(),
        "the PID file is in the quoted state directory"
    );
    svc(&["status", "plain"]).ok();
    run_script(&script, &["stop"]).ok();
    svc(&["status", "plain"]).code(3);
    for f in ["PWNED", "PWNED2"] {
        assert!(
            !sb.work.join(f).exists(),
            "a command substitution in a path was executed"
        );
    }
    InitInfo::parse(&r.stdout).expect("the header parses");
}

#[test]
fn header_follows_the_definition() {
    let sb = Sandbox::new();
    sb.service("db", &daemon(&sb, "db"));
    sb.service(
        "web",
        &format!(
            "{}description: \"Web\\nserver ### END INIT INFO\"\nrequires: [db]\nwants: [cache]\nrunlevels: [3, 5]\n",
            daemon(&sb, "web")
        ),
    );
    sb.service(
        "early",
        &format!("{}runlevels: [S]\n", daemon(&sb, "early")),
    );
    let text = std::fs::read_to_string(generate(&sb, "web")).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    let web = InitInfo::parse(&text).unwrap();
    assert_eq!(web.provides, ["web"]);
    assert_eq!(web.requires(), ["$remote_fs", "$syslog", "db"]);
    assert_eq!(web.required_stop, ["$remote_fs", "$syslog", "db"]);
    assert_eq!(web.wants(), ["cache"]);
    assert_eq!(web.should_stop, ["cache"]);
    assert_eq!(web.runlevels(), ['3', '5']);
    assert_eq!(web.default_stop, ['0', '1', '2', '4', '6']);
    assert_eq!(
        web.short_description.as_deref(),
        Some("Web server ### END INIT INFO")
    );
    let db = InitInfo::parse(&std::fs::read_to_string(generate(&sb, "db")).unwrap()).unwrap();
    assert_eq!(db.runlevels(), ['2', '3', '4', '5']);
    assert_eq!(db.default_stop, ['0', '1', '6']);
    assert!(db.wants().is_empty());
    assert_eq!(db.short_description.as_deref(), Some("svc service db"));
    let early = InitInfo::parse(&std::fs::read_to_string(generate(&sb, "early")).unwrap()).unwrap();
    assert_eq!(early.runlevels(), ['S']);
    assert_eq!(early.default_stop, ['0', '6']);
    // Errors: unknown service 5, no name 2, two names without --install 2.
    sb.svc(["lsb-script", "nope"]).code(5).stderr_has("nope");
    sb.svc(["lsb-script"]).code(2);
    sb.svc(["lsb-script", "db", "web"])
        .code(2)
        .stderr_has("exactly one NAME");
    sb.svc(["lsb-script", "../x"]).code(2);
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn install_writes_one_script_per_service() {
    let sb = Sandbox::new();
    for n in ["alpha", "beta", "gamma"] {
        sb.service(n, &daemon(&sb, n));
    }
    let dir = sb.work.join("init.d");
    std::fs::create_dir(&dir).unwrap();

    // Every defined service when none is named.
    let r = sb.svc(["lsb-script".as_ref(), "--install".as_ref(), dir.as_os_str()]);
    r.ok();
    for n in ["alpha", "beta", "gamma"] {
        let p = dir.join(n);
        r.stdout_has(&format!("wrote {}", p.display()));
        assert_eq!(mode(&p), 0o755, "{n}");
        let printed = sb.svc(["lsb-script", n]);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            printed.stdout,
            "{n}: the installed script is the printed one"
        );
    }
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&dir),
        ["alpha", "beta", "gamma"],
        "no temporary files left"
    );

    // The installed script works.
    run_script(&dir.join("beta"), &["start"]).ok();
    sb.svc(["status", "beta"]).ok();
    run_script(&dir.join("beta"), &["stop"]).ok();

    // A named service only; a script svc wrote is replaced.
    std::fs::set_permissions(dir.join("alpha"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = sb.svc([
        "lsb-script".as_ref(),
        "--install".as_ref(),
        dir.as_os_str(),
        "alpha".as_ref(),
    ]);
    r.ok().stdout_has("alpha");
    assert!(!r.stdout.contains("beta"), "{}", r.stdout);
    assert_eq!(mode(&dir.join("alpha")), 0o755);

    // A foreign script of the same name is left alone; the others are still written.
    let foreign = "#!/bin/sh\necho the package's own script\n";
    std::fs::write(dir.join("beta"), foreign).unwrap();
    std::fs::remove_file(dir.join("gamma")).unwrap();
    let r = sb.svc(["lsb-script".as_ref(), "--install".as_ref(), dir.as_os_str()]);
    r.code(1)
        .stderr_has("beta")
        .stderr_has("not written by `svc lsb-script`");
    assert_eq!(std::fs::read_to_string(dir.join("beta")).unwrap(), foreign);
    assert!(dir.join("gamma").exists(), "gamma written despite beta");
    assert_eq!(names(&dir), ["alpha", "beta", "gamma"]);

    // Bad arguments.
    sb.svc([
        "lsb-script".as_ref(),
        "--install".as_ref(),
        sb.work.join("missing").as_os_str(),
    ])
    .code(2)
    .stderr_has("not a directory");
    sb.svc([
        "lsb-script".as_ref(),
        "--install".as_ref(),
        dir.as_os_str(),
        "nope".as_ref(),
    ])
    .code(5);
    assert!(!dir.join("nope").exists());
}

/// Debian's insserv: installed, or the private copy `.ci/run` unpacks into target/insserv.
pub(crate) fn insserv() -> Option<PathBuf> {
    let private = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/insserv");
    [
        PathBuf::from("/usr/sbin/insserv"),
        PathBuf::from("/sbin/insserv"),
        private.join("usr/sbin/insserv"),
        private.join("sbin/insserv"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// insserv in a scratch directory (`-p` init.d, `-c` config, `-o` overrides, `-i` its own
/// dependency directory, `-n` dry run, `-s` print the order): it accepts the generated
/// headers and orders the scripts by `requires` and `wants`.
#[test]
fn insserv_accepts_and_orders_the_headers() {
    let Some(insserv) = insserv() else {
        skip(
            "insserv_accepts_and_orders_the_headers",
            "insserv is not installed",
        );
        return;
    };
    let sb = Sandbox::new();
    sb.service("a", &daemon(&sb, "a"));
    sb.service("b", &format!("{}requires: [a]\n", daemon(&sb, "b")));
    sb.service("c", &format!("{}wants: [b]\n", daemon(&sb, "c")));
    sb.service(
        "d",
        &format!("{}requires: [c]\nrunlevels: [3]\n", daemon(&sb, "d")),
    );
    let root = sb.work.join("etc");
    let init_d = root.join("init.d");
    for d in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        std::fs::create_dir_all(root.join(format!("rc{d}.d"))).unwrap();
    }
    std::fs::create_dir_all(&init_d).unwrap();
    std::fs::create_dir_all(root.join("overrides")).unwrap();
    std::fs::create_dir_all(root.join("insserv")).unwrap();
    // The system facilities, provided by scripts that need not exist (`+`), as in Debian's
    // /etc/insserv.conf.
    let conf = root.join("insserv.conf");
    std::fs::write(
        &conf,
        "$local_fs +mountall\n$remote_fs $local_fs +mountnfs\n$syslog +rsyslog\n\
         $network +networking\n$named +bind9 $network\n$time +hwclock\n",
    )
    .unwrap();
    sb.svc([
        "lsb-script".as_ref(),
        "--install".as_ref(),
        init_d.as_os_str(),
    ])
    .ok();
    let out = bounded_output(
        Command::new(&insserv)
            .arg("-n")
            .arg("-s")
            .arg("-p")
            .arg(&init_d)
            .arg("-c")
            .arg(&conf)
            .arg("-o")
            .arg(root.join("overrides"))
            .arg("-i")
            .arg(root.join("insserv"))
            .current_dir(&init_d)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = format!("--- insserv stdout\n{stdout}--- insserv stderr\n{stderr}");
    assert!(out.status.success(), "insserv failed\n{ctx}");
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("dryrun"))
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("warning") || l.contains("fatal") || l.contains("error")
        })
        .collect();
    assert!(complaints.is_empty(), "insserv complained\n{ctx}");
    // Lines `S:NN:LEVELS:NAME` and `K:NN:LEVELS:NAME`.
    let entry = |kind: &str, name: &str| -> (u32, String) {
        stdout
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(4, ':').collect();
                (f.len() == 4 && f[0] == kind && f[3] == name)
                    .then(|| (f[1].parse().unwrap(), f[2].to_string()))
            })
            .next()
            .unwrap_or_else(|| panic!("no {kind} entry for {name}\n{ctx}"))
    };
    let s = |n| entry("S", n).0;
    let k = |n| entry("K", n).0;
    assert!(
        s("a") < s("b") && s("b") < s("c") && s("c") < s("d"),
        "start order\n{ctx}"
    );
    assert!(
        k("d") < k("c") && k("c") < k("b") && k("b") < k("a"),
        "stop order\n{ctx}"
    );
    assert_eq!(entry("S", "a").1, "2 3 4 5", "{ctx}");
    assert_eq!(entry("K", "a").1, "0 1 6", "{ctx}");
    assert_eq!(entry("S", "d").1, "3", "{ctx}");
    assert_eq!(entry("K", "d").1, "0 1 2 4 5 6", "{ctx}");
    // insserv's dry run wrote nothing in the scratch runlevel directories.
    assert_eq!(std::fs::read_dir(root.join("rc2.d")).unwrap().count(), 0);
}

/// The parser reads the header of every real script on this machine (read-only).
#[test]
fn parses_every_script_in_etc_init_d() {
    let dir = Path::new("/etc/init.d");
    let Ok(rd) = std::fs::read_dir(dir) else {
        skip("parses_every_script_in_etc_init_d", "no /etc/init.d");
        return;
    };
    let mut parsed = 0;
    let mut failures = Vec::new();
    for e in rd {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        match InitInfo::read(&path) {
            Ok(info) => {
                parsed += 1;
                assert!(
                    !info.provides.is_empty(),
                    "{}: no Provides in {info:?}",
                    path.display()
                );
            }
            Err(e) if matches!(e.cause, svc::lsb::ReadCause::Parse(LsbError::NoBlock)) => {
                // README, rc, rcS and the like carry no header; not a script to order.
                eprintln!("{}: no INIT INFO block, skipped", path.display());
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if parsed == 0 {
        skip(
            "parses_every_script_in_etc_init_d",
            "no script with a header in /etc/init.d",
        );
    } else {
        eprintln!("parsed {parsed} headers under /etc/init.d");
    }
}
