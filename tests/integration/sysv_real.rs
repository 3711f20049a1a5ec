//! Debian's own init scripts run by svc (SPEC §9; issue 14, "Real scripts"): the LSB scripts the
//! `cron`, `openssh-server` and `redis-server` packages install, copied unmodified from the
//! machine's /etc/init.d into a private `DIR/init.d`, with Debian's insserv.conf, linked into
//! `DIR/rcN.d` by `svc enable`, and booted by `svc init 2` as PID 1 of a PID and mount namespace
//! (`unshare --pid --fork --mount-proc --mount`). Inside it, private mounts stand in for what must
//! not touch the host: a tmpfs over /run (PID files, /run/sshd, no systemd to redirect
//! /lib/lsb/init-functions to), bind mounts of sandbox copies over /etc/ssh/sshd_config (a free
//! loopback port, a host key of the sandbox), /etc/redis/redis.conf (a free loopback port, its
//! data and log in the sandbox) and /etc/crontab, and tmpfs over /etc/cron.d and /var/spool/cron
//! (no job of the machine runs). The host's /etc is never written.
//!
//! A stand-in `rsyslog` (a small LSB script written here, `Provides: rsyslog`, which Debian's
//! insserv.conf maps `$syslog` to) gives the real headers' `Required-Start/Stop: $syslog`
//! something to order against: it starts before the three and stops after them, and records
//! which of their daemons it sees at each moment.
//!
//! Needs root, a permitted unshare and the three packages (`.ci/run` installs them).

use crate::util::*;
use nix::sys::signal::Signal;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Boot, halt and every client call: generous, for a debug build on a busy two-core machine.
const LONG: Duration = Duration::from_secs(60);

/// The packages' scripts under test.
const SCRIPTS: [&str; 3] = ["cron", "ssh", "redis-server"];

/// The stand-in for rsyslog: records `start rsyslog seen=...` / `stop rsyslog seen=...` in
/// work/order, naming the daemons of the three scripts it finds in the namespace's /proc.
fn rsyslog_text(work: &Path) -> String {
    format!(
        r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          rsyslog
# Required-Start:    $remote_fs $time
# Required-Stop:     $remote_fs $time
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: stand-in system logger of the test
### END INIT INFO
W={w}
seen() {{
    for f in /proc/[0-9]*/comm; do
        read -r c < "$f" 2>/dev/null || continue
        case "$c" in cron|sshd|redis-server) printf ' %s' "$c" ;; esac
    done
}}
case "$1" in
start) echo "start rsyslog seen=$(seen)" >> $W/order; touch $W/rsyslog.on ;;
stop) echo "stop rsyslog seen=$(seen)" >> $W/order; rm -f $W/rsyslog.on ;;
status) [ -f $W/rsyslog.on ] && exit 0; exit 3 ;;
*) exit 3 ;;
esac
exit 0
"#,
        w = work.display()
    )
}

/// What the packages install, or why the test cannot run.
fn missing() -> Option<String> {
    let need = [
        "/etc/init.d/cron",
        "/etc/init.d/ssh",
        "/etc/init.d/redis-server",
        "/usr/sbin/cron",
        "/usr/sbin/sshd",
        "/usr/bin/redis-server",
        "/usr/bin/redis-cli",
        "/usr/bin/ssh-keyscan",
        "/usr/bin/ssh-keygen",
        "/lib/lsb/init-functions",
        "/etc/ssh/sshd_config",
        "/etc/redis/redis.conf",
        "/etc/crontab",
    ];
    let absent: Vec<&str> = need
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    (!absent.is_empty()).then(|| {
        format!(
            "missing {absent:?}: apt-get install cron openssh-server redis-server (.ci/run does)"
        )
    })
}

/// The private world: DIR (`<sandbox>/sysv`), the files mounted over the host's, the ports.
struct World {
    dir: PathBuf,
    ssh_port: u16,
    redis_port: u16,
    /// The base64 of the sandbox's host key, as ssh-keyscan prints it.
    host_key: String,
    redis_log: PathBuf,
}

