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
//!
//! On a machine where other work makes processes all the time the cursor moves between any
//! two stops, and a scan per stop made a switch of 10,000 services quadratic. So the group
//! members a stop waits for ([`Procfs::group_members`]) come from the table plus the PIDs
//! handed out since it was read, each read on its own, as long as those are few (at most
//! 512), the table is younger than a second, and the kernel's count of forks on the whole
//! machine (`processes` in `/proc/stat`) grew by no more than that — so the cursor cannot have
//! wrapped round in between; otherwise /proc is scanned again.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};
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
/// PID the kernel had handed out when the scan began (`None` when unknown). Indexed once, when
/// made, by parent, process group and session: a stop asks it once per service, so each
/// question costs what it finds, not the size of the table (10,000 services stop in time
/// linear in their number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub last_pid: Option<i32>,
    procs: Vec<Stat>,
    /// Indices into `procs`: live (non-zombie) processes by parent PID.
    children: HashMap<i32, Vec<usize>>,
    /// Indices by process group, and by session.
    by_group: HashMap<i32, Vec<usize>>,
    by_session: HashMap<i32, Vec<usize>>,
    /// Index by PID.
    by_pid: HashMap<i32, usize>,
}

impl Table {
    /// A table of these processes, indexed.
    pub fn new(last_pid: Option<i32>, procs: Vec<Stat>) -> Table {
        let mut t = Table {
            last_pid,
            ..Table::default()
        };
        for (i, s) in procs.iter().enumerate() {
            if !s.is_zombie() {
                t.children.entry(s.ppid).or_default().push(i);
            }
            t.by_group.entry(s.pgrp).or_default().push(i);
            t.by_session.entry(s.session).or_default().push(i);
            t.by_pid.insert(s.pid, i);
        }
        t.procs = procs;
        t
    }

    /// Every process of the scan.
    pub fn procs(&self) -> &[Stat] {
        &self.procs
    }

