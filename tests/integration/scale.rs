//! What `status` of many services reads (issue 16): each /proc file read whole in one read, no
//! more `/proc/PID/stat` per service than the identity checks need, the memory figure from
//! `/proc/PID/statm`, and the uptime from the start time the identity check verified — each
//! still the figure /proc gives. And a switch whose priority number is wider than its threads
//! still runs its steps side by side.

use crate::util::*;

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Seconds since `pid` started, from /proc (what `ps -o etimes` shows).
fn age_s(pid: i32) -> f64 {
    let start: f64 = stat_field(pid, 22).unwrap().parse().unwrap();
    let up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    up - start / clock_ticks()
}

/// `uptime_s` of `status --json NAME`, with the service's age read just before and after.
fn uptime_between(sb: &Sandbox, name: &str, pid: i32) -> (f64, f64, f64) {
    let before = age_s(pid);
    let v = status_json(sb, name);
    let after = age_s(pid);
    assert_eq!(v["state"], "running", "{v}");
    assert_eq!(v["pid"].as_i64(), Some(pid as i64), "{v}");
    (before, v["uptime_s"].as_f64().expect("uptime_s"), after)
}

/// The uptime is the service's age, both when svc's identity record gave the start time (no
/// further read of /proc) and for a PID file written outside svc (read from /proc).
#[test]
fn uptime_is_the_age_of_the_process_with_and_without_a_record() {
    let sb = Sandbox::new();
    sb.service("rec", &sb.sleeper("rec"));
    let rec = start_sleeper(&sb, "rec");

    // A process svc did not launch, named by a PID file someone else wrote: it counts because
    // it runs the service's `exec` (docs/security.md).
    let sleep = std::fs::canonicalize("/bin/sleep").unwrap();
    sb.service("outside", &format!("exec: {}\n", sleep.display()));
    let mut child = std::process::Command::new(&sleep)
        .arg("1000")
        .current_dir(&sb.work) // the sandbox's guard kills what runs in it
        .spawn()
        .unwrap();
    let outside = child.id() as i32;
    std::fs::create_dir_all(&sb.state).unwrap();
    std::fs::write(sb.pidfile("outside"), format!("{outside}\n")).unwrap();

    // Old enough that a start time taken from the wrong place would show.
    wait_until(T, "both processes 2 s old", || {
        age_s(rec) >= 2.0 && age_s(outside) >= 2.0
    });
    for (name, pid) in [("rec", rec), ("outside", outside)] {
        let (before, up, after) = uptime_between(&sb, name, pid);
        assert!(
            up >= before.floor() - 1.0 && up <= after + 1.0,
            "{name}: uptime_s {up}, the process is {before:.2}..{after:.2} s old"
        );
    }
    assert!(
        std::fs::read_to_string(sb.state.join("rec.state")).is_ok(),
        "rec has svc's identity record"
    );
    assert!(
        !sb.state.join("outside.state").exists(),
        "outside has no identity record"
    );
    sb.svc(["stop", "rec"]).ok();
    let _ = child.kill();
    let _ = child.wait();
}

/// `rss_kib` (from `/proc/PID/statm`) is the `VmRSS` of `/proc/PID/status`.
#[test]
fn memory_figure_is_the_resident_memory_of_the_process() {
    let sb = Sandbox::new();
    sb.service("mem", &sb.sleeper("mem"));
    let pid = start_sleeper(&sb, "mem");
    let vmrss = || -> u64 {
        proc_status_field(pid, "VmRSS")
            .unwrap()
            .trim()
            .trim_end_matches(" kB")
            .parse()
            .unwrap()
    };
    // An idle shell's memory does not move; should it, between the two reads of VmRSS.
    wait_until(T, "rss_kib equal to VmRSS", || {
        let a = vmrss();
        let v = status_json(&sb, "mem");
        let b = vmrss();
        let ours = v["rss_kib"].as_u64().expect("rss_kib");
        a.min(b) <= ours && ours <= a.max(b)
    });
    sb.svc(["stop", "mem"]).ok();
}

