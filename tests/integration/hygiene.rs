//! Process hygiene (docs/security.md) and privileges (fault group B12 and group C): whatever
//! state the caller is in, the daemon gets default signal dispositions, an empty mask, fds 0–2
//! only, the definition's umask, limits, nice, working directory and environment, no
//! controlling terminal, and exactly the user, group and supplementary groups asked for.
//!
//! The daemons here are `/bin/sleep` with `workdir:` in the sandbox, so the sandbox guard finds
//! them by their working directory and /proc shows the launch state unchanged by any shell.

use crate::util::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The PATH every daemon gets (docs/security.md, "The process a service gets").
const DAEMON_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A supplementary group the dirty caller holds and no daemon may inherit.
const CALLER_GROUP: libc::gid_t = 4242;

/// Runs `svc ARGS` from a caller in a bad state: TERM, HUP, INT, QUIT, USR1, SIGRTMAX and the
/// glibc-reserved 32 and 33 ignored; USR2, ALRM and TERM blocked; umask 000; nice 2; fds 7, 100
/// and 300 open without close-on-exec; RLIMIT_NOFILE soft limit 256 (below fd 300), hard NOFILE
/// 256 and CORE 0 when `low_hard`; supplementary group 4242 when root; junk in the environment;
/// a scratch working directory.
fn dirty_svc(sb: &Sandbox, args: &[&str], low_hard: bool) -> Run {
    let junk = std::fs::File::create(sb.work.join("caller-junk")).unwrap();
    let fd = junk.as_raw_fd();
    let caller_dir = sb.work.join("caller-cwd");
    std::fs::create_dir_all(&caller_dir).unwrap();
    let root = is_root();
    let mut c = sb.cmd(args);
    c.current_dir(&caller_dir)
        .env("LD_LIBRARY_PATH", "/nonexistent")
        .env("DIRTY_CALLER", "1")
        .env("NOTIFY_SOCKET", "/nonexistent/notify")
        .env("LISTEN_FDS", "1")
        .env("LANG", "de_DE.ISO-8859-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe libc calls on values prepared before fork.
    unsafe {
        c.pre_exec(move || {
            let rtmax = libc::SIGRTMAX();
            for sig in [
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGUSR1,
                rtmax,
            ] {
                libc::signal(sig, libc::SIG_IGN);
            }
            ignore_reserved_signals();
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGUSR2, libc::SIGALRM, libc::SIGTERM] {
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::umask(0);
            libc::setpriority(libc::PRIO_PROCESS, 0, 2);
            for target in [7, 100, 300] {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut lim: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = 256;
            if low_hard {
                lim.rlim_max = 256;
                let core = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &core);
            }
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            if root {
                let groups = [0, CALLER_GROUP];
                libc::setgroups(groups.len(), groups.as_ptr());
            }
            Ok(())
        });
    }
    let child = c.spawn().expect("spawn svc");
    drop(junk);
    finish(child, args, SVC_LIMIT)
}

/// Ignores signals 32 and 33, which glibc reserves for itself (its `sigaction` refuses them), so
/// only a launcher that resets dispositions with the raw system call clears them.
/// Async-signal-safe: meant for a `pre_exec` closure.
#[cfg(target_arch = "x86_64")]
fn ignore_reserved_signals() {
    /// The kernel's `struct sigaction` on x86_64.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let ign = KernelSigaction {
        handler: libc::SIG_IGN,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in [32, 33] {
        // SAFETY: rt_sigaction with a valid struct for this architecture, no old action, and
        // the kernel's sigset size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &ign as *const KernelSigaction,
                0usize,
                8usize,
            );
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn ignore_reserved_signals() {}

/// True when this process may raise hard resource limits (CAP_SYS_RESOURCE = 24 in CapEff);
/// containers often run root without it.
fn can_raise_hard_limits() -> bool {
    proc_status_field(std::process::id() as i32, "CapEff")
        .and_then(|c| u64::from_str_radix(&c, 16).ok())
        .is_some_and(|c| c & (1 << 24) != 0)
}

/// A daemon definition: `/bin/sleep 1000` in the sandbox's work directory, plus `extra`.
fn sleep_def(sb: &Sandbox, extra: &str) -> String {
    format!(
        "exec: /bin/sleep\nargs: [\"1000\"]\nworkdir: {}\n{extra}",
        sb.work.display()
    )
}

/// Makes the sandbox reachable for an unprivileged daemon user (it is created 0700).
fn open_sandbox(sb: &Sandbox) {
    std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn status_field(pid: i32, field: &str) -> String {
    proc_status_field(pid, field).unwrap_or_else(|| panic!("{field} of {pid} in /proc/PID/status"))
}

/// The numbers of a /proc/PID/status line such as `Uid:` or `Groups:`.
fn status_ids(pid: i32, field: &str) -> Vec<u32> {
    status_field(pid, field)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Soft and hard limit of a /proc/PID/limits line, e.g. `Max open files`.
fn proc_limit(pid: i32, label: &str) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("{label} in limits"));
    let mut f = line[label.len()..].split_whitespace();
    (f.next().unwrap().to_string(), f.next().unwrap().to_string())
}

fn environ(pid: i32) -> BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let e = String::from_utf8_lossy(e);
            let (k, v) = e.split_once('=').unwrap_or((&e, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Whether `pid` is blocked in nanosleep or clock_nanosleep (`/proc/PID/syscall` names the
/// system call a blocked process is in): a `/bin/sleep` daemon past its start-up.
fn sleeps_in_kernel(pid: i32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
    let nr = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<i64>().ok());
    nr == Some(libc::SYS_nanosleep) || nr == Some(libc::SYS_clock_nanosleep)
}

fn open_fds(pid: i32) -> BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The supplementary groups the group database gives `user` with primary group `gid`:
/// `gid` and every group of /etc/group that lists the user as a member.
fn database_groups(user: &str, gid: u32) -> Vec<u32> {
    let mut groups: BTreeSet<u32> = BTreeSet::from([gid]);
    for line in std::fs::read_to_string("/etc/group").unwrap().lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() == 4 && f[3].split(',').any(|m| m == user) {
            groups.insert(f[2].parse().unwrap());
        }
    }
    groups.into_iter().collect()
}

/// Asserts the daemon's real, effective, saved and filesystem uid and gid, its supplementary
/// groups (order ignored) and that it holds no capabilities unless it runs as root.
#[track_caller]
fn assert_identity(pid: i32, uid: u32, gid: u32, groups: &[u32]) {
    assert_eq!(status_ids(pid, "Uid"), vec![uid; 4], "Uid of the daemon");
    assert_eq!(status_ids(pid, "Gid"), vec![gid; 4], "Gid of the daemon");
    let mut got = status_ids(pid, "Groups");
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, groups, "supplementary groups of the daemon");
    if uid != 0 {
        for cap in ["CapEff", "CapPrm", "CapAmb"] {
            assert_eq!(
                status_field(pid, cap),
                "0000000000000000",
                "{cap} of the daemon"
            );
        }
    }
}

/// B12, §3.7: a dirty caller leaves no trace in the daemon; the definition's umask, limits,
/// nice, working directory and environment are applied; a new session without a terminal.
#[test]
fn b12_dirty_caller_state_does_not_reach_the_daemon() {
    let sb = Sandbox::new();
    sb.service(
        "clean",
        &sleep_def(
            &sb,
            "env: { SVC_TEST_VAR: \"hello world\", LANG: C }\numask: \"027\"\nlimits: { nofile: 512, core: 0 }\nnice: 5\n",
        ),
    );
    sb.service("plain", &sleep_def(&sb, ""));

    dirty_svc(&sb, &["start", "clean", "plain"], false)
        .ok()
        .no_panic();

    for name in ["clean", "plain"] {
        let pid = sb.pid(name);
        // start returns once sleep is exec'd; until it sleeps, the dynamic loader may still
        // hold a library open (a transient fd 3), which is not the caller's.
        wait_until(Duration::from_secs(10), &format!("{name} to sleep"), || {
            sleeps_in_kernel(pid)
        });
        let st = proc_stat(pid).unwrap();
        assert_eq!(
            (st.session, st.pgrp),
            (pid, pid),
            "{name}: new session and group"
        );
        assert_eq!(
            stat_field(pid, 7).as_deref(),
            Some("0"),
            "{name}: controlling terminal"
        );
        assert_eq!(
            status_field(pid, "SigIgn"),
            "0000000000000000",
            "{name}: ignored signals"
        );
        assert_eq!(
            status_field(pid, "SigBlk"),
            "0000000000000000",
            "{name}: blocked signals"
        );
        assert_eq!(
            open_fds(pid),
            BTreeSet::from(["0".to_string(), "1".to_string(), "2".to_string()]),
            "{name}: open fds"
        );
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
            sb.work,
            "{name}: cwd"
        );

        let env = environ(pid);
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        // Besides the minimal environment, a service learns svc's own directories.
        let want: &[&str] = if name == "clean" {
            &[
                "HOME",
                "LANG",
                "PATH",
                "SVC_CONFIG_DIR",
                "SVC_LOG_DIR",
                "SVC_STATE_DIR",
                "SVC_TEST_VAR",
            ]
        } else {
            &[
                "HOME",
                "LANG",
                "PATH",
                "SVC_CONFIG_DIR",
                "SVC_LOG_DIR",
                "SVC_STATE_DIR",
            ]
        };
        assert_eq!(keys, want, "{name}: environment {env:?}");
        assert_eq!(
            Path::new(&env["SVC_CONFIG_DIR"]),
            sb.config.as_path(),
            "{name}: SVC_CONFIG_DIR"
        );
        assert_eq!(Path::new(&env["SVC_STATE_DIR"]), sb.state.as_path());
        assert_eq!(Path::new(&env["SVC_LOG_DIR"]), sb.log.as_path());
        assert_eq!(env["PATH"], DAEMON_PATH, "{name}: PATH");
        let home = env["HOME"].as_str();
        let user_home = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir.to_string_lossy().into_owned());
        assert!(
            home == "/" || Some(home) == user_home.as_deref(),
            "{name}: HOME {home:?} is neither / nor the user's home"
        );
    }

    let clean = sb.pid("clean");
    assert_eq!(
        status_field(clean, "Umask"),
        "0027",
        "umask from the definition"
    );
    let env = environ(clean);
    assert_eq!(
        (env["LANG"].as_str(), env["SVC_TEST_VAR"].as_str()),
        ("C", "hello world")
    );
    assert_eq!(
        proc_limit(clean, "Max open files"),
        ("512".into(), "512".into())
    );
    assert_eq!(
        proc_limit(clean, "Max core file size"),
        ("0".into(), "0".into())
    );
    assert_eq!(
        stat_field(clean, 19).as_deref(),
        Some("5"),
        "nice from the definition"
    );

    let plain = sb.pid("plain");
    assert_eq!(status_field(plain, "Umask"), "0022", "default umask");
    assert_eq!(environ(plain)["LANG"], "C.UTF-8", "default LANG");

    run(&sb, &["stop", "clean", "plain"]).ok();
    assert!(!alive(clean) && !alive(plain));
}

