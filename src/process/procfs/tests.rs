//! Unit tests of the /proc parser and reader, on fixture trees and on the real /proc.

use super::*;

const SAMPLE: &str = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

#[test]
fn parses_after_last_paren() {
    let s = parse_stat(SAMPLE).unwrap();
    assert_eq!(s.pid, 4242);
    assert_eq!(s.comm, "a) b (c");
    assert_eq!(s.state, 'S');
    assert_eq!(s.ppid, 1);
    assert_eq!((s.pgrp, s.session), (4242, 4242));
    assert_eq!(s.start_ticks, 123456);
    assert!(!s.is_zombie());
}

#[test]
fn rejects_truncated_stat() {
    assert!(parse_stat("12 (x) S 1 2").is_err());
    assert!(parse_stat("garbage").is_err());
    assert!(parse_stat("").is_err());
}

#[test]
fn zombie_state() {
    let z = SAMPLE.replacen(") S ", ") Z ", 1);
    assert!(parse_stat(&z).unwrap().is_zombie());
}

#[test]
fn fixture_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("4242")).unwrap();
    std::fs::write(dir.path().join("4242/stat"), SAMPLE).unwrap();
    std::fs::create_dir_all(dir.path().join("sys/kernel/random")).unwrap();
    std::fs::write(dir.path().join("sys/kernel/random/boot_id"), "abc-def\n").unwrap();
    std::fs::write(dir.path().join("sys/kernel/pid_max"), "32768\n").unwrap();
    std::fs::write(dir.path().join("uptime"), "123.45 67.8\n").unwrap();
    let p = Procfs::at(dir.path());
    assert_eq!(p.stat(4242).unwrap().comm, "a) b (c");
    assert!(p.stat(4243).is_none());
    assert_eq!(p.boot_id().unwrap(), "abc-def");
    assert_eq!(p.pid_max(), 32768);
    assert_eq!(p.uptime(), Some(123.45));
    assert_eq!(p.pids(), vec![4242]);
    assert_eq!(p.group_members(4242), vec![4242]);
}

/// Regression: a process may name itself with any bytes (prctl PR_SET_NAME) and the
/// kernel writes them raw into /proc/PID/stat; such a process must not look gone (a
/// daemon svc could not see, reported dead and left running at stop).
#[test]
fn non_utf8_comm_is_still_a_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("4242")).unwrap();
    let raw: Vec<u8> = SAMPLE
        .replacen("(a) b (c)", "(d~mon ~)", 1)
        .bytes()
        .map(|b| if b == b'~' { 0xe6 } else { b })
        .collect();
    std::fs::write(dir.path().join("4242/stat"), raw).unwrap();
    let p = Procfs::at(dir.path());
    let s = p
        .stat(4242)
        .expect("a process with a non-UTF-8 name is still there");
    assert_eq!((s.pid, s.pgrp, s.start_ticks), (4242, 4242, 123456));
    assert_eq!(s.comm, "d\u{fffd}mon \u{fffd}");
}

/// The memory figure comes from `/proc/PID/statm` (resident pages, in KiB); a zombie's
/// or a kernel thread's zeros are no figure.
#[test]
fn resident_memory_from_statm() {
    let dir = tempfile::tempdir().unwrap();
    for (pid, text) in [
        (4242, "2000 300 100 5 0 200 0\n"),
        (4243, "0 0 0 0 0 0 0\n"),
    ] {
        std::fs::create_dir_all(dir.path().join(pid.to_string())).unwrap();
        std::fs::write(dir.path().join(format!("{pid}/statm")), text).unwrap();
    }
    let p = Procfs::at(dir.path());
    assert_eq!(p.rss_kib(4242), Some(300 * page_size() / 1024));
    assert_eq!(p.rss_kib(4243), None);
    assert_eq!(p.rss_kib(4244), None);
}

