//! Legacy LSB init scripts as services (`script: /etc/init.d/foo`, docs/lsb.md): svc runs the
//! script's own start, stop, status and reload, maps their exit codes, kills a script that
//! hangs, and reads its INIT INFO header for dependencies (ordering a switch beside YAML
//! services) and default runlevels (`svc enable`). The scripts are self-contained POSIX sh
//! written by the tests; the headers of the real scripts under /etc/init.d are read through
//! the definition path by `svc check`.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// A daemon (work/NAME-daemon) and an LSB init script (work/NAME.init) managing it with
/// work/NAME.pid. The script appends each action to work/NAME.events; the daemon records
/// HUPs in work/NAME.hups and writes work/NAME.ready once its traps are set. `header` is the
/// body of the INIT INFO block. Returns the script's path.
fn lsb_service(sb: &Sandbox, name: &str, header: &str) -> PathBuf {
    let w = sb.work.display();
    sb.script(
        &format!("{name}-daemon"),
        &format!(
            "#!/bin/sh\ntrap 'echo hup >> {w}/{name}.hups' HUP\ntrap 'exit 0' TERM\n\
             echo $$ > {w}/{name}.ready\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.script(
        &format!("{name}.init"),
        &format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
{header}### END INIT INFO

W={w}
PIDFILE=$W/{name}.pid
running() {{ [ -s "$PIDFILE" ] && pid=$(cat "$PIDFILE") && [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status; }}
echo "$1" >> $W/{name}.events
case "$1" in
    start)
        # What the script runs with: environment, stdin, process group.
        {{ env | sort; echo "stdin=$(readlink /proc/$$/fd/0)"; echo "pid=$$ pgrp=$(cut -d' ' -f5 /proc/$$/stat)"; echo "umask=$(umask)"; }} > $W/{name}.env
        running && exit 0
        echo "starting {name}"
        $W/{name}-daemon < /dev/null &
        echo $! > $PIDFILE
        exit 0
        ;;
    stop)
        running || {{ rm -f "$PIDFILE"; exit 0; }}
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid"
        timeout 10 tail --pid="$pid" -f /dev/null
        rm -f "$PIDFILE"
        exit 0
        ;;
    status)
        running && exit 0
        [ -e "$PIDFILE" ] && exit 1
        exit 3
        ;;
    reload|force-reload)
        running || exit 7
        kill -HUP "$(cat "$PIDFILE")"
        exit 0
        ;;
    restart)
        "$0" stop && "$0" start
        ;;
    *)
        echo "Usage: $0 {{start|stop|status|reload|restart}}" >&2
        exit 2
        ;;
esac
"#
        ),
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn pid_in(p: &Path) -> i32 {
    read(p).trim().parse().unwrap_or(0)
}

fn json_field(stdout: &str, field: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("status --json is JSON");
    v[0][field].clone()
}

