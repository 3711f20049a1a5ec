//! The repository's own example configuration (top-level `init.d/` and `runlevels/`): every
//! shipped definition passes `svc check`, and the examples really run as an ordinary user, as
//! the README's first command promises.

use crate::util::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_definition_passes_check() {
    let sb = Sandbox::new();
    let out = bounded_output(
        Command::new(SVC)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("--config-dir")
            .arg(repo())
            .arg("--state-dir")
            .arg(&sb.state)
            .arg("--log-dir")
            .arg(&sb.log)
            .arg("check")
            // inetd.yaml runs `svc` from PATH, which a checkout need not have installed.
            .arg("--no-host-checks")
            .stdin(Stdio::null()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("no problems"), "{stdout}");
    let defs = std::fs::read_dir(repo().join("init.d")).unwrap().count();
    assert!(
        defs >= 2,
        "the example configuration has {defs} definitions"
    );
    assert!(
        stdout.contains(&format!("checked {defs} definitions")),
        "{stdout}"
    );
    for l in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        assert!(
            repo().join(format!("runlevels/rc{l}.d")).is_dir(),
            "runlevels/rc{l}.d is missing"
        );
    }
}

/// Stops the examples however the test ends: every PID file in the state directory names a
/// process-group leader that svc launched.
struct StopAll<'a>(&'a Path);

impl Drop for StopAll<'_> {
    fn drop(&mut self) {
        for e in std::fs::read_dir(self.0).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "pid") {
                if let Some(pid) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                {
                    if pid > 1 && proc_stat(pid).is_some_and(|s| s.pgrp == pid) {
                        send_signal(-pid, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

fn http_get(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf
}

/// The example configuration (`init.d/`, `runlevels/`, `hosts.allow`, `hosts.deny`) copied
/// as it is into `dir`, for a user who may not read the checkout (a clone under /root).
fn example_config_for_others(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        let meta = std::fs::symlink_metadata(from).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(from).unwrap(), to).unwrap();
        } else if meta.is_dir() {
            std::fs::create_dir(to).unwrap();
            std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                copy(&e.path(), &to.join(e.file_name()));
            }
        } else {
            std::fs::copy(from, to).unwrap();
            std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .unwrap();
        }
    }
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for name in ["init.d", "runlevels", "hosts.allow", "hosts.deny"] {
        if repo().join(name).exists() {
            copy(&repo().join(name), &dir.join(name));
        }
    }
}

