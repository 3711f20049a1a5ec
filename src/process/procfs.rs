//! Reading /proc: process status, boot id, executable identity, and the process table.
//!
//! The parser is rooted (`Procfs::at`) so liveness rules can be tested on fixture trees.
//! `/proc/PID/stat` is parsed after the *last* `)`: the command name may contain spaces and
//! parentheses.
//!
//! Scanning all of /proc costs a read per process. Stopping many services (a switch to
//! runlevel 0 of 10,000) must not scan once per service, so a scan ([`Table`]) is kept and
//! reused as long as the kernel has handed out no PID since it began (the last PID of
//! `/proc/loadavg`): then no process can have appeared that the table lacks. Facts that change
//! without a new PID (a process's group, its exit) are re-read from each candidate's own stat.
//! That last PID is the kernel's cursor for the *reader's* PID namespace, so it keys the cache
//! only when it is this /proc's own file and this /proc shows svc's namespace (`self` is svc):
//! not under LXCFS, which mounts its own `loadavg` over the kernel's in containers (its "last
//! PID" is the largest PID of a cgroup, refreshed every few seconds), nor with a /proc mounted
//! for another namespace. Otherwise every call scans. (A wraparound that brings the cursor back
//! to exactly the same value between two reads of the table would go unnoticed: that takes
//! about pid_max new processes in between, and then landing on that one value.)

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The fields of `/proc/PID/stat` svc uses (see [`parse_stat`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    /// `R`, `S`, `D`, `Z`, `T`, ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
}

impl Stat {
    /// A zombie (or dead) process is not running, whatever its parent is waiting for.
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the bytes of `/proc/PID/stat` as read. The command name is whatever the process set
/// (prctl `PR_SET_NAME` takes any bytes), so it need not be UTF-8: invalid bytes become U+FFFD
/// rather than making the process look gone.
pub fn parse_stat_bytes(bytes: &[u8]) -> Result<Stat, String> {
    parse_stat(&String::from_utf8_lossy(bytes))
}

/// Parses the text of `/proc/PID/stat`: the pid, the command name between the first `(` and
/// the *last* `)` (it may hold spaces and parentheses), then the fields after it. The one
/// parser of this format in svc — the integration tests use it too (`svc::process::procfs`).
pub fn parse_stat(text: &str) -> Result<Stat, String> {
    let open = text.find('(').ok_or("no '(' in stat")?;
    let close = text.rfind(')').ok_or("no ')' in stat")?;
    if close < open {
        return Err("malformed stat".into());
    }
    let pid: i32 = text[..open]
        .trim()
        .parse()
        .map_err(|_| "bad pid field in stat")?;
    let comm = text[open + 1..close].to_string();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let get = |n: usize| -> Result<&str, String> {
        fields
            .get(n - 3)
            .copied()
            .ok_or_else(|| format!("stat has no field {n}"))
    };
    let num = |n: usize| -> Result<i64, String> {
        get(n)?
            .parse::<i64>()
            .map_err(|_| format!("bad field {n} in stat"))
    };
    Ok(Stat {
        pid,
        comm,
        state: get(3)?.chars().next().ok_or("empty state")?,
        ppid: num(4)? as i32,
        pgrp: num(5)? as i32,
        session: num(6)? as i32,
        start_ticks: get(22)?
            .parse()
            .map_err(|_| "bad start time in stat".to_string())?,
    })
}

/// One scan of the process table: the stat of every process (zombies included), and the last
/// PID the kernel had handed out when the scan began (`None` when unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub last_pid: Option<i32>,
    pub procs: Vec<Stat>,
}

impl Table {
    /// Every live descendant of `pid` in the table (children, their children, ...), with its
    /// start time. Linear in the size of the table.
    pub fn descendants(&self, pid: i32) -> Vec<(i32, u64)> {
        let mut children: std::collections::HashMap<i32, Vec<&Stat>> =
            std::collections::HashMap::new();
        for s in self.procs.iter().filter(|s| !s.is_zombie()) {
            children.entry(s.ppid).or_default().push(s);
        }
        let mut out: Vec<(i32, u64)> = Vec::new();
        let mut seen: BTreeSet<i32> = BTreeSet::new();
        let mut frontier = vec![pid];
        while let Some(parent) = frontier.pop() {
            for s in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
                if s.pid != pid && seen.insert(s.pid) {
                    out.push((s.pid, s.start_ticks));
                    frontier.push(s.pid);
                }
            }
        }
        out
    }

    /// The processes that may be in process group `pgid` now, if no process was created since
    /// the scan: its members then, the process whose PID is `pgid` (it may make the group
    /// anew), and every process of their sessions (only those can join the group, setpgid(2)).
    pub fn group_candidates(&self, pgid: i32) -> Vec<i32> {
        let sessions: BTreeSet<i32> = self
            .procs
            .iter()
            .filter(|s| s.pgrp == pgid || s.pid == pgid)
            .map(|s| s.session)
            .collect();
        self.procs
            .iter()
            .filter(|s| s.pgrp == pgid || s.pid == pgid || sessions.contains(&s.session))
            .map(|s| s.pid)
            .collect()
    }
}