/// C1, C3: `user: nobody` gets nobody's uid and gid in all four slots, exactly the database's
/// supplementary groups (not the caller's) and no capabilities.
#[test]
fn c1_c8_user_switch_sets_ids_groups_and_drops_capabilities() {
    if skip_unless_root("user_switch_sets_ids_groups_and_drops_capabilities") {
        return;
    }
    let sb = Sandbox::new();
    open_sandbox(&sb);
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    sb.service("asnobody", &sleep_def(&sb, "user: nobody\n"));

    dirty_svc(&sb, &["start", "asnobody"], false).ok();
    let pid = sb.pid("asnobody");
    assert_identity(pid, uid, gid, &database_groups("nobody", gid));
    assert_eq!(
        environ(pid)["HOME"],
        nobody.dir.to_string_lossy(),
        "HOME of the user"
    );
    run(&sb, &["stop", "asnobody"]).ok();
    assert!(!alive(pid));
}

/// C1: a user that is a member of other groups gets exactly those from the group database.
#[test]
fn c1_user_switch_gives_the_users_supplementary_groups() {
    if skip_unless_root("user_switch_gives_the_users_supplementary_groups") {
        return;
    }
    // Any user with a passwd entry that /etc/group lists as a member of some group.
    let member = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(':').nth(3).map(str::to_string))
        .flat_map(|m| m.split(',').map(str::to_string).collect::<Vec<_>>())
        .find(|m| {
            !m.is_empty() && m != "root" && matches!(nix::unistd::User::from_name(m), Ok(Some(_)))
        });
    let Some(member) = member else {
        skip(
            "user_switch_gives_the_users_supplementary_groups",
            "no user with supplementary groups",
        );
        return;
    };
    let user = nix::unistd::User::from_name(&member).unwrap().unwrap();
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    let sb = Sandbox::new();
    open_sandbox(&sb);
    sb.service("member", &sleep_def(&sb, &format!("user: {member}\n")));

    dirty_svc(&sb, &["start", "member"], false).ok();
    let pid = sb.pid("member");
    let groups = database_groups(&member, gid);
    assert!(
        groups.len() > 1,
        "{member} should have supplementary groups"
    );
    assert_identity(pid, uid, gid, &groups);
    run(&sb, &["stop", "member"]).ok();
}

