//! LSB init scripts run as services: a definition with `script: /etc/init.d/foo` (svc.yaml(5) and
//! docs/services.md).
//!
//! This module owns everything that differs for such a service at run time: running
//! `SCRIPT ACTION`, mapping its exit code and deriving liveness from its `status` action. The
//! script's `### BEGIN INIT INFO` block fills the definition's `requires`, `wants` and
//! `runlevels` where the file does not give them: that happens where definitions are loaded
//! ([`crate::definition::resolve`]), so `switch`, `enable`, `list` and `check` all see them.
//! The lifecycle's one dispatch on [`Kind`](crate::definition::Kind) hands `start`, `stop`,
//! `status`, `reload` and the liveness probe of a script service here; `restart`,
//! `try-restart` and `force-reload` are built on those. Nothing here calls back into the
//! lifecycle's operations.
//!
//! How a script is run, as sysvinit would run it:
//! - `SCRIPT ACTION`: the script itself is exec'd with its own path as `$0`, with the
//!   definition's umask set in the child before exec (no shell in between: one shell per
//!   action, the script's own, as rc and startpar run it); a script without `#!` line (the
//!   kernel would refuse it with ENOEXEC) runs as `/bin/sh SCRIPT ACTION`, as a shell's `exec`
//!   runs such a file;
//! - a clean environment: `PATH` (the default), `HOME=/`, `LANG=C.UTF-8`, then the
//!   definition's `env`; working directory `workdir` (default `/`); stdin `/dev/null`;
//!   stdout and stderr appended to the service's log (`log: none`: /dev/null);
//! - in a process group of its own, so that on timeout the script and everything it started
//!   that stayed in its group are killed (SIGKILL) and the action fails;
//! - as the user svc runs as: the definition's `user` and `group` are NOT applied. An init
//!   script expects to run as root and drops privileges itself (start-stop-daemon --chuid),
//!   exactly as under sysvinit.
//!
//! Time limits: `start` gets `ready_timeout`; `stop`, `status` and `reload` get
//! `stop_timeout` plus a grace of [`GRACE`].
//!
//! Exit codes: `start`, `stop` and `reload` pass the LSB codes 0-7 through (anything else,
//! a death by signal or a timeout is 1). Stopping a service that is already stopped is a
//! success whatever the script says (LSB), decided by its `status` before and after.
//! `status`: 0 running, 1 dead (pid file exists), 2 dead (lock file exists), 3 stopped, 4
//! and anything else unknown. The PID shown is the one in the definition's `pidfile:` when
//! that names a live process; svc never writes or removes that file, the script owns it.
//!
//! The script must be an executable regular file (else LSB 5, "not installed"); when svc runs
//! as root the same trust checks as for `exec` apply (else 6).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::definition::{Definition, Program};
use crate::lifecycle::error::{describe_exit, LifecycleError, ScriptProblem};
use crate::lifecycle::prepare::{log_tail, open_log};
pub use crate::lifecycle::state::{Action, Ran};
use crate::lifecycle::state::{Liveness, Started, State, Status, Stopped};
use crate::lifecycle::Lifecycle;
use crate::process::handle::ProcHandle;
use crate::process::launch::{self, DEFAULT_PATH};
use crate::process::pidfile::{self, PidFile};
use crate::process::procfs::clock_ticks;
use crate::trust;

/// Added to `stop_timeout` for `stop`, `status` and `reload`.
pub const GRACE: Duration = Duration::from_secs(5);

impl Action {
    /// How long the action may take.
    pub fn timeout(self, def: &Definition) -> Duration {
        match self {
            Action::Start => def.ready_timeout,
            Action::Stop | Action::Status | Action::Reload => def.stop_timeout + GRACE,
        }
    }
}

/// What the script's `status` answered (LSB "Init Script Actions").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptStatus {
    Running,
    /// 1: dead and the pid file exists; 2: dead and the lock file exists.
    Dead(i32),
    Stopped,
    /// 4, any other code, a signal or a timeout: why.
    Unknown(String),
}

impl ScriptStatus {
    pub fn from_ran(ran: &Ran) -> ScriptStatus {
        match ran {
            Ran::Exited(0) => ScriptStatus::Running,
            Ran::Exited(c @ (1 | 2)) => ScriptStatus::Dead(*c),
            Ran::Exited(3) => ScriptStatus::Stopped,
            Ran::Exited(c) => ScriptStatus::Unknown(format!("status exited {c} (unknown)")),
            Ran::Killed(how) => ScriptStatus::Unknown(format!("status {how}")),
            Ran::TimedOut(d) => ScriptStatus::Unknown(format!("status timed out after {d:?}")),
        }
    }
}

