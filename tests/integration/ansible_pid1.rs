//! Ansible's own `ansible.builtin.service` (not svc's module) against a container-like namespace
//! whose PID 1 is `svc init` (issue 14; docs/init.md, "What Ansible sees"): a PID and mount
//! namespace (`unshare --pid --fork --mount-proc --mount --propagation private`) with `svc init`
//! as PID 1 and `sysv_dir: /etc`, and ansible-playbook run inside it (`nsenter`, connection
//! local). Two services: `legacy`, an LSB script of /etc/init.d (start-stop-daemon, a pid file),
//! and `web`, a YAML service exposed as /etc/init.d/web by `svc lsb-script`. The playbook starts
//! them, stops them and enables them; after each run the play reported the change, svc agrees
//! (`svc status`, `svc list`, the rcN.d links update-rc.d wrote), and Ansible's gathered
//! `ansible_service_mgr` is `sysvinit` with its `sysvinit` module doing the work. An `svc init`
//! that is not PID 1 keeps the name `svc`.
//!
//! The host's /etc is never touched: inside the namespace /etc is an overlay whose upper layer is
//! a tmpfs, /etc/init.d and /etc/rc?.d are bind mounts of the sandbox's own `etc/` tree, and /run
//! is a tmpfs of its own.
//! Needs root, unshare/nsenter, update-rc.d and service (init-system-helpers),
//! start-stop-daemon and the venv `.ci/run` installs.

use crate::ansible::{ansible_playbook, entries_in, play_in, python_for, Play};
use crate::util::*;
use nix::sys::signal::Signal;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Boot, shutdown and exit of the namespace's init.
const LONG: Duration = Duration::from_secs(30);

/// What the namespace's PID 1 runs before it becomes `svc init`: /etc as an overlay over the
/// host's (upper layer on a tmpfs, so nothing written to /etc reaches the host), then the
/// sandbox's init.d and rc?.d bound over it; and a /run of its own, as a container has: on a
/// host booted with systemd, /run/systemd/system would make Debian's `service` and update-rc.d
/// hand over to the host's systemctl. $1 the tmpfs mount point, $2 the sandbox's etc, then svc
/// and its arguments.
const SETUP: &str = "set -e\n\
    mount -t tmpfs tmpfs \"$1\"\n\
    mkdir \"$1/upper\" \"$1/work\"\n\
    mount -t overlay overlay -o \"lowerdir=/etc,upperdir=$1/upper,workdir=$1/work\" /etc\n\
    for d in init.d rc0.d rc1.d rc2.d rc3.d rc4.d rc5.d rc6.d rcS.d; do\n\
    mkdir -p \"/etc/$d\"; mount --bind \"$2/$d\" \"/etc/$d\"\n\
    done\n\
    mount -t tmpfs tmpfs /run\n\
    shift 2\n\
    exec \"$@\"\n";

/// `svc init` as PID 1 of a new PID and mount namespace, behind [`SETUP`], booted to runlevel
/// 3. Dropping it SIGKILLs init, which kills every process of the namespace (the daemons
/// Ansible started included), and reaps unshare.
fn start_pid1(sb: &Sandbox, etc: &Path) -> Pid1 {
    let overlay = sb.path().join("etc-overlay");
    std::fs::create_dir_all(&overlay).unwrap();
    let mut init = Pid1::builder(sb)
        .unshare_flags(&["--mount", "--propagation", "private"])
        .prelude(SETUP, &[overlay.as_os_str(), etc.as_os_str()])
        .deadline(LONG)
        .start();
    // The mounts are in place once unshare's child has become svc.
    init.assert_up();
    // Booted: `svc boot` (started after init named itself) has reported runlevel 3.
    init.wait_stdout("Runlevel 3:");
    init
}

