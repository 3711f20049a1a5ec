//! Running a SysV system's own init scripts (SPEC §9; docs/lsb.md, "Running a SysV system's own
//! scripts"): a private `DIR` tree (`DIR/init.d`, `DIR/rcN.d`, `DIR/insserv.conf`) of small LSB
//! scripts written here, each recording `start NAME` / `stop NAME` in `work/order`, never the
//! machine's /etc. Ordering is proven by the order the scripts recorded, parallelism by two
//! scripts that each wait (with a deadline) for the other's marker.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The SysV directory of a sandbox: `<sandbox>/sysv` with `init.d` and `rc{0..6,S}.d`.
fn sysv(sb: &Sandbox) -> PathBuf {
    let d = sb.path().join("sysv");
    std::fs::create_dir_all(d.join("init.d")).unwrap();
    for l in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        // A test may have put a file where a directory was.
        let _ = std::fs::create_dir_all(d.join(format!("rc{l}.d")));
    }
    d
}

/// An LSB script with the header `lines` (each `Keyword: value`, after `Provides: NAME` unless
/// one of them gives Provides) that records its actions in work/order and keeps work/NAME.on
/// while started; `extra` runs first at `start` (a wait, a failure).
fn lsb_text(sb: &Sandbox, name: &str, lines: &[&str], extra: &str) -> String {
    let provides = if lines.iter().any(|l| l.starts_with("Provides:")) {
        String::new()
    } else {
        format!("# Provides: {name}\n")
    };
    let header: String = lines.iter().map(|l| format!("# {l}\n")).collect();
    let w = sb.work.display();
    format!(
        "#!/bin/sh\n### BEGIN INIT INFO\n{provides}{header}### END INIT INFO\n\
         W={w}\n\
         case \"$1\" in\n\
         start) {extra}\n echo \"start {name}\" >> $W/order; touch $W/{name}.on ;;\n\
         stop) echo \"stop {name}\" >> $W/order; rm -f $W/{name}.on ;;\n\
         status) [ -f $W/{name}.on ] && exit 0; exit 3 ;;\n\
         restart|force-reload) exit 0 ;;\n\
         *) exit 3 ;;\n\
         esac\nexit 0\n"
    )
}

