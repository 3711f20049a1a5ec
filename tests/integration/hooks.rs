//! `pre_start`, `post_stop` and `config_test` (SPEC §8.2; docs/services.md, "Commands around a
//! service"): the order they run in, what their failure does (and leaves alone), their
//! timeout, the user, environment and log they get; and a real nginx whose broken
//! configuration `config_test` keeps from taking the running server down.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// Everything svc printed.
fn said(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// A hook script that appends `$1` to work/NAME.ran and exits with `$2` (default 0), after
/// printing a line to its output.
fn recorder(sb: &Sandbox, name: &str) -> (PathBuf, PathBuf) {
    let ran = sb.work.join(format!("{name}.ran"));
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\necho \"hook {name} says $1\"\necho \"$1\" >> {r}\nexit ${{2:-0}}\n",
            r = ran.display()
        ),
    );
    (script, ran)
}

/// A failing `pre_start` command fails the start with exit 1, naming the command and its exit
/// status and quoting its output; nothing is launched (for the exec and the supervised kind),
/// and the later commands and `post_stop` do not run.
#[test]
fn a_failing_pre_start_launches_nothing() {
    for respawn in ["", "respawn: true\n"] {
        let sb = Sandbox::new();
        let (hook, ran) = recorder(&sb, "pre");
        let (post, post_ran) = recorder(&sb, "post");
        sb.service(
            "app",
            &format!(
                "{}{respawn}pre_start:\n  - [{h}, first]\n  - [{h}, broken, 3]\n  - [{h}, never]\npost_stop: [[{p}, after]]\n",
                sb.sleeper("app"),
                h = hook.display(),
                p = post.display()
            ),
        );
        let r = run(&sb, &["start", "app"]);
        r.code(1);
        let out = said(&r);
        assert!(
            out.contains(&format!(
                "pre_start command `{} broken 3` exited with status 3",
                hook.display()
            )),
            "{out}"
        );
        assert!(out.contains("hook pre says broken"), "{out}");
        assert_eq!(file_lines(&ran), ["first", "broken"]);
        assert!(
            file_lines(&post_ran).is_empty(),
            "post_stop ran though nothing was launched"
        );
        assert!(
            !sb.work.join("app.started").exists(),
            "the program was launched"
        );
        run(&sb, &["status", "app"]).code(3);
        assert!(procs_with_arg(&sb.work.join("app.sh")).is_empty());
    }
}

/// A `pre_start` command that outlives `ready_timeout` fails the start; its whole process group
/// (a child it put in the background included) is killed.
#[test]
fn a_pre_start_that_hangs_is_killed_with_its_group() {
    let sb = Sandbox::new();
    let hook = sb.script(
        "hang.sh",
        &format!(
            "#!/bin/sh\nsleep 1000 &\necho $! > {w}/child.pid\necho $$ > {w}/hook.pid\nwhile :; do sleep 1; done\n",
            w = sb.work.display()
        ),
    );
    sb.service(
        "app",
        &format!(
            "{}ready_timeout: 1\npre_start: [[{}]]\n",
            sb.sleeper("app"),
            hook.display()
        ),
    );
    let r = run(&sb, &["start", "app"]);
    r.code(1);
    assert!(
        said(&r).contains("did not finish within 1s (ready_timeout); its process group was killed"),
        "{}",
        said(&r)
    );
    for f in ["hook.pid", "child.pid"] {
        let pid = read_pid(&sb.work.join(f));
        assert!(!alive(pid), "{f}: {pid} survived the timeout");
    }
    assert!(!sb.work.join("app.started").exists());
}

