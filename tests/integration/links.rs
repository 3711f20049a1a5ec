//! `svc enable`, `disable`, `list` and the runlevel part of `svc check` (docs/commands.md): S/K
//! entries as relative symlinks, numbers from the options, the definition or the dependencies, and
//! strict validation of every rcN.d.

use crate::util::*;
use std::path::{Path, PathBuf};

const TRUE: &str = "exec: /bin/true\n";

fn rc(sb: &Sandbox, level: &str) -> PathBuf {
    sb.config.join(format!("runlevels/rc{level}.d"))
}

/// The sorted file names of rcLEVEL.d.
fn entries(sb: &Sandbox, level: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(rc(sb, level))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every directory's entries, `rcN.d/NAME`, in level order.
fn all_entries(sb: &Sandbox) -> Vec<String> {
    ["0", "1", "2", "3", "4", "5", "6", "S"]
        .iter()
        .flat_map(|l| {
            entries(sb, l)
                .into_iter()
                .map(move |e| format!("rc{l}.d/{e}"))
        })
        .collect()
}

/// The expected set for `name` started as `S<start>` in `on` and killed as `K<stop>` in the
/// other levels 0-6 — only in 0 and 6 for a service started in S (rcS.d services run for the
/// whole uptime).
fn expected(name: &str, on: &str, start: u8, stop: u8) -> Vec<String> {
    let kill = if on.contains('S') { "06" } else { "0123456" };
    ["0", "1", "2", "3", "4", "5", "6", "S"]
        .iter()
        .filter_map(|l| {
            if on.contains(l) {
                Some(format!("rc{l}.d/S{start:02}{name}"))
            } else if kill.contains(l) {
                Some(format!("rc{l}.d/K{stop:02}{name}"))
            } else {
                None
            }
        })
        .collect()
}

/// Asserts the entry is a symlink to `../../init.d/NAME.yaml` that resolves to the definition.
#[track_caller]
fn assert_link(sb: &Sandbox, level: &str, entry: &str, name: &str) {
    let p = rc(sb, level).join(entry);
    let meta = std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        meta.file_type().is_symlink(),
        "{} is not a symlink",
        p.display()
    );
    assert_eq!(
        std::fs::read_link(&p).unwrap(),
        Path::new(&format!("../../init.d/{name}.yaml")),
        "{}",
        p.display()
    );
    assert_eq!(
        std::fs::canonicalize(&p).unwrap(),
        std::fs::canonicalize(sb.config.join(format!("init.d/{name}.yaml"))).unwrap()
    );
}

#[test]
fn enable_uses_the_definitions_levels_and_numbers() {
    let sb = Sandbox::new();
    sb.service(
        "web",
        "exec: /bin/true\nrunlevels: [3, 5]\nstart_priority: 15\nstop_priority: 85\n",
    );
    let r = sb.svc(["enable", "web"]);
    r.ok();
    assert_eq!(r.stdout, "web enabled: S15 in 3 5, K85 in 0 1 2 4 6\n");
    assert_eq!(r.stderr, "");
    assert_eq!(all_entries(&sb), expected("web", "35", 15, 85));
    assert_link(&sb, "3", "S15web", "web");
    assert_link(&sb, "0", "K85web", "web");
}

#[test]
fn enable_without_any_numbers_uses_2345_and_20_80() {
    let sb = Sandbox::new();
    sb.service("plain", TRUE);
    sb.svc(["enable", "plain"])
        .ok()
        .stdout_has("plain enabled: S20 in 2 3 4 5, K80 in 0 1 6");
    assert_eq!(all_entries(&sb), expected("plain", "2345", 20, 80));
    for l in ["2", "3", "4", "5"] {
        assert_link(&sb, l, "S20plain", "plain");
    }
    for l in ["0", "1", "6"] {
        assert_link(&sb, l, "K80plain", "plain");
    }
}