/// Writes `DIR/init.d/NAME` (mode 0755): see [`lsb_text`].
fn lsb_script(sb: &Sandbox, name: &str, lines: &[&str], extra: &str) -> PathBuf {
    let p = sysv(sb).join("init.d").join(name);
    std::fs::write(&p, lsb_text(sb, name, lines, extra)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A plain script without a Provides line in its header.
fn raw_script(sb: &Sandbox, file: &str, text: &str, mode: u32) {
    let p = sysv(sb).join("init.d").join(file);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `DIR/rcL.d/ENTRY -> ../init.d/NAME`.
fn rc_link(sb: &Sandbox, level: &str, entry: &str, name: &str) {
    let p = sysv(sb).join(format!("rc{level}.d")).join(entry);
    std::os::unix::fs::symlink(format!("../init.d/{name}"), p).unwrap();
}

/// `svc --sysv-dir DIR ARGS`.
#[track_caller]
fn svc(sb: &Sandbox, args: &[&str]) -> Run {
    let dir = sysv(sb);
    let mut all = vec!["--sysv-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    sb.svc(all)
}

/// The lines the scripts recorded.
fn order(sb: &Sandbox) -> Vec<String> {
    file_lines(&sb.work.join("order"))
}

fn pos(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in {lines:?}"))
}

/// `a` was recorded before `b`.
#[track_caller]
fn before(lines: &[String], a: &str, b: &str) {
    assert!(pos(lines, a) < pos(lines, b), "{a} before {b}: {lines:?}");
}

const LEVELS: &str = "Default-Start: 2 3 4 5";

#[test]
fn lsb_scripts_of_the_sysv_dir_are_services_and_the_rest_is_ignored() {
    let sb = Sandbox::new();
    lsb_script(&sb, "alpha", &[LEVELS, "Short-Description: the alpha"], "");
    let header = "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: x\n### END INIT INFO\nexit 0\n";
    for f in [
        "README",
        "skeleton",
        "rc",
        "rcS",
        ".depend.boot",
        "alpha~",
        "alpha.dpkg-old",
        "alpha.dpkg-dist",
        "alpha.dpkg-new",
        "alpha.dpkg-bak",
    ] {
        raw_script(&sb, f, header, 0o755);
    }
    raw_script(&sb, "noheader", "#!/bin/sh\nexit 0\n", 0o755);
    raw_script(&sb, "notexec", header, 0o644);
    raw_script(&sb, "bad name", header, 0o755);
    std::fs::create_dir(sysv(&sb).join("init.d/adir")).unwrap();
    let r = svc(&sb, &["list", "--json"]);
    r.ok();
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha"], "{}", r.stdout);
    // Every command sees it: start, status, stop, completion of names.
    svc(&sb, &["start", "alpha"]).ok();
    assert_eq!(order(&sb), ["start alpha"]);
    svc(&sb, &["status", "alpha"])
        .code(0)
        .stdout_has("the alpha");
    svc(&sb, &["stop", "alpha"]).ok();
    svc(&sb, &["status", "alpha"]).code(3);
    svc(&sb, &["__complete", "services"])
        .ok()
        .stdout_has("alpha");
    // A name that is no service name is mentioned by check, not an error.
    svc(&sb, &["check", "--no-host-checks"])
        .ok()
        .stderr_has("bad name");
    // Without a SysV directory there is no such service.
    sb.svc(["status", "alpha"]).code(4);
}

#[test]
fn a_yaml_definition_of_the_same_name_wins() {
    let sb = Sandbox::new();
    lsb_script(&sb, "alpha", &[LEVELS], "");
    sb.service(
        "alpha",
        &format!("{}description: from yaml\n", sb.sleeper("alpha")),
    );
    svc(&sb, &["start", "alpha"]).ok();
    wait_for_file(
        &sb.work.join("alpha.started"),
        std::time::Duration::from_secs(20),
    );
    assert!(order(&sb).is_empty());
    svc(&sb, &["status", "alpha"])
        .code(0)
        .stdout_has("from yaml");
    svc(&sb, &["stop", "alpha"]).ok();
}

#[test]
fn the_sysv_dir_flag_beats_the_environment_which_beats_svc_yaml() {
    let sb = Sandbox::new();
    let make = |dir: &str, name: &str| {
        let d = sb.path().join(dir).join("init.d");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: {name}\n### END INIT INFO\nexit 3\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        sb.path().join(dir)
    };
    let from_yaml = make("y", "fromyaml");
    let from_env = make("e", "fromenv");
    let from_flag = make("f", "fromflag");
    std::fs::write(
        sb.config.join("svc.yaml"),
        format!("sysv_dir: {}\n", from_yaml.display()),
    )
    .unwrap();
    let listed = |env: Option<&Path>, flag: Option<&Path>| -> String {
        let mut args: Vec<String> = Vec::new();
        if let Some(f) = flag {
            args.extend(["--sysv-dir".into(), f.display().to_string()]);
        }
        args.push("__complete".into());
        args.push("services".into());
        let mut c = sb.cmd(&args);
        if let Some(e) = env {
            c.env("SVC_SYSV_DIR", e);
        }
        let r = output(c, args, SVC_LIMIT);
        r.ok();
        r.stdout.trim().to_string()
    };
    assert_eq!(listed(None, None), "fromyaml");
    assert_eq!(listed(Some(&from_env), None), "fromenv");
    assert_eq!(listed(Some(&from_env), Some(&from_flag)), "fromflag");
    // A relative sysv_dir in svc.yaml: an error with the file and line.
    std::fs::write(
        sb.config.join("svc.yaml"),
        "default_runlevel: 2\nsysv_dir: etc\n",
    )
    .unwrap();
    sb.svc(["check", "--no-host-checks"])
        .code(6)
        .stderr_has("svc.yaml:2: `sysv_dir`: expected an absolute path");
    sb.svc(["status"]).stderr_has("svc.yaml:2");
}

#[test]
fn check_names_the_file_and_line_of_a_malformed_header() {
    let sb = Sandbox::new();
    lsb_script(&sb, "good", &[LEVELS], "");
    raw_script(
        &sb,
        "broken",
        "#!/bin/sh\n# a comment\n### BEGIN INIT INFO\n# Provides: broken\n# Default-Start: 2 9\n### END INIT INFO\nexit 0\n",
        0o755,
    );
    let script = sysv(&sb).join("init.d/broken");
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}:5: `Default-Start`", script.display()));
    // The broken script is still a service, whose definition is invalid (6, not 5).
    svc(&sb, &["start", "broken"]).code(6);
    svc(&sb, &["start", "good"]).ok();
}

#[test]
fn a_header_name_that_is_no_service_name_is_named_at_its_keyword_line() {
    let sb = Sandbox::new();
    raw_script(
        &sb,
        "odd",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: odd\n# Default-Start: 2\n# Required-Start: x!y\n### END INIT INFO\nexit 0\n",
        0o755,
    );
    let script = sysv(&sb).join("init.d/odd");
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}:5: `Required-Start`", script.display()));
}

#[test]
fn only_the_head_of_a_huge_script_is_read_for_its_header() {
    let sb = Sandbox::new();
    let p = lsb_script(&sb, "huge", &[LEVELS], "");
    // 4 GiB (sparse): svc, its address space limited to 2 GiB, must not read it all.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let dir = sysv(&sb);
    let args = [
        "--sysv-dir",
        dir.to_str().unwrap(),
        "check",
        "--no-host-checks",
    ];
    let mut cmd = sb.cmd(args);
    // SAFETY: between fork and exec; setrlimit is async-signal-safe and reads a stack value.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let rl = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &rl);
            Ok(())
        });
    }
    let args = args.iter().map(|a| a.to_string()).collect();
    output(cmd, args, SVC_LIMIT)
        .ok()
        .stdout_has("checked 1 definitions");
}