/// `pre_start` commands run in order, as the service's user, in its working directory, with its
/// environment, their output appended to its log; the program is launched after the last.
#[test]
fn pre_start_runs_in_order_as_the_service_with_its_env_and_log() {
    let Some(user) = ordinary_user("pre_start_runs_in_order_as_the_service_with_its_env_and_log")
    else {
        return;
    };
    let sb = Sandbox::new();
    sb.open_to_others();
    let out = sb.work.join("out");
    std::fs::create_dir(&out).unwrap();
    user.chown(&out);
    let hook = sb.script(
        "who.sh",
        &format!(
            "#!/bin/sh\necho \"hook output $1\"\necho \"$1 $(id -u) $(id -g) $FOO $(pwd) $(umask)\" >> {o}/order\n",
            o = out.display()
        ),
    );
    let main = sb.script(
        "main.sh",
        &format!(
            "#!/bin/sh\ncp {o}/order {o}/seen.tmp\nmv {o}/seen.tmp {o}/seen-by-main\necho $$ > {o}/main.pid\nwhile :; do sleep 1; done\n",
            o = out.display()
        ),
    );
    let account = if user.me {
        String::new()
    } else {
        format!("user: {}\n", user.name)
    };
    sb.service(
        "app",
        &format!(
            "exec: {m}\n{account}env: {{ FOO: bar }}\nworkdir: {o}\numask: \"0027\"\npre_start:\n  - [{h}, one]\n  - [{h}, two]\n",
            m = main.display(),
            o = out.display(),
            h = hook.display()
        ),
    );
    run(&sb, &["start", "app"]).ok();
    wait_for_file(&out.join("seen-by-main"), Duration::from_secs(10));
    let want: Vec<String> = ["one", "two"]
        .iter()
        .map(|w| format!("{w} {} {} bar {} 0027", user.uid, user.gid, out.display()))
        .collect();
    assert_eq!(file_lines(&out.join("order")), want);
    assert_eq!(
        file_lines(&out.join("seen-by-main")),
        want,
        "the program ran before the hooks ended"
    );
    let log = std::fs::read_to_string(sb.logfile("app")).unwrap();
    assert!(
        log.contains("hook output one\nhook output two\n"),
        "{log:?}"
    );
    run(&sb, &["stop", "app"]).ok();
}

/// `post_stop` runs after `stop` has seen the service gone, and after a start that failed once
/// the program was launched; not when the service was stopped already.
#[test]
fn post_stop_runs_after_stop_and_after_a_failed_start() {
    let sb = Sandbox::new();
    let post = sb.script(
        "post.sh",
        &format!(
            "#!/bin/sh\ns=$(cut -d' ' -f3 /proc/$(cat {w}/app.started)/stat 2>/dev/null)\nif [ -n \"$s\" ] && [ \"$s\" != Z ]; then echo \"$1 while running\"; else echo \"$1 after\"; fi >> {w}/post.ran\n",
            w = sb.work.display()
        ),
    );
    let ran = sb.work.join("post.ran");
    sb.service(
        "app",
        &format!(
            "{}post_stop: [[{p}, a], [{p}, b]]\n",
            sb.sleeper("app"),
            p = post.display()
        ),
    );
    run(&sb, &["start", "app"]).ok();
    wait_for_file(&sb.work.join("app.started"), Duration::from_secs(10));
    run(&sb, &["stop", "app"]).ok();
    assert_eq!(file_lines(&ran), ["a after", "b after"]);
    run(&sb, &["stop", "app"]).ok().stdout_has("not running");
    assert_eq!(
        file_lines(&ran).len(),
        2,
        "post_stop ran for a stopped service"
    );

    // A program that dies while svc (or its supervisor) waits for it to be ready.
    let (rec, rec_ran) = recorder(&sb, "rec");
    let dies = sb.script("dies.sh", "#!/bin/sh\necho dying\nexit 4\n");
    for (name, respawn) in [("dies", ""), ("sdies", "respawn: true\n")] {
        sb.service(
            name,
            &format!(
                "exec: {}\n{respawn}ready: {{ file: {}/never }}\nready_timeout: 10\npost_stop: [[{}, {name}]]\n",
                dies.display(),
                sb.work.display(),
                rec.display()
            ),
        );
        run(&sb, &["start", name]).code(1);
    }
    assert_eq!(file_lines(&rec_ran), ["dies", "sdies"]);
}

