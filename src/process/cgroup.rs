//! Containment with cgroup v2 (SPEC §8.7; docs/services.md, "Containment"): finding the
//! hierarchy, a service's own cgroup, its limits, what it holds, and ending all of it.
//!
//! svc uses a cgroup only as root and only on a writable cgroup2 file system: `/sys/fs/cgroup`
//! when that is cgroup2 (a modern host), else `/sys/fs/cgroup/unified` (a hybrid host, whose
//! cgroup2 usually offers no controllers). Detection happens at run time, once per process.
//! A service's cgroup is `<hierarchy>/svc/NAME` for the default state directory `/run/svc`,
//! else `<hierarchy>/svc/ID/NAME` with ID the first 12 hex digits of the SHA-256 of the state
//! directory's absolute path, so two configurations never share one.
//!
//! The launched child is born in the cgroup: `clone3` with `CLONE_INTO_CGROUP` on the cgroup's
//! directory, opened here before the fork ([`Cgroup::prepare`], [`Entry`]); where the kernel
//! refuses that, the child enters it itself before exec by writing `0` to the `cgroup.procs`
//! opened with it — one `write`, async-signal-safe. Ending a cgroup ([`Cgroup::end`]) signals every member through a pidfd
//! opened before the member's cgroup is checked again, so a PID reused meanwhile is never hit,
//! and uses `cgroup.kill` for the KILL where the kernel has it — unless svc itself or one of
//! its ancestors is inside (a service that runs svc), which is never signalled.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;

mod parent;

use super::handle::{wait_any_exit, ProcHandle};
use super::procfs::Procfs;
use crate::definition::CgroupLimits;

/// Where svc looks for a cgroup2 hierarchy, in order.
pub const CANDIDATES: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

/// The state directory whose services get `svc/NAME` rather than `svc/ID/NAME`.
pub const DEFAULT_STATE: &str = "/run/svc";

/// After KILL, how long svc waits for the kernel to empty a cgroup.
pub const KILL_GRACE: Duration = super::group::KILL_GRACE;

/// Whether svc can contain services here, and where; detected once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// A writable cgroup2 mount, and svc is root.
    At(PathBuf),
    /// No containment, and why (for the errors of `limits.memory` and `limits.pids`).
    Unavailable(String),
}

/// The hierarchy of this host ([`detect`], cached).
pub fn hierarchy() -> &'static Hierarchy {
    static H: OnceLock<Hierarchy> = OnceLock::new();
    H.get_or_init(detect)
}

/// Looks for a cgroup2 mount svc may use.
pub fn detect() -> Hierarchy {
    if !nix::unistd::geteuid().is_root() {
        return Hierarchy::Unavailable("svc is not running as root".into());
    }
    for dir in CANDIDATES {
        let Ok(fs) = nix::sys::statfs::statfs(dir) else {
            continue;
        };
        if fs.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            continue;
        }
        return match nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
            Ok(()) => Hierarchy::At(PathBuf::from(dir)),
            Err(e) => {
                Hierarchy::Unavailable(format!("the cgroup2 hierarchy {dir} is not writable: {e}"))
            }
        };
    }
    Hierarchy::Unavailable(format!(
        "no cgroup v2 hierarchy is mounted at {}",
        CANDIDATES.join(" or ")
    ))
}

/// The cgroup of service `name` under the state directory `state`, relative to the hierarchy:
/// `svc/NAME`, or `svc/ID/NAME` (see the module docs).
pub fn relative_path(state: &Path, name: &str) -> PathBuf {
    let abs = std::path::absolute(state).unwrap_or_else(|_| state.to_path_buf());
    if abs == Path::new(DEFAULT_STATE) {
        return Path::new("svc").join(name);
    }
    Path::new("svc").join(config_id(&abs)).join(name)
}