/// `memory_bytes` of a service of two processes is the memory of both (the main process's
/// own figure, taken from the status just read, is not counted for the other one), unless the
/// cgroup's `memory.current` gives it.
#[test]
fn memory_of_a_service_counts_each_of_its_processes() {
    let sb = Sandbox::new();
    let script = sb.script("two.sh", "#!/bin/sh\nsleep 100000 &\nwait\n");
    sb.service("two", &format!("exec: {}\n", script.display()));
    sb.svc(["start", "two"]).ok();
    let main = sb.pid("two");
    let kib = |pid: i32| -> u64 {
        proc_status_field(pid, "VmRSS")
            .unwrap_or_default()
            .trim()
            .trim_end_matches(" kB")
            .parse()
            .unwrap_or(0)
    };
    wait_until(T, "the main process's child", || {
        group_members(main).len() == 2
    });
    let child = *group_members(main).iter().find(|p| **p != main).unwrap();
    let by_cgroup =
        service_cgroup_dir(&sb, "two").is_some_and(|d| d.join("memory.current").exists());
    wait_until(T, "memory_bytes the sum of both processes' VmRSS", || {
        let before = kib(main) + kib(child);
        let v = status_json(&sb, "two");
        let after = kib(main) + kib(child);
        assert_eq!(v["processes"], 2, "{v}");
        let bytes = v["memory_bytes"].as_u64().expect("memory_bytes");
        by_cgroup || (before.min(after) * 1024 <= bytes && bytes <= before.max(after) * 1024)
    });
    sb.svc(["stop", "two"]).ok();
}

/// Per service, `status` of all opens `/proc/PID/stat` at most twice (the probe's check and
/// the identity check) — never on pidfs, where the recorded pidfd inode proves the identity,
/// and then no other /proc file of the service either — never `/proc/PID/status` nor
/// `/proc/uptime`, and reads each /proc file in at most two reads (its text, then end of
/// file).
#[test]
fn status_of_all_reads_proc_once_or_twice_per_service() {
    let test = "status_of_all_reads_proc_once_or_twice_per_service";
    let sb = Sandbox::new();
    const N: usize = 4;
    let mut pids = Vec::new();
    for i in 0..N {
        let name = format!("p{i}");
        sb.service(&name, &sb.sleeper(&name));
        pids.push(start_sleeper(&sb, &name));
    }
    let Some(strace) = strace(test) else {
        return;
    };
    let trace = sb.work.join("status.trace");
    let trace_arg = trace.display().to_string();
    let mut cmd = sb.wrapped(
        strace,
        &["-qq", "-e", "trace=openat,read,close", "-o", &trace_arg],
    );
    cmd.arg("status");
    let out = bounded_output(cmd);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        table.lines().filter(|l| l.contains(" running ")).count(),
        N,
        "{table}"
    );

    // Follow each descriptor from its openat to its close: opens and reads per path.
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut fds: HashMap<String, String> = HashMap::new();
    let mut opens: HashMap<String, usize> = HashMap::new();
    let mut reads: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let ret = line.rsplit("= ").next().unwrap_or("").trim().to_string();
        if line.starts_with("openat(") {
            let path = line.split('"').nth(1).unwrap_or("").to_string();
            *opens.entry(path.clone()).or_default() += 1;
            fds.insert(ret, path);
        } else if let Some(rest) = line.strip_prefix("read(") {
            let fd = rest.split(',').next().unwrap_or("");
            if let Some(p) = fds.get(fd) {
                *reads.entry(p.clone()).or_default() += 1;
            }
        } else if let Some(rest) = line.strip_prefix("close(") {
            fds.remove(rest.split(')').next().unwrap_or(""));
        }
    }
    let pidfs = svc::process::handle::pidfd_inodes_identify();
    let want = if pidfs { 0..=0 } else { 1..=2 };
    for pid in &pids {
        let stat = format!("/proc/{pid}/stat");
        let n = opens.get(&stat).copied().unwrap_or(0);
        assert!(
            want.contains(&n),
            "{stat} opened {n} times (want {want:?}; pidfs: {pidfs})\n{text}"
        );
        let p = format!("/proc/{pid}/status");
        assert!(!opens.contains_key(&p), "{p} opened\n{text}");
    }
    // The files read per service (not the runtime's own /proc/self/maps, read in big chunks).
    let per_service = |p: &str| {
        p == "/proc/uptime"
            || pids
                .iter()
                .any(|pid| p.starts_with(&format!("/proc/{pid}/")))
    };
    // The text table shows no memory and takes the uptime from the clock: on pidfs, where
    // the pidfd inode proves each identity, no per-service file is opened at all.
    assert!(
        !opens.contains_key("/proc/uptime"),
        "/proc/uptime opened\n{text}"
    );
    if pidfs {
        let opened: Vec<&String> = opens.keys().filter(|p| per_service(p)).collect();
        assert!(opened.is_empty(), "{opened:?} opened\n{text}");
    } else {
        assert!(reads.keys().any(|p| per_service(p)), "{text}");
    }
    for (path, n) in &reads {
        if per_service(path) {
            let per_open = *n as f64 / opens[path] as f64;
            assert!(
                per_open <= 2.0,
                "{path}: {n} reads in {} opens (want at most 2 per open)\n{text}",
                opens[path]
            );
        }
    }
    sb.svc(["stop", "p0", "p1", "p2", "p3"]).ok();
}