#[test]
fn fifos_in_the_sysv_dir_never_block() {
    let sb = Sandbox::new();
    lsb_script(&sb, "good", &[LEVELS], "");
    rc_link(&sb, "2", "S10good", "good");
    let dir = sysv(&sb);
    let conf = dir.join("insserv.conf");
    for p in [
        conf.clone(),
        dir.join("init.d/pipe"),
        dir.join("rc2.d/S20pipe"),
    ] {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "{p:?}");
    }
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}: ", conf.display()))
        .stderr_has("S20pipe: no definition for service pipe");
    svc(&sb, &["switch", "2"]).code(1);
    assert_eq!(order(&sb), ["start good"]);
}

#[test]
fn the_sysv_rc_dirs_merge_with_runlevels_by_number() {
    let sb = Sandbox::new();
    for n in ["a", "b", "c"] {
        lsb_script(&sb, n, &[LEVELS], "");
    }
    std::os::unix::fs::symlink(
        sysv(&sb).join("init.d/a"),
        sb.config.join("runlevels/rc2.d/S10a"),
    )
    .unwrap();
    rc_link(&sb, "2", "S20b", "b");
    rc_link(&sb, "2", "S05c", "c");
    rc_link(&sb, "2", "README", "c");
    svc(&sb, &["check", "--no-host-checks"])
        .ok()
        .stdout_has(&format!(
            "checked 3 definitions in {} and {} and 16 runlevel directories",
            sb.config.join("init.d").display(),
            sysv(&sb).join("init.d").display()
        ));
    svc(&sb, &["switch", "2"]).ok();
    assert_eq!(order(&sb), ["start c", "start a", "start b"]);
    svc(&sb, &["list", "b"]).ok().stdout_has("2:on");
    // rc0.d of the SysV directory stops them, by K number.
    rc_link(&sb, "0", "K01b", "b");
    rc_link(&sb, "0", "K02c", "c");
    std::os::unix::fs::symlink(
        sysv(&sb).join("init.d/a"),
        sb.config.join("runlevels/rc0.d/K03a"),
    )
    .unwrap();
    svc(&sb, &["switch", "0"]).ok();
    assert_eq!(order(&sb)[3..], ["stop b", "stop c", "stop a"]);
}

