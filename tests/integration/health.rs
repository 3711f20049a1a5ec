//! Health checks (SPEC §8.6, docs/services.md "Health checks"): tcp, http and exec checks
//! against real small servers; a service that stops answering is restarted after `retries`
//! failures, counting toward `max`; `start_period`; `health` and `health_error` in
//! `status --json`, the reason on the status line; `health` without `respawn` is an error.

use crate::util::*;
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// Waits until `status --json NAME` has `key` equal to `want`; returns that status.
fn wait_status(sb: &Sandbox, name: &str, key: &str, want: serde_json::Value) -> serde_json::Value {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let last = status_json(sb, name);
        if last[key] == want {
            return last;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "{name}: {key} is not {want} after {LIMIT:?}: {last}\nsupervisor log:\n{}\nlog:\n{}",
                supervisor_log(sb, name),
                std::fs::read_to_string(sb.logfile(name)).unwrap_or_default()
            );
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// The supervisor's own log.
fn supervisor_log(sb: &Sandbox, name: &str) -> String {
    std::fs::read_to_string(sb.state.join(format!("{name}.supervisor.log"))).unwrap_or_default()
}

/// Stops the service when the test ends, pass or fail.
struct StopOnDrop<'a>(&'a Sandbox, &'a str);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        run_quietly(self.0.cmd(["stop", self.1]), SVC_LIMIT);
    }
}

/// A TCP server on 127.0.0.1:PORT that, when FLAG appears, removes it and closes its listening
/// socket while it keeps running (so connects are refused).
fn closing_server(sb: &Sandbox) -> PathBuf {
    sb.script(
        "closing.py",
        r#"#!/usr/bin/env python3
import os, signal, socket, sys
port, flag = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', port))
s.listen(16)
s.settimeout(0.05)
while True:
    if os.path.exists(flag):
        os.unlink(flag)
        s.close()
        while True:
            signal.pause()
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
"#,
    )
}

