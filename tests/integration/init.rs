//! `svc init` as PID 1, for real: each test runs `unshare --pid --fork --mount-proc svc ... init`
//! so svc is PID 1 of a new PID namespace, with real services from YAML and runlevel links that
//! append `start NAME` / `stop NAME` to a shared file. Boot order, zombie reaping, SIGTERM
//! (stop in K order, exit 0), the main program's exit status, a signal forwarded to it, and the
//! container configuration of packaging/ (checked, then booted with nginx and `svc inetd`).
//! Needs root and a permitted unshare; otherwise each test prints why it skips.

use crate::util::*;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Boots, shutdowns and exits: generous, since CI machines are slow and shared.
const LONG: Duration = Duration::from_secs(30);

/// `svc init ARGS` as PID 1 of a new PID namespace (the shared harness, with this module's
/// deadline). Dropping it kills the namespace and reaps unshare.
fn start_init(sb: &Sandbox, args: &[&str]) -> Pid1 {
    Pid1::builder(sb).init_args(args).deadline(LONG).start()
}

/// `runlevels/rcLEVEL.d/ENTRY` -> `../../init.d/NAME.yaml`.
fn link(sb: &Sandbox, level: &str, entry: &str, name: &str) {
    std::os::unix::fs::symlink(
        format!("../../init.d/{name}.yaml"),
        sb.config.join(format!("runlevels/rc{level}.d/{entry}")),
    )
    .unwrap();
}

fn events_file(sb: &Sandbox) -> PathBuf {
    sb.work.join("events")
}

fn events(sb: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(events_file(sb))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until the shared file has `n` lines and returns them.
#[track_caller]
fn wait_events(sb: &Sandbox, n: usize) -> Vec<String> {
    wait_until(LONG, &format!("{n} lines in work/events"), || {
        events(sb).len() >= n
    });
    events(sb)
}

/// A service that appends `start NAME` when it starts and `stop NAME` on SIGTERM.
///
/// Its `sleep` child is started, and known to the TERM trap, before `start NAME` is written: a
/// SIGTERM that came between the line and `child=$!` (a cancelled boot stops the service it
/// waits for as soon as it has started) killed nothing, and the `sleep` left in the service's
/// group held its stop for the whole stop timeout.
fn recorder(sb: &Sandbox, name: &str) {
    let script = sb.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\ntrap 'echo \"stop {name}\" >> {ev}; kill $child; exit 0' TERM\nsleep 100000 &\nchild=$!\necho \"start {name}\" >> {ev}\n: > {ready}\nwait $child\n",
            ev = events_file(sb).display(),
            ready = sb.work.join(format!("{name}.ready")).display()
        ),
    );
    // Ready once its start is recorded: what the boot runs next comes after it in the events.
    sb.service(
        name,
        &format!(
            "exec: {}\nready: {{ file: {} }}\n",
            script.display(),
            sb.work.join(format!("{name}.ready")).display()
        ),
    );
}

/// One service `svc1` started in runlevel 3 and stopped in runlevel 0.
fn one_service(sb: &Sandbox) {
    recorder(sb, "svc1");
    link(sb, "3", "S10svc1", "svc1");
    link(sb, "0", "K10svc1", "svc1");
}