#[test]
fn script_service_start_status_reload_restart_stop() {
    let sb = Sandbox::new();
    let script = lsb_service(&sb, "web", "# Provides: web\n# Default-Start: 2 3 4 5\n");
    let pidfile = sb.work.join("web.pid");
    sb.service(
        "web",
        &format!(
            "script: {}\npidfile: {}\nenv: {{ GREETING: hello }}\nuser: nobody\numask: \"027\"\n",
            script.display(),
            pidfile.display()
        ),
    );
    // The same script without `pidfile:`: running, but svc cannot name the PID.
    sb.service("web-nopid", &format!("script: {}\n", script.display()));

    sb.svc(["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
    sb.svc(["start", "web"]).ok().stdout_has("web");
    let pid = pid_in(&pidfile);
    assert!(alive(pid), "the daemon runs");
    // The script's output went to the service's log, appended.
    wait_until(WAIT, "the script's output in the log", || {
        read(&sb.logfile("web")).contains("starting web")
    });
    // A clean environment (no HOME of the caller), the definition's env and umask, stdin
    // /dev/null, a process group of its own, and not the definition's user.
    let env = read(&sb.work.join("web.env"));
    assert!(env.contains("GREETING=hello"), "{env}");
    assert!(env.contains("HOME=/\n"), "{env}");
    assert!(env.contains("LANG=C.UTF-8"), "{env}");
    assert!(
        !env.contains(&format!("HOME={}", sb.path().display())),
        "{env}"
    );
    assert!(env.contains("stdin=/dev/null"), "{env}");
    assert!(env.contains("umask=0027"), "{env}");
    let ids = env
        .lines()
        .find(|l| l.starts_with("pid="))
        .unwrap()
        .to_string();
    let (p, g) = ids.split_once(' ').unwrap();
    assert_eq!(
        p.trim_start_matches("pid="),
        g.trim_start_matches("pgrp="),
        "{ids}"
    );
    let uid = nix::unistd::geteuid().to_string();
    assert_eq!(
        proc_status_field(pid, "Uid")
            .unwrap()
            .split_whitespace()
            .next(),
        Some(uid.as_str()),
        "user: is not applied to a script"
    );

    let r = sb.svc(["status", "web"]);
    r.ok().stdout_has(&format!("web is running (pid {pid}"));
    let r = sb.svc(["status", "--json", "web"]);
    r.ok();
    assert_eq!(json_field(&r.stdout, "state"), "running", "{}", r.stdout);
    assert_eq!(json_field(&r.stdout, "pid"), pid, "{}", r.stdout);
    let r = sb.svc(["status", "--json", "web-nopid"]);
    r.ok();
    assert_eq!(json_field(&r.stdout, "state"), "running", "{}", r.stdout);
    assert!(json_field(&r.stdout, "pid").is_null(), "{}", r.stdout);

    // start of a running service: success, nothing new started.
    sb.svc(["start", "web"]).ok().stdout_has("already running");
    assert_eq!(pid_in(&pidfile), pid);

    wait_for_file(&sb.work.join("web.ready"), WAIT);
    sb.svc(["reload", "web"]).ok();
    wait_until(WAIT, "the daemon got HUP", || {
        read(&sb.work.join("web.hups")).contains("hup")
    });

    sb.svc(["restart", "web"]).ok();
    let pid2 = pid_in(&pidfile);
    assert!(pid2 != pid && alive(pid2), "restart started a new daemon");
    wait_until(WAIT, "the old daemon is gone", || !alive(pid));
    // try-restart of a running service restarts it.
    sb.svc(["try-restart", "web"]).ok();
    let pid3 = pid_in(&pidfile);
    assert!(pid3 != pid2 && alive(pid3));
    // force-reload without reload_signal: restart, as for every service.
    sb.svc(["force-reload", "web"]).ok();
    let pid4 = pid_in(&pidfile);
    assert!(pid4 != pid3 && alive(pid4));

    sb.svc(["stop", "web"]).ok();
    wait_until(WAIT, "the daemon is gone", || !alive(pid4));
    assert!(!pidfile.exists());
    sb.svc(["status", "web"]).code(3);
    // Stopping a stopped service succeeds; reload of a stopped one is 7 (the script's code);
    // try-restart of a stopped one does nothing.
    sb.svc(["stop", "web"]).ok();
    sb.svc(["reload", "web"]).code(7).stderr_has("exited 7");
    let events = read(&sb.work.join("web.events"));
    sb.svc(["try-restart", "web"]).ok();
    let after = read(&sb.work.join("web.events"));
    assert!(
        !after[events.len()..].contains("start"),
        "try-restart of a stopped service ran: {after}"
    );
    sb.svc(["status", "web"]).code(3);

    // A dead daemon with its pid file left: status 1 (dead but pid file exists).
    sb.svc(["start", "web"]).ok();
    let pid5 = pid_in(&pidfile);
    wait_for_file(&sb.work.join("web.ready"), WAIT);
    send_signal(pid5, libc::SIGKILL);
    wait_until(WAIT, "the daemon died", || !alive(pid5));
    sb.svc(["status", "web"])
        .code(1)
        .stdout_has("dead but pid file exists");
    // start replaces it (the script cleans up by itself); stop stops it.
    sb.svc(["stop", "web"]).ok();
    sb.svc(["status", "web"]).code(3);
}

/// A script whose actions exit with the codes written in work/CODE.ACTION.
fn coded_script(sb: &Sandbox, name: &str) -> PathBuf {
    let w = sb.work.display();
    sb.script(
        &format!("{name}.init"),
        &format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: {name}\n### END INIT INFO\n\
             echo \"{name} $1 says: code $(cat {w}/{name}.$1)\" >&2\n\
             exit \"$(cat {w}/{name}.$1)\"\n"
        ),
    )
}

fn set_code(sb: &Sandbox, name: &str, action: &str, code: i32) {
    std::fs::write(sb.work.join(format!("{name}.{action}")), code.to_string()).unwrap();
}

#[test]
fn exit_codes_pass_through_and_status_maps() {
    let sb = Sandbox::new();
    let script = coded_script(&sb, "c");
    sb.service("c", &format!("script: {}\n", script.display()));
    set_code(&sb, "c", "status", 3);

    // LSB codes 0-7 pass through start, stop and reload; anything else is 1.
    for (code, expect) in [(5, 5), (6, 6), (2, 2), (4, 4), (1, 1), (9, 1), (150, 1)] {
        set_code(&sb, "c", "start", code);
        let r = sb.svc(["start", "c"]);
        r.code(expect).stderr_has(&format!("exited {code}"));
        if code == 5 {
            // The message quotes the script's output from the log.
            r.stderr_has("c start says: code 5");
        }
    }
    set_code(&sb, "c", "reload", 3);
    sb.svc(["reload", "c"]).code(3);
    set_code(&sb, "c", "reload", 7);
    sb.svc(["reload", "c"]).code(7);
    set_code(&sb, "c", "reload", 0);
    sb.svc(["reload", "c"]).ok();

    // Stop of a stopped service is 0 even when the script fails (LSB)...
    set_code(&sb, "c", "stop", 6);
    sb.svc(["stop", "c"]).ok().stdout_has("not running");
    // ...but not when it was running.
    set_code(&sb, "c", "status", 0);
    sb.svc(["stop", "c"]).code(6).stderr_has("exited 6");
    set_code(&sb, "c", "stop", 0);
    sb.svc(["stop", "c"]).ok();

    // status: 0 running, 1 and 2 dead, 3 stopped, 4 and others unknown.
    set_code(&sb, "c", "status", 0);
    sb.svc(["status", "c"]).ok().stdout_has("c is running");
    set_code(&sb, "c", "status", 1);
    sb.svc(["status", "c"]).code(1).stdout_has("dead");
    set_code(&sb, "c", "status", 2);
    sb.svc(["status", "c"]).code(1).stdout_has("dead");
    set_code(&sb, "c", "status", 3);
    sb.svc(["status", "c"]).code(3).stdout_has("c is stopped");
    for code in [4, 42] {
        set_code(&sb, "c", "status", code);
        let r = sb.svc(["status", "--json", "c"]);
        assert_eq!(json_field(&r.stdout, "state"), "unknown", "{}", r.stdout);
        assert_eq!(r.code, 4, "LSB: status unknown\n{}", r.stdout);
    }
}

/// Issue 10 item 4: a script service that runs while svc cannot know its PID (no `pidfile:`)
/// is "running (no PID)" — never "pid 0, up 0s" — and its JSON pid and uptime are null.
#[test]
fn running_script_service_without_pid_says_no_pid() {
    let sb = Sandbox::new();
    let script = coded_script(&sb, "nopid");
    sb.service("nopid", &format!("script: {}\n", script.display()));
    set_code(&sb, "nopid", "status", 0);

    let r = sb.svc(["status", "nopid"]);
    r.ok().stdout_has("nopid is running (no PID)");
    assert!(!r.stdout.contains("pid 0"), "{}", r.stdout);
    let r = sb.svc(["status", "--json", "nopid"]);
    r.ok();
    assert_eq!(json_field(&r.stdout, "state"), "running", "{}", r.stdout);
    assert!(json_field(&r.stdout, "pid").is_null(), "{}", r.stdout);
    assert!(json_field(&r.stdout, "uptime_s").is_null(), "{}", r.stdout);
    // The table shows no PID either.
    let r = sb.svc(["status"]);
    r.ok();
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("nopid "))
        .unwrap_or_else(|| panic!("no row for nopid:\n{}", r.stdout));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..4], ["nopid", "running", "-", "-"], "{row}");
    // Whatever svc holds for it, stop runs the script's stop and touches nothing else.
    set_code(&sb, "nopid", "stop", 0);
    sb.svc(["stop", "nopid"]).ok();
}