#[test]
fn an_entry_in_both_directories_of_a_level_is_an_error_and_that_service_is_left_out() {
    let sb = Sandbox::new();
    for n in ["a", "b"] {
        lsb_script(&sb, n, &[LEVELS], "");
    }
    let mine = sb.config.join("runlevels/rc2.d/S10a");
    std::os::unix::fs::symlink(sysv(&sb).join("init.d/a"), &mine).unwrap();
    rc_link(&sb, "2", "S20a", "a");
    rc_link(&sb, "2", "S30b", "b");
    rc_link(&sb, "2", "S40gone", "gone");
    let theirs = sysv(&sb).join("rc2.d/S20a");
    let both = format!("({} and {})", mine.display(), theirs.display());
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&both)
        .stderr_has("S40gone: no definition for service gone");
    let r = svc(&sb, &["switch", "2"]);
    r.code(1).stderr_has(&both);
    assert_eq!(order(&sb), ["start b"]);
}

/// Links `S<NN>NAME` in DIR/rc2.d for each (NN, NAME).
fn starts(sb: &Sandbox, entries: &[(u8, &str)]) {
    for (n, name) in entries {
        rc_link(sb, "2", &format!("S{n:02}{name}"), name);
    }
}

#[test]
fn headers_order_by_provides_facilities_x_start_before_and_all() {
    let sb = Sandbox::new();
    let dir = sysv(&sb);
    std::fs::write(
        dir.join("insserv.conf"),
        "# facilities\n$syslog\t+logd\n$remote_fs\t$local_fs +nfs\n<interactive>\tlogd\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("insserv.conf.d")).unwrap();
    std::fs::write(dir.join("insserv.conf.d/net"), "$network +netup\n").unwrap();
    std::fs::write(
        dir.join("insserv.conf.d/net~"),
        "this is a backup, never read\n",
    )
    .unwrap();
    lsb_script(&sb, "logd", &[LEVELS], "");
    lsb_script(&sb, "netup", &[LEVELS], "");
    lsb_script(&sb, "early", &[LEVELS, "X-Start-Before: database"], "");
    lsb_script(&sb, "db", &["Provides: db database", LEVELS], "");
    lsb_script(
        &sb,
        "web",
        &[
            "Required-Start: $syslog $network $remote_fs $time database",
            "Should-Start: ghost $portmap",
            LEVELS,
        ],
        "",
    );
    lsb_script(&sb, "last", &["Required-Start: $all", LEVELS], "");
    lsb_script(&sb, "first", &[LEVELS], "");
    // A `script:` service of the configuration directory is ordered by the same rules.
    let ys = sb.work.join("yscript.init");
    std::fs::write(
        &ys,
        lsb_text(&sb, "yscript", &["Required-Start: $syslog"], ""),
    )
    .unwrap();
    std::fs::set_permissions(&ys, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.service("yscript", &format!("script: {}\n", ys.display()));
    std::os::unix::fs::symlink(
        "../../init.d/yscript.yaml",
        sb.config.join("runlevels/rc2.d/S10yscript"),
    )
    .unwrap();
    // Numbers first (first at 05), then headers within a number; web, at 10, pulls its
    // requirements forward even from 30.
    starts(
        &sb,
        &[
            (5, "first"),
            (10, "web"),
            (10, "last"),
            (10, "early"),
            (30, "db"),
            (30, "logd"),
            (10, "netup"),
        ],
    );
    svc(&sb, &["check", "--no-host-checks"]).ok();
    svc(&sb, &["switch", "2"]).ok();
    let o = order(&sb);
    assert_eq!(o.len(), 8, "{o:?}");
    assert_eq!(o[0], "start first");
    before(&o, "start logd", "start web");
    before(&o, "start netup", "start web");
    before(&o, "start db", "start web");
    before(&o, "start early", "start db");
    before(&o, "start logd", "start yscript");
    assert_eq!(o[7], "start last", "{o:?}");
    // The timeline of the switch shows them.
    svc(&sb, &["analyze"])
        .ok()
        .stdout_has("web")
        .stdout_has("last");
}

#[test]
fn stop_order_follows_required_stop_and_x_stop_after() {
    let sb = Sandbox::new();
    lsb_script(&sb, "db", &["Provides: db database", LEVELS], "");
    lsb_script(&sb, "web", &["Required-Stop: database", LEVELS], "");
    lsb_script(&sb, "tail", &["X-Stop-After: db", LEVELS], "");
    lsb_script(&sb, "quit", &["Required-Stop: $all", LEVELS], "");
    starts(&sb, &[(10, "db"), (10, "web"), (10, "tail"), (10, "quit")]);
    svc(&sb, &["switch", "2"]).ok();
    for (n, name) in [(1, "db"), (1, "web"), (1, "tail"), (1, "quit")] {
        rc_link(&sb, "0", &format!("K{n:02}{name}"), name);
    }
    svc(&sb, &["switch", "0"]).ok();
    let o: Vec<String> = order(&sb).into_iter().skip(4).collect();
    assert_eq!(o[0], "stop quit", "{o:?}");
    before(&o, "stop web", "stop db");
    before(&o, "stop db", "stop tail");
}

#[test]
fn a_missing_required_start_is_an_error_a_missing_should_start_is_not() {
    let sb = Sandbox::new();
    let needy = lsb_script(
        &sb,
        "needy",
        &[
            LEVELS,
            "Should-Start: ghost",
            "Required-Start: $network nothere",
        ],
        "",
    );
    lsb_script(&sb, "calm", &["Should-Start: ghost $named", LEVELS], "");
    starts(&sb, &[(10, "needy"), (10, "calm")]);
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}:6: `Required-Start`: nothere", needy.display()));
    svc(&sb, &["switch", "2"]).code(1).stderr_has("nothere");
    assert_eq!(order(&sb), ["start calm"]);
}

#[test]
fn independent_scripts_of_one_number_run_in_parallel() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    // Each marks itself, then waits (at most 20 s) for the other's mark: run one after the
    // other, the first would give up and fail.
    let wait_for = |me: &str, other: &str| {
        format!(
            "touch {w}/{me}.mark; i=0; while [ ! -f {w}/{other}.mark ]; do i=$((i+1)); \
             [ $i -gt 400 ] && exit 1; sleep 0.05; done"
        )
    };
    lsb_script(&sb, "p1", &[LEVELS], &wait_for("p1", "p2"));
    lsb_script(&sb, "p2", &[LEVELS], &wait_for("p2", "p1"));
    starts(&sb, &[(10, "p1"), (10, "p2")]);
    svc(&sb, &["switch", "2"]).ok();
    let mut o = order(&sb);
    o.sort();
    assert_eq!(o, ["start p1", "start p2"]);
}