/// `statm` gives the same figure as `VmRSS` of `/proc/PID/status` (what `ps` shows).
#[test]
fn statm_agrees_with_vmrss() {
    let me = std::process::id() as i32;
    let vmrss = |_: ()| -> u64 {
        std::fs::read_to_string(format!("/proc/{me}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap()
            .trim()
            .trim_end_matches(" kB")
            .parse()
            .unwrap()
    };
    let before = vmrss(());
    let ours = Procfs::system().rss_kib(me).unwrap();
    let after = vmrss(());
    // Memory may move between the reads (other test threads): within their range.
    let (lo, hi) = (before.min(after), before.max(after));
    assert!(
        ours + 256 >= lo && ours <= hi + 256,
        "statm {ours} KiB, VmRSS {before}..{after} KiB"
    );
}

/// A file longer than the first buffer is still read whole.
#[test]
fn read_small_reads_past_its_first_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let text: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(dir.path().join("f"), &text).unwrap();
    assert_eq!(read_small(&dir.path().join("f")).unwrap(), text);
}

/// The real /proc's one-`show` files come whole from a single read.
#[test]
fn read_small_gets_real_proc_files_whole() {
    let stat = read_small(Path::new("/proc/self/stat")).unwrap();
    assert!(stat.ends_with(b"\n"), "{}", String::from_utf8_lossy(&stat));
    let me = std::process::id().to_string();
    assert!(stat.starts_with(format!("{me} (").as_bytes()));
    for f in [
        "/proc/sys/kernel/pid_max",
        "/proc/sys/kernel/random/boot_id",
    ] {
        assert_eq!(
            read_small(Path::new(f)).unwrap(),
            std::fs::read(f).unwrap(),
            "{f}"
        );
    }
}

/// `/proc/PID/stat` of a fixture process that started `start` clock ticks after boot.
fn proc_stat(
    root: &Path,
    pid: i32,
    (ppid, pgrp, session): (i32, i32, i32),
    state: char,
    start: u64,
) {
    let text = format!(
        "{pid} (p{pid}) {state} {ppid} {pgrp} {session} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1 1\n"
    );
    std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
    std::fs::write(root.join(format!("{pid}/stat")), text).unwrap();
}

/// A fixture process that started at tick 1000 + PID.
fn proc_at(root: &Path, pid: i32, ppid: i32, pgrp: i32, session: i32, state: char) {
    proc_stat(root, pid, (ppid, pgrp, session), state, 1000 + pid as u64);
}

#[test]
fn descendants_and_group_members_from_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // 10 leads its session and group; 11 is its child, 12 a grandchild that left the group
    // (setsid), 13 a zombie child, 14 an orphan of the group (parent 1), 20 unrelated.
    proc_at(r, 1, 0, 1, 1, 'S');
    proc_at(r, 10, 1, 10, 10, 'S');
    proc_at(r, 11, 10, 10, 10, 'S');
    proc_at(r, 12, 11, 12, 12, 'S');
    proc_at(r, 13, 10, 10, 10, 'Z');
    proc_at(r, 14, 1, 10, 10, 'S');
    proc_at(r, 20, 1, 20, 20, 'S');
    let p = Procfs::at(r);
    let t = p.table();
    let mut d = t.descendants(10);
    d.sort();
    assert_eq!(d, [(11, 1011), (12, 1012)]);
    let mut g = p.group_members(10);
    g.sort();
    assert_eq!(g, [10, 11, 14]);
    // Without the children files (a fixture has none) descendants come from the table.
    let mut d = p.descendants(10);
    d.sort();
    assert_eq!(d, [(11, 1011), (12, 1012)]);
}

/// A fixture /proc of svc's own namespace: its `self` names this process.
fn own_self(root: &Path) {
    std::os::unix::fs::symlink(std::process::id().to_string(), root.join("self")).unwrap();
}

/// A group that is empty when the table is read can be made afterwards, without a new
/// PID, by the process whose PID it is, and joined by the others of that process's
/// session: those are candidates too.
#[test]
fn a_group_made_after_the_scan_is_seen_whole() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    proc_at(r, 10, 1, 5, 5, 'S');
    proc_at(r, 11, 1, 5, 5, 'S');
    own_self(r);
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 11\n").unwrap();
    let p = Procfs::at(r);
    let first = p.table();
    // 10 makes group 10 (setpgid(0, 0)) and 11 joins it: no new PID.
    proc_at(r, 10, 1, 10, 5, 'S');
    proc_at(r, 11, 1, 10, 5, 'S');
    let mut g = p.group_members(10);
    g.sort();
    assert_eq!(g, [10, 11]);
    assert!(Arc::ptr_eq(&first, &p.table()));
}

