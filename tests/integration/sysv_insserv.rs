//! Differential test against Debian's own tools (issue 14, SPEC §9): for the same private
//! tree of LSB scripts, the order svc computes agrees with insserv(8)'s — the `rcN.d` numbers
//! and the `.depend.boot`/`.depend.start`/`.depend.stop` makefiles that startpar(8) `-M` runs.
//!
//! The trees come from `bench/sysv_tree.py` (the same generator as the `sysv200` benchmark):
//! boot scripts in S providing `$local_fs $remote_fs $network $time` through a private
//! insserv.conf, providers of `$syslog $named $portmap` (with `Provides` aliases), and generated
//! scripts with `Required-Start`/`-Stop` on facilities, names and aliases, `Should-Start` on
//! present and absent scripts, `X-Start-Before`, `Default-Start` 2345/235/345, `Default-Stop`
//! 016 or empty, and one `$all` script. One fixed tree (seed 14) and randomized ones with fixed
//! seeds, so a failure reproduces (`python3 bench/sysv_tree.py --seed N --count N DIR`).
//! insserv is the private copy `.ci/run` unpacks into target/insserv; it runs on the private
//! tree (`-p DIR/init.d -c DIR/insserv.conf -o DIR/overrides -i DIR/init.d`, every script
//! named), writing `DIR/rcN.d` links and the makefiles there, never under /etc.
//!
//! What "agrees" means, checked for every level S, 2, 3, 5 (a switch from nothing running)
//! and for the stop phase of 0:
//! - the same services: svc's plan starts exactly the S entries insserv wrote;
//! - no dependency violated: for every makefile edge `target: prerequisite` (both in the
//!   phase), svc's plan puts the prerequisite first *and* the switch must wait for it — its
//!   rank is lower (svc finishes a rank before the next), or it is in the target's `after`
//!   list, directly or through other steps; and the real switch's recorded order keeps it;
//! - no edge invented: every `after` edge of svc's plan is an edge of the makefile, directly or
//!   transitively (insserv writes only some transitive edges: `$all` lists the leaves);
//! - with every entry renumbered S20/K20 (update-rc.d's legacy numbers), only the headers order
//!   the switch: every makefile edge is an `after` chain of svc's plan, and no more;
//! - the same levels: svc's numbers are insserv's (they are read from its links) and svc's
//!   ranks equal them, so both partition the scripts into the same numbered groups; and
//!   `svc enable` of every script of an unlinked copy of the tree, in the generator's order
//!   (dependencies first), writes exactly the links insserv wrote, S and K numbers alike.
//!   Documented difference: enabling never renumbers the others, so a `$all` script enabled
//!   *before* the rest gets a lower number than insserv, which renumbers everything.

use crate::lsb::insserv;
use crate::util::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes the generated tree (`bench/sysv_tree.py`) into `dir`, scripts recording their
/// actions in `log` and keeping `state/NAME.on`; returns the names in generation order.
fn tree(dir: &Path, seed: u32, count: u32, log: &Path, state: &Path) -> Vec<String> {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/sysv_tree.py");
    let out = bounded_output(
        Command::new("python3")
            .arg(gen)
            .args(["--seed", &seed.to_string(), "--count", &count.to_string()])
            .arg("--log")
            .arg(log)
            .arg("--state")
            .arg(state)
            .arg(dir)
            .stdin(Stdio::null()),
    );
    assert!(
        out.status.success(),
        "sysv_tree.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// insserv on the private tree `dir`, every script in `names` enabled.
fn run_insserv(insserv: &Path, dir: &Path, names: &[String]) {
    let init_d = dir.join("init.d");
    let out = bounded_output(
        Command::new(insserv)
            .arg("-p")
            .arg(&init_d)
            .arg("-c")
            .arg(dir.join("insserv.conf"))
            .arg("-o")
            .arg(dir.join("overrides"))
            .arg("-i")
            .arg(&init_d)
            .args(names)
            .current_dir(&init_d)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "insserv failed: {stderr}");
    assert!(stderr.trim().is_empty(), "insserv complained: {stderr}");
}

type Edges = BTreeMap<String, BTreeSet<String>>;

/// The `target: prerequisites` lines of an insserv makefile.
fn makefile(path: &Path) -> Edges {
    let text = std::fs::read_to_string(path).unwrap();
    let mut edges = Edges::new();
    for line in text.lines() {
        if line.contains('=') {
            continue;
        }
        if let Some((t, pre)) = line.split_once(':') {
            edges
                .entry(t.trim().to_string())
                .or_default()
                .extend(pre.split_whitespace().map(String::from));
        }
    }
    edges
}

/// Whether `to` is reachable from `from` along `edges`.
fn reaches(edges: &Edges, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(n) = todo.pop() {
        for m in edges.get(&n).into_iter().flatten() {
            if m == to {
                return true;
            }
            if seen.insert(m.clone()) {
                todo.push(m.clone());
            }
        }
    }
    false
}

/// The `S` (or `K`) entries of `DIR/rcL.d`: name -> number.
fn entries(dir: &Path, level: &str, kind: char) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join(format!("rc{level}.d"))).unwrap() {
        let f = e.unwrap().file_name().into_string().unwrap();
        if f.starts_with(kind) && f.len() > 3 {
            out.insert(f[3..].to_string(), f[1..3].parse().unwrap());
        }
    }
    out
}

