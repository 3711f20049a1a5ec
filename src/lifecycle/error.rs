//! [`LifecycleError`]: why a lifecycle action failed. Its variants carry the facts (service,
//! path, OS error, exit status, signal); this file alone turns them into the message svc prints
//! ([`Display`](std::fmt::Display)) and the LSB exit code ([`HasCode`]).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::definition::envfile::LineError;
use crate::exit::{Code, HasCode};
use crate::lifecycle::state::{Action, Ran};
use crate::name::ServiceName;
use crate::process::group::SignalError;
use crate::process::launch::LaunchError;

mod hook;
pub use hook::{HookEnd, HookFailure, HookKind};

/// A failed lifecycle action.
#[derive(Debug)]
pub enum LifecycleError {
    /// An LSB script that is not an executable regular file (LSB 5).
    ScriptNotInstalled {
        service: ServiceName,
        script: PathBuf,
        problem: ScriptProblem,
    },
    /// A program or script svc would run as root fails the trust rules (LSB 6); `why` is the
    /// trust check's own sentence, which names the file.
    UntrustedFile { why: String },
    /// `start` of an on-demand (`socket:`) service: `svc inetd` launches it.
    OnDemand { service: ServiceName },
    /// A connection launch of a `script:` service.
    ScriptOnDemand { service: ServiceName },
    /// A script path that is not UTF-8 where a program name is needed.
    ScriptNotUtf8 { service: ServiceName },
    /// `reload` of a service without `reload_signal`.
    NoReloadSignal { service: ServiceName },
    /// `reload` of a service that does not run.
    NotRunning { service: ServiceName },
    /// The service runs (its script says so) but svc has no PID to signal.
    PidUnknown { service: ServiceName },
    /// The PID file may not be followed: nothing was signalled.
    Untrusted { service: ServiceName, why: String },
    /// A stale PID file could not be removed.
    StalePidFile { path: PathBuf, source: io::Error },
    /// The state directory could not be created.
    State(io::Error),
    /// The service's lock could not be taken.
    Lock { path: PathBuf, source: io::Error },
    /// A runtime directory could not be made, taken over or removed (LSB 1).
    RuntimeDir(crate::lifecycle::rundir::RunDirError),
    /// The service's cgroup (SPEC §8.7) could not be made ready: a limit the host cannot
    /// apply (LSB 6), or the cgroup file system refused (LSB 1).
    Cgroup {
        service: ServiceName,
        source: crate::process::cgroup::CgroupError,
    },
    /// Processes of the service's cgroup were still there after KILL.
    CgroupSurvived {
        service: ServiceName,
        pids: Vec<i32>,
    },
    /// An operation on svc's own descriptors or files failed (pipe, clone, wait).
    Io(io::Error),
    /// The program could not be inspected after it was found.
    Inspect { path: PathBuf, source: io::Error },
    /// `user:`/`group:` could not be resolved.
    Credentials { file: PathBuf, why: String },
    /// Another user or group than svc's own needs root.
    NeedsRoot { service: ServiceName, user: String },
    /// The log of a launched program could not be opened.
    OpenLog {
        path: PathBuf,
        step: LogStep,
        source: io::Error,
    },
    /// The log of an LSB script's action could not be opened (permission denied: LSB 4).
    OpenScriptLog {
        path: PathBuf,
        step: LogStep,
        source: io::Error,
    },
    /// The readiness socket could not be bound.
    Notify(io::Error),
    /// fork, a setup step or exec failed, or the program is not installed.
    Launch(LaunchError),
    /// The launched process could not be watched (no pidfd).
    Watch { pid: i32, source: io::Error },
    /// The identity record or PID file of a process about to be launched could not be written.
    Record {
        service: ServiceName,
        source: io::Error,
    },
    /// Signalling the service's processes failed, or they survived KILL.
    Signal {
        service: ServiceName,
        cause: SignalError,
    },
    /// The program died while starting.
    DiedStarting {
        service: ServiceName,
        pid: i32,
        status: Option<ExitStatus>,
        tail: LogTail,
    },
    /// Not ready within `ready_timeout`; stopped.
    NotReady {
        service: ServiceName,
        timeout: Duration,
        tail: LogTail,
    },
    /// The start was cancelled (svc got SIGTERM) before the service was ready; stopped.
    Cancelled { service: ServiceName },
    /// The readiness check refused the service; stopped.
    ReadyRefused {
        service: ServiceName,
        why: String,
        tail: LogTail,
    },
    /// A forking launcher exited with a failure.
    LauncherExited {
        service: ServiceName,
        status: ExitStatus,
        tail: LogTail,
    },
    /// A forking launcher did not exit within `ready_timeout`.
    LauncherTimedOut {
        service: ServiceName,
        timeout: Duration,
    },
    /// The start was cancelled before the forking launcher exited.
    LauncherCancelled { service: ServiceName },
    /// svc lost track of the forking launcher.
    LauncherLost { service: ServiceName },
    /// A forking daemon's PID file may not be followed.
    PidFileRefused { service: ServiceName, why: String },
    /// The forking launch left nothing running; `last` is what the PID file said.
    NothingLeft {
        service: ServiceName,
        last: String,
        tail: LogTail,
    },
    /// The start was cancelled before the PID file named a process of the launch.
    ForkCancelled {
        service: ServiceName,
        pidfile: PathBuf,
    },
    /// The PID file did not name a process of the launch within `ready_timeout`.
    NoDaemon {
        service: ServiceName,
        pidfile: PathBuf,
        timeout: Duration,
        last: String,
        tail: LogTail,
    },
    /// The identity record of a forking daemon could not be written.
    RecordDaemon {
        service: ServiceName,
        pid: i32,
        source: io::Error,
    },
    /// The supervisor's stderr file could not be opened.
    SupervisorLog { path: PathBuf, source: io::Error },
    /// The supervisor's identity could not be recorded: nothing was started.
    RecordSupervisor {
        service: ServiceName,
        source: io::Error,
    },
    /// The supervisor reported readiness just as the start was cancelled; it stopped.
    SupervisorCancelled { service: ServiceName },
    /// The supervisor ended without reporting its first launch.
    SupervisorSilent { service: ServiceName, log: PathBuf },
    /// The supervisor's report could not be read.
    GarbledReport {
        service: ServiceName,
        line: Option<String>,
    },
    /// The supervisor's first launch failed: its code and message, as it reported them.
    Reported { code: i32, message: String },
    /// An LSB script's action failed (exit code, signal or timeout).
    ScriptAction {
        service: ServiceName,
        script: PathBuf,
        action: Action,
        ran: Ran,
        tail: LogTail,
    },
    /// An LSB script could not be run at all.
    ScriptSpawn {
        service: ServiceName,
        script: PathBuf,
        action: Action,
        source: io::Error,
    },
    /// A definition without a script reached the script kind.
    NoScript { service: ServiceName },
    /// An `env_file` (not optional) that does not exist (§8.4; LSB 6).
    EnvFileMissing { service: ServiceName, path: PathBuf },
    /// An `env_file` that could not be opened or read: not a regular file, too big, an I/O
    /// error (LSB 6).
    EnvFileUnreadable {
        service: ServiceName,
        path: PathBuf,
        source: io::Error,
    },
    /// A bad line in an `env_file` (LSB 6): nothing was started.
    EnvFileLine {
        service: ServiceName,
        path: PathBuf,
        line: usize,
        error: LineError,
    },
    /// A `pre_start` or `config_test` command failed: nothing was launched, stopped or
    /// signalled.
    Hook {
        service: ServiceName,
        failure: HookFailure,
    },
    /// The service stopped, but `post_stop` commands failed (all of them ran).
    PostStop {
        service: ServiceName,
        failures: Vec<HookFailure>,
    },
    /// A start failed after its program was launched, and `post_stop` commands failed too.
    StartThenPostStop {
        error: Box<LifecycleError>,
        failures: Vec<HookFailure>,
    },
    /// A one-shot task's command (its program at `start`, its `stop_exec` at `stop`) failed:
    /// a non-zero exit, a signal, or no end in time (then its process group was killed).
    Task {
        service: ServiceName,
        action: Action,
        program: PathBuf,
        ran: Ran,
        tail: LogTail,
    },
}

