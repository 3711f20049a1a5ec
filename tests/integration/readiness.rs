//! Readiness checks (docs/commands.md, start; svc.yaml(5), `ready`): `start` returns only once the
//! daemon is ready (a TCP connect succeeds, a file exists, or it sent `READY=1` over
//! `NOTIFY_SOCKET`), fails after `ready_timeout` stopping what it launched, and fails at once,
//! quoting the log, when the daemon dies while svc waits.

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

/// A `svc` command with the sandbox's configuration and logs but another state directory.
fn svc_with_state(sb: &Sandbox, state: &std::path::Path, args: &[&str]) -> Run {
    svc_in(&sb.config, state, &sb.log, args)
}

/// Issue 10 item 14a: a state directory so deep that `<state>/NAME.notify` exceeds the 108
/// bytes of a socket address: `ready: {notify}` still works (svc falls back to an abstract
/// socket, `NOTIFY_SOCKET=@...`).
#[test]
fn notify_works_with_a_state_directory_too_long_for_a_socket_path() {
    let sb = Sandbox::new();
    let state = sb.path().join("s".repeat(60)).join("t".repeat(60));
    assert!(state.join("longnote.notify").as_os_str().len() > 108);
    let script = python(
        &sb,
        "longnote",
        &format!(
            "import signal\n{}while True:\n    signal.pause()\n",
            notify_sender("[b'READY=1']")
        ),
    );
    sb.service(
        "longnote",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\n",
            script.display()
        ),
    );
    svc_with_state(&sb, &state, &["check"]).ok();
    svc_with_state(&sb, &state, &["start", "longnote"])
        .ok()
        .stdout_has("[ OK ]");
    let pid = read_pid(&state.join("longnote.pid"));
    svc_with_state(&sb, &state, &["status", "longnote"])
        .ok()
        .stdout_has(&format!("longnote is running (pid {pid}"));
    svc_with_state(&sb, &state, &["stop", "longnote"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// Issue 10 item 14a: the abstract notify socket has no file permissions to guard it, so svc
/// applies the file's rule itself: a READY=1 from a process of another user (here `nobody`,
/// not the service's user, which is root) is ignored, and the start fails after ready_timeout.
#[test]
fn abstract_notify_socket_ignores_other_senders() {
    if skip_unless_root("abstract_notify_socket_ignores_other_senders") {
        return;
    }
    let sb = Sandbox::new();
    let state = sb.path().join("s".repeat(60)).join("t".repeat(60));
    let addr_file = sb.work.join("mute.addr");
    let script = python(
        &sb,
        "mutenote",
        &format!(
            "import os, signal\nopen('{a}.tmp', 'w').write(os.environ['NOTIFY_SOCKET'])\nos.rename('{a}.tmp', '{a}')\nwhile True:\n    signal.pause()\n",
            a = addr_file.display()
        ),
    );
    sb.service(
        "mutenote",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 2\nstop_timeout: 2\n",
            script.display()
        ),
    );
    let child = std::process::Command::new(SVC)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--config-dir")
        .arg(&sb.config)
        .arg("--state-dir")
        .arg(&state)
        .arg("--log-dir")
        .arg(&sb.log)
        .args(["start", "mutenote"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&addr_file, Duration::from_secs(10));
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let name = addr
        .strip_prefix('@')
        .unwrap_or_else(|| panic!("NOTIFY_SOCKET is not abstract: {addr:?}"));
    // A stranger: a process of user nobody.
    use std::os::unix::process::CommandExt;
    let sent = bounded_status(std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(format!(
            "import socket\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.sendto(b'READY=1\\n', '\\0' + {name:?})\n"
        ))
        .uid(65534)
        .gid(65534));
    assert!(sent.success(), "the stranger could not send");
    let r = finish(child, &["start", "mutenote"], Duration::from_secs(30));
    assert_ne!(r.code, 0, "a stranger's READY=1 counted:\n{}", r.stdout);
    r.stdout_has("[FAILED]").stderr_has("not ready");
    assert!(
        procs_with_arg(&script).is_empty(),
        "the daemon was left running"
    );
}

/// Issue 10 item 5: `ready: {tcp}` on a port another process already holds (here this test's
/// own listener) is not the service's: start fails at once, naming the holder — where svc used
/// to connect to the stranger, say `[ OK ]`, and leave a daemon that failed a moment later.
#[test]
fn tcp_port_held_by_another_process_fails_start_at_once() {
    let sb = Sandbox::new();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    // A daemon that takes its time before it would bind (and never gets to).
    let script = python(
        &sb,
        "late",
        "import signal\nwhile True:\n    signal.pause()\n",
    );
    sb.service(
        "late",
        &format!(
            "exec: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 30\nstop_timeout: 2\n",
            script.display()
        ),
    );
    let (r, took) = timed(&sb, &["start", "late"]);
    assert_ne!(r.code, 0, "start counted a stranger's port:\n{}", r.stdout);
    r.no_panic()
        .stdout_has("[FAILED]")
        .stderr_has(&format!("held by process {}", std::process::id()));
    assert!(
        took < Duration::from_secs(10),
        "start took {took:?}: not at once"
    );
    assert!(procs_with_arg(&script).is_empty(), "the daemon was left");
    assert!(!sb.pidfile("late").exists());
    drop(holder);
}

/// Issue 10 item 5: the service's own listener counts, also on the wildcard address when the
/// check names `localhost`. (A wildcard bind also collides with the client sockets of tests
/// running alongside: a port taken meanwhile is retried with another.)
#[test]
fn tcp_readiness_counts_the_services_own_wildcard_listener() {
    let sb = Sandbox::new();
    let script = python(
        &sb,
        "wild",
        "import socket, signal, sys\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', int(sys.argv[1])))\ns.listen(4)\nwhile True:\n    signal.pause()\n",
    );
    for attempt in 0.. {
        let port = free_port();
        sb.service(
            "wild",
            &format!(
                "exec: {}\nargs: [\"{port}\"]\nready: {{ tcp: \"localhost:{port}\" }}\nready_timeout: 10\n",
                script.display()
            ),
        );
        let r = run(&sb, &["start", "wild"]);
        let taken = r.stderr.contains("Address already in use") || r.stderr.contains("is held by");
        if r.code != 0 && taken && attempt < 5 {
            continue;
        }
        r.ok().stdout_has("[ OK ]");
        break;
    }
    run(&sb, &["stop", "wild"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// Issue 10 item 5 (and 6b): the tcp check does not connect, so a server that forks a child
/// per connection (as sshd does) starts none for the probe — and stop has no stray child to
/// warn about. The server records each connection it accepts; after start, the only one
/// recorded is the test's own.
#[test]
fn tcp_readiness_probe_makes_no_connection() {
    let sb = Sandbox::new();
    let port = free_port();
    let conns = sb.work.join("forky.conns");
    let script = python(
        &sb,
        "forky",
        &format!(
            "import os, socket, signal\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', {port}))\ns.listen(16)\nwhile True:\n    c, peer = s.accept()\n    if os.fork() == 0:\n        with open('{c}', 'a') as f:\n            f.write('%d\\n' % peer[1])\n        os._exit(0)\n    c.close()\n",
            c = conns.display()
        ),
    );
    sb.service(
        "forky",
        &format!(
            "exec: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 10\nstop_timeout: 3\n",
            script.display()
        ),
    );
    run(&sb, &["start", "forky"]).ok().stdout_has("[ OK ]");
    // Our own connection, accepted after anything svc may have sent before it.
    let mine = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let my_port = mine.local_addr().unwrap().port();
    wait_until(
        Duration::from_secs(10),
        "the server to record our connection",
        || std::fs::read_to_string(&conns).is_ok_and(|t| t.contains(&format!("{my_port}\n"))),
    );
    drop(mine);
    let seen = std::fs::read_to_string(&conns).unwrap();
    assert_eq!(
        seen.lines().count(),
        1,
        "the readiness probe made the server fork for it: {seen:?}"
    );
    let r = run(&sb, &["stop", "forky"]);
    r.ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// Issue 10 item 5: an address that is not this host's can never hold the service's socket:
/// start fails at once saying so, rather than waiting for someone else's server.
#[test]
fn tcp_readiness_on_a_foreign_address_is_refused() {
    let sb = Sandbox::new();
    sb.service(
        "far",
        &format!(
            "{}ready: {{ tcp: \"192.0.2.1:80\" }}\nready_timeout: 15\nstop_timeout: 2\n",
            sb.sleeper("far")
        ),
    );
    let (r, took) = timed(&sb, &["start", "far"]);
    r.code(1).stderr_has("not an address of this host");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(procs_with_arg(&sb.work.join("far.sh")).is_empty());
}

/// Issue 10 item 5, as it was found: the daemon itself finds the port taken and dies with
/// EADDRINUSE. Its death must fail the start — where svc, no longer able to read the network
/// table of the dead (zombie) process, fell back to a connect, reached the other server and
/// said `[ OK ]` for a daemon that was gone.
#[test]
fn tcp_port_held_by_another_process_and_the_daemon_dies_fails_start() {
    let sb = Sandbox::new();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    // A compiled daemon finds the port taken within a millisecond of its exec.
    let script = sb.script(
        "clash.sh",
        "#!/bin/sh\necho 'bind: Address already in use' >&2\nexit 1\n",
    );
    sb.service(
        "clash",
        &format!(
            "exec: {}\nready: {{ tcp: \"127.0.0.1:{port}\" }}\nready_timeout: 10\nstop_timeout: 2\n",
            script.display()
        ),
    );
    let r = run(&sb, &["start", "clash"]);
    assert_ne!(
        r.code, 0,
        "a dead daemon was reported started:\n{}",
        r.stdout
    );
    r.no_panic()
        .stdout_has("[FAILED]")
        .stderr_has("exited with status 1 while starting");
    run(&sb, &["status", "clash"]).code(3);
    drop(holder);
}

/// Issue 10 item 14a: with the abstract notify socket, a `READY=1` that a process of the
/// service's user sends from outside its process tree counts, as it would through the socket
/// file (which that user owns). That is what makes `systemd-notify --ready` work there: its
/// process has usually exited and been reaped by the time svc reads the datagram, so svc cannot
/// find it among the service's processes. Here the sender is outside for certain: in a session
/// of its own, and reparented away from the service (its parent exits first).
#[test]
fn abstract_notify_counts_a_ready_from_the_services_user_outside_its_tree() {
    let sb = Sandbox::new();
    let state = sb.path().join("s".repeat(60)).join("t".repeat(60));
    let script = python(
        &sb,
        "detached",
        &format!(
            "import os, signal\nif os.fork() == 0:\n    middle = os.getpid()\n    if os.fork() != 0:\n        os._exit(0)\n    os.setsid()\n    while os.getppid() == middle:\n        signal.sigtimedwait([], 0.01)\n{}    os._exit(0)\nwhile True:\n    signal.pause()\n",
            notify_sender("[b'READY=1']")
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        ),
    );
    sb.service(
        "detached",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\nstop_timeout: 2\n",
            script.display()
        ),
    );
    svc_with_state(&sb, &state, &["start", "detached"])
        .ok()
        .stdout_has("[ OK ]");
    svc_with_state(&sb, &state, &["stop", "detached"]).ok();
    assert!(procs_with_arg(&script).is_empty());
}

/// The notify socket file is writable by the service's user only, whatever umask svc was run
/// with: under `umask 000` it used to be created mode 0777, so any local user could send
/// READY=1 for the service.
#[test]
fn notify_socket_file_is_private_whatever_the_umask() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    let mode_file = sb.work.join("sock.mode");
    let script = python(
        &sb,
        "private",
        &format!(
            "import os, signal, stat\nm = stat.S_IMODE(os.stat(os.environ['NOTIFY_SOCKET']).st_mode)\nopen('{}', 'w').write('%o' % m)\n{}while True:\n    signal.pause()\n",
            mode_file.display(),
            notify_sender("[b'READY=1']")
        ),
    );
    sb.service(
        "private",
        &format!(
            "exec: {}\nready: {{ notify: true }}\nready_timeout: 10\n",
            script.display()
        ),
    );
    let mut c = sb.cmd(["start", "private"]);
    // SAFETY: umask between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = bounded_output(c);
    assert!(out.status.success(), "{out:?}");
    let mode = u32::from_str_radix(std::fs::read_to_string(&mode_file).unwrap().trim(), 8).unwrap();
    assert_eq!(mode & 0o077, 0, "notify socket mode {mode:o}");
    run(&sb, &["stop", "private"]).ok();
}