fn build_world(sb: &Sandbox) -> World {
    let dir = sb.path().join("sysv");
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    for l in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        std::fs::create_dir_all(dir.join(format!("rc{l}.d"))).unwrap();
    }
    for s in SCRIPTS {
        std::fs::copy(format!("/etc/init.d/{s}"), dir.join("init.d").join(s)).unwrap();
    }
    let rsyslog = dir.join("init.d/rsyslog");
    std::fs::write(&rsyslog, rsyslog_text(&sb.work)).unwrap();
    std::fs::set_permissions(&rsyslog, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Debian's facility map: the machine's, else insserv's own (the private copy .ci/run
    // unpacks), else its lines that matter here.
    let private = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/insserv/etc/insserv.conf");
    let conf = [Path::new("/etc/insserv.conf"), private.as_path()]
        .into_iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| {
            "$local_fs +mountall +umountfs\n$network +networking\n$named +named $network\n\
             $remote_fs $local_fs +mountnfs +umountnfs +sendsigs\n\
             $syslog +rsyslog +sysklogd +syslog-ng\n$time +hwclock\n"
                .to_string()
        });
    assert!(
        conf.contains("+rsyslog"),
        "insserv.conf without rsyslog:\n{conf}"
    );
    std::fs::write(dir.join("insserv.conf"), conf).unwrap();

    // redis runs as redis (the script's --chuid): let it through the sandbox to its directory.
    for d in [sb.path(), sb.work.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let redis_dir = sb.work.join("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let chown = bounded_status(Command::new("chown").arg("redis:redis").arg(&redis_dir));
    assert!(chown.success(), "chown redis:redis (no user redis?)");
    let redis_log = redis_dir.join("redis.log");
    let redis_port = free_port();
    // What the Debian script expects: daemonize yes, its PID file under /run/redis.
    std::fs::write(
        sb.work.join("redis.conf"),
        format!(
            "daemonize yes\npidfile /run/redis/redis-server.pid\nport {redis_port}\n\
             bind 127.0.0.1\nprotected-mode yes\ndir {d}\nlogfile {l}\nsave \"\"\nappendonly no\n",
            d = redis_dir.display(),
            l = redis_log.display()
        ),
    )
    .unwrap();

    let key = sb.work.join("ssh_host_ed25519_key");
    let keygen = bounded_status(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdin(Stdio::null()),
    );
    assert!(keygen.success(), "ssh-keygen failed");
    let host_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let host_key = host_key.split_whitespace().nth(1).unwrap().to_string();
    let ssh_port = free_port();
    std::fs::write(
        sb.work.join("sshd_config"),
        format!(
            "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {}\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            key.display()
        ),
    )
    .unwrap();
    std::fs::write(
        sb.work.join("crontab"),
        "# no jobs in the test's namespace\n",
    )
    .unwrap();
    World {
        dir,
        ssh_port,
        redis_port,
        host_key,
        redis_log,
    }
}

/// `svc --sysv-dir DIR ARGS` from outside the namespace.
#[track_caller]
fn svc(sb: &Sandbox, w: &World, args: &[&str]) -> Run {
    let mut all = vec!["--sysv-dir", w.dir.to_str().unwrap()];
    all.extend_from_slice(args);
    sb.svc(all)
}

/// The entries of `DIR/rcL.d`, sorted.
fn entries(w: &World, level: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(w.dir.join(format!("rc{level}.d")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The mounts of the namespace, then `exec svc ... init 2` (arguments: the sandbox's work
/// directory, then svc's command line).
const MOUNTS: &str = r#"set -e
w=$1; shift
mount -t tmpfs -o mode=0755 tmpfs /run
mount --bind "$w/sshd_config" /etc/ssh/sshd_config
mount --bind "$w/redis.conf" /etc/redis/redis.conf
mount --bind "$w/crontab" /etc/crontab
for d in /etc/cron.d /var/spool/cron; do
    if [ -d "$d" ]; then mount -t tmpfs -o mode=0755 tmpfs "$d"; fi
done
exec "$@"
"#;

/// `svc --sysv-dir DIR init 2` as PID 1 of a PID and mount namespace, behind [`MOUNTS`].
/// Dropping it SIGKILLs init, which kills every process of the namespace, and reaps unshare.
fn boot(sb: &Sandbox, w: &World) -> Pid1 {
    let init = Pid1::builder(sb)
        .unshare_flags(&["--mount", "--propagation", "private"])
        .prelude(MOUNTS, &[&sb.work])
        .svc_opts(&[OsStr::new("--sysv-dir"), w.dir.as_os_str()])
        .init_args(&["2"])
        .deadline(LONG)
        .start();
    init.assert_up();
    init
}

/// The namespace's processes (seen from here) whose command name is `comm`.
fn procs_named(init: &Pid1, comm: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
                && in_namespace_of(p, init.pid)
        })
        .collect()
}

/// Waits until the PID file `path` inside the namespace (read through init's root) holds the
/// namespace PID of a process named `comm` there; that process's PID as seen from here.
#[track_caller]
fn daemon(init: &Pid1, comm: &str, path: &str) -> i32 {
    let file = format!("/proc/{}/root{path}", init.pid);
    let mut found = None;
    wait_until(LONG, &format!("{path} to name a {comm}"), || {
        let inner: Option<i32> = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        found = procs_named(init, comm)
            .into_iter()
            .find(|&p| inner.is_some() && ns_pid(p) == inner);
        found.is_some()
    });
    found.unwrap()
}

/// The PID of `pid` inside its own (innermost) PID namespace.
fn ns_pid(pid: i32) -> Option<i32> {
    proc_status_field(pid, "NSpid")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Whether `pid` is in the PID namespace whose init is `init`.
fn in_namespace_of(pid: i32, init: i32) -> bool {
    pid != init && pid_ns(pid).is_some() && pid_ns(pid) == pid_ns(init)
}

/// The PID namespace of `pid` (where /proc/PID/ns/pid points); None once it is gone.
fn pid_ns(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// `redis-cli -p PORT ping`'s answer (empty when it fails).
fn redis_ping(port: u16) -> String {
    let out = bounded_output(Command::new("redis-cli").args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "ping",
    ]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `ssh-keyscan`'s ed25519 key lines (empty when it fails).
fn keyscan(port: u16) -> String {
    let out = bounded_output(Command::new("ssh-keyscan").args([
        "-T",
        "10",
        "-t",
        "ed25519",
        "-p",
        &port.to_string(),
        "127.0.0.1",
    ]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `svc analyze --json [--transition N]`'s steps: (name, action, begin_ms, end_ms, outcome).
fn steps(sb: &Sandbox, w: &World, transition: &str) -> Vec<(String, String, u64, u64, String)> {
    let r = svc(sb, w, &["analyze", "--json", "--transition", transition]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["timeline"]["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {}", r.stdout))
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            let ms = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
            (
                text("name"),
                text("action"),
                ms("begin_ms"),
                ms("end_ms"),
                text("outcome"),
            )
        })
        .collect()
}

/// Debian's cron, ssh and redis-server scripts, unmodified, booted by `svc init 2` in their own
/// namespaces: `svc enable` links them as update-rc.d and insserv would, the boot starts them
/// after their `$syslog` provider, their real clients get answers, `svc status` inside the
/// namespace shows them running, and SIGTERM halts them (K entries of rc0.d, in order: the
/// three before `$syslog`) with nothing of theirs left and init exiting 0.
#[test]
fn debian_scripts_boot_answer_and_halt_in_order_under_svc_init() {
    let test = "debian_scripts_boot_answer_and_halt_in_order_under_svc_init";
    if skip_without_pidns(test) {
        return;
    }
    if let Some(why) = missing() {
        skip(test, &why);
        return;
    }
    let t0 = Instant::now();
    let sb = Sandbox::new();
    let w = build_world(&sb);

    // update-rc.d defaults: S in Default-Start, K exactly in Default-Stop (empty for cron and
    // ssh), numbers from the headers as insserv computes them: rsyslog ($syslog) first.
    for s in ["rsyslog", "cron", "ssh", "redis-server"] {
        svc(&sb, &w, &["enable", s]).ok();
    }
    for l in ["2", "3", "4", "5"] {
        assert_eq!(
            entries(&w, l),
            ["S01rsyslog", "S02cron", "S02redis-server", "S02ssh"],
            "rc{l}.d"
        );
    }
    for l in ["0", "1", "6"] {
        assert_eq!(entries(&w, l), ["K01redis-server", "K02rsyslog"], "rc{l}.d");
    }
    assert!(entries(&w, "S").is_empty());
    let link = std::fs::read_link(w.dir.join("rc2.d/S02ssh")).unwrap();
    assert_eq!(link, Path::new("../init.d/ssh"));
    // cron and ssh have no K entry (sysv-rc leaves them to sendsigs, which svc init does not
    // run): give them one, as docs/lsb.md advises for a halt under svc init.
    for s in ["cron", "ssh"] {
        svc(&sb, &w, &["enable", s, "--levels", "2345"]).ok();
    }
    for l in ["0", "1", "6"] {
        assert_eq!(
            entries(&w, l),
            ["K01cron", "K01redis-server", "K01ssh", "K02rsyslog"],
            "rc{l}.d"
        );
    }
    assert_eq!(
        entries(&w, "2")[1..],
        ["S02cron", "S02redis-server", "S02ssh"]
    );
    svc(&sb, &w, &["check", "--no-host-checks"]).ok();

    let mut ns = boot(&sb, &w);
    let namespace = pid_ns(ns.pid);
    ns.wait_stdout("Runlevel 2:");
    let out = ns.output();
    for s in ["rsyslog", "cron", "ssh", "redis-server"] {
        assert!(out.contains(&format!("Starting {s} ... [ OK ]")), "{out}");
    }

    // The real clients, from outside, over loopback (redis forks before it listens: wait).
    wait_until(LONG, "redis-cli ping to answer PONG", || {
        redis_ping(w.redis_port) == "PONG"
    });
    wait_until(LONG, "ssh-keyscan to get the host key", || {
        keyscan(w.ssh_port).contains(&w.host_key)
    });
    // Each daemon is the one its script's PID file names, inside the namespace.
    daemon(&ns, "cron", "/run/crond.pid");
    daemon(&ns, "sshd", "/run/sshd.pid");
    let redis_pid = daemon(&ns, "redis-server", "/run/redis/redis-server.pid");
    // The script's `--chuid redis:redis` took: redis runs as redis.
    let redis_uid = std::fs::metadata(&w.redis_log).map(|m| m.uid()).unwrap();
    assert_eq!(
        proc_status_field(redis_pid, "Uid")
            .unwrap()
            .split_whitespace()
            .next(),
        Some(redis_uid.to_string().as_str()),
        "redis's uid"
    );
    assert_ne!(redis_uid, 0, "redis's log is root's");

    // svc status inside the namespace (where the PID files are): all running.
    let status = ns.svc(&["status", "--json"]);
    let text = status.stdout.as_str();
    let list: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("status --json ({e}): {text}"));
    let mut states: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("name"), f("state"))
        })
        .collect();
    states.sort();
    let running = |n: &str| (n.to_string(), "running".to_string());
    assert_eq!(
        states,
        [
            running("cron"),
            running("redis-server"),
            running("rsyslog"),
            running("ssh")
        ],
        "{text}"
    );

    // Halt: SIGTERM to init runs `svc switch 0`; init exits 0.
    ns.signal(Signal::SIGTERM);
    let code = ns.exit_code();
    let out = ns.output();
    assert_eq!(code, 0, "init's exit code\n{out}");
    for s in ["cron", "ssh", "redis-server", "rsyslog"] {
        assert!(out.contains(&format!("Stopping {s} ... [ OK ]")), "{out}");
    }
    // The stand-in saw none of the daemons when it started, and none was left when it stopped.
    assert_eq!(
        file_lines(&sb.work.join("order")),
        ["start rsyslog seen=", "stop rsyslog seen="],
        "{out}"
    );
    // redis shut down cleanly (SIGTERM from the script's start-stop-daemon, not a SIGKILL).
    let log = std::fs::read_to_string(&w.redis_log).unwrap_or_default();
    assert!(
        log.contains("Redis is now ready to exit"),
        "redis log:\n{log}"
    );

    // The timelines: the boot started the three after rsyslog was ready; the halt stopped them
    // (all succeeded) before rsyslog began to stop.
    let boot = steps(&sb, &w, "1");
    let at = |list: &[(String, String, u64, u64, String)], name: &str, action: &str| {
        list.iter()
            .find(|s| s.0 == name && s.1 == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} of {name}: {list:?}"))
    };
    let syslog_up = at(&boot, "rsyslog", "start");
    for s in SCRIPTS {
        let step = at(&boot, s, "start");
        assert_eq!(step.4, "ok", "{step:?}");
        assert!(
            step.2 >= syslog_up.3,
            "{s} began before rsyslog was up: {boot:?}"
        );
    }
    let halt = steps(&sb, &w, "0");
    let syslog_down = at(&halt, "rsyslog", "stop");
    for s in SCRIPTS {
        let step = at(&halt, s, "stop");
        assert_eq!(step.4, "ok", "{step:?}");
        assert!(
            step.3 <= syslog_down.2,
            "{s} still stopping as rsyslog stopped: {halt:?}"
        );
    }

    // Nothing left: no process in the namespace, the ports closed.
    let left: Vec<i32> = all_pids()
        .into_iter()
        .filter(|&p| namespace.is_some() && pid_ns(p) == namespace)
        .collect();
    assert!(left.is_empty(), "processes of the namespace left: {left:?}");
    assert_eq!(redis_ping(w.redis_port), "", "redis still answers");
    assert!(
        !keyscan(w.ssh_port).contains(&w.host_key),
        "sshd still answers"
    );
    eprintln!("{test}: {:?}", t0.elapsed());
}