/// Why an LSB script cannot be run.
#[derive(Debug)]
pub enum ScriptProblem {
    Missing,
    Unreadable(io::Error),
    NotRegular,
    NotExecutable,
}

impl fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LifecycleError::*;
        match self {
            ScriptNotInstalled {
                service,
                script,
                problem,
            } => {
                let script = script.display();
                match problem {
                    ScriptProblem::Missing => write!(f, "{service}: script {script} does not exist"),
                    ScriptProblem::Unreadable(e) => write!(f, "{service}: script {script}: {e}"),
                    ScriptProblem::NotRegular => {
                        write!(f, "{service}: script {script} is not a regular file")
                    }
                    ScriptProblem::NotExecutable => {
                        write!(f, "{service}: script {script} is not executable")
                    }
                }
            }
            UntrustedFile { why } => f.write_str(why),
            OnDemand { service } => write!(
                f,
                "{service} is an on-demand service (socket:): `svc inetd` serves it"
            ),
            ScriptOnDemand { service } => write!(
                f,
                "{service}: a script: definition cannot be an on-demand service"
            ),
            ScriptNotUtf8 { service } => write!(f, "{service}: script path is not UTF-8"),
            NoReloadSignal { service } => write!(f, "{service} defines no reload_signal"),
            NotRunning { service } => write!(f, "{service} is not running"),
            PidUnknown { service } => write!(
                f,
                "{service} runs, but svc does not know its PID; nothing was signalled"
            ),
            Untrusted { service, why } => write!(f, "{service}: {why}; nothing was signalled"),
            StalePidFile { path, source } => write!(
                f,
                "cannot remove stale pid file {}: {source}",
                path.display()
            ),
            State(e) | Io(e) | Notify(e) => write!(f, "{e}"),
            RuntimeDir(e) => write!(f, "{e}"),
            Cgroup { service, source } => write!(f, "{service}: {source}"),
            CgroupSurvived { service, pids } => write!(
                f,
                "{service}: processes {pids:?} of its cgroup survived SIGKILL"
            ),
            Inspect { source, .. } => write!(f, "{source}"),
            Lock { path, source } => write!(f, "cannot lock {}: {source}", path.display()),
            Credentials { file, why } => write!(f, "{}: {why}", file.display()),
            NeedsRoot { service, user } => {
                write!(f, "running {service} as user {user} needs root")
            }
            OpenLog {
                step: LogStep::Directory,
                source,
                ..
            }
            | OpenScriptLog {
                step: LogStep::Directory,
                source,
                ..
            } => write!(f, "{source}"),
            OpenLog { path, source, .. } | OpenScriptLog { path, source, .. } => {
                write!(f, "cannot open log {}: {source}", path.display())
            }
            Launch(e) => write!(f, "{e}"),
            Watch { pid, source } => write!(f, "cannot watch process {pid}: {source}"),
            Record { service, source } => write!(
                f,
                "{service}: cannot record the process to launch ({source}); nothing was started"
            ),
            Signal { service, cause } => write!(f, "{service}: {cause}"),
            DiedStarting {
                service,
                pid,
                status,
                tail,
            } => {
                let how = match status {
                    Some(s) => describe_exit(*s),
                    None => "exited".to_string(),
                };
                write!(f, "{service}: process {pid} {how} while starting{tail}")
            }
            NotReady {
                service,
                timeout,
                tail,
            } => write!(
                f,
                "{service}: not ready after {timeout:?} (ready_timeout); stopped it{tail}"
            ),
            Cancelled { service } => write!(
                f,
                "{service}: start cancelled before it was ready (svc was asked to stop); stopped it"
            ),
            ReadyRefused { service, why, tail } => {
                write!(f, "{service}: {why}; stopped it{tail}")
            }
            LauncherExited {
                service,
                status,
                tail,
            } => write!(f, "{service}: the launcher {}{tail}", describe_exit(*status)),
            LauncherTimedOut { service, timeout } => write!(
                f,
                "{service}: the launcher did not exit within ready_timeout ({timeout:?}); stopped it"
            ),
            LauncherCancelled { service } => write!(
                f,
                "{service}: start cancelled before the launcher exited (svc was asked to stop); stopped it"
            ),
            LauncherLost { service } => write!(f, "{service}: svc lost track of the launcher"),
            PidFileRefused { service, why } => write!(f, "{service}: refusing pid file: {why}"),
            NothingLeft {
                service,
                last,
                tail,
            } => write!(
                f,
                "{service}: the launcher exited and left no process running ({last}){tail}"
            ),
            ForkCancelled { service, pidfile } => write!(
                f,
                "{service}: start cancelled before {} named a process of this launch (svc was asked to stop); stopped what it launched",
                pidfile.display()
            ),
            NoDaemon {
                service,
                pidfile,
                timeout,
                last,
                tail,
            } => write!(
                f,
                "{service}: {} did not name a process of this launch within ready_timeout ({timeout:?}): {last}; stopped what it launched{tail}",
                pidfile.display()
            ),
            RecordDaemon {
                service,
                pid,
                source,
            } => write!(
                f,
                "{service}: cannot record process {pid} ({source}); stopped what it launched"
            ),
            SupervisorLog { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            RecordSupervisor { service, source } => write!(
                f,
                "{service}: cannot record the supervisor ({source}); nothing was started"
            ),
            SupervisorCancelled { service } => write!(
                f,
                "{service}: start cancelled as it became ready (svc was asked to stop); stopped it"
            ),
            SupervisorSilent { service, log } => write!(
                f,
                "{service}: the supervisor ended without reporting the launch; see {}",
                log.display()
            ),
            GarbledReport {
                service,
                line: None,
            } => write!(f, "{service}: garbled supervisor report"),
            GarbledReport {
                service,
                line: Some(line),
            } => write!(f, "{service}: garbled supervisor report: {line}"),
            Reported { message, .. } => f.write_str(message),
            ScriptAction {
                service,
                script,
                action,
                ran,
                tail,
            } => {
                write!(
                    f,
                    "{service}: `{} {}`",
                    script.display(),
                    action.as_str()
                )?;
                match ran {
                    Ran::Exited(c) => write!(f, " exited {c} ({})", meaning(*c))?,
                    Ran::Killed(how) => write!(f, " {how}")?,
                    Ran::TimedOut(d) => write!(
                        f,
                        " did not finish within {d:?}; its process group was killed"
                    )?,
                }
                write!(f, "{tail}")
            }
            ScriptSpawn {
                service,
                script,
                action,
                source,
            } => write!(
                f,
                "{service}: cannot run {} {}: {source}",
                script.display(),
                action.as_str()
            ),
            NoScript { service } => write!(f, "{service} has no script"),
            EnvFileMissing { service, path } => write!(
                f,
                "{service}: env_file {} does not exist (write it as \"-{}\" to make it optional); nothing was started",
                path.display(),
                path.display()
            ),
            EnvFileUnreadable {
                service,
                path,
                source,
            } => write!(
                f,
                "{service}: cannot read env_file {}: {source}; nothing was started",
                path.display()
            ),
            EnvFileLine {
                service,
                path,
                line,
                error,
            } => write!(
                f,
                "{}:{line}: {error}; {service} was not started",
                path.display()
            ),
            Hook { service, failure } => match failure.hook {
                HookKind::ConfigTest => write!(
                    f,
                    "{service}: configuration test failed, nothing was changed: {failure}"
                ),
                _ => write!(f, "{service} was not launched: {failure}"),
            },
            PostStop { service, failures } => write!(
                f,
                "{service} stopped, but {}",
                hook::Failures(failures)
            ),
            StartThenPostStop { error, failures } => {
                write!(f, "{error}\n  then {}", hook::Failures(failures))
            }
            Task {
                service,
                action,
                program,
                ran,
                tail,
            } => {
                let what = match action {
                    Action::Stop => "stop_exec",
                    _ => "the task",
                };
                write!(f, "{service}: {what} {}", program.display())?;
                match ran {
                    Ran::Exited(c) => write!(f, " exited with status {c}")?,
                    Ran::Killed(how) => write!(f, " {how}")?,
                    Ran::TimedOut(d) => write!(
                        f,
                        " did not finish within {d:?}; its process group was killed"
                    )?,
                }
                write!(f, "{tail}")
            }
        }
    }
}