#[test]
fn a_hanging_start_is_killed_with_its_group_after_ready_timeout() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    let child = sb.script(
        "hang-child",
        &format!("#!/bin/sh\necho $$ > {w}/child.pid\nwhile :; do sleep 1 & wait $!; done\n"),
    );
    let script = sb.script(
        "hang.init",
        &format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: hang\n### END INIT INFO\n\
             case \"$1\" in\n  start) echo $$ > {w}/script.pid; {} & \n    \
             while :; do sleep 1 & wait $!; done ;;\n  status) exit 3 ;;\n  *) exit 0 ;;\nesac\n",
            child.display()
        ),
    );
    sb.service(
        "hang",
        &format!("script: {}\nready_timeout: 1s\n", script.display()),
    );
    let t0 = Instant::now();
    // Not `sb.svc`: if svc never gave up, the test must fail rather than hang (the sandbox
    // guard then kills svc and the script, whose command lines name the sandbox).
    let child = spawn_svc(&sb, &["start", "hang"]);
    let out = finish(child, &["start", "hang"], Duration::from_secs(15));
    let took = t0.elapsed();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(stderr.contains("did not finish within"), "{stderr}");
    assert!(
        took >= Duration::from_secs(1),
        "start gave up early: {took:?}"
    );
    let script_pid = pid_in(&sb.work.join("script.pid"));
    wait_for_file(&sb.work.join("child.pid"), WAIT);
    let child_pid = pid_in(&sb.work.join("child.pid"));
    assert!(script_pid > 0 && child_pid > 0);
    wait_until(WAIT, "the script and its child are killed", || {
        !alive(script_pid) && !alive(child_pid) && group_members(script_pid).is_empty()
    });
}