/// The entries of DIR/rcL.d, sorted, with their link targets.
fn entries(sb: &Sandbox, level: &str) -> Vec<String> {
    let dir = sysv(sb).join(format!("rc{level}.d"));
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = std::fs::read_link(e.path()).unwrap_or_default();
            format!("{}->{}", e.file_name().to_string_lossy(), t.display())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn enable_and_disable_write_update_rc_d_links_numbered_as_insserv_does() {
    let sb = Sandbox::new();
    let dir = sysv(&sb);
    std::fs::write(dir.join("insserv.conf"), "$syslog +logd\n").unwrap();
    let stop = "Default-Stop: 0 1 6";
    lsb_script(&sb, "base", &[LEVELS, stop], "");
    lsb_script(
        &sb,
        "web",
        &["Required-Start: base", "Required-Stop: base", LEVELS, stop],
        "",
    );
    lsb_script(&sb, "logd", &[LEVELS, stop], "");
    lsb_script(&sb, "app", &["Required-Start: $syslog", LEVELS], "");
    svc(&sb, &["enable", "base"])
        .ok()
        .stdout_has("S01 in 2 3 4 5, K02 in 0 1 6");
    assert_eq!(entries(&sb, "2"), ["S01base->../init.d/base"]);
    assert_eq!(entries(&sb, "0"), ["K02base->../init.d/base"]);
    svc(&sb, &["enable", "web"])
        .ok()
        .stdout_has("S02 in 2 3 4 5, K01 in 0 1 6");
    svc(&sb, &["enable", "logd", "--start", "5"]).ok();
    // No Default-Stop: no K links, as update-rc.d.
    svc(&sb, &["enable", "app"])
        .ok()
        .stdout_has("app enabled: S06 in 2 3 4 5");
    assert_eq!(
        entries(&sb, "3"),
        [
            "S01base->../init.d/base",
            "S02web->../init.d/web",
            "S05logd->../init.d/logd",
            "S06app->../init.d/app"
        ]
    );
    assert_eq!(entries(&sb, "6").len(), 3, "{:?}", entries(&sb, "6"));
    svc(&sb, &["list", "app"])
        .ok()
        .stdout_has("2:on 3:on 4:on 5:on 6:off");
    svc(&sb, &["check", "--no-host-checks"]).ok();
    // --levels, --start, --stop keep working.
    svc(
        &sb,
        &[
            "enable", "app", "--levels", "3", "--start", "40", "--stop", "60",
        ],
    )
    .ok();
    assert_eq!(entries(&sb, "3")[3], "S40app->../init.d/app");
    assert!(entries(&sb, "2")
        .iter()
        .any(|e| e == "K60app->../init.d/app"));
    // The switch runs what enable wrote, in order.
    svc(&sb, &["switch", "2"]).ok();
    before(&order(&sb), "start base", "start web");
    svc(&sb, &["disable", "web"])
        .ok()
        .stdout_has("rc2.d/S02web");
    for l in ["0", "1", "2", "3", "4", "5", "6"] {
        assert!(!entries(&sb, l).iter().any(|e| e.contains("web")), "{l}");
    }
}

#[test]
fn enable_writes_all_links_or_none() {
    let sb = Sandbox::new();
    lsb_script(&sb, "base", &[LEVELS, "Default-Stop: 0 1 6"], "");
    let rc5 = sysv(&sb).join("rc5.d");
    std::fs::remove_dir(&rc5).unwrap();
    std::fs::write(&rc5, "not a directory\n").unwrap();
    svc(&sb, &["enable", "base"]).code(1).stderr_has("rc5.d");
    for l in ["0", "1", "2", "3", "4", "6"] {
        assert!(entries(&sb, l).is_empty(), "rc{l}.d: {:?}", entries(&sb, l));
    }
}

#[test]
fn start_and_stop_follow_provides_and_facilities_too() {
    let sb = Sandbox::new();
    std::fs::write(sysv(&sb).join("insserv.conf"), "$syslog logd\n").unwrap();
    lsb_script(&sb, "logd", &[LEVELS], "");
    lsb_script(&sb, "db", &["Provides: db database", LEVELS], "");
    lsb_script(
        &sb,
        "web",
        &["Required-Start: database $syslog $network", LEVELS],
        "",
    );
    svc(&sb, &["start", "web"]).ok();
    let o = order(&sb);
    assert_eq!(o.len(), 3, "{o:?}");
    assert_eq!(o[2], "start web");
    svc(&sb, &["stop", "db"])
        .ok()
        .stderr_has("db is required by running services web");
    svc(&sb, &["start", "db"]).ok();
    svc(&sb, &["stop", "--with-dependents", "db"]).ok();
    assert_eq!(order(&sb)[5..], ["stop web", "stop db"]);
}

#[test]
fn programs_and_supervisors_get_the_sysv_dir() {
    let sb = Sandbox::new();
    let dir = sysv(&sb);
    let w = sb.work.display();
    let script = sb.script(
        "envdump.sh",
        &format!(
            "#!/bin/sh\necho \"$SVC_SYSV_DIR\" > {w}/$1.env.tmp && mv {w}/$1.env.tmp {w}/$1.env\n\
             trap 'exit 0' TERM\nwhile :; do sleep 1 & wait $!; done\n"
        ),
    );
    sb.service(
        "plain",
        &format!("exec: {}\nargs: [plain]\n", script.display()),
    );
    sb.service(
        "kept",
        &format!("exec: {}\nargs: [kept]\nrespawn: {{}}\n", script.display()),
    );
    for name in ["plain", "kept"] {
        svc(&sb, &["start", name]).ok();
        let f = sb.work.join(format!("{name}.env"));
        wait_for_file(&f, std::time::Duration::from_secs(20));
        assert_eq!(
            std::fs::read_to_string(&f).unwrap().trim(),
            dir.display().to_string(),
            "{name}"
        );
    }
    // The supervisor was told the directory: its command line carries it.
    let sup = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .find(|c| c.contains("supervise kept") && c.contains(&sb.config.display().to_string()))
        .expect("the supervisor of kept");
    assert!(
        sup.contains(&format!("--sysv-dir {}", dir.display())),
        "{sup}"
    );
    svc(&sb, &["stop", "plain", "kept"]).ok();
}

#[test]
fn lsb_script_install_writes_no_shim_for_a_sysv_script() {
    let sb = Sandbox::new();
    lsb_script(&sb, "alpha", &[LEVELS], "");
    sb.service("web", &sb.sleeper("web"));
    let out = sb.work.join("shims");
    std::fs::create_dir(&out).unwrap();
    svc(&sb, &["lsb-script", "--install", out.to_str().unwrap()]).ok();
    assert!(out.join("web").is_file());
    assert!(!out.join("alpha").exists());
}

#[test]
fn as_root_a_script_others_may_write_is_not_run() {
    if skip_unless_root("as_root_a_script_others_may_write_is_not_run") {
        return;
    }
    let sb = Sandbox::new();
    let p = lsb_script(&sb, "loose", &[LEVELS], "");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o757)).unwrap();
    svc(&sb, &["start", "loose"])
        .code(6)
        .stderr_has("world-writable");
    assert!(order(&sb).is_empty());
}