impl std::error::Error for LifecycleError {}

impl HasCode for LifecycleError {
    fn code(&self) -> Code {
        use LifecycleError::*;
        match self {
            ScriptNotInstalled { .. } => Code::NotInstalled,
            UntrustedFile { .. } | ScriptNotUtf8 { .. } | Credentials { .. } => Code::NotConfigured,
            EnvFileMissing { .. } | EnvFileUnreadable { .. } | EnvFileLine { .. } => {
                Code::NotConfigured
            }
            OnDemand { .. } | ScriptOnDemand { .. } | NoReloadSignal { .. } => Code::Unimplemented,
            NotRunning { .. } => Code::NotRunning,
            NeedsRoot { .. } => Code::Privilege,
            Cgroup {
                source: crate::process::cgroup::CgroupError::Controller { .. },
                ..
            } => Code::NotConfigured,
            Cgroup { .. } | CgroupSurvived { .. } => Code::Failure,
            // "Permission denied" is a privilege problem (LSB 4), e.g. an ordinary user acting
            // on root's services.
            State(e) | Lock { source: e, .. } | OpenScriptLog { source: e, .. } => {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    Code::Privilege
                } else {
                    Code::Failure
                }
            }
            Launch(LaunchError::NotInstalled { .. }) => Code::NotInstalled,
            Launch(LaunchError::Failed { .. }) => Code::Failure,
            Signal { cause, .. } if cause.is_privilege() => Code::Privilege,
            Reported { code, .. } => match code {
                5 => Code::NotInstalled,
                6 => Code::NotConfigured,
                4 => Code::Privilege,
                3 => Code::Unimplemented,
                _ => Code::Failure,
            },
            ScriptAction {
                ran: Ran::Exited(c),
                ..
            } => match c {
                2 => Code::InvalidArgs,
                3 => Code::Unimplemented,
                4 => Code::Privilege,
                5 => Code::NotInstalled,
                6 => Code::NotConfigured,
                7 => Code::NotRunning,
                _ => Code::Failure,
            },
            PidUnknown { .. }
            | Untrusted { .. }
            | StalePidFile { .. }
            | Io(_)
            | Inspect { .. }
            | OpenLog { .. }
            | Notify(_)
            | RuntimeDir(_)
            | Watch { .. }
            | Record { .. }
            | Signal { .. }
            | DiedStarting { .. }
            | NotReady { .. }
            | Cancelled { .. }
            | ReadyRefused { .. }
            | LauncherExited { .. }
            | LauncherTimedOut { .. }
            | LauncherCancelled { .. }
            | LauncherLost { .. }
            | PidFileRefused { .. }
            | NothingLeft { .. }
            | ForkCancelled { .. }
            | NoDaemon { .. }
            | RecordDaemon { .. }
            | SupervisorLog { .. }
            | RecordSupervisor { .. }
            | SupervisorCancelled { .. }
            | SupervisorSilent { .. }
            | GarbledReport { .. }
            | ScriptAction { .. }
            | ScriptSpawn { .. }
            | NoScript { .. }
            | PostStop { .. }
            | Task { .. } => Code::Failure,
            Hook { failure, .. } => match failure.hook {
                HookKind::ConfigTest => Code::NotConfigured,
                HookKind::PreStart | HookKind::PostStop => Code::Failure,
            },
            StartThenPostStop { error, .. } => error.code(),
        }
    }
}