/// `status` of all shows the same line for each service as the table of that service alone
/// would in `status --json` terms: the JSON rows of all and of each named are the same.
#[test]
fn status_of_all_and_of_each_agree() {
    let sb = Sandbox::new();
    sb.service("a", &sb.sleeper("a"));
    sb.service("b", &sb.sleeper("b"));
    start_sleeper(&sb, "a");
    let strip = |mut v: Value| {
        // Uptime and memory move between the two calls.
        for k in ["uptime_s", "rss_kib", "memory_bytes", "since"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let all: Vec<Value> = serde_json::from_str(&sb.svc(["status", "--json"]).stdout).unwrap();
    for name in ["a", "b"] {
        let one = strip(status_json(&sb, name));
        let row = all.iter().find(|v| v["name"] == name).unwrap().clone();
        assert_eq!(strip(row), one, "{name}");
    }
    sb.svc(["stop", "a"]).ok();
}

/// More steps ready at one priority number than threads to run them, each waiting for one of
/// the same number: when it finishes, the threads that sleep are woken to share them (issue 16:
/// a finished step wakes only as many waiting threads as have a step to take). Each of the six
/// fan-out starts waits (up to 5 s) for another to be under way; one that never saw another
/// says so in work/alone — which every one of them would, were the six run one after another
/// by the thread that finished the first step. Every service starts, and every one stops.
#[test]
fn steps_readied_together_run_side_by_side_and_all_finish() {
    let sb = Sandbox::new();
    let w = sb.work.display().to_string();
    for level in ["3", "0"] {
        std::fs::create_dir_all(sb.config.join(format!("runlevels/rc{level}.d"))).unwrap();
    }
    let names: Vec<String> = (0..7).map(|i| format!("w{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let (before, requires) = if i == 0 {
            (String::new(), String::new())
        } else {
            (
                format!(
                    "touch {w}/{name}.busy\ni=0\nwhile [ $(ls {w}/*.busy | wc -l) -lt 2 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n[ $(ls {w}/*.busy | wc -l) -ge 2 ] || echo {name} >> {w}/alone\n"
                ),
                "requires: [w0]\n".to_string(),
            )
        };
        let script = sb.script(
            &format!("{name}.sh"),
            &format!(
                "#!/bin/sh\ntrap 'exit 0' TERM\n{before}touch {w}/{name}.ready\nwhile :; do sleep 1 & wait $!; done\n"
            ),
        );
        sb.service(
            name,
            &format!(
                "exec: {}\nready: {{ file: {w}/{name}.ready }}\nready_timeout: 20\n{requires}",
                script.display()
            ),
        );
        for (level, entry) in [("3", "S10"), ("0", "K90")] {
            std::os::unix::fs::symlink(
                format!("../../init.d/{name}.yaml"),
                sb.config
                    .join(format!("runlevels/rc{level}.d/{entry}{name}")),
            )
            .unwrap();
        }
    }
    let states = |sb: &Sandbox| -> HashMap<String, String> {
        let all: Vec<Value> = serde_json::from_str(&sb.svc(["status", "--json"]).stdout).unwrap();
        all.iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_string(),
                    v["state"].to_string(),
                )
            })
            .collect()
    };
    sb.svc(["switch", "3", "--jobs", "3"]).ok();
    let alone = std::fs::read_to_string(sb.work.join("alone")).unwrap_or_default();
    assert_eq!(alone, "", "started with no other start under way");
    let up = states(&sb);
    for name in &names {
        assert_eq!(up[name], "\"running\"", "{name} after switch 3: {up:?}");
    }
    sb.svc(["switch", "0", "--jobs", "3"]).ok();
    let down = states(&sb);
    for name in &names {
        assert_eq!(down[name], "\"stopped\"", "{name} after switch 0: {down:?}");
    }
}