/// A Debian-style LSB script for a daemon (`sleep`) run by start-stop-daemon with a pid file.
fn legacy_script(pidfile: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         ### BEGIN INIT INFO\n\
         # Provides:          legacy\n\
         # Required-Start:    $remote_fs\n\
         # Required-Stop:     $remote_fs\n\
         # Default-Start:     2 3 4 5\n\
         # Default-Stop:      0 1 6\n\
         # Short-Description: a test daemon\n\
         ### END INIT INFO\n\
         PIDFILE={p}\n\
         case \"$1\" in\n\
         start) exec start-stop-daemon --start --quiet --background --make-pidfile \
         --pidfile $PIDFILE --startas /bin/sleep -- 100000 ;;\n\
         stop) exec start-stop-daemon --stop --quiet --oknodo --remove-pidfile \
         --pidfile $PIDFILE --retry TERM/10 ;;\n\
         status) start-stop-daemon --status --pidfile $PIDFILE; rc=$?\n\
         if [ $rc = 0 ]; then echo 'legacy is running'; else echo 'legacy is not running'; fi\n\
         exit $rc ;;\n\
         restart|force-reload) \"$0\" stop && exec \"$0\" start ;;\n\
         *) echo \"Usage: $0 {{start|stop|status|restart|force-reload}}\" >&2; exit 3 ;;\n\
         esac\n",
        p = pidfile.display()
    )
}