/// A `forking:` service: a failing `pre_start` keeps its launcher from running; `post_stop`
/// runs after stop, and after a launcher that failed.
#[test]
fn forking_services_run_their_hooks() {
    let sb = Sandbox::new();
    let (rec, ran) = recorder(&sb, "rec");
    let w = sb.work.display();
    let launcher = sb.script(
        "launcher.sh",
        &format!(
            "#!/bin/sh\necho launched >> {w}/launched\ntest -e {w}/fail && exit 5\n{w}/daemon.sh &\necho $! > {w}/fk.pid.tmp\nmv {w}/fk.pid.tmp {w}/fk.pid\n"
        ),
    );
    sb.script(
        "daemon.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    let service = |pre: &str| {
        sb.service(
            "fk",
            &format!(
                "exec: {}\nforking: true\npidfile: {w}/fk.pid\nstop_timeout: 5\npre_start: [[{r}, pre, {pre}]]\npost_stop: [[{r}, post]]\n",
                launcher.display(),
                r = rec.display()
            ),
        );
    };
    service("1");
    run(&sb, &["start", "fk"]).code(1);
    assert!(!sb.work.join("launched").exists(), "the launcher ran");
    service("0");
    run(&sb, &["start", "fk"]).ok();
    let daemon = read_pid(&sb.work.join("fk.pid"));
    run(&sb, &["stop", "fk"]).ok();
    assert!(!alive(daemon));
    assert_eq!(file_lines(&ran), ["pre", "pre", "post"]);
    std::fs::write(sb.work.join("fail"), "").unwrap();
    run(&sb, &["start", "fk"]).code(1);
    assert_eq!(file_lines(&ran), ["pre", "pre", "post", "pre", "post"]);
}

/// `svc check` reports a hook command whose program is missing, at its key's line.
#[test]
fn check_reports_a_missing_hook_program() {
    let sb = Sandbox::new();
    sb.service(
        "app",
        &format!(
            "{}pre_start: [[/bin/true]]\nconfig_test: [no-such-tester, -t]\n",
            sb.sleeper("app")
        ),
    );
    let r = run(&sb, &["check"]);
    r.code(6);
    assert!(
        said(&r).contains("app.yaml:3: `config_test`"),
        "{}",
        said(&r)
    );
    assert!(said(&r).contains("no-such-tester"), "{}", said(&r));
    assert!(!said(&r).contains("`pre_start`"), "{}", said(&r));
}

/// A failing `post_stop` command makes `stop` exit 1, naming it; the service is stopped all the
/// same and the later commands still run.
#[test]
fn a_failing_post_stop_fails_stop_but_the_service_is_stopped() {
    let sb = Sandbox::new();
    let (rec, ran) = recorder(&sb, "rec");
    sb.service(
        "app",
        &format!(
            "{}post_stop:\n  - [{r}, one, 2]\n  - [{r}, two]\n",
            sb.sleeper("app"),
            r = rec.display()
        ),
    );
    run(&sb, &["start", "app"]).ok();
    wait_for_file(&sb.work.join("app.started"), Duration::from_secs(10));
    let pid = read_pid(&sb.work.join("app.started"));
    let r = run(&sb, &["stop", "app"]);
    r.code(1);
    assert!(
        said(&r).contains(&format!(
            "app stopped, but post_stop command `{} one 2` exited with status 2",
            rec.display()
        )),
        "{}",
        said(&r)
    );
    assert!(said(&r).contains("hook rec says one"), "{}", said(&r));
    assert_eq!(file_lines(&ran), ["one", "two"]);
    assert!(!alive(pid));
    run(&sb, &["status", "app"]).code(3);
    assert!(!sb.pidfile("app").exists());
}

/// A failing `config_test` fails start, reload, restart, force-reload and try-restart with exit
/// 6, quoting its output, before anything is stopped or signalled: the running process is the
/// same one (a HUP would have killed it). For the exec and the supervised kind.
#[test]
fn a_failing_config_test_leaves_the_service_alone() {
    for respawn in ["", "respawn: true\n"] {
        let sb = Sandbox::new();
        let good = sb.work.join("good");
        let test = sb.script(
            "test.sh",
            &format!(
                "#!/bin/sh\ntest -e {} || {{ echo \"broken: line 3\"; exit 1; }}\n",
                good.display()
            ),
        );
        sb.service(
            "app",
            &format!(
                "{}{respawn}reload_signal: HUP\nconfig_test: [{}]\n",
                sb.sleeper("app"),
                test.display()
            ),
        );
        let r = run(&sb, &["start", "app"]);
        r.code(6);
        assert!(
            said(&r).contains("configuration test failed"),
            "{}",
            said(&r)
        );
        assert!(said(&r).contains("broken: line 3"), "{}", said(&r));
        assert!(!sb.work.join("app.started").exists());

        std::fs::write(&good, "").unwrap();
        run(&sb, &["start", "app"]).ok();
        wait_for_file(&sb.work.join("app.started"), Duration::from_secs(10));
        let pid = read_pid(&sb.work.join("app.started"));
        std::fs::remove_file(&good).unwrap();
        for action in ["reload", "restart", "force-reload", "try-restart"] {
            let r = run(&sb, &[action, "app"]);
            r.code(6);
            assert!(
                said(&r).contains("broken: line 3"),
                "{action}: {}",
                said(&r)
            );
            assert!(alive(pid), "{action} touched the service");
            assert!(
                !sb.work.join("app.term").exists(),
                "{action} stopped the service"
            );
        }
        run(&sb, &["status", "app"])
            .ok()
            .stdout_has(&format!("pid {pid}"));
        // Already running: start has nothing to test.
        run(&sb, &["start", "app"])
            .ok()
            .stdout_has("already running");
        std::fs::write(&good, "").unwrap();
        run(&sb, &["restart", "app"]).ok();
        wait_until(Duration::from_secs(10), "the restarted service", || {
            read_pid(&sb.work.join("app.started")) != pid
        });
        run(&sb, &["stop", "app"]).ok();
    }
}

