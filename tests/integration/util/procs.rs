//! Reading /proc about the processes a test started: status with the crate's own parser of
//! /proc/PID/stat (`svc::process::procfs`), liveness, process groups, PIDs daemons wrote.

use super::{wait_until, Sandbox};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The fields of /proc/PID/stat that svc and the tests look at, as the crate parses them.
pub use svc::process::procfs::Stat as ProcStat;

pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// /proc/PID/stat of `pid`, parsed by the crate (bytes: a command name may be anything a
/// process set with prctl PR_SET_NAME).
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    svc::process::procfs::parse_stat_bytes(&bytes).ok()
}

/// Field `n` of /proc/PID/stat, numbered as in proc(5) (7 = tty_nr, 14/15 = utime/stime,
/// 19 = nice), for the fields the crate's [`ProcStat`] does not carry. Counted after the last
/// `)`, as the crate's parser does, so a command name with spaces cannot shift it.
pub fn stat_field(pid: i32, n: usize) -> Option<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(n - 3).map(str::to_string)
}

/// Alive = exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|s| !s.is_zombie())
}

/// Processes (not zombies) in process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| proc_stat(*p).is_some_and(|s| s.pgrp == pgid && s.state != 'Z'))
        .collect()
}

/// A field of /proc/PID/status, e.g. "SigIgn".
pub fn proc_status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Live (non-zombie) processes, other than this test, whose command line contains `needle`,
/// leaving out those whose parent matches too: a shell daemon's fork that has not yet exec'd
/// its command still shows the script's command line, and is not a second daemon.
pub fn procs_with_arg(needle: &Path) -> Vec<i32> {
    let needle = needle.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let matching: Vec<i32> = all_pids()
        .into_iter()
        .filter(|&p| p != me && alive(p))
        .filter(|&p| {
            let raw = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .contains(&needle)
        })
        .collect();
    matching
        .iter()
        .copied()
        .filter(|&p| !proc_stat(p).is_some_and(|s| matching.contains(&s.ppid)))
        .collect()
}

/// Reads a PID that a daemon wrote into `path` (waiting for it to appear).
#[track_caller]
pub fn read_pid(path: &Path) -> i32 {
    wait_until(
        Duration::from_secs(10),
        &format!("pid in {}", path.display()),
        || {
            std::fs::read_to_string(path)
                .map(|t| t.trim().parse::<i32>().is_ok())
                .unwrap_or(false)
        },
    );
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Asserts that the service's PID file is gone and that no process of `pgid` is left.
#[track_caller]
pub fn assert_gone(sb: &Sandbox, name: &str, pgid: i32) {
    assert!(
        !sb.pidfile(name).exists(),
        "{name}: PID file {} left after the service ended",
        sb.pidfile(name).display()
    );
    let left = group_members(pgid);
    assert!(
        left.is_empty(),
        "{name}: processes of group {pgid} left: {left:?}"
    );
}

/// True when the PID file of `name` exists (as any kind of file, even a dangling link).
pub fn pidfile_exists(sb: &Sandbox, name: &str) -> bool {
    std::fs::symlink_metadata(sb.pidfile(name)).is_ok()
}

/// Starts `name` and returns the daemon's PID once the sleeper has recorded itself (its PID
/// written whole: the shell's `>` creates the file before `echo` fills it).
#[track_caller]
pub fn start_sleeper(sb: &Sandbox, name: &str) -> i32 {
    sb.svc(["start", name]).ok().no_panic();
    let pid = sb.pid(name);
    read_pid(&sb.work.join(format!("{name}.started")));
    assert!(
        alive(pid),
        "{name}: PID {pid} from the PID file is not alive"
    );
    pid
}

/// Creates a directory (and parents) with mode 0755, as a root-owned state directory would be.
pub fn mkdir_755(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every path under `dir`, relative, with a letter for its type; for before/after comparisons.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let kind = if m.is_dir() {
                'd'
            } else if m.file_type().is_symlink() {
                'l'
            } else {
                'f'
            };
            out.push(format!(
                "{kind} {}",
                p.strip_prefix(root).unwrap_or(&p).display()
            ));
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Moves `pid` to the root of the cgroup2 hierarchy svc uses, out of its service's cgroup
/// (SPEC §8.7): what a process named by a previous boot's record is — no cgroup of this
/// boot's svc holds it. Nothing to do without containment (not root, no cgroup2).
pub fn leave_service_cgroup(pid: i32) {
    if let svc::process::cgroup::Hierarchy::At(root) = svc::process::cgroup::detect() {
        std::fs::write(root.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("moving {pid} out of its cgroup: {e}"));
    }
}