/// The script of a definition; `None` for an `exec` service.
pub fn script_of(def: &Definition) -> Option<&Path> {
    match &def.program {
        Program::Script(p) => Some(p),
        Program::Exec(_) => None,
    }
}

/// A failed run of an action (its LSB code passed through), with the last lines of the
/// service's log.
fn action_error(
    life: &Lifecycle,
    def: &Definition,
    script: &Path,
    action: Action,
    ran: Ran,
) -> LifecycleError {
    LifecycleError::ScriptAction {
        service: def.name.clone(),
        script: script.to_path_buf(),
        action,
        ran,
        tail: log_tail(def.log_path(&life.dirs).as_deref()),
    }
}

/// The script must be an executable regular file (LSB 5 otherwise) and, when svc runs as
/// root, writable by root only, in a directory only root can write (6 otherwise).
pub fn check_script(def: &Definition, script: &Path) -> Result<(), LifecycleError> {
    let refused = |problem| LifecycleError::ScriptNotInstalled {
        service: def.name.clone(),
        script: script.to_path_buf(),
        problem,
    };
    let meta = match std::fs::metadata(script) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(refused(ScriptProblem::Missing))
        }
        Err(e) => return Err(refused(ScriptProblem::Unreadable(e))),
    };
    if !meta.is_file() {
        return Err(refused(ScriptProblem::NotRegular));
    }
    if meta.permissions().mode() & 0o111 == 0
        || nix::unistd::access(script, nix::unistd::AccessFlags::X_OK).is_err()
    {
        return Err(refused(ScriptProblem::NotExecutable));
    }
    if trust::running_as_root() {
        trust::check_config_file(script, &meta)
            .map_err(|why| LifecycleError::UntrustedFile { why })?;
    }
    Ok(())
}

/// Runs `SCRIPT ACTION` (see the module documentation) and waits for it, at most
/// [`Action::timeout`]; on timeout its process group is killed.
pub fn run(life: &Lifecycle, def: &Definition, action: Action) -> Result<Ran, LifecycleError> {
    let Some(script) = script_of(def) else {
        return Err(LifecycleError::NoScript {
            service: def.name.clone(),
        });
    };
    check_script(def, script)?;
    run_checked(life, def, script, action)
}