/// A fixture process that leads its own group and session, started at `start`.
fn proc_started(root: &Path, pid: i32, ppid: i32, start: u64) {
    proc_stat(root, pid, (ppid, pid, pid), 'S', start);
}

/// The walk up the parents is not fooled by a parent that exited between two reads and
/// whose PID a process under the ancestor took: that one is younger than the child.
#[test]
fn descends_from_walks_real_parents_only() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // 30 is the ancestor; 31 its child, 32 a grandchild.
    proc_started(r, 30, 1, 100);
    proc_started(r, 31, 30, 200);
    proc_started(r, 32, 31, 300);
    // 50 is another process; its parent 40 "is" now a new process under 30 that took the
    // PID of 50's real parent, which exited: it started after 50.
    proc_started(r, 40, 31, 900);
    proc_started(r, 50, 40, 500);
    let p = Procfs::at(r);
    assert!(p.descends_from(31, 30));
    assert!(p.descends_from(32, 30));
    assert!(!p.descends_from(50, 30));
    assert!(!p.descends_from(30, 30));
    assert!(!p.descends_from(99, 30));
}

#[test]
fn the_table_is_read_again_only_after_a_new_pid() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    proc_at(r, 10, 1, 10, 10, 'S');
    own_self(r);
    let p = Procfs::at(r);
    // Without /proc/loadavg every call scans.
    assert!(!Arc::ptr_eq(&p.table(), &p.table()));
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 10\n").unwrap();
    // Whether loadavg is /proc's own is decided once per Procfs: a new one sees it.
    assert_eq!(p.last_pid(), None);
    let p = Procfs::at(r);
    assert_eq!(p.last_pid(), Some(10));
    let first = p.table();
    assert!(Arc::ptr_eq(&first, &p.table()));
    // A member exits without a new PID: seen in its own stat, no new scan.
    proc_at(r, 10, 1, 10, 10, 'Z');
    assert!(p.group_members(10).is_empty());
    assert!(Arc::ptr_eq(&first, &p.table()));
    // A new PID: scanned again.
    proc_at(r, 11, 10, 10, 10, 'S');
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 11\n").unwrap();
    assert_eq!(p.group_members(10), [11]);
    assert!(!Arc::ptr_eq(&first, &p.table()));
}

/// The kernel's counters in a fixture tree: the last PID handed out (`loadavg`) and the forks
/// since boot (`stat`).
fn kernel_at(r: &Path, last: i32, forks: u64) {
    std::fs::write(r.join("loadavg"), format!("0.00 0.01 0.05 1/90 {last}\n")).unwrap();
    std::fs::write(r.join("stat"), format!("cpu 1 2 3\nprocesses {forks}\n")).unwrap();
}

/// A stop that saw its group's leader exit does not read the leader again, but every other
/// member is still found: one in the table, and one made since (read by its new PID).
#[test]
fn members_after_the_leader_are_the_others_all_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let kernel = |last: i32, forks: u64| kernel_at(r, last, forks);
    // 10 leads group 10 (its stat still says running: the caller's pidfd knows better), 11 is
    // a member, 13 is of 10's session but in a group of its own.
    proc_at(r, 10, 1, 10, 10, 'S');
    proc_at(r, 11, 10, 10, 10, 'S');
    proc_at(r, 13, 10, 13, 10, 'S');
    own_self(r);
    kernel(13, 1000);
    let p = Procfs::at(r);
    let _ = p.table();
    // 14 joins the group after the table was read.
    proc_at(r, 14, 11, 10, 10, 'S');
    kernel(14, 1001);
    let mut after = p.members_after_leader(10);
    after.sort();
    assert_eq!(after, [11, 14]);
    let mut all = p.group_members(10);
    all.sort();
    assert_eq!(all, [10, 11, 14]);
}

/// The table the cache holds now.
fn cached(p: &Procfs) -> Arc<Table> {
    p.table.0.lock().unwrap().as_ref().unwrap().table.clone()
}

