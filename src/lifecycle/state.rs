//! What the lifecycle answers: a service's liveness ([`Liveness`]), the state `status` shows
//! ([`State`], [`Status`]), how a start or a stop ended ([`Started`], [`Stopped`]), and how one
//! run of an LSB script's action ended ([`Action`], [`Ran`]). Plain data; no I/O.

use std::time::Duration;

use crate::exit::Code;
use crate::process::handle::ProcHandle;
use crate::process::record::Record;
use crate::supervise::LastExit;

/// What a probe found. (A short-lived answer, never stored in bulk: the size of the record it
/// carries does not matter.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Liveness {
    Running {
        /// The service's main process; `None` when svc knows only that it runs (an LSB
        /// script's `status` says so, but svc has no PID for it).
        handle: Option<ProcHandle>,
        record: Option<Record>,
    },
    Stopped,
    /// A PID file exists but names no process of the service.
    Dead {
        why: String,
        /// The file itself may not be followed (symlink, hard link, foreign writer).
        untrusted: bool,
    },
}

/// The state shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Starting,
    Stopped,
    Dead,
    Failed,
    /// A one-shot task that ran to completion (exit 0) in this boot.
    Done,
    /// An LSB script's `status` could not tell (its exit 4, or another code).
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Stopped => "stopped",
            State::Dead => "dead",
            State::Failed => "failed",
            State::Done => "done",
            State::Unknown => "unknown",
        }
    }

    /// The LSB status exit code.
    pub fn code(self) -> Code {
        match self {
            State::Running | State::Starting | State::Done => Code::STATUS_RUNNING,
            State::Dead => Code::STATUS_DEAD,
            State::Stopped | State::Failed => Code::STATUS_STOPPED,
            State::Unknown => Code::STATUS_UNKNOWN,
        }
    }
}

/// What `status` reports about one service.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub pid: Option<i32>,
    pub uptime_s: Option<u64>,
    /// Why a PID file is not trusted or is stale, for the operator.
    pub note: Option<String>,
    /// Supervised services: restarts since `svc start`, how the last instance ended, and the
    /// supervisor's PID while it runs.
    pub restarts: Option<u32>,
    pub last_exit: Option<LastExit>,
    pub supervisor: Option<i32>,
    /// One-shot tasks: how and when their last run ended.
    pub finished: Option<Finished>,
    /// Supervised services with a `health` check (SPEC §8.6): what it last found, and the
    /// last failure until a check passes.
    pub health: Option<crate::supervise::Health>,
    pub health_error: Option<String>,
}

/// How and when a one-shot task's last run ended, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finished {
    /// `exited 0`, `exited 1`, `killed by SIGKILL`, `timed out after 5s`.
    pub how: String,
    /// Seconds since it ended.
    pub ago_s: u64,
}

impl Status {
    /// A status with nothing but its state and note.
    pub(crate) fn bare(state: State, note: Option<String>) -> Status {
        Status {
            state,
            pid: None,
            uptime_s: None,
            note,
            restarts: None,
            last_exit: None,
            supervisor: None,
            finished: None,
            health: None,
            health_error: None,
        }
    }

    /// The LSB status exit code: the state's, except that a supervised service waiting to be
    /// restarted (starting, but no process) is not running (3).
    pub fn code(&self) -> Code {
        match (self.state, self.pid) {
            (State::Starting, None) => Code::STATUS_STOPPED,
            (state, _) => state.code(),
        }
    }
}

/// How a start ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Launched(i32),
    AlreadyRunning(i32),
    /// Supervised, and its supervisor (this PID) is waiting to restart it.
    Restarting(i32),
    /// A one-shot task that already ran to completion in this boot (seconds ago): nothing run.
    AlreadyDone(u64),
}

/// How a stop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped; `escaped` lists descendants that had left the service's process group (setsid)
    /// and still run: svc cannot tell whether they belong to it, so it warns and leaves them.
    Stopped {
        pid: i32,
        escaped: Vec<(i32, String)>,
    },
    NotRunning,
}

/// The LSB script actions svc runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Status,
    Reload,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Status => "status",
            Action::Reload => "reload",
        }
    }
}

/// How one run of an LSB script ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Exited with this status.
    Exited(i32),
    /// Killed by a signal (described).
    Killed(String),
    /// Still running at the deadline: its process group was killed.
    TimedOut(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supervised_service_waiting_to_restart_is_not_running() {
        let mut st = Status::bare(State::Starting, None);
        assert_eq!(st.code(), Code::STATUS_STOPPED);
        st.pid = Some(5);
        assert_eq!(st.code(), Code::STATUS_RUNNING);
        assert_eq!(
            Status::bare(State::Failed, None).code(),
            Code::STATUS_STOPPED
        );
        assert_eq!(
            Status::bare(State::Unknown, None).code(),
            Code::STATUS_UNKNOWN
        );
    }
}
