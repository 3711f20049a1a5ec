//! `forking: true` (SPEC §3.1 step 4): the program daemonizes itself and names its daemon in
//! `pidfile`. A real nginx (master and worker, reload by HUP) and a small shell daemon for the
//! generic path; a launcher that fails fails `start`.

use crate::lifecycle::{procs_with_arg, read_pid, run};
use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// `GET /` on 127.0.0.1:PORT: the status code and the body, or None when the request fails.
fn http_get(port: u16) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// Writes an nginx configuration whose only location answers `body`.
fn nginx_conf(conf: &Path, prefix: &Path, port: u16, body: &str) {
    let p = prefix.display();
    let user = if is_root() { "user root;\n" } else { "" };
    std::fs::write(
        conf,
        format!(
            "{user}daemon on;\nmaster_process on;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"{body}\\n\"; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
}

/// Live processes whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| alive(p) && proc_stat(p).map(|s| s.ppid) == Some(pid))
        .collect()
}

/// nginx as a forking service: start serves, status shows the master from nginx's own PID
/// file, reload keeps the master and serves the new configuration, stop leaves nothing.
#[test]
fn nginx_forking_start_status_reload_stop() {
    if !Path::new(NGINX).exists() {
        skip(
            "nginx_forking_start_status_reload_stop",
            &format!("{NGINX} is not installed"),
        );
        return;
    }
    if skip_unless_root("nginx_forking_start_status_reload_stop") {
        return;
    }
    let sb = Sandbox::new();
    let port = free_port();
    let prefix = sb.work.join("nginx");
    std::fs::create_dir_all(&prefix).unwrap();
    let conf = prefix.join("nginx.conf");
    nginx_conf(&conf, &prefix, port, "v1");
    let nginx_pid = prefix.join("nginx.pid");
    sb.service(
        "nginx",
        &format!(
            "exec: {NGINX}\nargs: [\"-c\", \"{c}\", \"-p\", \"{p}\", \"-e\", \"{p}/error.log\"]\nforking: true\npidfile: {pf}\nreload_signal: HUP\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 10\nstop_timeout: 5\n",
            c = conf.display(),
            p = prefix.display(),
            pf = nginx_pid.display()
        ),
    );

    run(&sb, &["start", "nginx"]).ok().stdout_has("[ OK ]");
    let (code, body) = http_get(port).expect("nginx answers right after start");
    assert_eq!((code, body.as_str()), (200, "v1\n"));

    let master = read_pid(&nginx_pid);
    let cmdline = std::fs::read_to_string(format!("/proc/{master}/cmdline")).unwrap();
    assert!(
        cmdline.contains("master process"),
        "pid file names no nginx master: {cmdline:?}"
    );
    run(&sb, &["status", "nginx"])
        .ok()
        .stdout_has(&format!("nginx is running (pid {master}"));
    let pgid = proc_stat(master).unwrap().pgrp;
    let workers = children_of(master);
    assert!(!workers.is_empty(), "nginx master has no workers");

    nginx_conf(&conf, &prefix, port, "v2");
    run(&sb, &["reload", "nginx"]).ok();
    wait_until(
        Duration::from_secs(10),
        "nginx to serve the new configuration",
        || matches!(http_get(port), Some((200, b)) if b == "v2\n"),
    );
    assert_eq!(read_pid(&nginx_pid), master, "reload replaced the master");
    assert!(alive(master));
    run(&sb, &["status", "nginx"])
        .ok()
        .stdout_has(&format!("(pid {master}"));

    run(&sb, &["stop", "nginx"]).ok();
    assert!(!alive(master), "nginx master survived stop");
    let mut workers_now = workers;
    workers_now.extend(children_of(master));
    for w in workers_now {
        assert!(!alive(w), "nginx worker {w} survived stop");
    }
    assert!(
        group_members(pgid).is_empty(),
        "processes of nginx's group left"
    );
    assert!(
        procs_with_arg(&conf).is_empty(),
        "nginx of this sandbox still runs"
    );
    assert!(http_get(port).is_none(), "port still served after stop");
    run(&sb, &["status", "nginx"]).code(3);
}

/// A launcher script that backgrounds the daemon, writes its PID and exits 0.
fn forking_shell(sb: &Sandbox, name: &str) -> (PathBuf, PathBuf) {
    let daemon = sb.script(
        &format!("{name}-daemon.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo term > {w}/{name}.term; exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
            w = sb.work.display()
        ),
    );
    let pidfile = sb.work.join(format!("{name}.pid"));
    let launcher = sb.script(
        &format!("{name}-launcher.sh"),
        &format!(
            "#!/bin/sh\n{d} &\necho $! > {pf}.tmp\nmv {pf}.tmp {pf}\nexit 0\n",
            d = daemon.display(),
            pf = pidfile.display()
        ),
    );
    sb.service(
        name,
        &format!(
            "exec: {}\nforking: true\npidfile: {}\nstop_timeout: 5\n",
            launcher.display(),
            pidfile.display()
        ),
    );
    (daemon, pidfile)
}

/// The generic path: svc follows the PID file of a shell daemon, reports it, and stops it.
#[test]
fn b3_forking_shell_daemon_is_followed_through_its_pid_file() {
    let sb = Sandbox::new();
    let (daemon, pidfile) = forking_shell(&sb, "bg");

    run(&sb, &["start", "bg"]).ok().stdout_has("[ OK ]");
    let pid = read_pid(&pidfile);
    assert_eq!(
        procs_with_arg(&daemon),
        vec![pid],
        "the daemon the PID file names"
    );
    run(&sb, &["status", "bg"])
        .ok()
        .stdout_has(&format!("bg is running (pid {pid}"));
    assert!(
        !sb.pidfile("bg").exists(),
        "svc wrote a PID file of its own for a forking service"
    );
    run(&sb, &["start", "bg"])
        .ok()
        .stdout_has("bg is already running");
    assert_eq!(
        procs_with_arg(&daemon),
        vec![pid],
        "second start started another daemon"
    );
    let pgid = proc_stat(pid).unwrap().pgrp;

    run(&sb, &["stop", "bg"]).ok();
    assert!(!alive(pid), "forked daemon survived stop");
    assert!(
        sb.work.join("bg.term").exists(),
        "the daemon did not get TERM"
    );
    assert!(
        group_members(pgid).is_empty(),
        "processes of the daemon's group left"
    );
    run(&sb, &["status", "bg"]).code(3);
}

/// A launcher that exits non-zero fails `start`, and nothing is left running.
#[test]
fn failing_launcher_fails_start() {
    let sb = Sandbox::new();
    let pidfile = sb.work.join("failer.pid");
    let launcher = sb.script(
        "failer-launcher.sh",
        "#!/bin/sh\necho 'failer: cannot open /nonexistent/failer.conf' >&2\nexit 2\n",
    );
    sb.service(
        "failer",
        &format!(
            "exec: {}\nforking: true\npidfile: {}\nready_timeout: 5\n",
            launcher.display(),
            pidfile.display()
        ),
    );

    let r = run(&sb, &["start", "failer"]);
    assert_ne!(
        r.code, 0,
        "start with a failing launcher succeeded:\n{}",
        r.stdout
    );
    r.no_panic()
        .stdout_has("[FAILED]")
        .stderr_has("cannot open /nonexistent/failer.conf");
    assert!(procs_with_arg(&launcher).is_empty());
    assert!(!sb.pidfile("failer").exists(), "PID file of a failed start");
    let status = run(&sb, &["status", "failer"]);
    assert_ne!(status.code, 0, "status says running:\n{}", status.stdout);
}