/// The last table read, shared by the clones of one [`Procfs`] (each command has one).
#[derive(Debug, Default, Clone)]
struct TableCache(Arc<Mutex<Option<Arc<Table>>>>);

/// A /proc tree. Facts that cannot change while svc runs (boot id, pid_max) are read once.
#[derive(Debug, Clone)]
pub struct Procfs {
    /// Shared by the clones (every process handle holds one): kept small.
    root: Arc<Path>,
    boot_id: std::sync::OnceLock<String>,
    pid_max: std::sync::OnceLock<i64>,
    table: TableCache,
}

impl Default for Procfs {
    fn default() -> Self {
        Procfs::system()
    }
}

impl Procfs {
    /// The real /proc.
    pub fn system() -> Procfs {
        Procfs::at("/proc")
    }

    /// A /proc tree rooted elsewhere (fixtures in tests).
    pub fn at(root: impl Into<PathBuf>) -> Procfs {
        Procfs {
            root: Arc::from(root.into()),
            boot_id: std::sync::OnceLock::new(),
            pid_max: std::sync::OnceLock::new(),
            table: TableCache::default(),
        }
    }

    fn pid_path(&self, pid: i32, file: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(file)
    }

    /// `/proc/PID/stat`, or `None` when the process does not exist.
    pub fn stat(&self, pid: i32) -> Option<Stat> {
        let bytes = read_small(&self.pid_path(pid, "stat")).ok()?;
        parse_stat_bytes(&bytes).ok()
    }

    /// The running kernel's boot id.
    pub fn boot_id(&self) -> io::Result<String> {
        if let Some(b) = self.boot_id.get() {
            return Ok(b.clone());
        }
        let bytes = read_small(&self.root.join("sys/kernel/random/boot_id"))?;
        let b = String::from_utf8_lossy(&bytes).trim().to_string();
        Ok(self.boot_id.get_or_init(|| b).clone())
    }

    /// The largest PID the kernel hands out.
    pub fn pid_max(&self) -> i64 {
        *self.pid_max.get_or_init(|| {
            read_small(&self.root.join("sys/kernel/pid_max"))
                .ok()
                .and_then(|t| String::from_utf8_lossy(&t).trim().parse().ok())
                .unwrap_or(4_194_304)
        })
    }