/// Issue 10 item 2: a service enabled in S runs for the whole uptime, as sysv-rc and insserv
/// treat rcS.d: K entries only in 0 and 6 (as `svc lsb-script` writes `Default-Stop: 0 6`), so
/// `svc boot 3` starts it in rcS.d and does not stop it again on entering 3.
#[test]
fn an_rcs_service_gets_k_entries_only_in_0_and_6_and_survives_boot() {
    let sb = Sandbox::new();
    let def = sb.sleeper("early");
    sb.service("early", &format!("{def}runlevels: [S]\n"));
    sb.service(
        "both",
        &format!("{}runlevels: [S, 2]\n", sb.sleeper("both")),
    );
    sb.svc(["enable", "early"])
        .ok()
        .stdout_has("early enabled: S20 in S, K80 in 0 6");
    sb.svc(["enable", "both"])
        .ok()
        .stdout_has("both enabled: S20 in 2 S, K80 in 0 6");
    sb.svc(["enable", "early", "--levels", "S3"])
        .ok()
        .stdout_has("early enabled: S20 in 3 S, K80 in 0 6");
    sb.svc(["enable", "early"]).ok();
    assert_eq!(
        all_entries(&sb),
        [
            "rc0.d/K80both",
            "rc0.d/K80early",
            "rc2.d/S20both",
            "rc6.d/K80both",
            "rc6.d/K80early",
            "rcS.d/S20both",
            "rcS.d/S20early"
        ]
    );
    // The shim's header says the same.
    sb.svc(["lsb-script", "early"])
        .ok()
        .stdout_has("# Default-Start:     S\n")
        .stdout_has("# Default-Stop:      0 6\n");
    let r = sb.svc(["boot", "3"]);
    r.ok().stdout_has("Runlevel S: started 2");
    r.stdout_has("Runlevel 3: started 0, stopped 0");
    sb.svc(["status", "early"])
        .ok()
        .stdout_has("early is running");
    sb.svc(["status", "both"])
        .ok()
        .stdout_has("both is running");
    sb.svc(["switch", "0"]).ok().stdout_has("stopped 2");
}

#[test]
fn options_beat_the_definition() {
    let sb = Sandbox::new();
    sb.service(
        "web",
        "exec: /bin/true\nrunlevels: [3]\nstart_priority: 15\nstop_priority: 85\n",
    );
    sb.svc([
        "enable", "web", "--levels", "2S", "--start", "5", "--stop", "95",
    ])
    .ok()
    .stdout_has("web enabled: S05 in 2 S, K95 in 0 6");
    assert_eq!(all_entries(&sb), expected("web", "2S", 5, 95));
    assert_link(&sb, "S", "S05web", "web");
    // --start alone: the stop number is the definition's.
    sb.svc(["enable", "web", "--start", "7"]).ok();
    assert_eq!(all_entries(&sb), expected("web", "3", 7, 85));
    // Neither in the definition: 100 - start.
    sb.service("bare", TRUE);
    sb.svc(["enable", "bare", "--start", "0"]).ok();
    assert!(entries(&sb, "2").contains(&"S00bare".to_string()));
    assert!(entries(&sb, "0").contains(&"K99bare".to_string()));
}

/// The number of `name`'s entry in rcLEVEL.d (S or K).
#[track_caller]
fn number(sb: &Sandbox, level: &str, kind: char, name: &str) -> u8 {
    let found: Vec<u8> = entries(sb, level)
        .iter()
        .filter(|e| e.starts_with(kind) && &e[3..] == name)
        .map(|e| e[1..3].parse().unwrap())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{kind} entries of {name} in rc{level}.d: {found:?}"
    );
    found[0]
}

#[test]
fn computed_numbers_put_dependencies_first_when_starting_and_last_when_stopping() {
    let sb = Sandbox::new();
    sb.service("base", TRUE);
    sb.service("db", "exec: /bin/true\nrequires: [base]\n");
    sb.service("cache", "exec: /bin/true\nstart_priority: 50\n");
    sb.service(
        "web",
        "exec: /bin/true\nrequires: [db]\nwants: [cache, absent]\n",
    );
    // Dependants first: their dependencies are not enabled yet, their numbers are still respected.
    sb.svc(["enable", "web"])
        .ok()
        .stdout_has("web enabled: S51 in 2 3 4 5, K49 in 0 1 6");
    sb.svc(["enable", "db"])
        .ok()
        .stdout_has("db enabled: S21 in 2 3 4 5, K79 in 0 1 6");
    sb.svc(["enable", "base"])
        .ok()
        .stdout_has("base enabled: S20 in 2 3 4 5, K80 in 0 1 6");
    sb.svc(["enable", "cache"]).ok();
    for (dep, dependant) in [("base", "db"), ("db", "web"), ("cache", "web")] {
        for l in ["2", "3", "4", "5"] {
            assert!(number(&sb, l, 'S', dep) < number(&sb, l, 'S', dependant));
        }
        for l in ["0", "1", "6"] {
            assert!(number(&sb, l, 'K', dep) > number(&sb, l, 'K', dependant));
        }
    }
    // An enabled dependency counts with the number it really has.
    sb.svc(["enable", "base", "--start", "60"]).ok();
    sb.svc(["enable", "db"])
        .ok()
        .stdout_has("db enabled: S61 in 2 3 4 5, K39 in 0 1 6");
    // Nothing is left after 99.
    sb.svc(["enable", "base", "--start", "99"]).ok();
    let before = all_entries(&sb);
    let r = sb.svc(["enable", "db"]);
    r.code(1)
        .stderr_has("db: cannot start after base, which starts at 99; give --start");
    assert_eq!(all_entries(&sb), before, "a failed enable changes nothing");
}