/// The file names of `DIR/rcL.d`, sorted.
fn listing(dir: &Path, level: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(format!("rc{level}.d")))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// One phase of a plan: (name, number, rank, after).
struct Step {
    name: String,
    number: u32,
    rank: u32,
    after: BTreeSet<String>,
}

fn steps(plan: &serde_json::Value, phase: &str) -> Vec<Step> {
    plan[phase]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Step {
            name: s["name"].as_str().unwrap().to_string(),
            number: s["number"].as_u64().unwrap() as u32,
            rank: s["rank"].as_u64().unwrap() as u32,
            after: s["after"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

/// Compares one phase of svc's plan with insserv's numbers `numbers` and makefile `make`
/// (see the module docs); `what` names the case in failures.
fn agree(what: &str, steps: &[Step], numbers: &BTreeMap<String, u32>, make: &Edges) {
    let names: BTreeSet<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    let want: BTreeSet<&str> = numbers.keys().map(String::as_str).collect();
    assert_eq!(names, want, "{what}: svc's steps against insserv's entries");
    let pos: BTreeMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let rank: BTreeMap<&str, u32> = steps.iter().map(|s| (s.name.as_str(), s.rank)).collect();
    let after: Edges = steps
        .iter()
        .map(|s| (s.name.clone(), s.after.clone()))
        .collect();
    for s in steps {
        assert_eq!(
            (s.number, s.rank),
            (numbers[&s.name], numbers[&s.name]),
            "{what}: {}: svc's number and rank against insserv's number",
            s.name
        );
    }
    let mut checked = 0;
    for (t, pre) in make {
        for p in pre {
            let (Some(&pt), Some(&pp)) = (pos.get(t.as_str()), pos.get(p.as_str())) else {
                continue;
            };
            checked += 1;
            assert!(
                pp < pt,
                "{what}: insserv runs {t} after {p}; svc's plan first"
            );
            assert!(
                rank[p.as_str()] < rank[t.as_str()] || reaches(&after, t, p),
                "{what}: insserv runs {t} after {p}; svc's switch does not wait for it"
            );
        }
    }
    assert!(checked > 0, "{what}: no makefile edge to check");
    for s in steps {
        for a in &s.after {
            assert!(
                reaches(make, &s.name, a),
                "{what}: svc runs {} after {a}, which insserv's makefile does not say",
                s.name
            );
        }
    }
}

/// The lines the scripts recorded, and clears the file.
fn take_log(log: &Path) -> Vec<String> {
    let lines = file_lines(log);
    let _ = std::fs::remove_file(log);
    lines
}

/// Every makefile edge between two recorded `ACTION` lines is kept in the recorded order.
fn recorded_in_order(what: &str, lines: &[String], action: &str, make: &Edges) {
    let pos: BTreeMap<String, usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((l.strip_prefix(&format!("{action} "))?.to_string(), i)))
        .collect();
    for (t, pre) in make {
        for p in pre {
            if let (Some(a), Some(b)) = (pos.get(p), pos.get(t)) {
                assert!(a < b, "{what}: {p} recorded after {t}: {lines:?}");
            }
        }
    }
}

/// One tree: insserv writes links and makefiles; svc's plans for S, 2, 3, 5 and the stops of
/// 0 agree with them; the real switches keep the makefiles' order.
fn differential(seed: u32, count: u32) {
    let Some(insserv) = insserv() else {
        skip(
            "sysv_insserv",
            "insserv is not installed (.ci/run unpacks it)",
        );
        return;
    };
    let sb = Sandbox::new();
    let dir = sb.path().join("sysv");
    let log = sb.work.join("log");
    let names = tree(&dir, seed, count, &log, &sb.work);
    run_insserv(&insserv, &dir, &names);
    let init_d = dir.join("init.d");
    let boot = makefile(&init_d.join(".depend.boot"));
    let start = makefile(&init_d.join(".depend.start"));
    let stop = makefile(&init_d.join(".depend.stop"));
    let d = dir.to_str().unwrap();
    let plan = |level: &str| -> serde_json::Value {
        let r = sb.svc(["--sysv-dir", d, "switch", level, "--dry-run", "--json"]);
        r.ok();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        assert_eq!(v["problems"], serde_json::json!([]), "{}", r.stdout);
        assert_eq!(v["left_out"], serde_json::json!([]), "{}", r.stdout);
        v
    };
    for level in ["S", "2", "3", "5"] {
        let what = format!("seed {seed}, level {level}");
        let make = if level == "S" { &boot } else { &start };
        agree(
            &what,
            &steps(&plan(level), "start"),
            &entries(&dir, level, 'S'),
            make,
        );
    }
    // For real: boot (S), then 2; the scripts record what ran.
    sb.svc(["--sysv-dir", d, "switch", "S"]).ok();
    recorded_in_order(&format!("seed {seed}, S"), &take_log(&log), "start", &boot);
    sb.svc(["--sysv-dir", d, "switch", "2"]).ok();
    let lines = take_log(&log);
    assert_eq!(lines.len(), entries(&dir, "2", 'S').len(), "{lines:?}");
    recorded_in_order(&format!("seed {seed}, 2"), &lines, "start", &start);
    // The stops of 0: what runs in 2 and has a K entry in rc0.d, in .depend.stop's order
    // (`target: prerequisite`: the prerequisite stops first).
    let what = format!("seed {seed}, level 0 stops");
    let k0 = entries(&dir, "0", 'K');
    let running: BTreeMap<String, u32> = k0
        .iter()
        .filter(|(n, _)| sb.work.join(format!("{n}.on")).exists())
        .map(|(n, k)| (n.clone(), *k))
        .collect();
    agree(&what, &steps(&plan("0"), "stop"), &running, &stop);
    sb.svc(["--sysv-dir", d, "switch", "0"]).ok();
    let lines = take_log(&log);
    assert_eq!(lines.len(), running.len(), "{lines:?}");
    recorded_in_order(&what, &lines, "stop", &stop);
}

/// The same tree with every entry renumbered to S20/K20, as update-rc.d's legacy `defaults`
/// gave them: only the headers order the switch now, and every makefile edge must be one of
/// svc's `after` chains (and no more).
fn flat(seed: u32, count: u32) {
    let Some(insserv) = insserv() else {
        skip(
            "sysv_insserv",
            "insserv is not installed (.ci/run unpacks it)",
        );
        return;
    };
    let sb = Sandbox::new();
    let dir = sb.path().join("sysv");
    let log = sb.work.join("log");
    let names = tree(&dir, seed, count, &log, &sb.work);
    run_insserv(&insserv, &dir, &names);
    let start = makefile(&dir.join("init.d/.depend.start"));
    for level in ["0", "1", "2", "3", "4", "5", "6"] {
        let rc = dir.join(format!("rc{level}.d"));
        for f in listing(&dir, level) {
            let flat = format!("{}20{}", &f[..1], &f[3..]);
            std::fs::rename(rc.join(&f), rc.join(flat)).unwrap();
        }
    }
    let d = dir.to_str().unwrap();
    for level in ["2", "3", "5"] {
        let r = sb.svc(["--sysv-dir", d, "switch", level, "--dry-run", "--json"]);
        r.ok();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        let what = format!("seed {seed}, level {level}, all S20");
        agree(
            &what,
            &steps(&v, "start"),
            &entries(&dir, level, 'S'),
            &start,
        );
    }
    sb.svc(["--sysv-dir", d, "switch", "2"]).ok();
    let lines = take_log(&log);
    assert_eq!(lines.len(), entries(&dir, "2", 'S').len(), "{lines:?}");
    recorded_in_order(&format!("seed {seed}, 2, all S20"), &lines, "start", &start);
}

#[test]
fn header_order_agrees_with_insserv_without_numbers() {
    for seed in [14, 8] {
        flat(seed, 40);
    }
}

#[test]
fn plans_agree_with_insserv_fixed_tree() {
    differential(14, 30);
}

#[test]
fn plans_agree_with_insserv_random_trees() {
    for seed in [1, 2, 3, 4] {
        differential(seed, 40);
    }
}

/// `svc enable` of every script, dependencies first, on an unlinked copy of the tree writes
/// exactly the links insserv writes (levels, S and K numbers).
#[test]
fn enable_numbers_agree_with_insserv() {
    let Some(insserv) = insserv() else {
        skip(
            "enable_numbers_agree_with_insserv",
            "insserv is not installed (.ci/run unpacks it)",
        );
        return;
    };
    for seed in [14, 5, 6, 7] {
        let sb = Sandbox::new();
        let theirs = sb.path().join("theirs");
        let ours = sb.path().join("ours");
        let log = sb.work.join("log");
        let names = tree(&theirs, seed, 40, &log, &sb.work);
        tree(&ours, seed, 40, &log, &sb.work);
        run_insserv(&insserv, &theirs, &names);
        let d = ours.to_str().unwrap();
        for n in &names {
            sb.svc(["--sysv-dir", d, "enable", n]).ok();
        }
        for level in ["0", "1", "2", "3", "4", "5", "6", "S"] {
            assert_eq!(
                listing(&ours, level),
                listing(&theirs, level),
                "seed {seed}: rc{level}.d of svc enable against insserv"
            );
        }
    }
}