#[test]
fn a_name_two_scripts_provide_is_a_warning_and_both_are_waited_for() {
    let sb = Sandbox::new();
    let a = lsb_script(
        &sb,
        "exim",
        &["Provides: exim mail-transport-agent", LEVELS],
        "",
    );
    lsb_script(
        &sb,
        "postfix",
        &["Provides: postfix mail-transport-agent", LEVELS],
        "",
    );
    lsb_script(
        &sb,
        "app",
        &["Required-Start: mail-transport-agent", LEVELS],
        "",
    );
    starts(&sb, &[(10, "app"), (10, "exim"), (10, "postfix")]);
    svc(&sb, &["check", "--no-host-checks"])
        .ok()
        .stderr_has(&format!(
            "{}:3: warning: `Provides`: mail-transport-agent is provided by exim, postfix",
            a.display()
        ));
    svc(&sb, &["switch", "2"]).ok();
    let o = order(&sb);
    before(&o, "start exim", "start app");
    before(&o, "start postfix", "start app");
}

#[test]
fn a_cycle_of_headers_is_named_by_check_and_left_out_by_switch() {
    let sb = Sandbox::new();
    let a = lsb_script(&sb, "a", &[LEVELS, "Required-Start: b"], "");
    lsb_script(
        &sb,
        "b",
        &["Should-Start: $syslog", "X-Start-Before: a", LEVELS],
        "",
    );
    std::fs::write(sysv(&sb).join("insserv.conf"), "$syslog +a\n").unwrap();
    lsb_script(&sb, "c", &[LEVELS], "");
    starts(&sb, &[(10, "a"), (10, "b"), (10, "c")]);
    svc(&sb, &["check", "--no-host-checks"])
        .code(6)
        .stderr_has(&format!("{}:5: dependency cycle: a -> b -> a", a.display()));
    svc(&sb, &["switch", "2"])
        .code(1)
        .stderr_has("dependency cycle");
    assert_eq!(order(&sb), ["start c"]);
}