/// The first 12 hex digits of the SHA-256 of a state directory's absolute path (its bytes).
pub fn config_id(abs_state: &Path) -> String {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let digest = sha2::Sha256::digest(abs_state.as_os_str().as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a service's cgroup could not be made ready: start fails with exit 6 (a limit needs
/// what is missing) or 1 (the cgroup file system refused).
#[derive(Debug)]
pub enum CgroupError {
    /// A limit needs a controller the hierarchy does not offer, or no hierarchy at all.
    Controller {
        controller: &'static str,
        why: String,
    },
    /// Creating the cgroup or writing one of its files failed.
    Io { path: PathBuf, source: io::Error },
}

impl std::fmt::Display for CgroupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CgroupError::Controller { controller, why } => write!(
                f,
                "`limits.{controller}` needs the cgroup v2 `{controller}` controller: {why}"
            ),
            CgroupError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

/// The cgroup limits a definition sets but this host cannot apply, as the error start gives;
/// `None` when every limit can be applied (or none is set).
pub fn unsupported(limits: &CgroupLimits) -> Option<CgroupError> {
    let wanted = wanted(limits);
    let first = wanted.first()?;
    match hierarchy() {
        Hierarchy::Unavailable(why) => Some(CgroupError::Controller {
            controller: first,
            why: format!("containment is off ({why})"),
        }),
        Hierarchy::At(root) => {
            let offered = controllers(&root.join("cgroup.controllers"));
            wanted
                .iter()
                .find(|c| !offered.iter().any(|o| o == *c))
                .map(|c| CgroupError::Controller {
                    controller: c,
                    why: format!(
                        "{} does not offer it (it offers: {})",
                        root.display(),
                        if offered.is_empty() {
                            "none".to_string()
                        } else {
                            offered.join(" ")
                        }
                    ),
                })
        }
    }
}

fn wanted(limits: &CgroupLimits) -> Vec<&'static str> {
    let mut out = Vec::new();
    if limits.memory.is_some() {
        out.push("memory");
    }
    if limits.pids.is_some() {
        out.push("pids");
    }
    out
}

/// The controllers a `cgroup.controllers` or `cgroup.subtree_control` file lists.
fn controllers(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// A service's cgroup opened for one launch: its directory, for `clone3` with
/// `CLONE_INTO_CGROUP` (the child is born in the cgroup: no move, which after a quiet spell
/// costs milliseconds of the kernel's migration lock), and its `cgroup.procs`, for the child
/// to write itself into where the kernel refuses that (before 5.7, or a seccomp filter).
#[derive(Debug)]
pub struct Entry {
    pub dir: OwnedFd,
    pub procs: OwnedFd,
}

impl Entry {
    /// The same cgroup, on new descriptors (for a launch prepared once, run again).
    pub fn try_clone(&self) -> io::Result<Entry> {
        Ok(Entry {
            dir: self.dir.try_clone()?,
            procs: self.procs.try_clone()?,
        })
    }
}

/// One service's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    root: PathBuf,
    /// Relative to `root`.
    rel: PathBuf,
}

impl Cgroup {
    /// The cgroup of `name` under state directory `state`; `None` without containment.
    pub fn of(state: &Path, name: &str) -> Option<Cgroup> {
        match hierarchy() {
            Hierarchy::At(root) => Some(Cgroup::at(root, state, name)),
            Hierarchy::Unavailable(_) => None,
        }
    }

    /// The cgroup of `name` in the hierarchy mounted at `root`.
    pub fn at(root: &Path, state: &Path, name: &str) -> Cgroup {
        Cgroup {
            root: root.to_path_buf(),
            rel: relative_path(state, name),
        }
    }

    /// Its directory.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.rel)
    }

    /// Creates the cgroup (and `svc/`, `svc/ID/` above it), enables the memory and pids
    /// controllers down to it where the hierarchy offers them, writes `memory.max` and
    /// `pids.max` ("max" where no limit is set, so a limit removed from the definition goes
    /// too), and opens it for the child to enter ([`Entry`]).
    pub fn prepare(&self, limits: &CgroupLimits) -> Result<Entry, CgroupError> {
        if let Some(e) = unsupported(limits) {
            return Err(e);
        }
        let io = |path: PathBuf| move |source: io::Error| CgroupError::Io { path, source };
        // A concurrent stop of the last service of this configuration may remove `svc/ID`
        // between our mkdir of it and of NAME: try once more.
        let mut tries = 0;
        loop {
            match self.make_dirs() {
                Ok(()) => break,
                Err((_, e)) if e.kind() == io::ErrorKind::NotFound && tries == 0 => tries += 1,
                Err((path, source)) => return Err(CgroupError::Io { path, source }),
            }
        }
        let offered = controllers(&self.root.join("cgroup.controllers"));
        let enable: Vec<&str> = ["memory", "pids"]
            .into_iter()
            .filter(|c| offered.iter().any(|o| o == c))
            .collect();
        let needed = wanted(limits);
        let mut dir = self.root.clone();
        // Nothing to enable (a hybrid host's cgroup2 offers neither): no subtree to look at.
        let parts = if enable.is_empty() {
            0
        } else {
            self.rel.iter().count()
        };
        for part in self.rel.iter().take(parts) {
            let control = dir.join("cgroup.subtree_control");
            let on = controllers(&control);
            for c in &enable {
                if on.iter().any(|o| o == c) {
                    continue;
                }
                if let Err(source) = write_file(&control, &format!("+{c}")) {
                    // Only an error when a limit needs it; else there is just no figure.
                    if needed.contains(c) {
                        return Err(CgroupError::Controller {
                            controller: c,
                            why: format!("cannot enable it in {}: {source}", control.display()),
                        });
                    }
                }
            }
            dir.push(part);
        }
        let leaf = self.path();
        for (file, controller, value) in [
            ("memory.max", "memory", limits.memory),
            ("pids.max", "pids", limits.pids),
        ] {
            // A controller the hierarchy does not offer has no file (and no limit, which
            // `unsupported` refused above).
            if !enable.contains(&controller) {
                continue;
            }
            let path = leaf.join(file);
            let text = value.map_or_else(|| "max".to_string(), |v| v.to_string());
            match write_file(&path, &text) {
                Ok(()) => {}
                // No such file and no such limit: the controller is simply not on.
                Err(_) if value.is_none() => {}
                Err(source) => {
                    return Err(CgroupError::Controller {
                        controller,
                        why: format!("cannot write {}: {source}", path.display()),
                    })
                }
            }
        }
        // O_DIRECTORY: a service named like one of the cgroup's own files (`cgroup.procs`,
        // `memory.max`) finds that file where its directory should be.
        let dir = match parent::open_at(&leaf, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::ENOTDIR) => {
                return Err(CgroupError::Io {
                    path: leaf,
                    source: io::Error::other(
                        "the service's name is that of a cgroup interface file there, so it \
                         cannot have a cgroup of its own: rename the service",
                    ),
                })
            }
            Err(e) => return Err(io(leaf)(e.into())),
        };
        let procs = parent::openat(dir.as_fd(), "cgroup.procs", OFlag::O_WRONLY)
            .map_err(|e| io(leaf.join("cgroup.procs"))(e.into()))?;
        Ok(Entry { dir, procs })
    }

    /// Makes the cgroup: its own directory at once, the ones above it (`svc/`, `svc/ID/`)
    /// only when missing.
    fn make_dirs(&self) -> Result<(), (PathBuf, io::Error)> {
        let leaf = self.path();
        if let (Some(above), Some(name)) = (leaf.parent(), leaf.file_name()) {
            let mkdir = |dir: BorrowedFd<'_>| {
                nix::sys::stat::mkdirat(
                    Some(dir.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o755),
                )
            };
            match parent::at(above, mkdir) {
                Ok(()) | Err(Errno::EEXIST) => return Ok(()),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err((leaf, e.into())),
            }
        }
        let mut dir = self.root.clone();
        for part in self.rel.iter() {
            dir.push(part);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err((dir, e)),
            }
        }
        Ok(())
    }

    /// Whether the cgroup exists.
    pub fn exists(&self) -> bool {
        let leaf = self.path();
        let (Some(above), Some(dir)) = (leaf.parent(), leaf.file_name()) else {
            return false;
        };
        let procs = Path::new(dir).join("cgroup.procs");
        let flags = nix::fcntl::AtFlags::empty();
        parent::at(above, |d| {
            nix::sys::stat::fstatat(Some(d.as_raw_fd()), procs.as_path(), flags)
        })
        .is_ok()
    }

    /// The processes in the cgroup now (none when it does not exist).
    pub fn procs(&self) -> Vec<i32> {
        let mut out: Vec<i32> = read_whole(self.file("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// Whether the kernel counts a process in the cgroup (`populated 1` in `cgroup.events`);
    /// false when the cgroup does not exist.
    pub fn populated(&self) -> bool {
        read_whole(self.file("cgroup.events")).is_ok_and(|s| s.lines().any(|l| l == "populated 1"))
    }

    /// One of the cgroup's files, opened for reading by its name under the kept `svc/ID`
    /// ([`parent::at`]): two names looked up in cgroupfs, not the whole path.
    fn file(&self, name: &str) -> io::Result<fs::File> {
        let leaf = self.path();
        let (Some(above), Some(dir)) = (leaf.parent(), leaf.file_name()) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let path = Path::new(dir).join(name);
        // Non-blocking: a FIFO put there (not in a real cgroup2) is never waited on.
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
        let fd = parent::at(above, |d| parent::openat(d, path.as_path(), flags))?;
        Ok(fs::File::from(fd))
    }

    /// Whether `pid` is in the cgroup now.
    pub fn contains(&self, pid: i32) -> bool {
        self.procs().contains(&pid)
    }

    /// `memory.current`, where the memory controller is on for the cgroup.
    pub fn memory_bytes(&self) -> Option<u64> {
        if !memory_offered(&self.root) {
            return None;
        }
        read_whole(self.file("memory.current"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Whether `pid`'s own cgroup (its `0::` line in /proc) is this one.
    fn holds(&self, procfs: &Procfs, pid: i32) -> bool {
        let want = Path::new("/").join(&self.rel);
        fs::read_to_string(procfs.root().join(pid.to_string()).join("cgroup"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(|p| Path::new(p) == want))
            })
            .unwrap_or(false)
    }

    /// Ends every process of the cgroup: `sig` and SIGCONT, KILL at `soft` (or at once when
    /// `soft` has passed), and waits up to [`KILL_GRACE`] after that for the cgroup to empty.
    /// `spared` (svc and its ancestors) are never signalled. Returns the processes still there
    /// at the end, if any. The cgroup stays (see [`Cgroup::remove`]).
    pub fn end(
        &self,
        procfs: &Procfs,
        sig: Signal,
        soft: Instant,
        spared: &[i32],
    ) -> Result<(), Vec<i32>> {
        let hard = soft.max(Instant::now()) + KILL_GRACE;
        let mut signalled = false;
        let mut killed = false;
        let mut by_cgroup_kill = false;
        loop {
            let all = self.procs();
            let members: Vec<i32> = all
                .iter()
                .copied()
                .filter(|p| !spared.contains(p))
                .collect();
            // Empty only when the kernel's count agrees: a read of cgroup.procs was seen to
            // leave out a live member (the main process of a shell, once, in a test).
            if members.is_empty() && (!all.is_empty() || !self.populated()) {
                return Ok(());
            }
            let now = Instant::now();
            let handles: Vec<ProcHandle> = members
                .iter()
                .filter_map(|p| ProcHandle::open(*p, procfs).ok())
                // The handle first, then the check: the handle holds the process checked.
                .filter(|h| self.holds(procfs, h.pid()))
                .collect();
            if !signalled {
                for h in &handles {
                    let _ = h.signal(sig);
                    let _ = h.signal(Signal::SIGCONT);
                }
                signalled = true;
            }
            if now >= soft {
                // cgroup.kill once (it takes what forks meanwhile too); without it, KILL to
                // each member at every look, so a child forked since the last one gets it too.
                if !killed {
                    let inside_spared = spared.iter().any(|p| self.holds(procfs, *p));
                    by_cgroup_kill =
                        !inside_spared && write_file(&self.path().join("cgroup.kill"), "1").is_ok();
                    killed = true;
                }
                if !by_cgroup_kill {
                    for h in &handles {
                        let _ = h.signal(Signal::SIGKILL);
                    }
                }
            }
            if now >= hard {
                return Err(members);
            }
            let refs: Vec<&ProcHandle> = handles.iter().collect();
            let until = if killed { hard } else { soft };
            // Look again now and then: a member may fork while we wait.
            let until = until.min(Instant::now() + Duration::from_millis(50));
            if refs.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                wait_any_exit(&refs, until);
            }
        }
    }

    /// Removes the cgroup if it is empty, and `svc/ID` above it once that holds no other;
    /// whether the cgroup is gone now (false: it still holds processes, EBUSY).
    pub fn remove(&self) -> bool {
        let leaf = self.path();
        let (Some(above), Some(name)) = (leaf.parent(), leaf.file_name()) else {
            return false;
        };
        if flush_due() {
            flush_statistics(above);
        }
        let rmdir = |dir: BorrowedFd<'_>| {
            nix::unistd::unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir)
        };
        match parent::at(above, rmdir) {
            Ok(()) => {}
            Err(e) => return e == Errno::ENOENT,
        }
        // Only when it has no other cgroup: a cgroup directory's link count is 2 plus its
        // subdirectories, and a stat costs a tenth of an rmdir refused with EBUSY (measured: 2
        // against 44 us). A sibling made meanwhile makes rmdir fail, as it should.
        let alone = || parent::at(above, |dir| nix::sys::stat::fstat(dir.as_raw_fd()));
        let last = self.rel.components().count() == 3 && alone().is_ok_and(|st| st.st_nlink <= 2);
        if last && fs::remove_dir(above).is_ok() {
            parent::forget(above);
        }
        true
    }
}

/// A cgroup file, read to its end without asking its size first (cgroupfs reports a size that
/// says nothing, and asking is a `statx`); `status --json` reads two per service.
fn read_whole(file: io::Result<fs::File>) -> io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    file?.take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
}

