//! `forking: true` (docs/commands.md, start): the program daemonizes itself and names its daemon in
//! `pidfile`. A real nginx (master and worker, reload by HUP) and a small shell daemon for the
//! generic path; a launcher that fails fails `start`.

use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";
const REDIS: &str = "/usr/bin/redis-server";

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
    // The PID is the launcher's fork, which may not have exec'd the daemon script yet when
    // start returns (the launcher exits right after `&`).
    wait_until(
        Duration::from_secs(10),
        "the daemon the PID file names",
        || procs_with_arg(&daemon) == vec![pid],
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

/// `PING` over a raw connection to 127.0.0.1:PORT: redis's answer, or None.
fn redis_ping(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Live processes whose working directory is under `dir` (redis renames itself, so its
/// command line does not say which sandbox it belongs to; its `dir` does).
fn procs_in(dir: &Path) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| alive(p))
        .filter(|&p| std::fs::read_link(format!("/proc/{p}/cwd")).is_ok_and(|c| c.starts_with(dir)))
        .collect()
}

/// The uid and gid of a user, from getent.
fn ids_of(user: &str) -> Option<(u32, u32)> {
    let out = bounded_output(std::process::Command::new("getent").args(["passwd", user]));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = line.trim().split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// Lets other users through the sandbox (it is private to root) to a directory `owner` owns.
fn dir_for(sb: &Sandbox, name: &str, owner: (u32, u32)) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    for d in [sb.path(), sb.work.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = sb.work.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(owner.0), Some(owner.1)).unwrap();
    dir
}

/// Issue 10 item 1: Debian's redis-server in its forking mode, as user redis. redis writes its
/// PID file after it runs as redis (so the file is redis's, in a directory redis can write):
/// svc refused it, failed the start and left redis serving. Now the file counts — its process
/// is provably this launch's — and start, status and stop work on it.
#[test]
fn redis_forking_as_its_user_starts_reports_and_stops() {
    if !Path::new(REDIS).exists() {
        skip(
            "redis_forking_as_its_user_starts_reports_and_stops",
            &format!("{REDIS} is not installed"),
        );
        return;
    }
    if skip_unless_root("redis_forking_as_its_user_starts_reports_and_stops") {
        return;
    }
    let Some(redis_ids) = ids_of("redis") else {
        skip(
            "redis_forking_as_its_user_starts_reports_and_stops",
            "no user redis",
        );
        return;
    };
    let sb = Sandbox::new();
    let port = free_port();
    let home = dir_for(&sb, "redis", redis_ids);
    let conf = sb.work.join("redis.conf");
    let pidfile = home.join("redis.pid");
    std::fs::write(
        &conf,
        format!(
            "daemonize yes\npidfile {pf}\nport {port}\nbind 127.0.0.1\ndir {h}\nlogfile {h}/redis.log\nsave \"\"\nappendonly no\n",
            pf = pidfile.display(),
            h = home.display()
        ),
    )
    .unwrap();
    sb.service(
        "redis",
        &format!(
            "exec: {REDIS}\nargs: [\"{c}\"]\nforking: true\npidfile: {pf}\nuser: redis\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 20\nstop_timeout: 10\n",
            c = conf.display(),
            pf = pidfile.display()
        ),
    );

    run(&sb, &["start", "redis"]).ok().stdout_has("[ OK ]");
    assert_eq!(redis_ping(port).as_deref(), Some("+PONG\r\n"));
    let pid = read_pid(&pidfile);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&pidfile).unwrap());
    assert_eq!(owner, redis_ids.0, "the PID file is redis's own");
    assert_eq!(
        proc_status_field(pid, "Uid")
            .unwrap()
            .split_whitespace()
            .next(),
        Some(redis_ids.0.to_string().as_str()),
        "redis does not run as redis"
    );
    run(&sb, &["status", "redis"])
        .ok()
        .stdout_has(&format!("redis is running (pid {pid}"));
    run(&sb, &["start", "redis"])
        .ok()
        .stdout_has(&format!("redis is already running (pid {pid})"));
    assert_eq!(procs_in(&home), vec![pid], "one redis, the one recorded");

    run(&sb, &["stop", "redis"]).ok();
    assert!(!alive(pid), "redis survived stop");
    assert!(procs_in(&home).is_empty(), "a process of redis is left");
    assert!(redis_ping(port).is_none(), "port still served after stop");
    run(&sb, &["status", "redis"]).code(3);

    // Again, through restart: a second launch proves its own daemon.
    run(&sb, &["start", "redis"]).ok();
    let first = read_pid(&pidfile);
    run(&sb, &["restart", "redis"]).ok();
    wait_until(Duration::from_secs(10), "the new redis pid", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|t| t.trim() != first.to_string())
    });
    let second = read_pid(&pidfile);
    assert!(!alive(first) && alive(second));
    assert_eq!(redis_ping(port).as_deref(), Some("+PONG\r\n"));
    run(&sb, &["stop", "redis"]).ok();
    assert!(procs_in(&home).is_empty(), "a process of redis is left");
}