/// Every process below `root` (the namespace's processes, seen from here, for its init).
fn descendants(root: i32) -> Vec<i32> {
    let parents: HashMap<i32, i32> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, proc_stat(p)?.ppid)))
        .collect();
    parents
        .keys()
        .copied()
        .filter(|&p| {
            let mut cur = p;
            for _ in 0..64 {
                match parents.get(&cur) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => cur = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

fn zombies_below(root: i32) -> Vec<i32> {
    descendants(root)
        .into_iter()
        .filter(|&p| proc_stat(p).is_some_and(|s| s.state == 'Z'))
        .collect()
}

/// rcS.d runs before rc3.d whatever the numbers, each in number order; SIGTERM stops the
/// services in rc0.d's K order and init exits 0.
#[test]
fn boots_in_order_and_sigterm_stops_in_k_order() {
    if skip_without_pidns("boots_in_order_and_sigterm_stops_in_k_order") {
        return;
    }
    let sb = Sandbox::new();
    for name in ["early", "net", "web", "app"] {
        recorder(&sb, name);
    }
    // rc3.d's numbers are lower than rcS.d's: rcS.d must still come first.
    link(&sb, "S", "S20net", "net");
    link(&sb, "S", "S10early", "early");
    link(&sb, "3", "S30app", "app");
    link(&sb, "3", "S05web", "web");
    link(&sb, "0", "K10app", "app");
    link(&sb, "0", "K20web", "web");
    link(&sb, "0", "K30net", "net");
    link(&sb, "0", "K40early", "early");

    let mut init = start_init(&sb, &[]);
    let started = wait_events(&sb, 4);
    assert_eq!(
        started,
        ["start early", "start net", "start web", "start app"],
        "boot order\n{}",
        init.output()
    );
    init.wait_stdout("Runlevel 3:");
    assert!(alive(init.pid), "init ended after boot\n{}", init.output());

    init.signal(Signal::SIGTERM);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 0, "init's exit code\n{out}");
    assert_eq!(
        events(&sb),
        [
            "start early",
            "start net",
            "start web",
            "start app",
            "stop app",
            "stop web",
            "stop net",
            "stop early"
        ],
        "shutdown order\n{out}"
    );
    assert!(out.contains("SIGTERM received"), "{out}");
    assert_eq!(
        std::fs::read_to_string(sb.state.join("runlevel"))
            .unwrap_or_default()
            .trim(),
        "3 0",
        "runlevel record\n{out}"
    );
}

/// Orphans adopted by init (double forks of a service) are reaped: once they have exited, no
/// process of the namespace is a zombie.
#[test]
fn reaps_adopted_orphans() {
    if skip_without_pidns("reaps_adopted_orphans") {
        return;
    }
    let sb = Sandbox::new();
    let adopted = sb.work.join("adopted");
    // An orphan waits until init (PID 1 of the namespace) has adopted it, says so, and exits:
    // from then on only init can reap it.
    let orphan = sb.script(
        "orphan.sh",
        &format!(
            "#!/bin/sh\nwhile :; do\n  set -- $(cat /proc/$$/stat)\n  [ \"$4\" = 1 ] && break\ndone\necho \"adopted $$\" >> {}\n",
            adopted.display()
        ),
    );
    let spawner = sb.script(
        "spawner.sh",
        &format!(
            "#!/bin/sh\nfor i in 1 2 3; do ({o} &); done\nexec sleep 100000\n",
            o = orphan.display()
        ),
    );
    sb.service("spawner", &format!("exec: {}\n", spawner.display()));
    link(&sb, "3", "S10spawner", "spawner");
    link(&sb, "0", "K10spawner", "spawner");

    let mut init = start_init(&sb, &[]);
    wait_until(LONG, "three orphans adopted by init", || {
        std::fs::read_to_string(&adopted).is_ok_and(|t| t.lines().count() == 3)
    });
    let pid = init.pid;
    wait_until(LONG, "no zombie left in the namespace", || {
        zombies_below(pid).is_empty()
            && !descendants(pid).into_iter().any(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("orphan.sh"))
            })
    });
    assert!(alive(init.pid), "init ended\n{}", init.output());

    init.signal(Signal::SIGTERM);
    assert_eq!(init.exit_code(), 0, "{}", init.output());
}