/// The README's first command, for real: as an ordinary user (util::user: svc-test when the
/// tests run as root), `svc --config-dir <checkout> start httpd ticker notifier` starts the
/// examples, httpd answers on 127.0.0.1:8080, and stop leaves nothing behind. The user gets a
/// copy of the checkout's example configuration and of svc: it may not read the checkout.
#[test]
fn examples_run_as_an_ordinary_user() {
    let Some(user) = ordinary_user("examples_run_as_an_ordinary_user") else {
        return;
    };
    // The example httpd's port is fixed: copies of the suite running at once take turns.
    let _turn = machine_wide_turn("example-port-8080", Duration::from_secs(120));
    if std::net::TcpListener::bind("127.0.0.1:8080").is_err() {
        skip(
            "examples_run_as_an_ordinary_user",
            "127.0.0.1:8080 is in use",
        );
        return;
    }
    let sb = Sandbox::new();
    let state = sb.path().join("user-state");
    let log = sb.path().join("user-log");
    let config = sb.path().join("checkout");
    // The sandbox is private to root; let the user through to its own directories.
    sb.open_to_others();
    std::fs::set_permissions(
        sb.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    example_config_for_others(&config);
    for d in [&state, &log] {
        std::fs::create_dir(d).unwrap();
        user.chown(d);
    }
    let _guard = StopAll(&state);
    let svc = |args: &[&str]| -> (i32, String, String) {
        let out = bounded_output(
            sb.user_command(&user)
                .env("HOME", "/nonexistent")
                .arg("--config-dir")
                .arg(&config)
                .arg("--state-dir")
                .arg(&state)
                .arg("--log-dir")
                .arg(&log)
                .args(args),
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = svc(&["start", "httpd", "ticker", "notifier"]);
    assert_eq!(code, 0, "{out}{err}");
    // start returned, so httpd's readiness check (tcp) passed: it answers now, with the page
    // of the one-shot task it requires (run first).
    let reply = http_get(8080);
    assert!(reply.starts_with("HTTP/1.0 200"), "{reply}");
    assert!(reply.contains("one-shot task webroot"), "{reply}");
    let (code, out, err) = svc(&["status", "webroot"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("webroot is done (exited 0, "), "{out}");
    for name in ["httpd", "ticker", "notifier"] {
        let pid: i32 = std::fs::read_to_string(state.join(format!("{name}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(pid), "{name} ({pid}) is not running");
        if !user.me {
            let uid = proc_status_field(pid, "Uid").unwrap();
            assert!(
                uid.starts_with(&format!("{}\t", user.uid)),
                "{name} runs as {uid}"
            );
        }
    }
    let (code, out, err) = svc(&["status", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let running = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "running")
        .count();
    assert_eq!(running, 3, "{out}");

    let pids: Vec<i32> = ["httpd", "ticker", "notifier"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(state.join(format!("{n}.pid")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let (code, out, err) = svc(&["stop", "httpd", "ticker", "notifier"]);
    assert_eq!(code, 0, "{out}{err}");
    for pid in pids {
        assert!(group_members(pid).is_empty(), "group {pid} left after stop");
    }
    let (code, out, _) = svc(&["status", "httpd"]);
    assert_eq!(code, 3, "{out}");
}

/// Copies the example configuration into `sb`, moving its fixed ports to free ones and pointing
/// the inetd service at this svc (the example expects an installed svc in PATH).
fn example_copy(sb: &Sandbox) -> (u16, u16) {
    let (http, echo, daytime) = (free_port(), free_port(), free_port());
    for entry in std::fs::read_dir(repo().join("init.d")).unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("8080", &http.to_string())
            .replace("port: 7007", &format!("port: {echo}"))
            .replace("port: 7013", &format!("port: {daytime}"))
            .replace("exec: svc\n", &format!("exec: {SVC}\n"));
        std::fs::write(sb.config.join("init.d").join(p.file_name().unwrap()), text).unwrap();
    }
    for f in ["hosts.allow", "hosts.deny"] {
        std::fs::copy(repo().join(f), sb.config.join(f)).unwrap();
    }
    for level in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        let dir = repo().join(format!("runlevels/rc{level}.d"));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name();
            let name = name.to_string_lossy();
            if name.starts_with('S') || name.starts_with('K') {
                let service = &name[3..];
                std::os::unix::fs::symlink(
                    format!("../../init.d/{service}.yaml"),
                    sb.config.join(format!("runlevels/rc{level}.d/{name}")),
                )
                .unwrap();
            }
        }
    }
    (http, echo)
}

/// The example init.d boots a small real set: rcS.d's one-shot task webroot (it writes the
/// page httpd serves), then in runlevel 3 httpd, the supervised ticker, notifier, and the super
/// daemon with its on-demand echo service — and runlevel 0 stops it all, webroot included.
#[test]
fn example_configuration_boots_and_halts() {
    let sb = Sandbox::new();
    let (http, echo) = example_copy(&sb);
    let _guard = StopAll(&sb.state);
    let boot = sb.svc(["boot", "3"]);
    boot.ok().no_panic();
    let at = |line: &str| {
        boot.stdout
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} in:\n{}", boot.stdout))
    };
    assert!(
        at("Starting webroot ... [") < at("Runlevel S:")
            && at("Runlevel S:") < at("Starting httpd ... ["),
        "webroot runs with rcS.d, before runlevel 3's httpd:\n{}",
        boot.stdout
    );
    let page = http_get(http);
    assert!(page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(
        page.contains("Written by the one-shot task webroot"),
        "httpd serves the page webroot wrote: {page}"
    );
    sb.svc(["status", "webroot"])
        .ok()
        .stdout_has("webroot is done (exited 0, ");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", echo)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"ping\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "ping\n", "echo through the super daemon");
    let status = sb.svc(["status", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let state = |n: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .map(|r| r["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    for n in ["httpd", "ticker", "notifier", "inetd"] {
        assert_eq!(state(n), "running", "{n}: {}", status.stdout);
    }
    assert!(
        sb.state.join("ticker.supervisor").exists(),
        "ticker is supervised"
    );
    sb.svc(["switch", "0"]).ok();
    for n in ["httpd", "ticker", "notifier", "inetd", "webroot"] {
        sb.svc(["status", n]).code(3);
    }
    assert!(
        !sb.state.join("www/index.html").exists(),
        "webroot's stop_exec removed its page"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", echo)).is_err());
}