/// A few PIDs handed out since the table are read one by one instead of a new scan (a stop
/// among 10,000 on a machine where other processes come and go); many, a wrapped cursor, or
/// more forks on the machine than the cursor moved, and /proc is scanned again.
#[test]
fn a_few_new_pids_are_read_one_by_one_and_many_mean_a_new_scan() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let kernel = |last: i32, forks: u64| kernel_at(r, last, forks);
    proc_at(r, 10, 1, 10, 10, 'S');
    own_self(r);
    kernel(10, 1000);
    let p = Procfs::at(r);
    let first = p.table();
    // 11 and 12 are made in group 10 (12 by a process that is gone already).
    proc_at(r, 11, 10, 10, 10, 'S');
    proc_at(r, 12, 11, 10, 10, 'S');
    kernel(13, 1003);
    let mut g = p.group_members(10);
    g.sort();
    assert_eq!(g, [10, 11, 12]);
    assert!(
        Arc::ptr_eq(&first, &cached(&p)),
        "scanned again for 3 new PIDs"
    );
    // The cursor moved little, but the machine forked more than that: it may have wrapped.
    kernel(14, 1000 + RECENT_MAX as u64 + 10);
    assert_eq!(p.group_members(10).len(), 3);
    let second = cached(&p);
    assert!(
        !Arc::ptr_eq(&first, &second),
        "no new scan after many forks"
    );
    // Too many new PIDs to read one by one.
    proc_at(r, 600, 10, 10, 10, 'S');
    kernel(14 + RECENT_MAX + 1, 1000 + RECENT_MAX as u64 + 20);
    assert_eq!(p.group_members(10).len(), 4);
    let third = cached(&p);
    assert!(!Arc::ptr_eq(&second, &third), "no new scan after many PIDs");
    // A cursor that went back (wrapped): scanned again.
    proc_at(r, 5, 10, 10, 10, 'S');
    kernel(5, 1000 + RECENT_MAX as u64 + 21);
    assert_eq!(p.group_members(10).len(), 5);
    assert!(
        !Arc::ptr_eq(&third, &cached(&p)),
        "no new scan after a wrap"
    );
}

/// A directory on another device than `than` (a file there stands for one mounted over
/// /proc's own, as LXCFS mounts its `loadavg`).
fn elsewhere(than: &Path) -> tempfile::TempDir {
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    ["/dev/shm", "/run", "/var/tmp", "/tmp"]
        .iter()
        .filter_map(|d| tempfile::tempdir_in(d).ok())
        .find(|d| dev(d.path()) != dev(than))
        .expect("a writable directory on another device than the temporary directory")
}

/// Regression: LXCFS mounts its own `loadavg` over the kernel's in containers; its last
/// PID is the largest PID of a cgroup, refreshed every few seconds, so it stays the same
/// while processes come and go, and a cached table missed them (a stop that found its
/// group empty while a member lived). Such a file, and a /proc of another PID namespace
/// (whose `self` is not svc), never key the cache.
#[test]
fn a_loadavg_that_is_not_procs_own_never_keys_the_cache() {
    // A loadavg mounted over /proc's own: here a symlink to a file on another device.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    proc_at(r, 10, 1, 10, 10, 'S');
    own_self(r);
    let other = elsewhere(r);
    std::fs::write(other.path().join("loadavg"), "0.00 0.01 0.05 1/90 10\n").unwrap();
    std::os::unix::fs::symlink(other.path().join("loadavg"), r.join("loadavg")).unwrap();
    let p = Procfs::at(r);
    assert_eq!(p.last_pid(), None);
    let first = p.table();
    proc_at(r, 11, 10, 10, 10, 'S');
    assert!(!Arc::ptr_eq(&first, &p.table()));
    let mut g = p.group_members(10);
    g.sort();
    assert_eq!(g, [10, 11]);

    // Another namespace's /proc: `self` is not this process.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    proc_at(r, 10, 1, 10, 10, 'S');
    std::os::unix::fs::symlink("1", r.join("self")).unwrap();
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 10\n").unwrap();
    let p = Procfs::at(r);
    assert_eq!(p.last_pid(), None);
    assert!(!Arc::ptr_eq(&p.table(), &p.table()));
}

#[test]
fn the_real_proc_keys_the_cache() {
    assert!(Procfs::system().last_pid().is_some());
}