/// A supervised service whose supervisor died still runs; `svc start` gives it a new one by
/// stopping and starting it again — but only once `config_test` passed: a broken configuration
/// fails the start with exit 6 and leaves the running process alone.
#[test]
fn a_failing_config_test_keeps_a_service_whose_supervisor_died() {
    let sb = Sandbox::new();
    let good = sb.work.join("good");
    let test = sb.script(
        "test.sh",
        &format!(
            "#!/bin/sh\ntest -e {} || {{ echo \"broken: line 3\"; exit 1; }}\n",
            good.display()
        ),
    );
    sb.service(
        "app",
        &format!(
            "{}respawn: true\nconfig_test: [{}]\n",
            sb.sleeper("app"),
            test.display()
        ),
    );
    std::fs::write(&good, "").unwrap();
    run(&sb, &["start", "app"]).ok();
    wait_for_file(&sb.work.join("app.started"), Duration::from_secs(10));
    let pid = read_pid(&sb.work.join("app.started"));
    let text = std::fs::read_to_string(sb.state.join("app.supervisor")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sup = v["supervisor"]["pid"].as_i64().unwrap() as i32;
    send_signal(sup, libc::SIGKILL);
    wait_until(Duration::from_secs(10), "the supervisor to die", || {
        proc_stat(sup).is_none_or(|s| s.state == 'Z')
    });
    std::fs::remove_file(&good).unwrap();
    let r = run(&sb, &["start", "app"]);
    r.code(6);
    assert!(said(&r).contains("broken: line 3"), "{}", said(&r));
    assert!(alive(pid), "a failed config_test stopped the service");
    assert!(
        !sb.work.join("app.term").exists(),
        "the service was stopped"
    );
    run(&sb, &["status", "app"])
        .ok()
        .stdout_has(&format!("pid {pid}"));
    std::fs::write(&good, "").unwrap();
    run(&sb, &["start", "app"]).ok();
    run(&sb, &["stop", "app"]).ok();
}

/// `reload` of a service without `reload_signal` exits 3 (SPEC §3.3), whether running or not,
/// and its `config_test` does not run: there is nothing it would guard.
#[test]
fn reload_without_reload_signal_exits_3_without_testing() {
    let sb = Sandbox::new();
    let (test, ran) = recorder(&sb, "test");
    sb.service(
        "app",
        &format!(
            "{}config_test: [{}, tested, 1]\n",
            sb.sleeper("app"),
            test.display()
        ),
    );
    run(&sb, &["reload", "app"]).code(3);
    assert!(
        file_lines(&ran).is_empty(),
        "config_test ran: {:?}",
        file_lines(&ran)
    );
    sb.service(
        "task",
        &format!(
            "exec: /bin/true\noneshot: true\nconfig_test: [{}, tested, 1]\n",
            test.display()
        ),
    );
    run(&sb, &["reload", "task"]).code(3);
    assert!(
        file_lines(&ran).is_empty(),
        "config_test ran: {:?}",
        file_lines(&ran)
    );
}

/// The body curl gets from 127.0.0.1:PORT, with its status.
fn curl(port: u16) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "5", "-w", " %{http_code}"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes a foreground nginx configuration under `dir` answering `body` on `port`.
fn nginx_conf(dir: &Path, port: u16, body: &str) -> PathBuf {
    let d = dir.display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user root;\ndaemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"{body}\\n\"; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    conf
}

/// A real nginx with `config_test: [nginx, -t, -q, -c, CONF]`: a broken configuration makes
/// `svc reload` and `svc restart` exit 6, quoting nginx's complaint, while the same master
/// keeps serving; once fixed, reload works.
#[test]
fn nginx_with_a_broken_config_keeps_serving() {
    let test = "nginx_with_a_broken_config_keeps_serving";
    if !Path::new(NGINX).exists() {
        skip(test, &format!("{NGINX} is not installed"));
        return;
    }
    if !Path::new("/usr/bin/curl").exists() {
        skip(test, "curl is not installed (bash .ci/run installs it)");
        return;
    }
    if skip_unless_root(test) {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    let dir = sb.work.join("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = nginx_conf(&dir, port, "v1");
    let (c, d) = (conf.display(), dir.display());
    sb.service(
        "nginx",
        &format!(
            "exec: {NGINX}\nargs: [-c, {c}, -p, {d}, -e, {d}/error.log]\nreload_signal: HUP\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 10\nstop_timeout: 5\nconfig_test: [nginx, -t, -q, -c, {c}, -p, {d}, -e, {d}/error.log]\n"
        ),
    );
    run(&sb, &["start", "nginx"]).ok();
    assert_eq!(curl(port).as_deref(), Some("v1\n 200"));
    let master = sb.pid("nginx");

    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("garbage {\n");
    std::fs::write(&conf, &text).unwrap();
    for action in ["reload", "restart", "force-reload"] {
        let r = run(&sb, &[action, "nginx"]);
        r.code(6);
        assert!(
            said(&r).contains("unknown directive \"garbage\""),
            "{action}: {}",
            said(&r)
        );
        assert_eq!(curl(port).as_deref(), Some("v1\n 200"), "{action}");
        assert_eq!(sb.pid("nginx"), master, "{action}");
        assert!(alive(master));
    }
    nginx_conf(&dir, port, "v2");
    run(&sb, &["reload", "nginx"]).ok();
    wait_until(Duration::from_secs(10), "nginx to serve v2", || {
        curl(port).as_deref() == Some("v2\n 200")
    });
    assert_eq!(sb.pid("nginx"), master);
    run(&sb, &["stop", "nginx"]).ok();
    assert!(!alive(master));
}

/// A program that is not installed fails the start with exit 5 before `pre_start` runs, for
/// the exec and the supervised kind alike.
#[test]
fn a_missing_program_fails_before_pre_start() {
    for respawn in ["", "respawn: true\n"] {
        let sb = Sandbox::new();
        let (rec, ran) = recorder(&sb, "rec");
        sb.service(
            "app",
            &format!(
                "exec: {}/missing\n{respawn}pre_start: [[{}, pre]]\n",
                sb.work.display(),
                rec.display()
            ),
        );
        run(&sb, &["start", "app"]).code(5);
        assert!(file_lines(&ran).is_empty(), "{respawn}: pre_start ran");
    }
}

/// A command ended by a signal is named with the signal; `config_test` output is quoted even
/// for a service without a log.
#[test]
fn a_signal_is_named_and_output_is_quoted_without_a_log() {
    let sb = Sandbox::new();
    sb.service(
        "sig",
        &format!(
            "{}pre_start: [[/bin/sh, -c, \"kill -KILL $$\"]]\n",
            sb.sleeper("sig")
        ),
    );
    let r = run(&sb, &["start", "sig"]);
    r.code(1);
    assert!(
        said(&r).contains("sig was not launched: pre_start command `/bin/sh -c 'kill -KILL $$'` was killed by signal SIGKILL"),
        "{}",
        said(&r)
    );
    sb.service(
        "quiet",
        &format!(
            "{}log: none\nconfig_test: [/bin/sh, -c, \"echo no good >&2; exit 1\"]\n",
            sb.sleeper("quiet")
        ),
    );
    let r = run(&sb, &["start", "quiet"]);
    r.code(6);
    assert!(
        said(&r).contains("its output:\n    no good"),
        "{}",
        said(&r)
    );
    assert!(!sb.logfile("quiet").exists());
}