#[test]
fn a_tcp_check_restarts_a_service_that_stops_listening_and_counts_toward_max() {
    let sb = Sandbox::new();
    let port = free_port();
    let flag = sb.work.join("close");
    let server = closing_server(&sb);
    sb.service(
        "tcpd",
        &format!(
            "exec: /usr/bin/python3\nargs: [{}, \"{port}\", {}]\nrespawn: {{ max: 1, window: 60s, backoff: 100ms }}\nstop_timeout: 5\nhealth: {{ tcp: \"127.0.0.1:{port}\", interval: 200ms, timeout: 500ms, retries: 2 }}\n",
            server.display(),
            flag.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "tcpd");
    sb.svc(["start", "tcpd"]).ok().no_panic();
    let st = wait_status(&sb, "tcpd", "health", "healthy".into());
    let first = sb.pid("tcpd");
    assert_eq!(st["health_error"], serde_json::Value::Null, "{st}");
    assert_eq!(st["restarts"], 0, "{st}");

    // It stops listening: after 2 failed checks it is stopped and restarted (restart 1).
    std::fs::write(&flag, "").unwrap();
    let st = wait_status(&sb, "tcpd", "restarts", 1.into());
    wait_until(LIMIT, "the restarted instance runs", || {
        sb.svc(["status", "tcpd"]).code == 0
    });
    let now = std::fs::read_to_string(sb.pidfile("tcpd")).unwrap_or_else(|e| {
        panic!(
            "no pid file ({e}): {st}\n{}\n{}",
            supervisor_log(&sb, "tcpd"),
            std::fs::read_to_string(sb.logfile("tcpd")).unwrap_or_default()
        )
    });
    assert_ne!(now.trim(), first.to_string(), "a new instance: {st}");
    let st = wait_status(&sb, "tcpd", "health", "healthy".into());
    let log = supervisor_log(&sb, "tcpd");
    assert!(
        log.contains("unhealthy: 2 failed health checks in a row")
            && log.contains(&format!("tcp 127.0.0.1:{port}")),
        "the reason is in the supervisor's log: {log}"
    );
    assert!(!alive(first), "the unhealthy instance was stopped");
    assert_eq!(st["health_error"], serde_json::Value::Null, "{st}");

    // Again: max 1 restart within the window is used up, so the supervisor gives up.
    std::fs::write(&flag, "").unwrap();
    let st = wait_status(&sb, "tcpd", "state", "failed".into());
    assert_eq!(st["health"], "unhealthy", "{st}");
    let why = st["health_error"].as_str().unwrap_or_default().to_string();
    assert!(why.starts_with(&format!("tcp 127.0.0.1:{port}: ")), "{st}");
    let r = sb.svc(["status", "tcpd"]);
    r.code(3)
        .no_panic()
        .stdout_has(&format!("tcpd has failed, unhealthy: {why}"));
}

#[test]
fn an_http_check_waits_out_start_period_and_restarts_a_stopped_server() {
    let sb = Sandbox::new();
    let port = free_port();
    // The server listens only after a second and a half: with retries 1 and a check every
    // 200ms, only start_period keeps it from being restarted.
    let server = sb.script(
        "late-http.sh",
        &format!(
            "#!/bin/sh\nsleep 1.5\ncd {}\nexec python3 -m http.server {port} --bind 127.0.0.1\n",
            sb.work.display()
        ),
    );
    sb.service(
        "web",
        &format!(
            "exec: {}\nrespawn: {{ max: 5, window: 60s, backoff: 100ms }}\nstop_timeout: 5\nhealth:\n  http: http://127.0.0.1:{port}/\n  interval: 200ms\n  timeout: 500ms\n  retries: 1\n  start_period: 4s\n",
            server.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "web");
    sb.svc(["start", "web"]).ok().no_panic();
    let st = status_json(&sb, "web");
    assert_eq!(st["health"], "starting", "{st}");
    let st = wait_status(&sb, "web", "health", "healthy".into());
    assert_eq!(
        st["restarts"], 0,
        "failures within start_period do not count: {st}"
    );
    assert!(
        !supervisor_log(&sb, "web").contains("unhealthy"),
        "{}",
        supervisor_log(&sb, "web")
    );

    // A stopped server accepts connections (the kernel does) but never answers.
    let pid = sb.pid("web");
    send_signal(pid, libc::SIGSTOP);
    let st = wait_status(&sb, "web", "restarts", 1.into());
    wait_until(LIMIT, "the stopped instance is gone", || !alive(pid));
    let log = supervisor_log(&sb, "web");
    assert!(
        log.contains(&format!("http http://127.0.0.1:{port}/: timed out")),
        "{log}\n{st}"
    );
    wait_status(&sb, "web", "health", "healthy".into());
}

#[test]
fn an_exec_check_runs_with_the_service_environment_and_is_killed_at_its_timeout() {
    let sb = Sandbox::new();
    let ok = sb.work.join("ok");
    let hang = sb.work.join("hang");
    let hung = sb.work.join("hung.pid");
    let check = sb.script(
        "check.sh",
        &format!(
            "#!/bin/sh\nif [ -e {hang} ]; then rm -f {hang}; echo $$ > {hung}; exec sleep 30; fi\ntest -e \"$HEALTH_FILE\"\n",
            hang = hang.display(),
            hung = hung.display()
        ),
    );
    let daemon = sb.sleeper("checked");
    sb.service(
        "checked",
        &format!(
            "{daemon}env: {{ HEALTH_FILE: {} }}\nrespawn: {{ max: 5, window: 60s, backoff: 100ms }}\nstop_timeout: 5\nhealth: {{ exec: [{}], interval: 200ms, timeout: 700ms, retries: 1 }}\n",
            ok.display(),
            check.display()
        ),
    );
    std::fs::write(&ok, "").unwrap();
    let _stop = StopOnDrop(&sb, "checked");
    sb.svc(["start", "checked"]).ok().no_panic();
    wait_status(&sb, "checked", "health", "healthy".into());

    // Exits 1 (the file its environment names is gone): restarted.
    std::fs::remove_file(&ok).unwrap();
    let st = wait_status(&sb, "checked", "restarts", 1.into());
    let why = st["health_error"].as_str().unwrap_or_default().to_string();
    assert!(
        why.starts_with(&format!("exec {}: ", check.display())) && why.contains('1'),
        "{st}"
    );
    std::fs::write(&ok, "").unwrap();
    wait_status(&sb, "checked", "health", "healthy".into());

    // Hangs: killed at its timeout, and that is a failure too.
    std::fs::write(&hang, "").unwrap();
    let st = wait_status(&sb, "checked", "restarts", 2.into());
    assert!(
        st["health_error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out after 0.7s")),
        "{st}"
    );
    let sleeper: i32 = std::fs::read_to_string(&hung)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until(LIMIT, "the hung check is killed", || !alive(sleeper));
}

#[test]
fn health_without_respawn_is_a_definition_error_and_null_without_a_check() {
    let sb = Sandbox::new();
    let daemon = sb.sleeper("plain");
    sb.service(
        "plain",
        &format!("{daemon}health: {{ tcp: \"127.0.0.1:1\" }}\n"),
    );
    let r = sb.svc(["check"]);
    r.no_panic()
        .stderr_has("plain.yaml:2:")
        .stderr_has("`health` needs `respawn`");
    assert_ne!(r.code, 0);
    let r = sb.svc(["start", "plain"]);
    r.code(6).no_panic().stderr_has("plain.yaml:2:");

    sb.service("plain", &format!("{daemon}respawn: true\n"));
    let _stop = StopOnDrop(&sb, "plain");
    sb.svc(["start", "plain"]).ok().no_panic();
    let st = status_json(&sb, "plain");
    assert!(st.get("health").is_some_and(|h| h.is_null()), "{st}");
    assert!(st.get("health_error").is_some_and(|h| h.is_null()), "{st}");
}

#[test]
fn an_exec_check_runs_as_the_service_user() {
    let Some(user) = ordinary_user("an_exec_check_runs_as_the_service_user") else {
        return;
    };
    let sb = Sandbox::new();
    sb.open_to_others();
    let out = sb.work.join("out");
    std::fs::create_dir(&out).unwrap();
    user.chown(&out);
    let check = sb.script(
        "who.sh",
        &format!(
            "#!/bin/sh\nid -u > {o}/who.tmp && mv {o}/who.tmp {o}/who\n",
            o = out.display()
        ),
    );
    let daemon = sb.script("idle.sh", "#!/bin/sh\nwhile :; do sleep 1; done\n");
    let account = if user.me {
        String::new()
    } else {
        format!("user: {}\n", user.name)
    };
    sb.service(
        "mine",
        &format!(
            "exec: {}\n{account}respawn: true\nhealth: {{ exec: [{}], interval: 200ms }}\n",
            daemon.display(),
            check.display()
        ),
    );
    let _stop = StopOnDrop(&sb, "mine");
    sb.svc(["start", "mine"]).ok().no_panic();
    wait_status(&sb, "mine", "health", "healthy".into());
    let who = std::fs::read_to_string(out.join("who")).unwrap();
    assert_eq!(who.trim(), user.uid.to_string());
}

/// The table of all services gains a last HEALTH column only when some service has a check:
/// the verdict there, `-` for the others; without checks the header is the usual one.
#[test]
fn the_status_table_shows_health_only_when_a_service_has_a_check() {
    let sb = Sandbox::new();
    let plain = sb.sleeper("plain");
    sb.service("plain", &plain);
    let header = |sb: &Sandbox| -> Vec<String> {
        let r = sb.svc(["status"]);
        r.no_panic();
        r.stdout
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(header(&sb), ["NAME", "STATE", "PID", "UPTIME", "RUNLEVELS"]);
    let checked = sb.sleeper("checked");
    sb.service(
        "checked",
        &format!("{checked}respawn: true\nhealth: {{ exec: [/bin/true], interval: 100ms }}\n"),
    );
    let _stop = StopOnDrop(&sb, "checked");
    sb.svc(["start", "checked"]).ok();
    wait_status(&sb, "checked", "health", "healthy".into());
    assert_eq!(
        header(&sb),
        ["NAME", "STATE", "PID", "UPTIME", "RUNLEVELS", "HEALTH"]
    );
    let r = sb.svc(["status"]);
    let row = |name: &str| -> Vec<String> {
        r.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", r.stdout))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("checked").last().map(String::as_str),
        Some("healthy"),
        "{}",
        r.stdout
    );
    assert_eq!(
        row("plain").last().map(String::as_str),
        Some("-"),
        "{}",
        r.stdout
    );
}