#[test]
fn switch_orders_a_script_by_its_header_beside_yaml_services() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    // db: a YAML service that records when it started.
    let db = sb.script(
        "db.sh",
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\necho db >> {w}/order\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service("db", &format!("exec: {}\n", db.display()));
    // web: an LSB script that requires db in its header only.
    let web = lsb_service(
        &sb,
        "web",
        "# Provides: webserver\n# Required-Start: $network db\n# Should-Start: $syslog cache\n\
         # Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n",
    );
    // The script's start also records the order.
    let text = read(&web).replacen(
        "running && exit 0\n",
        &format!("running && exit 0\n        echo web >> {w}/order\n"),
        1,
    );
    std::fs::write(&web, text).unwrap();
    sb.service(
        "web",
        &format!(
            "script: {}\npidfile: {w}/web.pid\nstart_priority: 10\n",
            web.display()
        ),
    );
    // The header's dependencies are the definition's: check accepts it (cache is only wanted).
    sb.svc(["check"]).ok();
    // web has the lower number; its header's Required-Start pulls db before it.
    sb.svc(["enable", "web"]).ok();
    sb.svc(["enable", "db", "--start", "20"]).ok();
    let plan = sb.svc(["switch", "3", "--dry-run"]);
    plan.ok();
    sb.svc(["switch", "3"]).ok();
    assert_eq!(read(&sb.work.join("order")), "db\nweb\n");
    sb.svc(["status", "web"]).ok();
    sb.svc(["status", "db"]).ok();
    // Stopping db alone warns that web requires it; runlevel 1 stops both.
    sb.svc(["switch", "1"]).ok();
    sb.svc(["status", "web"]).code(3);
    sb.svc(["status", "db"]).code(3);
}

#[test]
fn enable_and_list_use_default_start_unless_the_definition_says_otherwise() {
    let sb = Sandbox::new();
    let script = lsb_service(
        &sb,
        "mail",
        "# Provides: mail\n# Default-Start: 2 3 5\n# Default-Stop: 0 1 6\n",
    );
    sb.service("mail", &format!("script: {}\n", script.display()));
    sb.service(
        "mail4",
        &format!("script: {}\nrunlevels: [4]\n", script.display()),
    );
    sb.svc(["enable", "mail"]).ok();
    sb.svc(["enable", "mail4"]).ok();
    let list = sb.svc(["list", "mail", "mail4"]);
    list.ok();
    let rows: Vec<String> = list
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        [
            "mail 0:off 1:off 2:on 3:on 4:off 5:on 6:off S:off",
            "mail4 0:off 1:off 2:off 3:off 4:on 5:off 6:off S:off"
        ],
        "{}",
        list.stdout
    );
    let rc3: Vec<String> = std::fs::read_dir(sb.config.join("runlevels/rc3.d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        rc3.iter()
            .any(|e| e.starts_with('S') && e.ends_with("mail")),
        "{rc3:?}"
    );
}