/// `svc init -- COMMAND`: boot, then the command; when it exits 7, the services are stopped
/// and init exits 7.
#[test]
fn main_program_status_is_inits() {
    if skip_without_pidns("main_program_status_is_inits") {
        return;
    }
    let sb = Sandbox::new();
    one_service(&sb);
    let main = format!("echo main >> {}; exit 7", events_file(&sb).display());
    let mut init = start_init(&sb, &["--", "sh", "-c", &main]);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 7, "init's exit code\n{out}");
    assert_eq!(
        events(&sb),
        ["start svc1", "main", "stop svc1"],
        "boot, main program, shutdown\n{out}"
    );
    assert!(out.contains("main program ended (exit status 7)"), "{out}");
}

/// SIGTERM to init with a main program goes to the program (which runs in its own process
/// group); it traps it and exits 3: the services are stopped and init exits 3.
#[test]
fn sigterm_is_forwarded_to_the_main_program() {
    if skip_without_pidns("sigterm_is_forwarded_to_the_main_program") {
        return;
    }
    let sb = Sandbox::new();
    one_service(&sb);
    let main = sb.script(
        "main.sh",
        &format!(
            "#!/bin/sh\ntrap 'echo \"main term\" >> {ev}; kill $child; exit 3' TERM\nsleep 100000 &\nchild=$!\nset -- $(cat /proc/$$/stat)\n[ \"$5\" = \"$$\" ] && echo \"main own group\" >> {ev}\necho \"main ready\" >> {ev}\nwait $child\n",
            ev = events_file(&sb).display()
        ),
    );
    let mut init = start_init(&sb, &["--", main.to_str().unwrap()]);
    wait_until(LONG, "the main program to be ready", || {
        events(&sb).iter().any(|l| l == "main ready")
    });
    init.signal(Signal::SIGTERM);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 3, "init's exit code\n{out}");
    assert_eq!(
        events(&sb),
        [
            "start svc1",
            "main own group",
            "main ready",
            "main term",
            "stop svc1"
        ],
        "{out}"
    );
    assert!(
        out.contains("SIGTERM forwarded to the main program"),
        "{out}"
    );
}

/// HUP, USR1, USR2, QUIT and WINCH reach the main program too (and do not shut anything down).
#[test]
fn other_signals_are_forwarded_to_the_main_program() {
    if skip_without_pidns("other_signals_are_forwarded_to_the_main_program") {
        return;
    }
    let sb = Sandbox::new();
    one_service(&sb);
    let ev = events_file(&sb);
    let main = sb.script(
        "main.sh",
        &format!(
            "#!/bin/sh\nfor s in HUP USR1 USR2 QUIT WINCH; do trap \"echo main $s >> {ev}\" $s; done\ntrap 'kill $child; exit 0' TERM\nsleep 100000 &\nchild=$!\necho \"main ready\" >> {ev}\nwhile :; do wait $child && break; done\n",
            ev = ev.display()
        ),
    );
    let mut init = start_init(&sb, &["--", main.to_str().unwrap()]);
    wait_until(LONG, "the main program to be ready", || {
        events(&sb).iter().any(|l| l == "main ready")
    });
    for (sig, name) in [
        (Signal::SIGHUP, "HUP"),
        (Signal::SIGUSR1, "USR1"),
        (Signal::SIGUSR2, "USR2"),
        (Signal::SIGQUIT, "QUIT"),
        (Signal::SIGWINCH, "WINCH"),
    ] {
        init.signal(sig);
        let line = format!("main {name}");
        wait_until(LONG, &line, || events(&sb).contains(&line));
    }
    // Still up: none of them shut anything down.
    assert!(
        !events(&sb).iter().any(|l| l == "stop svc1"),
        "{:?}",
        events(&sb)
    );
    init.signal(Signal::SIGTERM);
    assert_eq!(init.exit_code(), 0, "{}", init.output());
    assert_eq!(events(&sb).last().map(String::as_str), Some("stop svc1"));
}