/// `loadavg` is opened once and read again from its start: each read must say what the kernel
/// says now. A cursor read once and kept would hide every process made since, and the table
/// that stops check process groups against would never be read again.
#[test]
fn the_kept_loadavg_says_what_is_new() {
    let p = Procfs::system();
    let before = p.last_pid().expect("the real /proc/loadavg is svc's own");
    let child = std::process::Command::new("true").spawn().unwrap();
    let made = child.id() as i32;
    let mut child = child;
    child.wait().unwrap();
    let after = p.last_pid().expect("read again");
    // Other tests' threads and processes may take PIDs too: at least one did, the child's.
    assert_ne!(
        after, before,
        "the cursor did not move after a fork (made {made})"
    );
}

#[test]
fn reads_own_process() {
    let p = Procfs::system();
    let me = std::process::id() as i32;
    let s = p.stat(me).unwrap();
    assert_eq!(s.pid, me);
    assert!(p.exe_id(me).is_ok());
    assert!(!p.boot_id().unwrap().is_empty());
}

/// The reference the indexed [`Table`] must agree with: the linear scans it replaced.
fn naive_group_candidates(procs: &[Stat], pgid: i32) -> Vec<i32> {
    let sessions: BTreeSet<i32> = procs
        .iter()
        .filter(|s| s.pgrp == pgid || s.pid == pgid)
        .map(|s| s.session)
        .collect();
    procs
        .iter()
        .filter(|s| s.pgrp == pgid || s.pid == pgid || sessions.contains(&s.session))
        .map(|s| s.pid)
        .collect()
}

fn naive_descendants(procs: &[Stat], pid: i32) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for s in procs.iter().filter(|s| !s.is_zombie() && s.ppid == parent) {
            if s.pid != pid && !out.iter().any(|(p, _)| *p == s.pid) {
                out.push((s.pid, s.start_ticks));
                frontier.push(s.pid);
            }
        }
    }
    out
}

/// The table's indexes (by parent, group, session, PID) answer exactly what the linear scans
/// answered, in the same order, on 2,000 generated process tables: a stop of 10,000 services
/// must signal and wait for the same processes as before, only faster.
#[test]
fn indexed_table_agrees_with_the_linear_scans() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as i32
    };
    for _ in 0..2000 {
        let n = 1 + next(40);
        let span = n as u64;
        let procs: Vec<Stat> = (0..n)
            .map(|i| {
                let pid = 2 + i * 3 + next(3);
                Stat {
                    pid,
                    comm: format!("p{pid}"),
                    state: if next(5) == 0 { 'Z' } else { 'S' },
                    ppid: if next(4) == 0 { 1 } else { 2 + next(span * 6) },
                    pgrp: 2 + next(span * 6),
                    session: 2 + next(span),
                    start_ticks: 1000 + pid as u64,
                }
            })
            .collect();
        let t = Table::new(Some(7), procs.clone());
        assert_eq!(t.procs(), procs.as_slice());
        for probe in 0..(2 + n * 3 + 3) {
            assert_eq!(
                t.group_candidates(probe),
                naive_group_candidates(&procs, probe),
                "group {probe} of {procs:?}"
            );
            assert_eq!(
                t.descendants(probe),
                naive_descendants(&procs, probe),
                "descendants of {probe} in {procs:?}"
            );
        }
    }
}

/// The real /proc's uptime comes from the clock /proc/uptime reads: the two agree.
#[test]
fn the_system_uptime_is_the_clock_proc_uptime_shows() {
    let file: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let clock = Procfs::system().uptime().unwrap();
    assert!(
        (clock - file).abs() < 5.0 && clock >= file,
        "/proc/uptime {file}, CLOCK_BOOTTIME {clock}"
    );
}

/// The real /proc read into a table across threads (`parallel::map_listed`): every process
/// that was there before the scan and still is after it is in the table, with its own stat;
/// and the kernel's task count bounds the number of processes from above.
#[test]
fn the_table_of_the_real_proc_holds_every_process_it_outlived() {
    /// Killed and reaped however the test ends.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let p = Procfs::system();
    let child = Child(
        std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap(),
    );
    let before: BTreeSet<i32> = p.pids().into_iter().collect();
    assert!(p.tasks().unwrap() >= before.len(), "{:?}", p.tasks());
    let table = p.table();
    let after: BTreeSet<i32> = p.pids().into_iter().collect();
    for pid in before.intersection(&after) {
        // Gone in between if its stat cannot be read now.
        let Some(now) = p.stat(*pid) else { continue };
        let i = table
            .by_pid
            .get(pid)
            .unwrap_or_else(|| panic!("{pid} is not in the table"));
        assert_eq!(table.procs[*i].start_ticks, now.start_ticks, "{pid}");
    }
    let me = std::process::id() as i32;
    assert!(table.by_pid.contains_key(&me));
    assert!(table.by_pid.contains_key(&(child.0.id() as i32)));
}

