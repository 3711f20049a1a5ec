//! `svc serve`'s HTTP side (SPEC §10): the UNIX socket (mode, owner, one server at a time,
//! removed on exit), TCP only with hashed credentials, 401 on every path without naming a
//! service, and the bounds — a 20 MB body, a client that stalls — while other clients are
//! answered. Real `svc serve` processes, curl and plain sockets as clients.

use crate::util::*;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// `admin` / `secret`: `printf %s secret | sha1sum`, and sha256sum.
const SHA1: &str = "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";
const SHA256: &str = "{SHA256}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

/// A service whose name must never appear in an answer to an unauthenticated client.
const SECRET_NAME: &str = "payroll-ledger";

/// One curl request (`-s -i`: the answer's head and body on stdout), with a deadline.
#[track_caller]
fn fetch(curl: &str, args: &[&str]) -> Run {
    let mut c = Command::new(curl);
    c.args(["-s", "-i", "--max-time", "20"]).args(args);
    c.stdin(Stdio::null());
    output(c, display_args(args), Duration::from_secs(30))
}

/// The status code of curl's `-i` output.
#[track_caller]
fn status_of(r: &Run) -> u16 {
    let last = r
        .stdout
        .split("HTTP/1.1 ")
        .filter(|s| !s.starts_with("100 "))
        .last()
        .unwrap_or("");
    last.get(..3)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {:?} ({})", r.stdout, r.stderr))
}

fn unix_url(s: &Serve, path: &str) -> (String, String) {
    (s.socket.display().to_string(), format!("http://svc{path}"))
}

/// A GET over the UNIX socket.
#[track_caller]
fn get_unix(curl: &str, s: &Serve, path: &str) -> Run {
    let (sock, url) = unix_url(s, path);
    fetch(curl, &["--unix-socket", &sock, &url])
}