    /// Every live descendant of `pid` in the table (children, their children, ...), with its
    /// start time.
    pub fn descendants(&self, pid: i32) -> Vec<(i32, u64)> {
        let mut out: Vec<(i32, u64)> = Vec::new();
        let mut seen: BTreeSet<i32> = BTreeSet::new();
        let mut frontier = vec![pid];
        while let Some(parent) = frontier.pop() {
            for &i in self
                .children
                .get(&parent)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let s = &self.procs[i];
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
    /// In table order.
    pub fn group_candidates(&self, pgid: i32) -> Vec<i32> {
        let seeds = self
            .by_group
            .get(&pgid)
            .into_iter()
            .flatten()
            .chain(self.by_pid.get(&pgid));
        let sessions: BTreeSet<i32> = seeds.map(|&i| self.procs[i].session).collect();
        let mut found: Vec<usize> = self.by_group.get(&pgid).cloned().unwrap_or_default();
        for s in &sessions {
            found.extend(self.by_session.get(s).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| self.procs[i].pid).collect()
    }
}

/// The last table read, shared by the clones of one [`Procfs`] (each command has one).
#[derive(Debug, Default, Clone)]
struct TableCache(Arc<Mutex<Option<Cached>>>);

/// A table, the kernel's count of forks since boot when its scan began, and when it began.
#[derive(Debug)]
struct Cached {
    table: Arc<Table>,
    forks: Option<u64>,
    made: std::time::Instant,
}

/// At most this many PIDs handed out since the table (and at most this many forks on the
/// whole machine) are read one by one rather than scanning /proc again.
const RECENT_MAX: i32 = 512;
/// And only while the table is younger than this.
const RECENT_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// A /proc tree. Facts that cannot change while svc runs (boot id, pid_max) are read once.
#[derive(Debug, Clone)]
pub struct Procfs {
    /// Shared by the clones (every process handle holds one): kept small.
    root: Arc<Path>,
    boot_id: std::sync::OnceLock<String>,
    pid_max: std::sync::OnceLock<i64>,
    /// `loadavg`, opened once where it can be trusted ([`Procfs::loadavg_is_own`]; what is
    /// mounted where, and svc's PID namespace, do not change under a running svc). It is read
    /// again from offset 0 each time, which makes its text anew: every stop's group check
    /// reads it, and an open and a close of a /proc file each time cost more than the read.
    loadavg: std::sync::OnceLock<Option<Arc<std::fs::File>>>,
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
            loadavg: std::sync::OnceLock::new(),
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

    /// Seconds since boot. For the real /proc, the clock `/proc/uptime` itself reads
    /// (`CLOCK_BOOTTIME`, in svc's time namespace like the start times in `/proc/PID/stat`):
    /// no file opened, which `status` of many services would do once per service.
    pub fn uptime(&self) -> Option<f64> {
        if *self.root == *Path::new("/proc") {
            let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
            return Some(t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9);
        }
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
        self.loadavg_field(4)?.parse().ok()
    }

    /// How many tasks (threads, kernel ones included) the kernel has now: the denominator of
    /// the fourth field of `/proc/loadavg` — at least the number of processes; `None` when
    /// that file cannot say (see [`Procfs::last_pid`]).
    fn tasks(&self) -> Option<usize> {
        self.loadavg_field(3)?.split_once('/')?.1.parse().ok()
    }

    /// Field `n` (from 0) of `/proc/loadavg`, where that file is this /proc's own.
    fn loadavg_field(&self, n: usize) -> Option<String> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 256];
        let len = self.loadavg()?.read_at(&mut buf, 0).ok()?;
        Some(
            std::str::from_utf8(&buf[..len])
                .ok()?
                .split_whitespace()
                .nth(n)?
                .to_string(),
        )
    }

    /// Whether `loadavg` is this /proc's own file (on its device: not a file mounted over it)
    /// and this /proc is svc's PID namespace's (its `self` names svc).
    fn loadavg_is_own(&self) -> bool {
        self.loadavg().is_some()
    }

    /// `loadavg`, open, where it is this /proc's own ([`Procfs::loadavg_is_own`]).
    fn loadavg(&self) -> Option<&std::fs::File> {
        self.loadavg
            .get_or_init(|| {
                let own = self.decide_loadavg_is_own();
                own.then(|| {
                    std::fs::File::open(self.root.join("loadavg"))
                        .ok()
                        .map(Arc::new)
                })
                .flatten()
            })
            .as_deref()
    }

    fn decide_loadavg_is_own(&self) -> bool {
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
        let mut cache = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        // The cursor is read under the lock: read before it, while another thread scanned, it
        // would be older than the new table's and look like a wraparound (a scan per caller).
        let now = self.last_pid();
        if let Some(c) = cache.as_ref() {
            if now.is_some() && c.table.last_pid == now {
                return c.table.clone();
            }
        }
        self.scan(&mut cache)
    }

    /// A new scan into the cache. The fork count and the last PID first: a process made
    /// during the scan is seen as new by the next call. Each `/proc/PID/stat` costs 15–35 µs
    /// on a VM, so the reads are spread over the CPUs (`crate::parallel::map_listed`), whose
    /// threads are made before the last PID is read: the table is not out of date the moment
    /// it is made.
    fn scan(&self, cache: &mut Option<Cached>) -> Arc<Table> {
        let made = std::time::Instant::now();
        let expected = match cache {
            Some(c) => c.table.procs.len(),
            None => self.tasks().unwrap_or(0),
        };
        let ((forks, now), stats) = crate::parallel::map_listed(
            expected,
            || ((self.forks(), self.last_pid()), self.pids()),
            |p| self.stat(*p),
        );
        let t = Arc::new(Table::new(now, stats.into_iter().flatten().collect()));
        *cache = Some(Cached {
            table: t.clone(),
            forks,
            made,
        });
        t
    }

    /// The table, and the PIDs handed out since it was read: none when it is current, a few
    /// (at most [`RECENT_MAX`]) when only a few processes were made since, within
    /// [`RECENT_AGE`], without the PID cursor wrapping — the kernel's count of forks on the
    /// whole machine bounds how far the cursor moved — else a new scan and none. Every
    /// process alive now is in the table or among those PIDs.
    fn table_and_recent(&self) -> (Arc<Table>, Option<std::ops::RangeInclusive<i32>>) {
        let mut cache = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.last_pid(); // under the lock, as in `table`
        if let (Some(c), Some(now)) = (cache.as_ref(), now) {
            match c.table.last_pid {
                Some(old) if old == now => return (c.table.clone(), None),
                Some(old)
                    if now > old
                        && now - old <= RECENT_MAX
                        && c.made.elapsed() < RECENT_AGE
                        && c.forks.zip(self.forks()).is_some_and(|(then, f)| {
                            f >= then && f - then <= RECENT_MAX as u64
                        }) =>
                {
                    return (c.table.clone(), Some(old + 1..=now));
                }
                _ => {}
            }
        }
        (self.scan(&mut cache), None)
    }

    /// Forks since boot on the whole machine (`processes` in `/proc/stat`), where this /proc
    /// is svc's own (see [`Procfs::last_pid`]).
    fn forks(&self) -> Option<u64> {
        if !self.loadavg_is_own() {
            return None;
        }
        let text = std::fs::read_to_string(self.root.join("stat")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("processes "))?
            .trim()
            .parse()
            .ok()
    }

    /// Live (non-zombie) processes whose process group is `pgid`, each checked in its own stat
    /// now. Used only when stopping, after the cheap `kill(-pgid, 0)` said the group is not
    /// empty; the candidates come from the table and the few PIDs handed out since (see the
    /// module docs), so stopping many services does not scan /proc once per service.
    pub fn group_members(&self, pgid: i32) -> Vec<i32> {
        self.members(pgid, false)
    }

    /// [`Procfs::group_members`] of a group whose leader the caller saw exit (its pidfd said
    /// so): the leader's PID is not read again. A zombie is no member; and the kernel hands out
    /// no PID that is still a group's ID, so while the group has members no other process can
    /// have the leader's PID, and once it has none a process that takes that PID and makes the
    /// group anew is not the one that was stopped. Each stop whose leader was not reaped yet
    /// read its stat for nothing.
    pub fn members_after_leader(&self, pgid: i32) -> Vec<i32> {
        self.members(pgid, true)
    }

    fn members(&self, pgid: i32, leader_gone: bool) -> Vec<i32> {
        let (table, recent) = self.table_and_recent();
        let mut candidates = table.group_candidates(pgid);
        if leader_gone {
            candidates.retain(|&p| p != pgid);
        }
        let known: BTreeSet<i32> = candidates.iter().copied().collect();
        let read_already = |p: &i32| known.contains(p) || (leader_gone && *p == pgid);
        let recent: Vec<i32> = recent
            .into_iter()
            .flatten()
            .filter(|p| !read_already(p))
            .collect();
        let member = |p: &i32| matches!(self.stat(*p), Some(s) if s.pgrp == pgid && !s.is_zombie());
        // The table lists processes only (readdir of /proc shows thread-group leaders), but a
        // PID handed out since may be a thread's ID, whose own stat shows its process's group:
        // only processes are members.
        candidates.retain(member);
        candidates.extend(
            recent
                .iter()
                .filter(|p| member(p) && !self.is_other_thread(**p)),
        );
        candidates
    }

    /// Whether `tid` is a thread of another process (its `Tgid` is not itself); false when
    /// that cannot be read.
    fn is_other_thread(&self, tid: i32) -> bool {
        let Ok(bytes) = read_small(&self.pid_path(tid, "status")) else {
            return false;
        };
        String::from_utf8_lossy(&bytes)
            .lines()
            .find_map(|l| l.strip_prefix("Tgid:"))
            .and_then(|t| t.trim().parse::<i32>().ok())
            .is_some_and(|tgid| tgid != tid)
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
            // Read to its end (a list of many children may take more than one read), without
            // std's size hint: a /proc file's size says nothing, and asking is a statx.
            let mut text = Vec::new();
            std::fs::File::open(t.path().join("children"))
                .and_then(|f| f.take(u64::MAX).read_to_end(&mut text))
                .ok()?;
            out.extend(
                String::from_utf8_lossy(&text)
                    .split_whitespace()
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
        // The first read of `pid`'s own children says whether the kernel has the files, and
        // is the walk's first step (read once: a stop asks this for every service).
        if let Some(first) = self.children(pid) {
            let mut frontier = vec![pid];
            let mut known = Some(first);
            while let Some(parent) = frontier.pop() {
                let children = match known.take() {
                    Some(c) => c,
                    None => self.children(parent).unwrap_or_default(),
                };
                for c in children {
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
///
/// The files read here (`stat`, `statm`, `loadavg`, `uptime`, the sysctls) are made whole by one
/// `show` of the kernel and handed out from that one buffer: a read that does not fill the
/// caller's buffer has returned all of it, so the read at end of file that would only say so is
/// not made (one system call in four for a `stat`). A read that fills the buffer goes on.
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
            Ok(n) => {
                len += n;
                if len < buf.len() {
                    break;
                }
            }
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
mod tests;