#[test]
fn enabling_twice_is_harmless_and_touches_only_its_own_entries() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    sb.service("xy", TRUE);
    std::fs::write(rc(&sb, "2").join("S20xy"), "").unwrap();
    std::fs::write(rc(&sb, "2").join("README"), "keep me\n").unwrap();
    std::os::unix::fs::symlink("../../init.d/xy.yaml", rc(&sb, "0").join("K10xy")).unwrap();
    sb.svc(["enable", "x"]).ok().stdout_has("x enabled:");
    let first = all_entries(&sb);
    let r = sb.svc(["enable", "x"]);
    r.ok();
    assert_eq!(
        r.stdout,
        "x already enabled: S20 in 2 3 4 5, K80 in 0 1 6\n"
    );
    assert_eq!(all_entries(&sb), first);
    assert_eq!(entries(&sb, "2"), ["README", "S20x", "S20xy"]);
    assert_eq!(entries(&sb, "0"), ["K10xy", "K80x"]);
    assert_eq!(
        std::fs::read_to_string(rc(&sb, "2").join("README")).unwrap(),
        "keep me\n"
    );
    sb.svc(["check"]).ok();
}

#[test]
fn re_enabling_with_other_numbers_moves_the_links() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    sb.svc(["enable", "x"]).ok();
    sb.svc([
        "enable", "x", "--levels", "3", "--start", "40", "--stop", "60",
    ])
    .ok()
    .stdout_has("x enabled: S40 in 3, K60 in 0 1 2 4 5 6");
    assert_eq!(all_entries(&sb), expected("x", "3", 40, 60));
    // A wrong entry with the right name (a plain file) is replaced by the link.
    std::fs::remove_file(rc(&sb, "3").join("S40x")).unwrap();
    std::fs::write(rc(&sb, "3").join("S40x"), "").unwrap();
    sb.svc([
        "enable", "x", "--levels", "3", "--start", "40", "--stop", "60",
    ])
    .ok()
    .stdout_has("x enabled:");
    assert_link(&sb, "3", "S40x", "x");
}

#[test]
fn enable_creates_missing_runlevel_directories() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    std::fs::remove_dir_all(sb.config.join("runlevels")).unwrap();
    sb.svc(["enable", "x", "--levels", "S"]).ok();
    assert_eq!(all_entries(&sb), expected("x", "S", 20, 80));
    assert_link(&sb, "S", "S20x", "x");
}

#[test]
fn disable_removes_every_entry_and_nothing_else() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    sb.service("xy", TRUE);
    sb.svc(["enable", "xy"]).ok();
    let others = all_entries(&sb);
    sb.svc(["enable", "x", "--levels", "2S"]).ok();
    // A stray old entry with another number goes too.
    std::os::unix::fs::symlink("../../init.d/x.yaml", rc(&sb, "4").join("S90x")).unwrap();
    let r = sb.svc(["disable", "x"]);
    r.ok();
    assert_eq!(
        r.stdout,
        "x disabled: removed rc0.d/K80x rc2.d/S20x rc4.d/S90x rc6.d/K80x rcS.d/S20x\n"
    );
    assert_eq!(all_entries(&sb), others);
    let r = sb.svc(["disable", "x"]);
    r.ok();
    assert_eq!(r.stdout, "x was not enabled\n");
    // Links of a service whose definition is gone can still be removed.
    sb.svc(["enable", "x"]).ok();
    std::fs::remove_file(sb.config.join("init.d/x.yaml")).unwrap();
    sb.svc(["disable", "x"]).ok().stdout_has("x disabled:");
    assert_eq!(all_entries(&sb), others);
    sb.svc(["disable", "x"])
        .code(5)
        .stderr_has("svc: no such service x");
}