/// C3: `group:` overrides the user's primary group; without `user:` only the group changes and
/// the caller's supplementary groups are still replaced.
#[test]
fn c3_group_override_and_group_without_user() {
    if skip_unless_root("group_override_and_group_without_user") {
        return;
    }
    let sb = Sandbox::new();
    open_sandbox(&sb);
    let daemon_gid = nix::unistd::Group::from_name("daemon")
        .unwrap()
        .expect("group daemon")
        .gid
        .as_raw();
    let nobody_uid = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    sb.service("override", &sleep_def(&sb, "user: nobody\ngroup: daemon\n"));
    sb.service("grouponly", &sleep_def(&sb, "group: daemon\n"));

    dirty_svc(&sb, &["start", "override", "grouponly"], false).ok();

    let pid = sb.pid("override");
    assert_identity(
        pid,
        nobody_uid,
        daemon_gid,
        &database_groups("nobody", daemon_gid),
    );

    let pid = sb.pid("grouponly");
    assert_identity(pid, 0, daemon_gid, &database_groups("root", daemon_gid));
    assert!(
        !status_ids(pid, "Groups").contains(&CALLER_GROUP),
        "caller's group inherited"
    );

    run(&sb, &["stop", "override", "grouponly"]).ok();
}

/// C2: a user or group that does not resolve exactly is a definition error (6), never root:
/// nothing is started.
#[test]
fn c2_unresolvable_users_and_groups_start_nothing() {
    let sb = Sandbox::new();
    let cases = [
        "user: no-such-user-svc-test",
        "user: \"0day\"",
        "user: \"0x0\"",
        "user: \" 0\"",
        "user: \"root \"",
        "user: \"\"",
        "user: \"-1\"",
        "user: 3999999999",
        "group: no-such-group-svc-test",
        "user: root\ngroup: \"0x0\"",
    ];
    for (i, case) in cases.iter().enumerate() {
        let name = format!("bad{i}");
        sb.service(&name, &format!("{}{case}\n", sb.sleeper(&name)));
        let r = run(&sb, &["start", &name]);
        r.code(6).no_panic().stderr_has(&format!("{name}.yaml"));
        assert!(!sb.pidfile(&name).exists(), "{case}: PID file written");
        let script = sb.work.join(format!("{name}.sh"));
        assert!(
            procs_with_arg(&script).is_empty(),
            "{case}: the daemon was started"
        );
        assert!(
            !sb.work.join(format!("{name}.started")).exists(),
            "{case}: the daemon ran"
        );
    }
}