#[test]
fn check_reports_missing_scripts_bad_headers_and_bad_combinations() {
    let sb = Sandbox::new();
    let bad = sb.script(
        "bad.init",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: bad\n# Default-Start: 2 9\n### END INIT INFO\nexit 0\n",
    );
    sb.service(
        "bad",
        &format!("description: x\nscript: {}\n", bad.display()),
    );
    sb.service("gone", "description: y\nscript: /nonexistent/init.d/gone\n");
    let plain = sb.script("plain.txt", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    sb.service("noexec", &format!("script: {}\n", plain.display()));
    let ok = lsb_service(&sb, "ok", "# Provides: ok\n");
    sb.service(
        "combo",
        &format!(
            "script: {}\nrespawn: true\nforking: true\npidfile: /tmp/x.pid\n",
            ok.display()
        ),
    );
    // A script without any INIT INFO block (pre-LSB) is fine.
    let old = sb.script("old.init", "#!/bin/sh\nexit 0\n");
    sb.service("old", &format!("script: {}\n", old.display()));

    let r = sb.svc(["check"]);
    r.code(6)
        .stderr_has(&format!("{}:4: `Default-Start`", bad.display()))
        .stderr_has("gone.yaml:2: `script`: /nonexistent/init.d/gone does not exist")
        .stderr_has(&format!(
            "noexec.yaml:1: `script`: {} is not executable",
            plain.display()
        ))
        .stderr_has("combo.yaml:2: `respawn` cannot be used with `script`")
        .stderr_has("combo.yaml:3: `forking` cannot be used with `script`");
    assert!(!r.stderr.contains("old.yaml"), "{}", r.stderr);
    // Acting on a broken one names the problem; the old script runs.
    sb.svc(["start", "gone"])
        .code(6)
        .stderr_has("does not exist");
    sb.svc(["start", "old"]).ok();
}

/// Every real init script on this machine, read-only, through a definition each.
#[test]
fn real_init_scripts_headers_pass_check() {
    let scripts: Vec<PathBuf> = match std::fs::read_dir("/etc/init.d") {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    svc::name::ServiceName::new(&n).is_ok()
                })
                .collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    };
    let with_header: Vec<&PathBuf> = scripts
        .iter()
        .filter(|p| {
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
                & 0o111
                != 0
                && read(p).contains("### BEGIN INIT INFO")
        })
        .collect();
    if with_header.is_empty() {
        skip(
            "real_init_scripts_headers_pass_check",
            "no LSB scripts under /etc/init.d",
        );
        return;
    }
    let sb = Sandbox::new();
    for p in &with_header {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        sb.service(&name, &format!("script: {}\n", p.display()));
    }
    // Required-Start names of scripts not installed here (mountkernfs on a container): give
    // them a stand-in so that only the headers themselves are judged.
    let r = sb.svc(["check"]);
    for line in r.stderr.lines() {
        assert!(
            !line.contains("/etc/init.d/") && !line.contains("LSB header"),
            "a header problem: {line}\n{}",
            r.stderr
        );
        if let Some(missing) = line.split("`requires`: no definition for service ").nth(1) {
            sb.service(missing.trim(), "exec: /bin/true\n");
        }
    }
    let r = sb.svc(["check"]);
    r.ok().stdout_has("no problems");
    eprintln!(
        "read the INIT INFO of {} scripts under /etc/init.d",
        with_header.len()
    );
    // What the headers said reached the definitions: `svc enable` uses each Default-Start.
    for p in &with_header {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let info = svc::lsb::InitInfo::read(p).unwrap();
        if info.default_start.is_empty() {
            continue;
        }
        sb.svc(["enable", &name]).ok();
        let list = sb.svc(["list", &name]);
        list.ok();
        for l in info.default_start.iter().filter(|c| c.is_ascii_digit()) {
            list.stdout_has(&format!("{l}:on"));
        }
    }
}

