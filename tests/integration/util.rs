//! Test fixture: a sandbox with its own configuration, state and log directories, a builder for
//! services, `svc` runs with a cleared environment, event waits with deadlines, and a guard that
//! kills every process the test started (found by the sandbox path in their command line), even
//! when the test fails. Every helper more than one test module uses lives here (or in the
//! submodules below, re-exported), never in another test module:
//! - `cgroup`: cgroup v2 as a test sees it (SPEC §8.7), and the removal of a sandbox's cgroups;
//! - `run`: the one place that waits on a child, always with a deadline (kills it and its
//!   process group, and fails the test with its output so far);
//! - `pid1`: `svc init` as PID 1 of a new PID namespace (`unshare`), signalled, waited for,
//!   entered with `nsenter`, and killed with its namespace on drop;
//! - `procs`: /proc readers (the crate's own stat parser) and PID files;
//! - `serve`: `svc serve` started, stopped and asked over HTTP (its socket or TCP);
//! - `user`: the ordinary user tests drop to as root — `svc-test`, which `.ci/run` creates; a
//!   test does not create it, and skips (so fails under `SVC_TEST_STRICT=1`) without it; and
//!   the sandbox's own copy of svc for that user, who may not read the checkout.

#![allow(dead_code)]

mod cgroup;
mod pid1;
mod procs;
mod run;
mod serve;
mod user;

pub use cgroup::*;
pub use pid1::*;
pub use procs::*;
pub use run::*;
pub use serve::*;
pub use user::*;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const SVC: &str = env!("CARGO_BIN_EXE_svc");

/// The result of one `svc` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    /// Asserts the exit code, printing both streams on failure.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "svc {:?}: expected exit {expected}, got {}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "svc {:?}: stdout lacks {needle:?}\n--- stdout\n{}--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "svc {:?}: stderr lacks {needle:?}\n--- stdout\n{}--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked"),
            "svc {:?} panicked:\n{}",
            self.args,
            self.stderr
        );
        self
    }
}

/// A temporary svc world: `config/init.d`, `config/runlevels/rcN.d`, `state/`, `log/`, and a
/// scratch `work/` directory for scripts and files the daemons write.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    pub log: PathBuf,
    pub work: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("svc-test-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().to_path_buf();
        let config = root.join("config");
        let state = root.join("state");
        let log = root.join("log");
        let work = root.join("work");
        std::fs::create_dir_all(config.join("init.d")).unwrap();
        for l in ["0", "1", "2", "3", "4", "5", "6", "S"] {
            std::fs::create_dir_all(config.join(format!("runlevels/rc{l}.d"))).unwrap();
        }
        std::fs::create_dir_all(&work).unwrap();
        Sandbox {
            dir,
            config,
            state,
            log,
            work,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `init.d/NAME.yaml`.
    pub fn service(&self, name: &str, yaml: &str) -> &Sandbox {
        let p = self.config.join("init.d").join(format!("{name}.yaml"));
        std::fs::write(&p, yaml).unwrap();
        self
    }

    /// Writes an executable script into `work/` and returns its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// A long-running daemon: a shell script that records its PID in work/NAME.started, traps
    /// TERM (records work/NAME.term and exits) and otherwise waits. Returns the definition text.
    pub fn sleeper(&self, name: &str) -> String {
        let script = self.script(
            &format!("{name}.sh"),
            &format!(
                "#!/bin/sh\ntrap 'echo term > {w}/{name}.term; exit 0' TERM\necho $$ > {w}/{name}.started\nwhile :; do sleep 1 & wait $!; done\n",
                w = self.work.display()
            ),
        );
        format!("exec: {}\n", script.display())
    }

    /// Builds a `svc` command with a cleared environment and the sandbox directories, in its
    /// own process group (so that a run killed at its deadline takes what it forked along).
    /// Run it through [`output`], [`run_timeout`] or [`finish`], which wait with a deadline.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(SVC);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", self.path())
            .arg("--config-dir")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--log-dir")
            .arg(&self.log)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `svc` run through a wrapper (`sh -c '...; exec "$@"' sh`, `setpriv ... --`): the
    /// wrapper and its arguments, then svc with a cleared environment and the sandbox
    /// directories; the caller adds svc's arguments.
    pub fn wrapped(&self, wrapper: &str, wrapper_args: &[&str]) -> Command {
        let mut c = Command::new(wrapper);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c.args(wrapper_args)
            .arg(SVC)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("--config-dir")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--log-dir")
            .arg(&self.log)
            .stdin(Stdio::null());
        c
    }

    /// Runs `svc ARGS` and returns what happened; a run still going after [`SVC_LIMIT`] is
    /// killed and fails the test.
    #[track_caller]
    pub fn svc<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        output(self.cmd(&args), args, SVC_LIMIT)
    }

    pub fn pidfile(&self, name: &str) -> PathBuf {
        self.state.join(format!("{name}.pid"))
    }

    pub fn logfile(&self, name: &str) -> PathBuf {
        self.log.join(format!("{name}.log"))
    }

    /// The PID in the service's default PID file.
    #[track_caller]
    pub fn pid(&self, name: &str) -> i32 {
        let text = std::fs::read_to_string(self.pidfile(name))
            .unwrap_or_else(|e| panic!("read pid file of {name}: {e}"));
        text.trim().parse().expect("pid file holds a number")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        kill_matching(self.dir.path());
        remove_sandbox_cgroups(self);
    }
}