/// A runlevel that is not one is refused before anything boots.
#[test]
fn invalid_runlevel_exits_2() {
    let sb = Sandbox::new();
    one_service(&sb);
    svc_timeout(&sb, &[], &["init", "9"], Duration::from_secs(10))
        .code(2)
        .stderr_has("invalid runlevel \"9\"");
    assert!(
        events(&sb).is_empty(),
        "something started: {:?}",
        events(&sb)
    );
}

fn container_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/container")
}

/// The configuration the Dockerfile installs as /etc/svc has no problem.
#[test]
fn container_configuration_checks_clean() {
    let sb = Sandbox::new();
    let dir = container_dir();
    let out = bounded_output(
        Command::new(SVC)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("--config-dir")
            .arg(&dir)
            .arg("--state-dir")
            .arg(&sb.state)
            .arg("--log-dir")
            .arg(&sb.log)
            .arg("check")
            // The image has /usr/sbin/svc (and its build runs the full check); this host need not.
            .arg("--no-host-checks")
            .stdin(Stdio::null()),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "svc --config-dir {} check\n--- stdout\n{}--- stderr\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let docker = std::fs::read_to_string(dir.parent().unwrap().join("Dockerfile")).unwrap();
    assert!(
        docker.contains(r#"ENTRYPOINT ["/usr/sbin/svc", "init"]"#),
        "{docker}"
    );
    assert!(docker.contains("COPY packaging/container/ /etc/svc/"));
}

/// Copies a configuration tree, symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Replaces `from` (which must be there) by `to` in a copied definition.
#[track_caller]
fn adapt(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains(from),
        "{} lacks {from:?}: adapt this test",
        file.display()
    );
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// `GET /` on 127.0.0.1:PORT: the status code, or None when the request fails.
fn http_status(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    String::from_utf8_lossy(&resp)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// What the echo service sends back for `hello\n`, or None when the connection fails.
fn echo(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"hello\n").ok()?;
    s.shutdown(Shutdown::Write).ok()?;
    let mut back = String::new();
    s.read_to_string(&mut back).ok()?;
    Some(back)
}

/// The container's steps, in a PID namespace instead of a container: packaging/container as the
/// configuration (ports, paths and nginx's configuration file adapted to a sandbox), `svc init`
/// as PID 1 boots nginx and the super daemon, nginx answers, the echo service echoes, and
/// SIGTERM (`docker stop`) stops both in K order and init exits 0.
#[test]
fn container_configuration_boots_under_init() {
    if skip_without_pidns("container_configuration_boots_under_init") {
        return;
    }
    let sb = Sandbox::new();
    std::fs::remove_dir_all(&sb.config).unwrap();
    copy_tree(&container_dir(), &sb.config);
    let init_d = sb.config.join("init.d");

    let nginx = Path::new("/usr/sbin/nginx").exists();
    let web_port = free_port();
    if nginx {
        let prefix = sb.work.join("nginx");
        std::fs::create_dir_all(&prefix).unwrap();
        let p = prefix.display();
        std::fs::write(
            prefix.join("nginx.conf"),
            format!(
                "user root;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  server {{\n    listen 127.0.0.1:{web_port};\n    location / {{ return 200 \"svc\\n\"; }}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let file = init_d.join("nginx.yaml");
        adapt(
            &file,
            r#"args: ["-g", "daemon off;"]"#,
            &format!(
                r#"args: ["-c", "{p}/nginx.conf", "-p", "{p}", "-e", "{p}/error.log", "-g", "daemon off;"]"#
            ),
        );
        adapt(&file, "127.0.0.1:80\"", &format!("127.0.0.1:{web_port}\""));
    } else {
        eprintln!("container_configuration_boots_under_init: /usr/sbin/nginx is not installed; testing without the nginx service");
        std::fs::remove_file(init_d.join("nginx.yaml")).unwrap();
        for l in ["0", "1", "2", "3", "4", "5", "6"] {
            for e in ["S20nginx", "K80nginx"] {
                let _ = std::fs::remove_file(sb.config.join(format!("runlevels/rc{l}.d/{e}")));
            }
        }
    }
    let file = init_d.join("inetd.yaml");
    adapt(&file, "exec: /usr/sbin/svc", &format!("exec: {SVC}"));
    adapt(
        &file,
        r#"args: ["inetd"]"#,
        &format!(
            r#"args: ["--config-dir", "{}", "--state-dir", "{}", "--log-dir", "{}", "inetd"]"#,
            sb.config.display(),
            sb.state.display(),
            sb.log.display()
        ),
    );
    let echo_port = free_port();
    let file = init_d.join("echo.yaml");
    adapt(&file, "port: 7007", &format!("port: {echo_port}"));
    adapt(&file, "bind: 0.0.0.0", "bind: 127.0.0.1");

    let mut init = start_init(&sb, &[]);
    init.wait_stdout("Runlevel 3:");
    if nginx {
        assert_eq!(http_status(web_port), Some(200), "{}", init.output());
    }
    assert_eq!(
        echo(echo_port).as_deref(),
        Some("hello\n"),
        "{}",
        init.output()
    );
    let secure = std::fs::read_to_string(sb.log.join("secure")).unwrap_or_default();
    assert!(
        secure.contains("ALLOW service=echo client=127.0.0.1:")
            && secure.contains("rule=hosts.allow:"),
        "secure log: {secure}"
    );

    init.signal(Signal::SIGTERM);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 0, "{out}");
    let inetd_at = out.find("Stopping inetd").expect("inetd stopped");
    if nginx {
        let nginx_at = out.find("Stopping nginx").expect("nginx stopped");
        assert!(inetd_at < nginx_at, "K70inetd before K80nginx\n{out}");
        assert_eq!(http_status(web_port), None, "nginx still answers");
    }
    assert_eq!(echo(echo_port), None, "the echo port still accepts");
}

/// A second SIGTERM while `svc switch 0` runs does not abort it: the service that is still
/// stopping finishes, and init exits 0.
#[test]
fn second_sigterm_does_not_abort_the_shutdown() {
    if skip_without_pidns("second_sigterm_does_not_abort_the_shutdown") {
        return;
    }
    let sb = Sandbox::new();
    let gate = sb.work.join("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // On TERM it says so, then waits for a line on the fifo before it exits.
    let slow = sb.script(
        "slow.sh",
        &format!(
            "#!/bin/sh\ntrap 'echo \"stop slow\" >> {ev}; read x < {g}; echo \"stopped slow\" >> {ev}; kill $child; exit 0' TERM\necho \"start slow\" >> {ev}\nsleep 100000 &\nchild=$!\nwait $child\n",
            ev = events_file(&sb).display(),
            g = gate.display()
        ),
    );
    sb.service(
        "slow",
        &format!("exec: {}\nstop_timeout: 60\n", slow.display()),
    );
    link(&sb, "3", "S10slow", "slow");
    link(&sb, "0", "K10slow", "slow");

    let mut init = start_init(&sb, &[]);
    init.wait_stdout("Runlevel 3:");
    init.signal(Signal::SIGTERM);
    wait_events(&sb, 2);
    init.signal(Signal::SIGTERM);
    init.wait_stdout("already shutting down");
    assert!(alive(init.pid), "init ended\n{}", init.output());
    // The service reads the fifo once it is stopping: open it (without blocking, so a
    // service that never gets there fails the test instead of hanging it) and send a line.
    let mut writer = None;
    wait_until(LONG, "the stopping service to open its fifo", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&gate)
            .ok();
        writer.is_some()
    });
    writer.unwrap().write_all(b"go\n").unwrap();
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        events(&sb),
        ["start slow", "stop slow", "stopped slow"],
        "{out}"
    );
}

/// A boot that fails (a service whose program is missing) is reported; init carries on: the
/// other services run, the main program runs, and the shutdown stops them.
#[test]
fn boot_failure_is_reported_and_init_carries_on() {
    if skip_without_pidns("boot_failure_is_reported_and_init_carries_on") {
        return;
    }
    let sb = Sandbox::new();
    one_service(&sb);
    sb.service("broken", "exec: /nonexistent/program\n");
    link(&sb, "3", "S05broken", "broken");
    let main = format!("echo main >> {}", events_file(&sb).display());
    let mut init = start_init(&sb, &["--", "sh", "-c", &main]);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 0, "the main program's status\n{out}");
    assert!(out.contains("svc boot failed (exit status"), "{out}");
    assert_eq!(events(&sb), ["start svc1", "main", "stop svc1"], "{out}");
}