impl From<LaunchError> for LifecycleError {
    fn from(e: LaunchError) -> Self {
        LifecycleError::Launch(e)
    }
}

/// Which step of opening a log failed: creating svc's log directory, or opening the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStep {
    Directory,
    File,
}

/// The last lines of a service's log, quoted at the end of an error message: nothing when
/// there is no log or nothing in it (see `prepare::log_tail`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The log, and its last non-blank lines with control characters made `?` (boxed: most
    /// errors carry none, and the error stays small).
    pub(crate) quoted: Option<Box<(PathBuf, Vec<String>)>>,
}

impl fmt::Display for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((path, lines)) = self.quoted.as_deref() else {
            return Ok(());
        };
        write!(f, "; last lines of {}:", path.display())?;
        for l in lines {
            write!(f, "\n    {l}")?;
        }
        Ok(())
    }
}

/// How a process ended: "exited with status 1", "was killed by signal SIGTERM".
pub(crate) fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!(
            "was killed by signal {}",
            Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or(s.to_string())
        ),
        _ => "exited".into(),
    }
}

/// The meaning of an LSB action exit code, for messages: the LSB wording from
/// [`crate::exit::TABLE`]. 0 is no failure, so like any number outside 1–7 it is "not an LSB exit
/// code" here.
fn meaning(code: i32) -> &'static str {
    match Code::from_i32(code) {
        Some(c) if c != Code::Success => c.meaning().lsb,
        _ => "not an LSB exit code",
    }
}

#[cfg(test)]
mod tests;