/// Kills (SIGKILL) every process whose command line or executable mentions `path`, with its
/// process group. Used by the sandbox guard; safe to call repeatedly.
pub fn kill_matching(path: &Path) {
    let needle = path.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    for _ in 0..3 {
        let mut found = false;
        for pid in all_pids() {
            if pid == me || pid <= 1 {
                continue;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if cmdline.contains(&needle) || exe.contains(&needle) || cwd.contains(&needle) {
                found = true;
                // SAFETY: plain kill(2). The process was seen a moment ago with the sandbox
                // in its command line, executable or directory; a PID reused since would
                // have to be reused within that moment.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                let own_group = nix::unistd::getpgrp().as_raw();
                if let Some(pg) = proc_stat(pid).map(|s| s.pgrp) {
                    if pg > 1 && pg != me && pg != own_group {
                        // SAFETY: kill(2) of that process's group, never our own.
                        unsafe {
                            libc::kill(-pg, libc::SIGKILL);
                        }
                    }
                }
            }
        }
        if !found {
            break;
        }
    }
}

/// Waits until `cond` holds, checking often, failing the test after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::park_timeout(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Waits until `path` exists.
#[track_caller]
pub fn wait_for_file(path: &Path, timeout: Duration) {
    wait_until(timeout, &format!("{}", path.display()), || path.exists());
}

/// Runs `svc` with the given configuration, state and log directories (for tests whose
/// directories are not a sandbox's own: odd names, deep paths, non-UTF-8 bytes).
#[track_caller]
pub fn svc_in(config: &Path, state: &Path, log: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(SVC);
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--config-dir")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .arg("--log-dir")
        .arg(log)
        .args(args)
        .stdin(Stdio::null());
    output(c, display_args(args), SVC_LIMIT)
}

/// A lock shared by every copy of the suite on this machine (a flock on a file in the
/// temporary directory), for the few tests that need a fixed resource such as the example
/// configuration's port 8080: held until dropped; waits for it at most `timeout`.
#[track_caller]
pub fn machine_wide_turn(what: &str, timeout: Duration) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join(format!("svc-tests-{what}.lock"));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    wait_until(timeout, &format!("the turn for {what}"), || {
        // SAFETY: flock on a descriptor we own; released when the file is dropped.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    });
    f
}

/// Sends `sig` to `pid` (a negative `pid`: to that process group); an error (the process is
/// gone) is ignored, as the callers wait for the outcome they expect.
pub fn send_signal(pid: i32, sig: i32) {
    if let Ok(sig) = nix::sys::signal::Signal::try_from(sig) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// The kernel's clock ticks per second (USER_HZ), the unit of /proc's CPU times.
pub fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// The lines of a file the test's programs append to (none while it does not exist).
pub fn file_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// `svc status --json NAME` as a JSON value (the first array element).
pub fn status_json(sb: &Sandbox, name: &str) -> serde_json::Value {
    let r = sb.svc(["status", "--json", name]);
    r.no_panic();
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", r.stdout));
    v[0].clone()
}

/// True when running as root (tests of user switching and of root-only rules need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Skips a test that cannot run here: prints `SKIP test: why` and returns true, so the caller
/// returns. With `SVC_TEST_STRICT=1` (CI) a skip is a failure instead: a green strict run never
/// hides an untested area.
#[track_caller]
pub fn skip(test: &str, why: &str) -> bool {
    if strict() {
        panic!("SKIP {test}: {why} (SVC_TEST_STRICT=1: a skip fails)");
    }
    eprintln!("SKIP {test}: {why}");
    true
}

/// The first of `paths` that exists, or `None` after [`skip`] says which package gives it.
#[track_caller]
pub fn tool(test: &str, paths: &[&'static str], package: &str) -> Option<&'static str> {
    let found = paths.iter().copied().find(|p| Path::new(p).exists());
    if found.is_none() {
        skip(
            test,
            &format!(
                "{} is not installed (apt-get install --no-install-recommends {package}; \
                 .ci/run installs it)",
                paths[0]
            ),
        );
    }
    found
}

/// Whether skips fail (`SVC_TEST_STRICT=1`, as `.ci/run` sets it).
pub fn strict() -> bool {
    std::env::var_os("SVC_TEST_STRICT").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Prints why a test is skipped; returns true when it must be.
#[track_caller]
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        false
    } else {
        skip(test, "needs root")
    }
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// True (after saying why) when a PID namespace cannot be made here (`unshare --pid --fork
/// --mount-proc`, as root).
#[track_caller]
pub fn skip_without_pidns(test: &str) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "true"])
        .stdin(Stdio::null());
    let ok = output(c, vec!["unshare probe".into()], SVC_LIMIT).code == 0;
    if !ok {
        skip(
            test,
            "`unshare --pid --fork --mount-proc` is not available or not permitted here",
        );
    }
    !ok
}

/// The strace binary; None (after saying why) when it is missing, which strict mode (CI)
/// turns into a failure.
#[track_caller]
pub fn strace(test: &str) -> Option<&'static str> {
    let found = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if found.is_none() {
        skip(test, "strace is not installed (apt-get install strace)");
    }
    found
}

/// The paths of the `openat` calls recorded by `strace -o trace`, one per call.
pub fn opened(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Some(l.split('"').nth(1)?.to_string()))
        .collect()
}
