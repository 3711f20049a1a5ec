//! Readiness checks (SPEC §3.1 step 5): `start` returns only once the daemon is ready (a TCP
//! connect succeeds, a file exists, or it sent `READY=1` over `NOTIFY_SOCKET`), fails after
//! `ready_timeout` stopping what it launched, and fails at once, quoting the log, when the
//! daemon dies while svc waits.

use crate::lifecycle::{assert_gone, procs_with_arg, read_pid, run, timed};
use crate::util::*;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// A python3 daemon in work/NAME.py (the full path keeps it findable by the sandbox guard).
fn python(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    sb.script(
        &format!("{name}.py"),
        &format!("#!/usr/bin/python3\n{body}"),
    )
}

/// Python that sends each datagram of `messages` to $NOTIFY_SOCKET (abstract names included).
fn notify_sender(messages: &str) -> String {
    format!(
        "import os, socket\naddr = os.environ['NOTIFY_SOCKET']\nif addr.startswith('@'):\n    addr = '\\0' + addr[1:]\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\nfor m in {messages}:\n    s.sendto(m, addr)\n"
    )
}

/// `ready: {tcp}`: the daemon listens only after 0.3 s; start returns after that, so a connect
/// right after start succeeds.
#[test]
fn tcp_readiness_waits_for_the_port() {
    let sb = Sandbox::new();
    let port = free_port();
    let script = python(
        &sb,
        "web",
        &format!(
            "import socket, threading\nthreading.Event().wait(0.3)  # the daemon takes a while before it listens\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', {port}))\ns.listen(16)\nwhile True:\n    c, _ = s.accept()\n    c.close()\n"
        ),
    );
    sb.service(
        "web",
        &format!(
            "exec: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 10\n",
            script.display()
        ),
    );

    let (r, took) = timed(&sb, &["start", "web"]);
    r.ok().stdout_has("[ OK ]");
    TcpStream::connect(("127.0.0.1", port)).expect("port not accepting right after start returned");
    assert!(
        took >= Duration::from_millis(250),
        "start returned after {took:?}, before the listen"
    );
    run(&sb, &["status", "web"]).ok();
    run(&sb, &["stop", "web"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// `ready: {file}`: start returns once the daemon created the file.
#[test]
fn file_readiness_waits_for_the_file() {
    let sb = Sandbox::new();
    let ready = sb.work.join("filed.ready");
    let script = sb.script(
        "filed.sh",
        &format!(
            "#!/bin/sh\ntrap 'exit 0' TERM\nsleep 0.3\ntouch {}\nwhile :; do sleep 1 & wait $!; done\n",
            ready.display()
        ),
    );
    sb.service(
        "filed",
        &format!(
            "exec: {}\nready: {{ file: {} }}\nready_timeout: 10\n",
            script.display(),
            ready.display()
        ),
    );

    run(&sb, &["start", "filed"]).ok();
    assert!(
        ready.exists(),
        "start returned before the readiness file existed"
    );
    run(&sb, &["status", "filed"]).ok();
    run(&sb, &["stop", "filed"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// `ready: {notify}`: start returns only after the daemon sent READY=1 to $NOTIFY_SOCKET.
#[test]
fn notify_readiness_waits_for_ready() {
    let sb = Sandbox::new();
    let sending = sb.work.join("notified.sending");
    let script = python(
        &sb,
        "notified",
        &format!(
            "import signal, threading\nthreading.Event().wait(0.3)  # initialising\nopen('{}', 'w').close()\n{}while True:\n    signal.pause()\n",
            sending.display(),
            notify_sender("[b'READY=1']")
        ),
    );
    sb.service(
        "notified",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\n",
            script.display()
        ),
    );

    run(&sb, &["start", "notified"]).ok().stdout_has("[ OK ]");
    assert!(
        sending.exists(),
        "start returned before the daemon sent READY=1"
    );
    let pid = sb.pid("notified");
    assert_eq!(procs_with_arg(&script), vec![pid]);
    run(&sb, &["status", "notified"])
        .ok()
        .stdout_has(&format!("notified is running (pid {pid}"));
    run(&sb, &["stop", "notified"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// Notify socket robustness: an empty datagram, binary junk and a multi-line message before
/// READY=1 do not break svc.
#[test]
fn notify_socket_survives_empty_and_junk_datagrams() {
    let sb = Sandbox::new();
    let script = python(
        &sb,
        "junky",
        &format!(
            "import signal\n{}while True:\n    signal.pause()\n",
            notify_sender("[b'', b'\\xff\\xfe\\x00junk', b'', b'STATUS=warming up', b'STATUS=almost\\nREADY=1\\n']")
        ),
    );
    sb.service(
        "junky",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\n",
            script.display()
        ),
    );

    run(&sb, &["start", "junky"]).ok().no_panic();
    run(&sb, &["status", "junky"]).ok().no_panic();
    run(&sb, &["stop", "junky"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// A daemon that never reports ready: start fails after ready_timeout (1 s) and stops what it
/// launched — no process, no PID file.
#[test]
fn never_ready_fails_after_timeout_and_stops_the_daemon() {
    let sb = Sandbox::new();
    sb.service(
        "mute",
        &format!(
            "{}ready: {{ notify: true }}\nready_timeout: 1\nstop_timeout: 2\n",
            sb.sleeper("mute")
        ),
    );
    let script = sb.work.join("mute.sh");

    let (r, took) = timed(&sb, &["start", "mute"]);
    assert_ne!(
        r.code, 0,
        "start of a daemon that never got ready succeeded:\n{}",
        r.stdout
    );
    r.no_panic().stdout_has("[FAILED]");
    assert!(
        took >= Duration::from_millis(900),
        "gave up after {took:?}, before ready_timeout"
    );
    assert!(
        took < Duration::from_secs(5),
        "start took {took:?} with ready_timeout 1s"
    );
    let pid = read_pid(&sb.work.join("mute.started"));
    assert!(!alive(pid), "the daemon was left running");
    assert!(procs_with_arg(&script).is_empty());
    assert_gone(&sb, "mute", pid);
    let status = run(&sb, &["status", "mute"]);
    assert_ne!(
        status.code, 0,
        "status says running after a failed start:\n{}",
        status.stdout
    );
}

/// A daemon that dies while svc waits (ready_timeout 30 s): start fails at once, says so and
/// quotes the last line the daemon printed.
#[test]
fn daemon_dying_while_waiting_fails_start_at_once() {
    let sb = Sandbox::new();
    let port = free_port();
    let script = sb.script(
        "dies.sh",
        &format!(
            "#!/bin/sh\necho 'dies: loading modules'\nsleep 0.2\necho 'fatal: cannot bind 127.0.0.1:{port}: address in use' >&2\nexit 3\n"
        ),
    );
    sb.service(
        "dies",
        &format!(
            "exec: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 30\n",
            script.display()
        ),
    );

    let (r, took) = timed(&sb, &["start", "dies"]);
    assert_ne!(
        r.code, 0,
        "start of a daemon that died succeeded:\n{}",
        r.stdout
    );
    r.no_panic().stdout_has("[FAILED]").stderr_has(&format!(
        "fatal: cannot bind 127.0.0.1:{port}: address in use"
    ));
    assert!(
        took < Duration::from_secs(5),
        "start noticed the death only after {took:?}"
    );
    assert!(!sb.pidfile("dies").exists(), "PID file of a dead daemon");
    let status = run(&sb, &["status", "dies"]);
    assert_ne!(
        status.code, 0,
        "status says running after the daemon died:\n{}",
        status.stdout
    );
}