/// [`run`] of a script [`check_script`] has just accepted (`start` and `stop` check once, not
/// once per run of the script).
fn run_checked(
    life: &Lifecycle,
    def: &Definition,
    script: &Path,
    action: Action,
) -> Result<Ran, LifecycleError> {
    let (out, err) = match def.log_path(&life.dirs) {
        Some(path) => {
            let f = open_log(&life.dirs, &path)
                .map_err(|(step, source)| LifecycleError::OpenScriptLog { path, step, source })?;
            let g = f.try_clone().map_err(LifecycleError::Io)?;
            (Stdio::from(f), Stdio::from(g))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    // The start action runs in the service's cgroup (SPEC §8.7), and so does all it starts.
    let cgroup = match action {
        Action::Start => crate::lifecycle::prepare::enter_cgroup(life, def)?,
        Action::Stop | Action::Status | Action::Reload => None,
    };
    let cgroup_fd = cgroup
        .as_ref()
        .map_or(-1, |c| std::os::fd::AsRawFd::as_raw_fd(&c.procs));
    // The script itself, exec'd with its own path as `$0`; one without an interpreter line
    // (ENOEXEC) through `/bin/sh SCRIPT ACTION`, as a shell's `exec` would run it.
    let mut cmd = if launch::needs_shell(script) {
        let mut c = Command::new("/bin/sh");
        c.arg(script);
        c
    } else {
        Command::new(script)
    };
    cmd.arg(action.as_str())
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("HOME", "/")
        .env("LANG", "C.UTF-8")
        .envs(def.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&def.workdir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let umask = def.umask as libc::mode_t;
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe syscalls (see
    // reset_inherited_state, umask(2), and one write(2) of a static byte to a descriptor opened before): the script starts with default signals, an empty mask and no
    // descriptor of svc's caller beyond 0-2, like any launched program (docs/security.md, "The
    // process a service gets").
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            crate::process::child::reset_inherited_state();
            libc::umask(umask);
            if cgroup_fd >= 0 && libc::write(cgroup_fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| LifecycleError::ScriptSpawn {
        service: def.name.clone(),
        script: script.to_path_buf(),
        action,
        source,
    })?;
    let pid = child.id() as i32;
    let timeout = action.timeout(def);
    let deadline = Instant::now() + timeout;
    let finished = match ProcHandle::open(pid, &life.procfs) {
        Ok(h) => h.wait_exit(deadline),
        // Cannot watch it (no descriptor left for a pidfd, say): look every 10 ms, still
        // bounded by the deadline. std keeps the status try_wait reaped for the wait below.
        Err(_) => loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break true,
                Ok(None) if Instant::now() >= deadline => break false,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        },
    };
    if !finished {
        // The script leads its group (process_group(0)); svc's own group is another one.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        let _ = child.wait();
        return Ok(Ran::TimedOut(timeout));
    }
    let status = child.wait().map_err(LifecycleError::Io)?;
    Ok(match status.code() {
        Some(c) => Ran::Exited(c),
        None => Ran::Killed(describe_exit(status)),
    })
}

/// The live process the definition's `pidfile:` names, if any (never the default pid file:
/// svc does not know where a script keeps its PID). svc itself and its callers are never the
/// service's process, whatever the file says: a handle on them would let `svc` signal itself.
fn pid_of(life: &Lifecycle, def: &Definition) -> Option<i32> {
    let path = def.pidfile.as_ref()?;
    match pidfile::read(path, life.procfs.pid_max()) {
        PidFile::Pid(pid) if pid > 1 && !life.ancestors().contains(&pid) => {
            let st = life.procfs.stat(pid)?;
            (!st.is_zombie()).then_some(pid)
        }
        _ => None,
    }
}

/// The script's `status`, and the PID when it runs and the pid file is known.
fn script_status(life: &Lifecycle, def: &Definition) -> (ScriptStatus, Option<i32>) {
    status_of(life, def, run(life, def, Action::Status))
}

/// [`script_status`] of a script [`check_script`] has just accepted.
fn checked_status(
    life: &Lifecycle,
    def: &Definition,
    script: &Path,
) -> (ScriptStatus, Option<i32>) {
    status_of(life, def, run_checked(life, def, script, Action::Status))
}

fn status_of(
    life: &Lifecycle,
    def: &Definition,
    ran: Result<Ran, LifecycleError>,
) -> (ScriptStatus, Option<i32>) {
    let st = match ran {
        Ok(ran) => ScriptStatus::from_ran(&ran),
        Err(e) => ScriptStatus::Unknown(e.to_string()),
    };
    let pid = match st {
        ScriptStatus::Running => pid_of(life, def),
        _ => None,
    };
    (st, pid)
}

/// `svc status` of a script service. An unknown answer is shown as `failed` with the reason
/// in the note (the states of `svc status`, docs/commands.md, have no "unknown").
pub fn status(life: &Lifecycle, def: &Definition) -> Status {
    let (st, pid) = script_status(life, def);
    let (state, note) = match st {
        ScriptStatus::Running => (State::Running, None),
        ScriptStatus::Dead(1) => (
            State::Dead,
            Some("the script reports: dead but pid file exists".to_string()),
        ),
        ScriptStatus::Dead(_) => (
            State::Dead,
            Some("the script reports: dead but lock file exists".to_string()),
        ),
        ScriptStatus::Stopped => (State::Stopped, None),
        ScriptStatus::Unknown(why) => (State::Unknown, Some(format!("status unknown: {why}"))),
    };
    let uptime_s = pid.and_then(|pid| {
        let s = life.procfs.stat(pid)?;
        let up = life.procfs.uptime()?;
        Some((up - s.start_ticks as f64 / clock_ticks() as f64).max(0.0) as u64)
    });
    Status {
        pid,
        uptime_s,
        ..Status::bare(state, note)
    }
}

/// Liveness of a script service, from its `status`. A running script service whose PID is
/// unknown (no `pidfile:`, or one naming no live process) has no handle: svc knows only that
/// the script says it runs.
pub fn probe(life: &Lifecycle, def: &Definition) -> Liveness {
    let (st, pid) = script_status(life, def);
    let dead = |why: String| Liveness::Dead {
        why,
        untrusted: false,
    };
    match st {
        ScriptStatus::Running => Liveness::Running {
            handle: pid.and_then(|p| ProcHandle::open(p, &life.procfs).ok()),
            record: None,
        },
        ScriptStatus::Dead(c) => dead(format!("the script's status exited {c}")),
        ScriptStatus::Stopped => Liveness::Stopped,
        ScriptStatus::Unknown(why) => dead(why),
    }
}

/// `start` (the caller holds the service's lock): already running with a known PID is
/// reported as such; otherwise the script's `start` runs (it must succeed on a running
/// service, LSB).
pub fn start(life: &Lifecycle, def: &Definition) -> Result<Started, LifecycleError> {
    let script = script_of(def).unwrap_or(Path::new(""));
    check_script(def, script)?;
    if def.pidfile.is_some() {
        if let (ScriptStatus::Running, Some(pid)) = checked_status(life, def, script) {
            return Ok(Started::AlreadyRunning(pid));
        }
    }
    match run_checked(life, def, script, Action::Start)? {
        Ran::Exited(0) => Ok(Started::Launched(pid_of(life, def).unwrap_or(0))),
        ran => Err(action_error(life, def, script, Action::Start, ran)),
    }
}

/// `stop` (the caller holds the service's lock). The script's `stop` always runs (it may
/// clean up after a dead daemon); a failure while the service was stopped before and is
/// stopped after is a success, as LSB requires.
pub fn stop(life: &Lifecycle, def: &Definition) -> Result<Stopped, LifecycleError> {
    let script = script_of(def).unwrap_or(Path::new(""));
    check_script(def, script)?;
    let (before, pid) = checked_status(life, def, script);
    let ran = run_checked(life, def, script, Action::Stop)?;
    let was_stopped = before == ScriptStatus::Stopped;
    match ran {
        Ran::Exited(0) if was_stopped => Ok(Stopped::NotRunning),
        Ran::Exited(0) => Ok(Stopped::Stopped {
            pid: pid.unwrap_or(0),
            escaped: Vec::new(),
        }),
        ran => {
            if was_stopped && checked_status(life, def, script).0 == ScriptStatus::Stopped {
                return Ok(Stopped::NotRunning);
            }
            Err(action_error(life, def, script, Action::Stop, ran))
        }
    }
}

/// `reload`: the script's own `reload`, its code passed through (3: it has none, 7: not
/// running).
pub fn reload(life: &Lifecycle, def: &Definition) -> Result<i32, LifecycleError> {
    let script = script_of(def).unwrap_or(Path::new(""));
    match run(life, def, Action::Reload)? {
        Ran::Exited(0) => Ok(pid_of(life, def).unwrap_or(0)),
        ran => Err(action_error(life, def, script, Action::Reload, ran)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_naming_svc_or_its_caller_names_no_process_of_the_service() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let life = Lifecycle::new(crate::paths::Dirs {
            config: dir.join("config"),
            state: dir.join("state"),
            log: dir.join("log"),
            sysv: None,
        });
        let pidfile = dir.join("s.pid");
        let name = crate::name::ServiceName::new("s").unwrap();
        let text = format!("script: /etc/init.d/s\npidfile: {}\n", pidfile.display());
        let def = crate::definition::parse(&dir.join("s.yaml"), &name, &text).unwrap();
        // This process is svc here; its parent is svc's caller.
        for pid in [std::process::id() as i32, nix::unistd::getppid().as_raw()] {
            std::fs::write(&pidfile, format!("{pid}\n")).unwrap();
            assert_eq!(pid_of(&life, &def), None, "{pid}");
        }
    }

    #[test]
    fn status_codes_map_like_lsb() {
        for (code, status) in [
            (0, ScriptStatus::Running),
            (1, ScriptStatus::Dead(1)),
            (2, ScriptStatus::Dead(2)),
            (3, ScriptStatus::Stopped),
        ] {
            assert_eq!(ScriptStatus::from_ran(&Ran::Exited(code)), status);
        }
        for c in [4, 5, 100, 255] {
            assert!(matches!(
                ScriptStatus::from_ran(&Ran::Exited(c)),
                ScriptStatus::Unknown(_)
            ));
        }
        assert!(matches!(
            ScriptStatus::from_ran(&Ran::TimedOut(Duration::from_secs(1))),
            ScriptStatus::Unknown(_)
        ));
    }
}
