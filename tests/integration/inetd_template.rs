//! The super daemon's prepared launches (docs/inetd.md, "The super daemon"): a service's
//! launch is prepared once and forked per connection, so every way what it was prepared from
//! can change is tried here — the definition (at SIGHUP), an env file and the log (at the next
//! connection), the program itself (a failed exec is reported and the next connection is
//! prepared afresh).

use crate::inetd::{connect_from, Inetd};
use crate::util::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// One connection: everything the server wrote until it closed.
#[track_caller]
fn fetch(port: u16) -> String {
    let mut s = connect_from("127.0.0.1", port);
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("read until the server closes");
    out
}

#[test]
fn a_changed_definition_is_served_after_sighup() {
    let sb = Sandbox::new();
    let port = free_port();
    let def = |word: &str| {
        format!("exec: /bin/echo\nargs: [{word}]\nsocket: {{ port: {port}, bind: 127.0.0.1 }}\n")
    };
    sb.service("greet", &def("one"));
    let d = Inetd::start(&sb);
    assert_eq!(fetch(port), "one\n");
    sb.service("greet", &def("two"));
    // Definitions are read at start and at SIGHUP, as before the launch was prepared once.
    assert_eq!(fetch(port), "one\n");
    d.reload();
    assert_eq!(fetch(port), "two\n", "{}", d.errors());
}

#[test]
fn an_edited_env_file_reaches_the_next_connection() {
    let sb = Sandbox::new();
    let port = free_port();
    let env = sb.path().join("greet.env");
    std::fs::write(&env, "GREETING=first\n").unwrap();
    sb.service(
        "greet",
        &format!(
            "exec: /bin/sh\nargs: [-c, 'echo \"$GREETING\"']\nenv_file: {}\n\
             socket: {{ port: {port}, bind: 127.0.0.1 }}\n",
            env.display()
        ),
    );
    let d = Inetd::start(&sb);
    assert_eq!(fetch(port), "first\n");
    assert_eq!(fetch(port), "first\n");
    // Same length, so only the content and the modification time tell.
    std::fs::write(&env, "GREETING=again\n").unwrap();
    assert_eq!(fetch(port), "again\n", "{}", d.errors());
    std::fs::remove_file(&env).unwrap();
    let out = fetch(port);
    assert_eq!(out, "", "a server started without its env file");
    wait_until(T, "the missing env file to be reported", || {
        d.errors().contains("greet: cannot start a server")
    });
}

#[test]
fn a_log_rotated_by_rename_gets_the_next_servers_stderr() {
    let sb = Sandbox::new();
    let port = free_port();
    sb.service(
        "talk",
        &format!(
            "exec: /bin/sh\nargs: [-c, 'echo \"server $$\" >&2; echo ok']\n\
             socket: {{ port: {port}, bind: 127.0.0.1 }}\n"
        ),
    );
    let d = Inetd::start(&sb);
    let log = sb.log.join("talk.log");
    assert_eq!(fetch(port), "ok\n");
    wait_until(T, "the first server's line in the log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 1)
    });
    let rotated = sb.log.join("talk.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    assert_eq!(fetch(port), "ok\n");
    wait_until(T, "the second server's line in the new log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 1)
    });
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert_eq!(
        old.lines().count(),
        1,
        "the rotated log got more: {old:?}\n{}",
        d.errors()
    );
}

#[test]
fn a_program_that_stops_being_executable_is_reported_and_served_again_once_fixed() {
    let sb = Sandbox::new();
    let port = free_port();
    let prog = sb.path().join("hello.sh");
    std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
    let mode = |m: u32| std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(m));
    mode(0o755).unwrap();
    sb.service(
        "hello",
        &format!(
            "exec: {}\nsocket: {{ port: {port}, bind: 127.0.0.1 }}\n",
            prog.display()
        ),
    );
    let d = Inetd::start(&sb);
    assert_eq!(fetch(port), "hi\n");
    mode(0o644).unwrap();
    // The prepared launch still names the program: its exec fails, the loop reports it.
    assert_eq!(fetch(port), "");
    wait_until(T, "the failed exec to be reported", || {
        d.errors().contains("hello: cannot start a server")
    });
    assert_eq!(fetch(port), "");
    mode(0o755).unwrap();
    assert_eq!(fetch(port), "hi\n", "{}", d.errors());
}