#[test]
fn list_prints_a_chkconfig_table() {
    let sb = Sandbox::new();
    sb.service("a", TRUE);
    sb.service("bb", TRUE);
    sb.service("c", TRUE);
    sb.svc(["enable", "a"]).ok();
    sb.svc(["enable", "bb", "--levels", "S2"]).ok();
    let r = sb.svc(["list"]);
    r.ok();
    assert_eq!(
        r.stdout,
        "a  0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off\n\
         bb 0:off 1:off 2:on 3:off 4:off 5:off 6:off S:on\n\
         c  0:off 1:off 2:off 3:off 4:off 5:off 6:off S:off\n"
    );
    assert_eq!(r.stderr, "");
    let r = sb.svc(["list", "c", "a"]);
    r.ok();
    assert_eq!(
        r.stdout,
        "c 0:off 1:off 2:off 3:off 4:off 5:off 6:off S:off\n\
         a 0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off\n"
    );
    let r = sb.svc(["list", "a", "nope"]);
    r.code(5).stderr_has("svc: no such service nope");
    assert_eq!(r.stdout, "a 0:off 1:off 2:on 3:on 4:on 5:on 6:off S:off\n");
    // An invalid definition is reported and left out; the others are listed.
    sb.service("d", "exec: /bin/true\nbogus: 1\n");
    let r = sb.svc(["list"]);
    r.code(6).stderr_has("d.yaml");
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    assert!(!r.stdout.contains("d "), "{}", r.stdout);
}

#[test]
fn list_json() {
    let sb = Sandbox::new();
    sb.service("a", TRUE);
    sb.service("b", TRUE);
    sb.svc([
        "enable", "a", "--levels", "3S", "--start", "12", "--stop", "88",
    ])
    .ok();
    let r = sb.svc(["list", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(
        v,
        serde_json::json!([
            {
                "name": "a",
                "levels": {"0": "off", "1": "off", "2": "off", "3": "on", "4": "off",
                           "5": "off", "6": "off", "S": "on"},
                "start": {"3": 12, "S": 12},
                "stop": {"0": 88, "6": 88}
            },
            {
                "name": "b",
                "levels": {"0": "off", "1": "off", "2": "off", "3": "off", "4": "off",
                           "5": "off", "6": "off", "S": "off"},
                "start": {},
                "stop": {}
            }
        ])
    );
    // Printed even with --quiet.
    let r = sb.svc(["--quiet", "list", "--json", "b"]);
    r.ok();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()[0]["name"],
        "b"
    );
}

#[test]
fn bad_arguments_exit_2_and_change_nothing() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    for args in [
        &["enable", "x", "--levels", "7"][..],
        &["enable", "x", "--levels", ""],
        &["enable", "x", "--levels", "2,3"],
        &["enable", "x", "--start", "100"],
        &["enable", "x", "--stop", "100"],
        &["enable", "x", "--start", "300"],
        &["enable", "x", "--start", "-1"],
        &["enable", "../x"],
        &["enable", "nope", "--start", "100"],
        &["disable", "../x"],
        &["list", "a/b"],
        &["enable"],
    ] {
        let r = sb.svc(args);
        r.code(2).no_panic();
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(!r.stderr.is_empty(), "{args:?}: no message");
        assert!(
            all_entries(&sb).is_empty(),
            "{args:?}: {:?}",
            all_entries(&sb)
        );
    }
    sb.svc(["enable", "x", "--levels", "7"])
        .stderr_has("svc: --levels \"7\": '7' is not a runlevel (expected characters 0-6 and S)");
    sb.svc(["enable", "x", "--start", "100"])
        .stderr_has("svc: --start 100: expected a number from 0 to 99");
}

#[test]
fn unknown_or_invalid_services_are_refused() {
    let sb = Sandbox::new();
    let r = sb.svc(["enable", "nope"]);
    r.code(5).stderr_has("svc: no such service nope");
    sb.service("bad", "exec: /bin/true\nstart_priority: 100\n");
    let r = sb.svc(["enable", "bad"]);
    r.code(6).stderr_has("bad.yaml:2");
    // A dependency whose definition is broken cannot be ordered after: 6, nothing created.
    sb.service("dependant", "exec: /bin/true\nrequires: [bad]\n");
    let r = sb.svc(["enable", "dependant"]);
    r.code(6)
        .stderr_has("cannot compute a start number from dependency bad (give --start)");
    assert!(all_entries(&sb).is_empty(), "{:?}", all_entries(&sb));
    sb.svc(["enable", "dependant", "--start", "30"]).ok();
}