    /// Seconds since boot.
    pub fn uptime(&self) -> Option<f64> {
        let bytes = read_small(&self.root.join("uptime")).ok()?;
        std::str::from_utf8(&bytes)
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Device and inode of the process's executable (still right after the file was replaced
    /// or deleted: the link resolves to the inode the process runs).
    pub fn exe_id(&self, pid: i32) -> io::Result<(u64, u64)> {
        let m = std::fs::metadata(self.pid_path(pid, "exe"))?;
        Ok((m.dev(), m.ino()))
    }

    /// Resident memory in KiB (`VmRSS`), if the process has any: the second field of
    /// `/proc/PID/statm` (resident pages, the same sum of anonymous, file and shared memory as
    /// `VmRSS`), a few bytes the kernel formats far faster than all of `/proc/PID/status`.
    /// A zombie or a kernel thread has none (all fields 0).
    pub fn rss_kib(&self, pid: i32) -> Option<u64> {
        let bytes = read_small(&self.pid_path(pid, "statm")).ok()?;
        let pages: u64 = std::str::from_utf8(&bytes)
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (pages > 0).then(|| pages * page_size() / 1024)
    }

    /// Every PID in the tree.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last PID the kernel handed out in this PID namespace (the fifth field of
    /// `/proc/loadavg`); `None` when unknown, or when that file cannot say (see the module
    /// docs).
    pub fn last_pid(&self) -> Option<i32> {
        if !self.loadavg_is_own() {
            return None;
        }
        let bytes = read_small(&self.root.join("loadavg")).ok()?;
        std::str::from_utf8(&bytes)
            .ok()?
            .split_whitespace()
            .nth(4)?
            .parse()
            .ok()
    }

    /// Whether `loadavg` is this /proc's own file (on its device: not a file mounted over it)
    /// and this /proc is svc's PID namespace's (its `self` names svc).
    fn loadavg_is_own(&self) -> bool {
        let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        let own_file =
            dev(&self.root).is_some() && dev(&self.root) == dev(&self.root.join("loadavg"));
        let me = std::process::id().to_string();
        let own_ns =
            std::fs::read_link(self.root.join("self")).is_ok_and(|l| l.as_os_str() == me.as_str());
        own_file && own_ns
    }

    /// The process table: the last one read when the kernel has handed out no PID since (no
    /// process can be missing from it), else a new scan of /proc.
    pub fn table(&self) -> Arc<Table> {
        let now = self.last_pid();
        let mut cache = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.as_ref() {
            if now.is_some() && t.last_pid == now {
                return t.clone();
            }
        }
        // The last PID first: a process made during the scan makes the next call scan again.
        let t = Arc::new(Table {
            last_pid: now,
            procs: self
                .pids()
                .into_iter()
                .filter_map(|p| self.stat(p))
                .collect(),
        });
        *cache = Some(t.clone());
        t
    }

    /// Live (non-zombie) processes whose process group is `pgid`, each checked in its own stat
    /// now. Used only when stopping, after the cheap `kill(-pgid, 0)` said the group is not
    /// empty; the candidates come from [`Procfs::table`], so stopping many services does not
    /// scan /proc once per service.
    pub fn group_members(&self, pgid: i32) -> Vec<i32> {
        self.table()
            .group_candidates(pgid)
            .into_iter()
            .filter(|p| matches!(self.stat(*p), Some(s) if s.pgrp == pgid && !s.is_zombie()))
            .collect()
    }

    /// Whether `ancestor` is among the ancestors of `pid`, walking up the parents. Each parent
    /// read must be at least as old as the child read before it: a parent is always a live
    /// process (an orphan is reparented at once), so a younger one means that the parent
    /// exited between the two reads and its PID went to a new process — which the walk must
    /// not take for the child's ancestor. `ancestor` must be a PID that cannot be reused
    /// meanwhile (an unreaped child of the caller).
    pub fn descends_from(&self, pid: i32, ancestor: i32) -> bool {
        let Some(mut cur) = self.stat(pid) else {
            return false;
        };
        for _ in 0..4096 {
            if cur.ppid == ancestor {
                return true;
            }
            if cur.ppid <= 1 || cur.ppid == cur.pid {
                return false;
            }
            match self.stat(cur.ppid) {
                Some(parent) if parent.start_ticks <= cur.start_ticks => cur = parent,
                _ => return false,
            }
        }
        false
    }

    /// Direct children of `pid`, from `/proc/PID/task/*/children`; `None` when the kernel does
    /// not offer that file.
    fn children(&self, pid: i32) -> Option<Vec<i32>> {
        let tasks = std::fs::read_dir(self.pid_path(pid, "task")).ok()?;
        let mut out = Vec::new();
        for t in tasks.flatten() {
            let text = std::fs::read_to_string(t.path().join("children")).ok()?;
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
        Some(out)
    }

    /// Every live descendant of `pid` (children, their children, ...), with its start time.
    /// Used by stop, to notice processes that left the service's group. From the children
    /// files where the kernel has them, else from [`Procfs::table`] (no scan per service).
    pub fn descendants(&self, pid: i32) -> Vec<(i32, u64)> {
        let mut out: Vec<(i32, u64)> = Vec::new();
        if self.children(pid).is_some() {
            let mut frontier = vec![pid];
            while let Some(parent) = frontier.pop() {
                for c in self.children(parent).unwrap_or_default() {
                    if let Some(s) = self.stat(c).filter(|s| !s.is_zombie()) {
                        if !out.iter().any(|(p, _)| *p == c) {
                            out.push((c, s.start_ticks));
                            frontier.push(c);
                        }
                    }
                }
            }
            return out;
        }
        self.table().descendants(pid)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Reads a small file of /proc whole: open, read into a buffer already big enough for the files
/// svc reads (stat, statm, uptime, boot_id...) until end of file, close. No `fstat` for a size hint (a
/// /proc file reports size 0) and no probing reads that start at 32 bytes as `std::fs::read`
/// makes: `status` of many services reads a few of these per service.
fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// The size of a memory page in bytes, read once.
fn page_size() -> u64 {
    static SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .filter(|s| *s > 0)
            .map_or(4096, |s| s as u64)
    })
}

/// Clock ticks per second (`CLK_TCK`).
pub fn clock_ticks() -> u64 {
    let t = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(0);
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn reads_own_process() {
        let p = Procfs::system();
        let me = std::process::id() as i32;
        let s = p.stat(me).unwrap();
        assert_eq!(s.pid, me);
        assert!(p.exe_id(me).is_ok());
        assert!(!p.boot_id().unwrap().is_empty());
    }
}