/// A main program that cannot be started counts as exit 127, as in a shell: the services that
/// booted are stopped all the same.
#[test]
fn missing_main_program_exits_127_after_the_shutdown() {
    if skip_without_pidns("missing_main_program_exits_127_after_the_shutdown") {
        return;
    }
    let sb = Sandbox::new();
    one_service(&sb);
    let mut init = start_init(&sb, &["--", "/nonexistent/program"]);
    let code = init.exit_code();
    let out = init.output();
    assert_eq!(code, 127, "{out}");
    assert!(out.contains("cannot start main program"), "{out}");
    assert_eq!(events(&sb), ["start svc1", "stop svc1"], "{out}");
}

/// Issue 10 item 13: SIGTERM while the boot waits on a service that never becomes ready
/// (`ready_timeout: 30`) cancels the boot at once — nothing more is started, the wait is given
/// up and what it launched stopped — then init halts (runlevel 0) and exits, well within the
/// 10 s a container engine grants before SIGKILL (it used to wait out the 30 s first).
#[test]
fn sigterm_during_boot_cancels_it_and_halts_within_seconds() {
    if skip_without_pidns("sigterm_during_boot_cancels_it_and_halts_within_seconds") {
        return;
    }
    let sb = Sandbox::new();
    for name in ["early", "slow", "late"] {
        recorder(&sb, name);
    }
    sb.service(
        "slow",
        &format!(
            "exec: {}\nready: {{ file: {} }}\nready_timeout: 30\n",
            sb.work.join("slow.sh").display(),
            sb.work.join("never").display()
        ),
    );
    link(&sb, "S", "S10early", "early");
    link(&sb, "3", "S20slow", "slow");
    link(&sb, "3", "S30late", "late");
    for name in ["early", "slow", "late"] {
        link(&sb, "0", &format!("K10{name}"), name);
    }

    let mut init = start_init(&sb, &[]);
    wait_events(&sb, 2);
    assert_eq!(
        events(&sb),
        ["start early", "start slow"],
        "{}",
        init.output()
    );
    init.signal(Signal::SIGTERM);
    let t0 = std::time::Instant::now();
    let mut code = None;
    let exited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        code =
            Some(init.exit_code_within(Duration::from_secs(10), "svc init to exit after SIGTERM"));
    }));
    if let Err(e) = exited {
        eprintln!("{}\nevents: {:?}", init.output(), events(&sb));
        std::panic::resume_unwind(e);
    }
    let out = init.output();
    assert!(t0.elapsed() < Duration::from_secs(10), "{out}");
    assert_eq!(code, Some(0), "{out}");
    let ev = events(&sb);
    // slow's start was given up and slow stopped; early stopped by the halt; late never ran.
    for want in ["start early", "start slow", "stop slow", "stop early"] {
        assert!(
            ev.contains(&want.to_string()),
            "{want:?} missing: {ev:?}\n{out}"
        );
    }
    assert!(!ev.contains(&"start late".to_string()), "{ev:?}\n{out}");
    assert!(out.contains("cancelling it"), "{out}");
    assert!(
        !all_pids().into_iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*sb.path().to_string_lossy()))
        }),
        "a process of the sandbox is left\n{out}"
    );
}
