//! cgroup v2 as the tests see it (SPEC §8.7): the hierarchy svc would use here (found the way
//! `src/process/cgroup.rs` finds it, written again so a test does not trust the code it
//! checks), a process's own cgroup from /proc, a service's expected cgroup, what a cgroup
//! holds (and the assertions on it), the removal of what a sandbox left there, a private
//! cgroup2 mount to ask the kernel for a controller (and svc run in one), and the one skip
//! strict mode allows: a kernel that refuses what a test needs.

use super::{alive, skip_unless_root, strict, Sandbox};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where svc looks for a cgroup2 hierarchy, in order.
const CANDIDATES: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

/// The writable cgroup2 hierarchy svc contains services in when run by this (root) test; `None`
/// when not root or there is none.
pub fn cgroup2_root() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    CANDIDATES
        .into_iter()
        .find(|d| {
            nix::sys::statfs::statfs(*d)
                .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        })
        .filter(|d| nix::unistd::access(*d, nix::unistd::AccessFlags::W_OK).is_ok())
        .map(PathBuf::from)
}

/// Whether svc run by this test contains its services (root and a writable cgroup2).
pub fn containment() -> bool {
    cgroup2_root().is_some()
}

/// True (after saying why) when a test of containment cannot run: not root, or no writable
/// cgroup2 hierarchy. Strict mode (CI, which has both) turns that into a failure.
#[track_caller]
pub fn skip_without_containment(test: &str) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    if containment() {
        return false;
    }
    super::skip(
        test,
        &format!(
            "no writable cgroup2 hierarchy at {}",
            CANDIDATES.join(" or ")
        ),
    )
}

/// Skips a test because the kernel refused what it needs — the one skip strict mode allows
/// (issue 13: the pids controller bound to a v1 hierarchy cannot be enabled in cgroup2). Call
/// it only after proving the refusal, with the failed call and its errno in `why`.
pub fn skip_refused_by_kernel(test: &str, why: &str) {
    let mode = if strict() {
        " (allowed under SVC_TEST_STRICT=1: the kernel refused)"
    } else {
        ""
    };
    eprintln!("SKIP {test}: {why}{mode}");
}

/// The cgroup of `pid` in the v2 hierarchy: its `0::` line of /proc/PID/cgroup.
pub fn cgroup_of(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
}

/// The directory of `pid`'s cgroup in the hierarchy svc uses.
pub fn cgroup_dir_of(pid: i32) -> Option<PathBuf> {
    let root = cgroup2_root()?;
    let rel = cgroup_of(pid)?;
    Some(root.join(rel.trim_start_matches('/')))
}

/// The PIDs a cgroup directory holds (none when it does not exist).
pub fn cgroup_procs(dir: &Path) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    out.sort_unstable();
    out
}

/// `svc/ID`, ID the first 12 hex digits of the SHA-256 of the sandbox's state directory
/// (SPEC §8.7), relative to the hierarchy, with a leading `/` as in /proc/PID/cgroup.
pub fn config_cgroup(sb: &Sandbox) -> String {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let digest = sha2::Sha256::digest(sb.state.as_os_str().as_bytes());
    let id: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("/svc/{id}")
}

/// The cgroup SPEC §8.7 gives service `name` of the sandbox: `/svc/ID/NAME`.
pub fn service_cgroup(sb: &Sandbox, name: &str) -> String {
    format!("{}/{name}", config_cgroup(sb))
}

/// The directory of that cgroup in the hierarchy svc uses here (`None` without one).
pub fn service_cgroup_dir(sb: &Sandbox, name: &str) -> Option<PathBuf> {
    Some(cgroup2_root()?.join(service_cgroup(sb, name).trim_start_matches('/')))
}

/// Mounts a cgroup2 at `dir` in a private mount namespace (a child process of its own) and,
/// when `enable` is given, writes it to the root's `cgroup.subtree_control`: the errno of the
/// first call the kernel refused. The child does only system calls between fork and exec.
pub fn try_private_cgroup2(dir: &Path, enable: Option<&str>) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let control = CString::new(dir.join("cgroup.subtree_control").as_os_str().as_bytes()).unwrap();
    let enable = enable.map(|e| e.as_bytes().to_vec());
    let mut c = std::process::Command::new("true");
    c.stdin(std::process::Stdio::null());
    // SAFETY: only system calls (unshare, mount, open, write) on buffers made before the fork.
    unsafe {
        c.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let root = b"/\0";
            if libc::mount(
                std::ptr::null(),
                root.as_ptr().cast(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            let fstype = b"cgroup2\0";
            let none = b"none\0";
            if libc::mount(
                none.as_ptr().cast(),
                target.as_ptr(),
                fstype.as_ptr().cast(),
                0,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            if let Some(e) = &enable {
                let fd = libc::open(control.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, e.as_ptr().cast(), e.len()) != e.len() as isize {
                    return fail();
                }
            }
            Ok(())
        });
    }
    let mut child = c.spawn()?;
    let st = child.wait()?;
    assert!(st.success(), "`true` failed: {st}");
    Ok(())
}