/// C4: the launch fails closed when the program cannot be run as the user (a 0700 root-owned
/// script for `user: nobody`): start fails at once quoting the OS error, and nothing runs.
#[test]
fn c4_exec_denied_for_the_user_fails_closed() {
    if skip_unless_root("exec_denied_for_the_user_fails_closed") {
        return;
    }
    let sb = Sandbox::new();
    open_sandbox(&sb);
    let marker = sb.work.join("private.ran");
    let script = sb.script(
        "private.sh",
        &format!("#!/bin/sh\nid > {}\nexec sleep 1000\n", marker.display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    sb.service(
        "private",
        &format!(
            "exec: {}\nuser: nobody\nworkdir: {}\n",
            script.display(),
            sb.work.display()
        ),
    );

    let t0 = Instant::now();
    let r = run(&sb, &["start", "private"]);
    let took = t0.elapsed();
    assert_ne!(
        r.code, 0,
        "start as a user who may not run the program succeeded"
    );
    r.no_panic().stderr_has("ermission denied");
    assert!(
        took < Duration::from_millis(1500),
        "exec failure took {took:?} to report"
    );
    assert!(
        !sb.pidfile("private").exists(),
        "PID file of a failed launch"
    );
    assert!(
        procs_with_arg(&script).is_empty(),
        "the program runs anyway"
    );
    assert!(!marker.exists(), "the program ran anyway");
}

/// Starts `name` as nobody with `limits` from a caller whose own limits are low or not
/// (`raise_hard`), and checks the daemon's uid and its nofile and core limits (soft, hard).
fn limits_for_nobody(name: &str, limits: &str, raise_hard: bool, nofile: &str, core: &str) {
    let sb = Sandbox::new();
    open_sandbox(&sb);
    sb.service(
        name,
        &sleep_def(&sb, &format!("user: nobody\nlimits: {limits}\n")),
    );
    dirty_svc(&sb, &["start", name], raise_hard).ok().no_panic();
    let pid = sb.pid(name);
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert_eq!(status_ids(pid, "Uid"), vec![nobody; 4], "Uid of the daemon");
    assert_eq!(
        proc_limit(pid, "Max open files"),
        (nofile.into(), nofile.into())
    );
    assert_eq!(
        proc_limit(pid, "Max core file size"),
        (core.into(), core.into())
    );
    run(&sb, &["stop", name]).ok();
}

/// C6: limits apply to a daemon that runs as another user.
#[test]
fn c6_limits_apply_to_a_switched_user() {
    if skip_unless_root("limits_apply_to_a_switched_user") {
        return;
    }
    limits_for_nobody("capped", "{ nofile: 200, core: 0 }", false, "200", "0");
}

/// C6: limits and priority are set before the privilege drop, so what only root may grant
/// reaches an unprivileged user: a negative nice (CAP_SYS_NICE) always, and a hard limit above
/// the caller's where this root also has CAP_SYS_RESOURCE (containers often drop it; the nice
/// part proves the same ordering without it).
#[test]
fn c6_limits_are_applied_before_dropping_privileges() {
    if skip_unless_root("limits_are_applied_before_dropping_privileges") {
        return;
    }
    let sb = Sandbox::new();
    open_sandbox(&sb);
    sb.service(
        "niced",
        &sleep_def(&sb, "user: nobody\nnice: -7\nlimits: { core: 0 }\n"),
    );
    run(&sb, &["start", "niced"]).ok().no_panic();
    let pid = sb.pid("niced");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Field 19 of /proc/PID/stat: nice.
    assert_eq!(
        stat_field(pid, 19).as_deref(),
        Some("-7"),
        "nice of the daemon: {stat}"
    );
    assert_eq!(status_ids(pid, "Uid")[0], nobody_uid(), "Uid of the daemon");
    run(&sb, &["stop", "niced"]).ok();
    if can_raise_hard_limits() {
        limits_for_nobody(
            "limited",
            "{ nofile: 4096, core: unlimited }",
            true,
            "4096",
            "unlimited",
        );
    }
}

fn nobody_uid() -> u32 {
    nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw()
}

/// C7: as root, an `exec` that another user could replace — the file writable by others, or in a
/// directory others can write (not sticky) — is refused with 6 and nothing runs.
#[test]
fn c7_exec_writable_by_others_is_refused() {
    if skip_unless_root("c7_exec_writable_by_others_is_refused") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    // The file itself is world-writable.
    let open_file = sb.script(
        "open.sh",
        &format!(
            "#!/bin/sh\necho $$ > {}/open.started\nexec sleep 1000\n",
            sb.work.display()
        ),
    );
    std::fs::set_permissions(&open_file, std::fs::Permissions::from_mode(0o777)).unwrap();
    sb.service("open", &format!("exec: {}\n", open_file.display()));
    // The file is fine but its directory is world-writable and not sticky.
    let dir = sb.work.join("drop");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let in_dir = dir.join("daemon.sh");
    std::fs::write(
        &in_dir,
        format!(
            "#!/bin/sh\necho $$ > {}/drop.started\nexec sleep 1000\n",
            sb.work.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&in_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.service("drop", &format!("exec: {}\n", in_dir.display()));

    for name in ["open", "drop"] {
        let r = sb.svc(["start", name]);
        r.code(6).stderr_has("refusing").no_panic();
        assert!(!sb.pidfile(name).exists(), "{name}: PID file written");
        assert!(
            !sb.work.join(format!("{name}.started")).exists(),
            "{name}: the program ran"
        );
    }
}