/// Whether the hierarchy at `root` has the memory controller at all (its root's
/// `cgroup.controllers`): where it has not, no cgroup has a `memory.current` to try (a hybrid
/// host whose memory controller is bound to cgroup v1). Asked once per process for the
/// host's hierarchy, each time for another root.
fn memory_offered(root: &Path) -> bool {
    let ask = || {
        read_whole(fs::File::open(root.join("cgroup.controllers")))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "memory"))
    };
    static HOST: OnceLock<bool> = OnceLock::new();
    match hierarchy() {
        Hierarchy::At(host) if host == root => *HOST.get_or_init(ask),
        _ => ask(),
    }
}

/// Removals between two [`flush_statistics`] of the parent (the first removal of a process
/// flushes too).
const FLUSH_EVERY: usize = 32;

/// Whether this removal should flush its parent's statistics first: one in [`FLUSH_EVERY`].
fn flush_due() -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REMOVED: AtomicUsize = AtomicUsize::new(0);
    REMOVED.fetch_add(1, Ordering::Relaxed) % FLUSH_EVERY == 0
}

/// Reads `cpu.stat` of `dir`, which makes the kernel flush the statistics of every cgroup under
/// it. Each cgroup whose processes ran is on a per-CPU list of its parent's updated children
/// (a singly linked list), and a cgroup being freed is unlinked from it by a walk along that
/// list: with N sibling cgroups whose processes ran since the last flush, removing them all
/// costs N² steps, in kernel workers that hold the cgroup mutex `rmdir` waits for (a switch to
/// runlevel 0 of 10,000 contained services took 3.5× the time of 5,000). A flush empties the
/// lists in one pass. Nothing is done with what is read; a failure changes nothing.
fn flush_statistics(dir: &Path) {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: a FIFO put there (not in a real cgroup2, but svc never waits on one).
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(dir.join("cpu.stat"));
    if let Ok(mut f) = file {
        let mut buf = [0u8; 512];
        while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Writes `text` to a cgroup file in one write(2), as the kernel wants it.
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flushing reads the parent's `cpu.stat` to its end and never waits: not on a FIFO, not
    /// on a directory without the file.
    #[test]
    fn flushing_statistics_never_waits() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().to_path_buf();
        nix::unistd::mkfifo(&parent.join("cpu.stat"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = parent.clone();
        std::thread::spawn(move || {
            flush_statistics(&p);
            flush_statistics(&p.join("missing"));
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "flush_statistics blocked on a FIFO"
        );
    }

    /// `memory.current` is tried only where the hierarchy has the memory controller; the
    /// processes are read whole, however many.
    #[test]
    fn memory_is_read_where_the_hierarchy_offers_it_and_procs_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cg = Cgroup::at(root, Path::new("/tmp/state"), "big");
        fs::create_dir_all(cg.path()).unwrap();
        fs::write(cg.path().join("memory.current"), "4096\n").unwrap();
        assert_eq!(cg.memory_bytes(), None, "no cgroup.controllers at the root");
        fs::write(root.join("cgroup.controllers"), "cpuset cpu io pids\n").unwrap();
        assert_eq!(cg.memory_bytes(), None, "no memory controller");
        fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        assert_eq!(cg.memory_bytes(), Some(4096));
        let pids: Vec<i32> = (1000..9000).rev().collect();
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        fs::write(cg.path().join("cgroup.procs"), text).unwrap();
        assert_eq!(cg.procs(), (1000..9000).collect::<Vec<i32>>());
    }

    /// One removal in [`FLUSH_EVERY`] flushes, not none and not all (whatever the count is when
    /// the test starts; another test's removal may come in between).
    #[test]
    fn a_flush_comes_once_in_flush_every_removals() {
        let due = (0..2 * FLUSH_EVERY).filter(|_| flush_due()).count();
        assert!(
            (1..=3).contains(&due),
            "{due} flushes in {}",
            2 * FLUSH_EVERY
        );
    }

    #[test]
    fn the_default_state_directory_has_no_id() {
        assert_eq!(
            relative_path(Path::new("/run/svc"), "redis"),
            PathBuf::from("svc/redis")
        );
        let other = relative_path(Path::new("/var/tmp/x/state"), "redis");
        let parts: Vec<_> = other
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "svc");
        assert_eq!(parts[1].len(), 12);
        assert!(parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(parts[2], "redis");
    }

    #[test]
    fn the_id_is_the_sha256_of_the_path() {
        // printf %s /tmp/state | sha256sum
        assert_eq!(config_id(Path::new("/tmp/state")), "499762b5a20e");
    }

    #[test]
    fn errors_name_the_limit_and_the_controller() {
        let e = CgroupError::Controller {
            controller: "pids",
            why: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "`limits.pids` needs the cgroup v2 `pids` controller: x"
        );
    }
}