/// A playbook that gathers the minimal facts (ansible_service_mgr among them), prints the
/// service manager, and runs `ansible.builtin.service` with `what` for legacy, then web.
fn write_playbook(sb: &Sandbox, python: &str, step: &str, what: &str) -> PathBuf {
    let mut text = format!(
        "- hosts: localhost\n  connection: local\n  gather_facts: true\n  \
         gather_subset: ['!all']\n  vars:\n    ansible_python_interpreter: {python:?}\n  \
         tasks:\n    - debug:\n        msg: \"service_mgr={{{{ ansible_service_mgr }}}}\"\n"
    );
    for name in ["legacy", "web"] {
        text.push_str(&format!(
            "    - ansible.builtin.service:\n        name: {name}\n        {what}\n"
        ));
    }
    let path = sb.path().join(format!("ansible/{step}.yml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Asserts what Ansible saw and ran (docs/init.md): the fact, and its sysvinit module for each
/// of the two services (`-vvvv` prints the module the service action picks).
#[track_caller]
fn assert_sysvinit(p: &Play) {
    assert!(
        p.stdout.contains("\"msg\": \"service_mgr=sysvinit\""),
        "ansible_service_mgr is not sysvinit\n{}",
        p.dump()
    );
    assert_eq!(
        p.stdout.matches("Running ansible.legacy.sysvinit").count(),
        2,
        "the service action did not run the sysvinit module for both services\n{}",
        p.dump()
    );
}

/// The entries of `etc/rcL.d` for `name`, sorted (`S01legacy`).
fn entries(etc: &Path, level: &str, name: &str) -> Vec<String> {
    entries_in(&etc.join(format!("rc{level}.d")), name)
}

/// The tools the test needs beyond root and a PID namespace; None when all are there.
fn missing_tool() -> Option<&'static str> {
    ["nsenter", "update-rc.d", "service", "start-stop-daemon"]
        .into_iter()
        .find(|t| {
            !["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(t).is_file())
        })
}

#[test]
fn builtin_service_starts_stops_and_enables_under_svc_init() {
    let test = "ansible_pid1::builtin_service_starts_stops_and_enables_under_svc_init";
    if skip_without_pidns(test) {
        return;
    }
    if let Some(tool) = missing_tool() {
        skip(test, &format!("{tool} is missing (.ci/run installs it)"));
        return;
    }
    let Some(bin) = ansible_playbook(test) else {
        return;
    };
    let sb = Sandbox::new();
    // The namespace's /etc/init.d and /etc/rc?.d.
    let etc = sb.path().join("etc");
    for d in [
        "init.d", "rc0.d", "rc1.d", "rc2.d", "rc3.d", "rc4.d", "rc5.d", "rc6.d", "rcS.d",
    ] {
        mkdir_755(&etc.join(d));
    }
    std::fs::set_permissions(&etc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let legacy = etc.join("init.d/legacy");
    std::fs::write(&legacy, legacy_script(&sb.work.join("legacy.pid"))).unwrap();
    std::fs::set_permissions(&legacy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sb.service("web", &format!("{}stop_timeout: 5\n", sb.sleeper("web")));
    std::fs::write(sb.config.join("svc.yaml"), "sysv_dir: /etc\n").unwrap();
    // The shim, written from here into the tree the namespace will see as /etc/init.d.
    let etc_arg = etc.display().to_string();
    let initd = etc.join("init.d").display().to_string();
    sb.svc([
        "--sysv-dir",
        &etc_arg,
        "lsb-script",
        "--install",
        &initd,
        "web",
    ])
    .ok();

    let mut init = start_pid1(&sb, &etc);
    // What Ansible reads first: PID 1's name.
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{}/comm", init.pid)).unwrap(),
        "sysvinit\n",
        "{}",
        init.output()
    );
    init.svc(&["list"])
        .ok()
        .stdout_has("legacy 0:off 1:off 2:off 3:off 4:off 5:off 6:off S:off")
        .stdout_has("web    0:off 1:off 2:off 3:off 4:off 5:off 6:off S:off");
    let python = python_for(&bin);
    let home = sb.path().join("ansible");
    let enter = init.enter(Some(&home));
    let enter: Vec<&OsStr> = enter.iter().map(|a| a.as_os_str()).collect();
    let play = |step: &str, what: &str| {
        let playbook = write_playbook(&sb, &python, step, what);
        play_in(&sb, &enter, &bin, &playbook, &["-vvvv"])
    };

    let p = play("started", "state: started");
    p.changed(2);
    assert_sysvinit(&p);
    init.svc(&["status", "legacy"])
        .ok()
        .stdout_has("legacy is running");
    init.svc(&["status", "web"])
        .ok()
        .stdout_has("web is running");
    wait_for_file(&sb.work.join("web.started"), LONG);

    let p = play("stopped", "state: stopped");
    p.changed(2);
    assert_sysvinit(&p);
    init.svc(&["status", "legacy"])
        .code(3)
        .stdout_has("legacy is stopped");
    init.svc(&["status", "web"])
        .code(3)
        .stdout_has("web is stopped");
    assert!(sb.work.join("web.term").exists(), "web was not sent TERM");

    let p = play("enabled", "enabled: true");
    p.changed(2);
    assert_sysvinit(&p);
    for name in ["legacy", "web"] {
        for (levels, kind) in [("2345", 'S'), ("016", 'K')] {
            for l in levels.chars() {
                let e = entries(&etc, &l.to_string(), name);
                assert!(
                    e.len() == 1 && e[0].starts_with(kind),
                    "rc{l}.d should hold one {kind} entry for {name}, holds {e:?}\n{}",
                    p.dump()
                );
            }
        }
        assert_eq!(entries(&etc, "S", name), Vec::<String>::new());
    }
    init.svc(&["list"])
        .ok()
        .stdout_has("legacy 0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off")
        .stdout_has("web    0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off");
    // Enabled already: nothing to do.
    play("enabled", "enabled: true").changed(0);
    // None of it reached the host's /etc.
    assert!(!Path::new("/etc/init.d/legacy").exists());

    init.signal(Signal::SIGTERM);
    let code = init.exit_code();
    assert_eq!(code, 0, "{}", init.output());
}

/// Only PID 1 is renamed: an `svc init` elsewhere (a subreaper under another init) stays `svc`,
/// as its main program sees it.
#[test]
fn init_keeps_the_name_svc_when_it_is_not_pid_1() {
    let sb = Sandbox::new();
    let seen = sb.work.join("init.comm");
    let script = format!("cat /proc/$PPID/comm > {}", seen.display());
    sb.svc(["init", "--", "sh", "-c", &script]).ok();
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "svc\n");
}