fn write_settings(sb: &Sandbox, text: &str) -> PathBuf {
    let p = sb.config.join("svc.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_socket_is_0600_owned_by_the_user_and_removed_after_sigterm() {
    let Some(curl) = tool("serve socket", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let m = std::fs::symlink_metadata(&s.socket).expect("the socket exists");
    use std::os::unix::fs::FileTypeExt;
    assert!(m.file_type().is_socket());
    assert_eq!(m.permissions().mode() & 0o7777, 0o600, "mode of svc.sock");
    assert_eq!(
        m.uid(),
        nix::unistd::geteuid().as_raw(),
        "owner of svc.sock"
    );
    let r = get_unix(curl, &s, "/nope");
    assert_eq!(status_of(&r), 404, "{}", r.stdout);
    let socket = s.socket.clone();
    s.stop().ok();
    assert!(!socket.exists(), "svc.sock is removed on exit");
}

#[test]
fn sigint_ends_it_cleanly_too_and_a_stale_socket_is_replaced() {
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let socket = s.socket.clone();
    // SIGINT ends it (the SIGTERM of stop() finds it gone or going the same way).
    send_signal(s.pid(), libc::SIGINT);
    wait_until(T, "the socket removed after SIGINT", || !socket.exists());
    s.stop().ok();
    // A server killed outright leaves its socket: nobody answers there, so the next replaces it.
    let s = Serve::start(&sb, &[]);
    send_signal(s.pid(), libc::SIGKILL);
    let run = s.stop();
    assert_eq!(run.code, 128 + libc::SIGKILL, "{}", run.stderr);
    assert!(socket.exists(), "a killed server leaves its socket");
    let s = Serve::start(&sb, &[]);
    let a = http_unix(&s, "GET", "/nope", b"");
    assert_eq!(a.status, 404, "{a:?}");
}

#[test]
fn a_second_serve_refuses_while_the_first_runs() {
    let sb = Sandbox::new();
    let first = Serve::start(&sb, &[]);
    let r = sb.svc(["serve"]);
    r.code(1)
        .stderr_has("another svc serve")
        .stderr_has("svc.sock");
    // The first still answers, on the same socket.
    let a = http_unix(&first, "GET", "/nope", b"");
    assert_eq!(a.status, 404, "{a:?}");
}

#[test]
fn something_else_where_the_socket_goes_is_left_alone() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(&sb.state).unwrap();
    let path = sb.state.join("svc.sock");
    std::fs::write(&path, "not a socket").unwrap();
    sb.svc(["serve"]).code(1).stderr_has("not a socket");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
}

#[test]
fn tcp_without_credentials_exits_6() {
    let sb = Sandbox::new();
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    sb.svc(["serve", "--listen", &addr])
        .code(6)
        .stderr_has("serve.username")
        .stderr_has("svc.yaml");
    // From svc.yaml alike; a user name alone is a problem of svc.yaml itself.
    write_settings(&sb, &format!("serve:\n  listen: \"{addr}\"\n"));
    sb.svc(["serve"]).code(6).stderr_has("needs credentials");
    write_settings(
        &sb,
        &format!("serve:\n  listen: \"{addr}\"\n  username: admin\n"),
    );
    sb.svc(["serve"])
        .code(6)
        .stderr_has("svc.yaml:3")
        .stderr_has("without `serve.password`");
    assert!(!sb.state.join("svc.sock").exists());
    // A --listen that is not HOST:PORT is a bad argument, whatever svc.yaml says.
    sb.svc(["serve", "--listen", "localhost"]).code(2);
}

#[test]
fn a_plain_text_password_exits_6_naming_svc_yaml_and_check_gives_its_line() {
    let sb = Sandbox::new();
    sb.service("web", &sb.sleeper("web"));
    let file = write_settings(
        &sb,
        "default_runlevel: 3\nserve:\n  listen: \"127.0.0.1:9\"\n  username: admin\n  password: hunter2\n",
    );
    let r = sb.svc(["serve"]);
    r.code(6)
        .stderr_has(&format!("{}:5", file.display()))
        .stderr_has("plain-text");
    assert!(
        !r.stderr.contains("hunter2"),
        "the password is echoed: {}",
        r.stderr
    );
    let check = sb.svc(["check"]);
    check
        .code(6)
        .stderr_has(&format!("{}:5", file.display()))
        .stderr_has("plain-text");
    assert!(!check.stdout.contains("hunter2") && !check.stderr.contains("hunter2"));
    // Unknown keys under serve: name what is expected.
    write_settings(&sb, "serve:\n  port: 9001\n");
    let check = sb.svc(["check"]);
    check
        .code(6)
        .stderr_has("svc.yaml:2")
        .stderr_has("expected listen, username or password");
}

/// A sandbox with a service and credentials in svc.yaml; `svc serve` on a free loopback port.
fn with_credentials(hash: &str) -> (Sandbox, Serve, String) {
    let sb = Sandbox::new();
    sb.service(SECRET_NAME, &sb.sleeper(SECRET_NAME));
    let addr = format!("127.0.0.1:{}", free_port());
    write_settings(
        &sb,
        &format!("serve:\n  listen: \"{addr}\"\n  username: admin\n  password: \"{hash}\"\n"),
    );
    let s = Serve::start(&sb, &[]);
    (sb, s, addr)
}

#[test]
fn missing_or_wrong_credentials_get_401_on_every_path_and_name_no_service() {
    let Some(curl) = tool("serve 401", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    for hash in [SHA1, SHA256] {
        let (_sb, s, addr) = with_credentials(hash);
        for path in ["/", "/metrics", "/RPC2", "/nope"] {
            let url = format!("http://{addr}{path}");
            let post = ["-X", "POST", "--data-binary", "<?xml version=\"1.0\"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName></methodCall>"];
            for creds in [
                None,
                Some("admin:wrong"),
                Some("root:secret"),
                Some("admin:"),
            ] {
                let mut args: Vec<&str> = vec![&url];
                if path == "/RPC2" {
                    args.extend(post);
                }
                if let Some(c) = creds {
                    args.extend(["-u", c]);
                }
                let r = fetch(curl, &args);
                assert_eq!(status_of(&r), 401, "{path} {creds:?}: {}", r.stdout);
                assert!(
                    r.stdout.contains("WWW-Authenticate: Basic realm=\"svc\""),
                    "{path}: {}",
                    r.stdout
                );
                assert!(
                    !r.stdout.contains(SECRET_NAME) && !r.stdout.contains("payroll"),
                    "{path}: a service name leaks: {}",
                    r.stdout
                );
            }
        }
        // The right ones pass authentication (an unknown path is then 404).
        let r = fetch(
            curl,
            &[&format!("http://{addr}/nope"), "-u", "admin:secret"],
        );
        assert_eq!(status_of(&r), 404, "{}", r.stdout);
        // The UNIX socket asks for none (its mode is the guard).
        assert_eq!(status_of(&get_unix(curl, &s, "/nope")), 404);
        let run = s.stop();
        run.ok();
        assert!(
            !run.stderr.contains("secret") && !run.stderr.contains("wrong"),
            "credentials logged: {}",
            run.stderr
        );
    }
}

#[test]
fn the_flag_beats_svc_yaml_for_the_tcp_address() {
    let Some(curl) = tool("serve --listen", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    let (sb, s, yaml_addr) = with_credentials(SHA256);
    drop(s);
    let addr = format!("127.0.0.1:{}", free_port());
    let _s = Serve::start(&sb, &["--listen", &addr]);
    let r = fetch(
        curl,
        &[&format!("http://{addr}/nope"), "-u", "admin:secret"],
    );
    assert_eq!(status_of(&r), 404, "{}", r.stdout);
    let r = fetch(
        curl,
        &[&format!("http://{yaml_addr}/nope"), "-u", "admin:secret"],
    );
    assert_ne!(r.code, 0, "svc.yaml's address is not used: {}", r.stdout);
}

#[test]
fn a_20_mb_body_gets_413_and_other_clients_are_answered() {
    let Some(curl) = tool("serve 413", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let big = sb.work.join("big.xml");
    std::fs::write(&big, vec![b'x'; 20 << 20]).unwrap();
    let (sock, url) = unix_url(&s, "/RPC2");
    let data = format!("@{}", big.display());
    // curl asks (Expect: 100-continue) and gets 413 at once; without asking, the body is sent
    // and the answer is still 413.
    for extra in [None, Some("Expect:")] {
        let mut args = vec!["--unix-socket", &sock, "--data-binary", &data, &url];
        if let Some(h) = extra {
            args.extend(["-H", h]);
        }
        let r = fetch(curl, &args);
        assert_eq!(status_of(&r), 413, "{:?}: {} {}", extra, r.stdout, r.stderr);
        assert_eq!(status_of(&get_unix(curl, &s, "/nope")), 404);
    }
    // Meanwhile: a client sending 20 MB slowly holds nothing up.
    let mut slow = UnixStream::connect(&s.socket).unwrap();
    slow.write_all(b"POST /RPC2 HTTP/1.1\r\nContent-Length: 20971520\r\n\r\n")
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(status_of(&get_unix(curl, &s, "/nope")), 404);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let mut answer = String::new();
    slow.set_read_timeout(Some(T)).unwrap();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let run = s.stop();
    run.ok().no_panic();
}

#[test]
fn a_client_that_stalls_mid_request_is_dropped_at_30_s_while_others_are_answered() {
    let Some(curl) = tool("serve stall", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let mut stalled = UnixStream::connect(&s.socket).unwrap();
    let t0 = Instant::now();
    stalled
        .write_all(
            b"POST /RPC2 HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml",
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        stalled
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        let r = stalled.read_to_end(&mut rest);
        let _ = tx.send((t0.elapsed(), r.map(|_| rest)));
    });
    // Others are answered throughout the stall.
    let mut answered = 0;
    while t0.elapsed() < Duration::from_secs(25) {
        let t = Instant::now();
        assert_eq!(status_of(&get_unix(curl, &s, "/nope")), 404);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        answered += 1;
        if let Ok(early) = rx.recv_timeout(Duration::from_secs(1)) {
            panic!("the stalled client was dropped too early: {early:?}");
        }
    }
    assert!(answered >= 10, "{answered}");
    let (when, what) = rx.recv_timeout(T).expect("the stalled client is dropped");
    assert!(
        when >= Duration::from_secs(29) && when < Duration::from_secs(36),
        "dropped after {when:?}"
    );
    // Dropped without an answer (a closed connection).
    assert_eq!(what.map(|b| b.len()).unwrap_or(0), 0);
    s.stop().ok().stderr_has("dropped");
}

#[test]
fn beyond_64_connections_the_next_gets_503_and_a_freed_slot_is_reused() {
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let mut held: Vec<UnixStream> = (0..63)
        .map(|_| UnixStream::connect(&s.socket).unwrap())
        .collect();
    // The server has taken all 64 when a request on the last one is answered (kept alive).
    // Until the harness's own readiness probes are let go, that one may get 503: try again.
    wait_until(T, "the 64th connection to be served", || {
        let mut last = UnixStream::connect(&s.socket).unwrap();
        last.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
        last.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 12];
        last.read_exact(&mut buf).unwrap();
        let served = &buf == b"HTTP/1.1 404";
        if served {
            held.push(last);
        }
        served
    });
    let mut extra = UnixStream::connect(&s.socket).unwrap();
    extra.set_read_timeout(Some(T)).unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    // One closes: a new client is served again.
    held.remove(0);
    wait_until(T, "a free slot", || {
        let Ok(mut c) = UnixStream::connect(&s.socket) else {
            return false;
        };
        let _ = c.set_read_timeout(Some(T));
        if c.write_all(b"GET /nope HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut a = String::new();
        let _ = c.read_to_string(&mut a);
        a.starts_with("HTTP/1.1 404")
    });
}

/// Idle TCP clients cannot lock anyone out: one address holds at most 8 connections, and the
/// TCP crowd never takes the UNIX socket's budget.
#[test]
fn idle_tcp_clients_neither_exceed_their_share_nor_lock_out_the_unix_socket() {
    let sb = Sandbox::new();
    let port = free_port();
    serve_settings(&sb, port);
    let s = Serve::start(&sb, &[]);
    s.wait_tcp(port);
    // wait_tcp's own probes may still hold a slot for a moment: fill up to the share.
    let mut held = Vec::new();
    let answer = loop {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 12];
        match c.read_exact(&mut buf) {
            Ok(()) => break String::from_utf8_lossy(&buf).into_owned(),
            Err(_) => held.push(c),
        }
        assert!(
            held.len() <= 8,
            "more than 8 idle connections from one address were kept"
        );
    };
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(held.len() >= 7, "only {} connections kept", held.len());
    let a = http_unix(&s, "GET", "/nope", b"");
    assert_eq!(a.status, 404, "{a:?}");
}

#[test]
fn the_right_credentials_get_metrics_and_the_page_on_one_kept_alive_connection() {
    let Some(py) = tool(
        "serve keep-alive",
        &["/usr/bin/python3", "/usr/local/bin/python3"],
        "python3",
    ) else {
        return;
    };
    let (sb, s, addr) = with_credentials(SHA256);
    sb.svc(["start", SECRET_NAME]).ok();
    let port = addr.rsplit_once(':').unwrap().1;
    let script = format!(
        r#"
import base64, http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
h = {{"Authorization": "Basic " + base64.b64encode(b"admin:secret").decode()}}
c.request("GET", "/metrics", headers=h); r = c.getresponse(); metrics = r.read().decode(); first = c.sock
c.request("GET", "/", headers=h); p = c.getresponse(); page = p.read().decode()
c.request("HEAD", "/metrics", headers=h); hd = c.getresponse(); head_body = hd.read()
print(r.status, r.getheader("Content-Type"))
print(p.status, p.getheader("Content-Type"))
print(hd.status, hd.getheader("Content-Length"), len(head_body))
print("same connection:", first is not None and c.sock is first)
print(metrics)
print(page)
"#
    );
    let mut c = Command::new(py);
    c.args(["-c", &script]).stdin(Stdio::null());
    let r = output(
        c,
        vec!["python3 http.client".into()],
        Duration::from_secs(30),
    );
    r.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("200 text/plain; version=0.0.4"),
        "{}",
        r.stdout
    );
    assert!(lines[1].starts_with("200 text/html"), "{}", r.stdout);
    let head: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(head[0], "200", "{}", r.stdout);
    assert_ne!(
        head[1], "0",
        "HEAD says the length of the body: {}",
        r.stdout
    );
    assert_eq!(head[2], "0", "HEAD has no body: {}", r.stdout);
    assert_eq!(lines[3], "same connection: True", "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("svc_service_up{{name=\"{SECRET_NAME}\"}} 1")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("<html"), "{}", r.stdout);
    assert!(r.stdout.matches(SECRET_NAME).count() >= 2, "{}", r.stdout);
    sb.svc(["stop", SECRET_NAME]).ok();
    s.stop().ok();
}

#[test]
fn chunked_bodies_huge_headers_and_garbage_get_their_status_and_the_server_goes_on() {
    let Some(curl) = tool("serve framing", &["/usr/bin/curl", "/bin/curl"], "curl") else {
        return;
    };
    let sb = Sandbox::new();
    let s = Serve::start(&sb, &[]);
    let (sock, url) = unix_url(&s, "/RPC2");
    let chunked = fetch(
        curl,
        &[
            "--unix-socket",
            &sock,
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "<x/>",
            &url,
        ],
    );
    assert_eq!(status_of(&chunked), 411, "{}", chunked.stdout);
    let big_header = format!("X-Filler: {}", "a".repeat(20 << 10));
    let huge = fetch(curl, &["--unix-socket", &sock, "-H", &big_header, &url]);
    assert_eq!(status_of(&huge), 431, "{}", huge.stdout);
    let mut c = UnixStream::connect(&s.socket).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(status_of(&get_unix(curl, &s, "/nope")), 404);
    s.stop().ok().no_panic();
}