/// A caller that waited for the cache while another thread scanned gets that scan when no PID
/// was handed out after it: the kernel's cursor is read under the cache's lock. Read before
/// it, the cursor predates the new table's and the caller scanned /proc again (in a switch to
/// runlevel 0, one full scan per stopping thread).
#[test]
fn a_caller_that_waited_for_a_scan_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_path_buf();
    proc_at(&r, 10, 1, 10, 10, 'S');
    own_self(&r);
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 11\n").unwrap();
    let p = Procfs::at(&r);
    // Decides that this loadavg is the tree's own.
    let _ = p.last_pid();
    // This test is the scanning thread: it holds the cache while the other caller arrives.
    let mut held = p.table.0.lock().unwrap();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiter = {
        let p = p.clone();
        std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            p.table()
        })
    };
    let tid = tid_rx.recv().unwrap();
    // Wait until it sleeps on the lock (deadline, no fixed sleep).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let task_stat = format!("/proc/self/task/{tid}/stat");
    loop {
        let stat = std::fs::read_to_string(&task_stat).unwrap();
        if parse_stat(&stat).unwrap().state == 'S' {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the caller never waited"
        );
        std::thread::yield_now();
    }
    // The scan made a thread (PID 12) before reading the cursor, and put its table.
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 12\n").unwrap();
    let table = Arc::new(Table::new(Some(12), vec![p.stat(10).unwrap()]));
    *held = Some(Cached {
        table: table.clone(),
        forks: None,
        made: std::time::Instant::now(),
    });
    drop(held);
    assert!(Arc::ptr_eq(&waiter.join().unwrap(), &table));
}

/// A PID handed out since the table may be a thread's ID: its own stat shows its process's
/// group, but only processes are members (a group that survived a stop is reported by its
/// processes, each once).
#[test]
fn a_thread_made_since_the_table_is_not_a_group_member() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    proc_at(r, 10, 1, 10, 10, 'S');
    own_self(r);
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 10\n").unwrap();
    std::fs::write(r.join("stat"), "cpu 1 2 3\nprocesses 1000\n").unwrap();
    let p = Procfs::at(r);
    let first = p.table();
    // 10 makes thread 11 and child 12; /proc shows the thread by its ID (not in readdir on
    // a real /proc), with the process's group.
    proc_at(r, 11, 1, 10, 10, 'S');
    std::fs::write(r.join("11/status"), "Name:\tp10\nTgid:\t10\nPid:\t11\n").unwrap();
    proc_at(r, 12, 10, 10, 10, 'S');
    std::fs::write(r.join("12/status"), "Name:\tp12\nTgid:\t12\nPid:\t12\n").unwrap();
    std::fs::write(r.join("loadavg"), "0.00 0.01 0.05 1/90 12\n").unwrap();
    std::fs::write(r.join("stat"), "cpu 1 2 3\nprocesses 1002\n").unwrap();
    assert_eq!(p.group_members(10), [10, 12]);
    assert!(
        Arc::ptr_eq(&first, &cached(&p)),
        "read one by one, not scanned"
    );
}

/// On the real /proc: a thread of this process is not a member of its group, though its
/// ID's stat names the group.
#[test]
fn a_real_thread_is_not_a_group_member() {
    let p = Procfs::system();
    let _ = p.table();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        let _ = done_rx.recv();
    });
    let tid = rx.recv().unwrap();
    let me = std::process::id() as i32;
    let pgrp = nix::unistd::getpgrp().as_raw();
    assert_eq!(p.stat(tid).map(|s| s.pgrp), Some(pgrp));
    let members = p.group_members(pgrp);
    assert!(members.contains(&me), "{members:?} lacks this process {me}");
    assert!(!members.contains(&tid), "{members:?} lists thread {tid}");
    done_tx.send(()).unwrap();
    t.join().unwrap();
}