/// The controllers the hierarchy svc uses offers.
pub fn offered_controllers() -> Vec<String> {
    let root = cgroup2_root().expect("a cgroup2 hierarchy");
    std::fs::read_to_string(root.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A wrapper that runs svc in a private mount namespace whose /sys/fs/cgroup is a cgroup2
/// with the pids controller on at its root.
pub fn in_pids_namespace(sb: &Sandbox, args: &[&str]) -> super::Run {
    in_private_mounts(
        sb,
        "mount -t cgroup2 none /sys/fs/cgroup && echo +pids > /sys/fs/cgroup/cgroup.subtree_control",
        args,
    )
}

/// svc run where no cgroup2 is mounted, as early in a boot: in a private mount namespace with a
/// tmpfs over /sys/fs/cgroup.
pub fn before_cgroup2(sb: &Sandbox, args: &[&str]) -> super::Run {
    in_private_mounts(sb, "mount -t tmpfs none /sys/fs/cgroup", args)
}

/// svc run in a private mount namespace once `prelude` (a shell command) has run there.
fn in_private_mounts(sb: &Sandbox, prelude: &str, args: &[&str]) -> super::Run {
    let script = format!("{prelude} && exec \"$@\"");
    let mut c = sb.wrapped(
        "unshare",
        &[
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ],
    );
    c.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    super::run_timeout(c, super::display_args(args), super::SVC_LIMIT)
}

/// Asserts that every process of `pids` runs in the cgroup SPEC §8.7 gives `name`, and that
/// its directory lists them; returns the directory.
#[track_caller]
pub fn assert_in_service_cgroup(sb: &Sandbox, name: &str, pids: &[i32]) -> PathBuf {
    let want = service_cgroup(sb, name);
    for &p in pids {
        assert_eq!(
            cgroup_of(p).as_deref(),
            Some(want.as_str()),
            "process {p} of {name} is not in its service's cgroup"
        );
    }
    let dir = cgroup_dir_of(pids[0]).expect("the cgroup directory");
    let listed = cgroup_procs(&dir);
    for p in pids {
        assert!(
            listed.contains(p),
            "{}/cgroup.procs lacks {p}: {listed:?}",
            dir.display()
        );
    }
    dir
}

/// Asserts that nothing of `pids` is left, and that the cgroup `dir` and its `svc/ID` parent
/// (the sandbox has one service) are gone.
#[track_caller]
pub fn assert_all_gone(pids: &[i32], dir: &Path) {
    let left: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes of the service left: {left:?}");
    assert!(!dir.exists(), "the cgroup {} is left", dir.display());
    let parent = dir.parent().unwrap();
    assert!(
        !parent.exists(),
        "the configuration's cgroup {} is left",
        parent.display()
    );
}

/// Kills what is left in the sandbox's cgroups and removes them (`svc/ID/*`, then `svc/ID`),
/// so a failed test leaves nothing in the host's hierarchy. Never panics (runs in Drop).
pub fn remove_sandbox_cgroups(sb: &Sandbox) {
    let Some(root) = cgroup2_root() else {
        return;
    };
    let top = root.join(config_cgroup(sb).trim_start_matches('/'));
    let Ok(rd) = std::fs::read_dir(&top) else {
        return;
    };
    for e in rd.flatten() {
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = cgroup_procs(&dir);
            if left.iter().all(|p| !alive(*p)) && std::fs::remove_dir(&dir).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                eprintln!("{}: still holds {left:?}", dir.display());
                break;
            }
            if std::fs::write(dir.join("cgroup.kill"), "1").is_err() {
                for p in left {
                    super::send_signal(p, libc::SIGKILL);
                }
            }
            std::thread::park_timeout(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_dir(&top);
}