/// docs/security.md for scripts too: svc's caller's ignored signals, blocked signals and open
/// descriptors do not reach the script or the daemon it starts.
#[test]
fn the_script_starts_clean_whatever_the_caller_had() {
    let sb = Sandbox::new();
    lsb_service(&sb, "tidy", "# Provides: tidy\n");
    sb.service(
        "tidy",
        &format!(
            "script: {}\npidfile: {}\n",
            sb.work.join("tidy.init").display(),
            sb.work.join("tidy.pid").display()
        ),
    );
    let leak = sb.work.join("leak.txt");
    // The caller ignores INT and HUP and holds fd 7 open (like `nohup` or `flock FILE svc ...`).
    let out = bounded_output(
        sb.wrapped(
            "/bin/sh",
            &[
                "-c",
                &format!("trap '' INT HUP; exec 7>{}; exec \"$@\"", leak.display()),
                "sh",
            ],
        )
        .args(["start", "tidy"]),
    );
    assert!(out.status.success(), "{out:?}");
    let ready = sb.work.join("tidy.ready");
    wait_until(Duration::from_secs(10), "the daemon's pid", || {
        pid_in(&ready) > 0
    });
    let daemon = pid_in(&ready);
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{daemon}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!fds.contains(&"7".to_string()), "fd 7 leaked: {fds:?}");
    let ign = proc_status_field(daemon, "SigIgn").unwrap();
    let ign = u64::from_str_radix(ign.trim(), 16).unwrap();
    // Only HUP is the caller's to leak: sh itself ignores INT and QUIT in a background job.
    let hup = 1u64 << (libc::SIGHUP - 1);
    assert_eq!(ign & hup, 0, "HUP ignored in the daemon: {ign:x}");
    sb.svc(["stop", "tidy"]).ok();
}

/// A script without `#!` line (the kernel refuses it with ENOEXEC) runs as `/bin/sh SCRIPT
/// ACTION`, as a shell's `exec` would run it: `$0` is its path, the definition's umask
/// applies; one with `#!` is exec'd directly, with the same umask and `$0`.
#[test]
fn a_script_without_interpreter_line_runs_through_sh_with_the_umask() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    for (name, first) in [("bare", ""), ("bang", "#!/bin/sh\n")] {
        let script = sb.script(
            &format!("{name}.init"),
            &format!(
                "{first}echo \"$1 $0 umask=$(umask)\" >> {w}/{name}.events\n\
                 case \"$1\" in\n  start) touch {w}/{name}.on ;;\n  stop) rm -f {w}/{name}.on ;;\n\
                 \x20 status) [ -e {w}/{name}.on ] && exit 0; exit 3 ;;\nesac\nexit 0\n"
            ),
        );
        sb.service(
            name,
            &format!("script: {}\numask: \"077\"\n", script.display()),
        );
        sb.svc(["start", name]).ok();
        sb.svc(["status", name]).ok();
        sb.svc(["stop", name]).ok();
        sb.svc(["status", name]).code(3);
        let events = read(&sb.work.join(format!("{name}.events")));
        let path = script.display();
        for action in ["start", "status", "stop"] {
            assert!(
                events.contains(&format!("{action} {path} umask=0077\n")),
                "{name}: {action}:\n{events}"
            );
        }
    }
}

/// A switch runs a script's `start` without asking its `status` first (LSB: `start` of a
/// running service succeeds), also when it runs already, and so does the plan of `--dry-run`;
/// a K entry is asked, and only a running script is stopped.
#[test]
fn a_switch_starts_a_script_without_asking_its_status_and_stops_only_a_running_one() {
    let sb = Sandbox::new();
    let w = sb.work.display();
    let script = sb.script(
        "p.init",
        &format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: p\n# Default-Start: 2\n\
             # Default-Stop: 1\n### END INIT INFO\necho $1 >> {w}/p.events\n\
             case $1 in start) touch {w}/p.on ;; stop) rm -f {w}/p.on ;;\n\
             status) [ -e {w}/p.on ] && exit 0; exit 3 ;; esac\nexit 0\n"
        ),
    );
    sb.service("p", &format!("script: {}\n", script.display()));
    sb.svc(["enable", "p"]).ok();
    let events = || read(&sb.work.join("p.events"));
    sb.svc(["switch", "2"]).ok().stdout_has("started 1");
    assert_eq!(events(), "start\n");
    sb.svc(["switch", "2", "--dry-run"])
        .ok()
        .stdout_has("start S");
    sb.svc(["switch", "2"]).ok().stdout_has("started 1");
    assert_eq!(events(), "start\nstart\n");
    sb.svc(["switch", "1"]).ok().stdout_has("stopped 1");
    assert!(events().ends_with("status\nstop\n"), "{}", events());
    let before = events();
    sb.svc(["switch", "1"]).ok().stdout_has("stopped 0");
    assert_eq!(events(), format!("{before}status\n"));
}