#[test]
fn check_reports_every_bad_runlevel_entry_by_file() {
    let sb = Sandbox::new();
    sb.service("x", TRUE);
    sb.service("foo", TRUE);
    sb.svc(["enable", "x"]).ok();
    sb.svc(["check"])
        .ok()
        .stdout_has("checked 2 definitions in ")
        .stdout_has("and 8 runlevel directories: no problems");
    let rc2 = rc(&sb, "2");
    // E1: a dangling link.
    std::os::unix::fs::symlink("../../init.d/gone.yaml", rc2.join("S20gone")).unwrap();
    // E2: badly formed entries.
    std::fs::write(rc2.join("S5foo"), "").unwrap();
    std::fs::write(rc(&sb, "3").join("K7foo"), "").unwrap();
    std::fs::create_dir(rc(&sb, "4").join("S30y")).unwrap();
    std::fs::write(rc2.join("S20 x"), "").unwrap();
    // Not entries: ignored.
    std::fs::write(rc2.join("README"), "").unwrap();
    std::fs::write(rc2.join("s20lower"), "").unwrap();
    // Started and stopped in the same level.
    std::os::unix::fs::symlink("../../init.d/x.yaml", rc2.join("K80x")).unwrap();
    let r = sb.svc(["check"]);
    r.code(6).no_panic();
    let line = |p: PathBuf, msg: &str| format!("{}: {msg}", p.display());
    for want in [
        line(
            rc2.join("S20gone"),
            &format!(
                "no definition for service gone ({} does not exist)",
                sb.config.join("init.d/gone.yaml").display()
            ),
        ),
        line(rc2.join("S5foo"), "badly formed entry"),
        line(rc(&sb, "3").join("K7foo"), "badly formed entry"),
        line(
            rc(&sb, "4").join("S30y"),
            "badly formed entry: a directory, expected a file or a symlink",
        ),
        line(rc2.join("S20 x"), "badly formed entry"),
        line(
            rc2.clone(),
            "x has both S and K entries here (S20x, K80x): it would be started and stopped",
        ),
    ] {
        r.stderr_has(&want);
    }
    assert!(!r.stderr.contains("README"), "{}", r.stderr);
    assert!(!r.stderr.contains("s20lower"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 6, "{}", r.stderr);
    r.stdout_has("and 8 runlevel directories: 6 problems");
}

/// Issue 10 item 12: `svc list` reads every runlevel directory a constant number of times,
/// not once per service (1,000 services took 6.6 s, 10,000 over 120 s).
#[test]
fn list_reads_each_runlevel_directory_once_whatever_the_number_of_services() {
    let sb = Sandbox::new();
    const N: usize = 40;
    for i in 0..N {
        let name = format!("s{i:02}");
        sb.service(&name, TRUE);
        for (level, entry) in [("3", format!("S20{name}")), ("0", format!("K80{name}"))] {
            std::os::unix::fs::symlink(
                format!("../../init.d/{name}.yaml"),
                rc(&sb, level).join(entry),
            )
            .unwrap();
        }
    }
    let test = "list_reads_each_runlevel_directory_once_whatever_the_number_of_services";
    let Some(strace) = strace(test) else {
        return;
    };
    let trace = sb.work.join("list.trace");
    let out = bounded_output(
        sb.wrapped(
            strace,
            &[
                "-f",
                "-qq",
                "-e",
                "trace=openat",
                "-o",
                trace.to_str().unwrap(),
            ],
        )
        .arg("list"),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let opened = opened(&trace);
    assert_eq!(stdout.lines().count(), N, "{stdout}");
    assert!(stdout.contains("s07 0:off 1:off 2:off 3:on"), "{stdout}");
    for level in ["0", "3", "S"] {
        let dir = rc(&sb, level).display().to_string();
        let n = opened.iter().filter(|p| **p == dir).count();
        assert!(
            n <= 2,
            "svc list of {N} services opened {dir} {n} times (want a constant, at most 2)"
        );
    }
}
