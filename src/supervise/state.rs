//! A supervisor's state file, `<state>/NAME.supervisor` ([`SuperState`]): its identity,
//! what it is doing ([`Phase`]), its restarts and how the last instance ended ([`LastExit`]),
//! and how `svc` finds a live supervisor from it ([`find`]). The countdown to a restart runs
//! on the monotonic clock, shared by every process of the system.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::definition::Definition;
use crate::paths::Dirs;
use crate::process::handle::ProcHandle;
use crate::process::pidfile;
use crate::process::procfs::Procfs;
use crate::process::record::{Record, Verdict};

/// What a supervisor is doing, as its state file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Launching the first instance (`svc start` is waiting).
    Starting,
    Running,
    /// Waiting before the next restart.
    Backoff,
    /// Gave up: too many restarts within the window. The supervisor has exited.
    Failed,
}

/// What the health check (SPEC §8.6) last found, as the state file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Since the last start, no check has passed yet.
    Starting,
    Healthy,
    /// `retries` checks failed in a row: the service is being restarted (or, past `max`,
    /// has failed).
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// How the last instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastExit {
    /// Exit status, when it exited.
    pub code: Option<i32>,
    /// Signal name, when a signal killed it.
    pub signal: Option<String>,
    /// Why it could not be launched at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LastExit {
    pub(crate) fn from_status(status: std::process::ExitStatus) -> LastExit {
        use std::os::unix::process::ExitStatusExt;
        LastExit {
            code: status.code(),
            signal: status.signal().map(|s| {
                Signal::try_from(s)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| s.to_string())
            }),
            error: None,
        }
    }

    /// "exited with status 1", "killed by SIGKILL", "not launched: …".
    pub fn describe(&self) -> String {
        match (&self.code, &self.signal, &self.error) {
            (_, _, Some(e)) => format!("not launched: {e}"),
            (Some(c), _, _) => format!("exited with status {c}"),
            (None, Some(s), _) => format!("killed by {s}"),
            _ => "exited".into(),
        }
    }
}

/// `<state>/NAME.supervisor`: the supervisor's identity and what it has seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuperState {
    /// The supervisor process itself.
    pub supervisor: Record,
    pub phase: Phase,
    /// Restarts since `svc start`.
    pub restarts: u32,
    pub last_exit: Option<LastExit>,
    /// Unix time in milliseconds of the next restart (in `backoff`): for people and older
    /// svc versions; [`SuperState::retry_in`] goes by `retry_at_mono_ms`.
    #[serde(default)]
    pub retry_at_ms: Option<u64>,
    /// The same moment on CLOCK_MONOTONIC (milliseconds), the clock the supervisor's wait runs
    /// on: it is system-wide and never jumps, so `svc status` in another process can count down
    /// to it whatever happens to the wall clock. Absent in state files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at_mono_ms: Option<u64>,
    /// With a `health` check: what it last found; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// The last failed check's reason, until a check passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_error: Option<String>,
}

impl SuperState {
    pub fn load(path: &Path) -> Option<SuperState> {
        // Never blocking: a FIFO there is no state ([`crate::regular`]).
        let bytes = crate::regular::read(path, crate::regular::Links::Follow).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// How long until the supervisor restarts the service, if it is waiting to.
    pub fn retry_in(&self) -> Option<Duration> {
        countdown(
            self.retry_at_mono_ms,
            self.retry_at_ms,
            monotonic_ms(),
            now_ms(),
        )
    }

    pub(crate) fn save(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        pidfile::write_atomic(path, &text, 0o644)
    }
}

/// A service's supervisor, as found from its state file.
pub enum Found {
    Alive {
        handle: ProcHandle,
        state: SuperState,
    },
    /// No live supervisor; the state file (if any) says how the last one ended.
    Gone(Option<SuperState>),
}

/// `<state>/NAME.supervisor`.
pub fn state_path(dirs: &Dirs, def: &Definition) -> PathBuf {
    dirs.state.join(format!("{}.supervisor", def.name))
}

/// `<state>/NAME.supervisor.log`.
pub fn stderr_path(dirs: &Dirs, def: &Definition) -> PathBuf {
    dirs.state.join(format!("{}.supervisor.log", def.name))
}

/// Finds the service's supervisor, checking its identity like any service's.
pub fn find(dirs: &Dirs, procfs: &Procfs, def: &Definition) -> Found {
    let Some(state) = SuperState::load(&state_path(dirs, def)) else {
        return Found::Gone(None);
    };
    let pid = state.supervisor.pid;
    match ProcHandle::open(pid, procfs) {
        Ok(h) if state.supervisor.verify(&h, procfs) == Verdict::Same => {
            Found::Alive { handle: h, state }
        }
        _ => Found::Gone(Some(state)),
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Time left until a restart due at `mono_at` (monotonic) or, in a state file of an older svc
/// that has only it, `wall_at` (wall clock), given both clocks' readings now.
fn countdown(
    mono_at: Option<u64>,
    wall_at: Option<u64>,
    mono_now: u64,
    wall_now: u64,
) -> Option<Duration> {
    let left = match (mono_at, wall_at) {
        (Some(at), _) => at.saturating_sub(mono_now),
        (None, Some(at)) => at.saturating_sub(wall_now),
        (None, None) => return None,
    };
    Some(Duration::from_millis(left))
}

/// CLOCK_MONOTONIC in milliseconds: the clock of `Instant` and of poll(2) timeouts, shared by
/// every process of the system (of a time namespace).
pub(crate) fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a valid, exclusively borrowed buffer.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: u64 = 1_800_000_000_000;

    #[test]
    fn the_countdown_runs_on_the_monotonic_clock() {
        // Stored at wall WALL + 30 s and monotonic 530 s; the wall clock then went back an hour.
        let (mono_at, wall_at) = (Some(530_000), Some(WALL + 30_000));
        let wall_now = WALL - 3_600_000;
        assert_eq!(
            countdown(mono_at, wall_at, 500_000, wall_now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            countdown(mono_at, wall_at, 540_000, wall_now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_older_state_file_counts_down_on_the_wall_clock() {
        assert_eq!(
            countdown(None, Some(WALL + 30_000), 500_000, WALL + 10_000),
            Some(Duration::from_secs(20))
        );
        assert_eq!(countdown(None, None, 1, 1), None);
    }
}