/// A forking service whose launcher backgrounds a daemon (the launch's), then waits for
/// work/NAME-dir/stranger to hold a PID and writes that PID into its PID file instead of the
/// daemon's. Returns (launcher's directory, the PID file).
fn stranger_launch(
    sb: &Sandbox,
    name: &str,
    user: Option<(&str, (u32, u32))>,
) -> (PathBuf, PathBuf) {
    let dir = match user {
        Some((_, ids)) => dir_for(sb, &format!("{name}-dir"), ids),
        None => {
            let d = sb.work.join(format!("{name}-dir"));
            std::fs::create_dir_all(&d).unwrap();
            d
        }
    };
    let d = dir.display();
    let daemon = sb.script(
        &format!("{name}-daemon.sh"),
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    let launcher = sb.script(
        &format!("{name}-launcher.sh"),
        &format!(
            "#!/bin/sh\n{daemon} </dev/null >/dev/null 2>&1 &\necho $! > {d}/daemon\ntouch {d}/waiting\nwhile [ ! -s {d}/stranger ]; do sleep 0.05; done\ncat {d}/stranger > {d}/fork.pid\nexit 0\n",
            daemon = daemon.display()
        ),
    );
    let pidfile = dir.join("fork.pid");
    let user_line = user
        .map(|(u, _)| format!("user: {u}\n"))
        .unwrap_or_default();
    sb.service(
        name,
        &format!(
            "exec: {}\nforking: true\npidfile: {}\n{user_line}ready_timeout: 3\nstop_timeout: 3\n",
            launcher.display(),
            pidfile.display()
        ),
    );
    (dir, pidfile)
}

/// Issue 10 item 1: a PID file naming a process the launch did not create — a stranger the
/// test starts while the launcher runs, so it is younger than the launch — fails the start,
/// whoever wrote the file: the stranger is left untouched, and the daemon the launch did
/// create is stopped, not left running unseen.
#[test]
fn pid_file_naming_a_process_the_launch_did_not_create_fails_start() {
    let users: Vec<Option<(&str, (u32, u32))>> = if is_root() {
        vec![Some(("nobody", (65534, 65534))), None]
    } else {
        vec![None]
    };
    for user in users {
        let sb = Sandbox::new();
        let (dir, pidfile) = stranger_launch(&sb, "liar", user);
        let stranger_term = sb.work.join("stranger.term");
        let stranger_sh = sb.script(
            "stranger.sh",
            &format!(
                "#!/bin/sh\ntrap 'echo term > {}; exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
                stranger_term.display()
            ),
        );
        let start = spawn_svc(&sb, &["start", "liar"]);
        wait_for_file(&dir.join("waiting"), Duration::from_secs(10));
        let mut stranger = std::process::Command::new(&stranger_sh)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stranger_pid = stranger.id() as i32;
        std::fs::write(dir.join("stranger"), format!("{stranger_pid}\n")).unwrap();
        let r = finish(start, &["start", "liar"], Duration::from_secs(30));
        let who = user.map_or("root", |(u, _)| u);
        assert_ne!(
            r.code, 0,
            "({who}) a stranger was taken for the daemon:\n{}",
            r.stdout
        );
        r.no_panic().stdout_has("[FAILED]").stderr_has(&format!(
            "process {stranger_pid} was not created by this launch"
        ));
        let daemon = read_pid(&dir.join("daemon"));
        assert!(
            !alive(daemon),
            "({who}) the launch's daemon {daemon} was left running"
        );
        assert!(alive(stranger_pid), "({who}) the stranger was stopped");
        assert!(!stranger_term.exists(), "({who}) the stranger got TERM");
        let st = run(&sb, &["status", "liar"]);
        assert_ne!(st.code, 0, "({who}) status: {}", st.stdout);
        let stop = run(&sb, &["stop", "liar"]);
        assert!(
            alive(stranger_pid),
            "({who}) stop hit the stranger: {}",
            stop.stderr
        );
        assert!(!pidfile.exists() || !stranger_term.exists());
        let _ = stranger.kill();
        let _ = stranger.wait();
    }
}

/// Issue 10 item 1: every failure after a forking launch stops what the launch created — here
/// a launcher that backgrounds a daemon and then exits non-zero, and one whose daemon never
/// writes the PID file (ready_timeout).
#[test]
fn failed_forking_launch_leaves_nothing_running() {
    let sb = Sandbox::new();
    let daemon = sb.script(
        "orphan-daemon.sh",
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    for (name, tail, timeout) in [("badexit", "exit 3", 10), ("nopid", "exit 0", 1)] {
        let started = sb.work.join(format!("{name}.daemon"));
        let launcher = sb.script(
            &format!("{name}-launcher.sh"),
            &format!(
                "#!/bin/sh\nsetsid {d} </dev/null >/dev/null 2>&1 &\necho $! > {s}\n{tail}\n",
                d = daemon.display(),
                s = started.display()
            ),
        );
        sb.service(
            name,
            &format!(
                "exec: {}\nforking: true\npidfile: {}\nready_timeout: {timeout}\nstop_timeout: 2\n",
                launcher.display(),
                sb.work.join(format!("{name}.pid")).display()
            ),
        );
        let r = run(&sb, &["start", name]);
        assert_ne!(r.code, 0, "{name}: {}", r.stdout);
        let pid = read_pid(&started);
        assert!(
            !alive(pid),
            "{name}: the launch's daemon {pid} was left running"
        );
        assert!(
            procs_with_arg(&daemon).is_empty(),
            "{name}: {:?}",
            procs_with_arg(&daemon)
        );
    }
}

/// A forking service whose launcher starts a daemon in a session of its own, writes its PID to
/// work/NAME.daemon and then never exits (svc waits on it). Returns the two scripts.
fn hung_launch(sb: &Sandbox, name: &str) -> [PathBuf; 2] {
    let w = sb.work.display();
    let daemon = sb.script(
        &format!("{name}-daemon.sh"),
        "#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n",
    );
    let launcher = sb.script(
        &format!("{name}-launcher.sh"),
        &format!(
            "#!/bin/sh\nsetsid {d} </dev/null >/dev/null 2>&1 &\necho $! > {w}/{name}.daemon\nwhile :; do sleep 1 & wait $!; done\n",
            d = daemon.display()
        ),
    );
    sb.service(
        name,
        &format!(
            "exec: {}\nforking: true\npidfile: {w}/{name}.pid\nready_timeout: 60\nstop_timeout: 2\n",
            launcher.display()
        ),
    );
    [launcher, daemon]
}

/// Issue 10 item 1 / docs/security.md: `svc start` of a forking service that dies while it waits
/// for the launch — killed outright, or by a Ctrl-C (SIGINT to its whole process group, which the
/// launch's keeper is in) — leaves nothing of the launch running. The keeper used to die with it
/// and leave the daemon to init, running and recorded nowhere.
#[test]
fn a_forking_start_that_dies_leaves_nothing_running() {
    use std::os::unix::process::CommandExt;
    for (how, sig) in [
        ("kill", nix::sys::signal::Signal::SIGKILL),
        ("ctrlc", nix::sys::signal::Signal::SIGINT),
    ] {
        let sb = Sandbox::new();
        let scripts = hung_launch(&sb, how);
        // In a process group of its own, as a shell runs a command (Ctrl-C goes to the group).
        let child = sb
            .cmd(["start", how])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let daemon = read_pid(&sb.work.join(format!("{how}.daemon")));
        let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
        let target = if sig == nix::sys::signal::Signal::SIGINT {
            pgid
        } else {
            nix::unistd::Pid::from_raw(child.id() as i32)
        };
        nix::sys::signal::kill(target, sig).unwrap();
        let status = finish(child, &["start", how], SVC_LIMIT);
        assert!(status.code != 0, "({how}) svc start: {}", status.code);
        wait_until(
            Duration::from_secs(10),
            &format!("({how}) the launch's processes to be gone"),
            || !alive(daemon) && scripts.iter().all(|s| procs_with_arg(s).is_empty()),
        );
    }
}
