//! The done-record of a one-shot task (docs/services.md, "One-shot tasks"): how its last run
//! ended and in which boot, kept as `<state>/NAME.done` (JSON, written atomically like a PID
//! file, read without following a symlink or blocking on a FIFO).
//!
//! A record of the current boot with exit 0 makes the task `done`; one with another end
//! (non-zero exit, signal, timeout) makes it `failed`. A record from another boot, a missing
//! or unreadable one, means the task is stopped: after a reboot it runs again. `stop` removes
//! the record. Plain data and file I/O; the lifecycle decides.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lifecycle::state::{Finished, Ran};
use crate::name::ServiceName;
use crate::paths::Dirs;
use crate::process::pidfile;

/// How and when a task's run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneRecord {
    /// `/proc/sys/kernel/random/boot_id` when it ended.
    pub boot_id: String,
    /// The task's PID.
    pub pid: i32,
    /// Unix time (seconds) of its end.
    pub finished_at: u64,
    /// Its exit status, when it exited.
    pub code: Option<i32>,
    /// How a signal ended it ("was killed by signal SIGKILL"), when one did.
    #[serde(default)]
    pub killed: Option<String>,
    /// Set when it did not finish within its time (milliseconds) and its group was killed.
    #[serde(default)]
    pub timed_out_ms: Option<u64>,
}

/// `<state>/NAME.done`.
pub fn path(dirs: &Dirs, name: &ServiceName) -> PathBuf {
    dirs.state.join(format!("{name}.done"))
}

impl DoneRecord {
    /// The record of a run of process `pid` that ended as `ran`, now, in boot `boot_id`.
    pub fn new(boot_id: String, pid: i32, ran: &Ran) -> DoneRecord {
        let (code, killed, timed_out_ms) = match ran {
            Ran::Exited(c) => (Some(*c), None, None),
            Ran::Killed(how) => (None, Some(how.clone()), None),
            Ran::TimedOut(d) => (None, None, Some(d.as_millis() as u64)),
        };
        DoneRecord {
            boot_id,
            pid,
            finished_at: crate::clock::unix_secs(std::time::SystemTime::now()),
            code,
            killed,
            timed_out_ms,
        }
    }

    /// Whether the run exited 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// How it ended, for people: `exited 0`, `killed by signal SIGKILL`, `timed out after 5s`.
    pub fn how(&self) -> String {
        match (self.code, &self.killed, self.timed_out_ms) {
            (_, _, Some(ms)) => format!("timed out after {:?}", Duration::from_millis(ms)),
            (Some(c), _, _) => format!("exited {c}"),
            (None, Some(how), _) => how.strip_prefix("was ").unwrap_or(how).to_string(),
            (None, None, None) => "ended".into(),
        }
    }

    /// What `status` shows of it, `now` being the current Unix time.
    pub fn finished(&self, now: u64) -> Finished {
        Finished {
            how: self.how(),
            ago_s: now.saturating_sub(self.finished_at),
        }
    }

    /// Reads a record; a missing, unreadable or malformed one is `None`.
    pub fn load(path: &Path) -> Option<DoneRecord> {
        let text = crate::regular::read(path, crate::regular::Links::Refuse).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the record atomically (a temporary file renamed over the target).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        pidfile::write_atomic(path, &text, 0o644)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_a_run_ended_reads_plainly() {
        let r = |ran: Ran| DoneRecord::new("b".into(), 7, &ran);
        assert_eq!(r(Ran::Exited(0)).how(), "exited 0");
        assert!(r(Ran::Exited(0)).succeeded());
        assert_eq!(r(Ran::Exited(3)).how(), "exited 3");
        assert!(!r(Ran::Exited(3)).succeeded());
        let killed = r(Ran::Killed("was killed by signal SIGTERM".into()));
        assert_eq!(killed.how(), "killed by signal SIGTERM");
        assert!(!killed.succeeded());
        let late = r(Ran::TimedOut(Duration::from_secs(2)));
        assert_eq!(late.how(), "timed out after 2s");
        assert!(!late.succeeded());
        let mut done = r(Ran::Exited(0));
        done.finished_at = 1000;
        assert_eq!(
            done.finished(1192),
            Finished {
                how: "exited 0".into(),
                ago_s: 192
            }
        );
        assert_eq!(done.finished(10).ago_s, 0);
    }

    #[test]
    fn a_record_survives_a_round_trip_and_a_bad_one_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("t.done");
        assert_eq!(DoneRecord::load(&p), None);
        let r = DoneRecord::new("boot".into(), 42, &Ran::Exited(1));
        r.save(&p).unwrap();
        assert_eq!(DoneRecord::load(&p), Some(r));
        std::fs::write(&p, "{").unwrap();
        assert_eq!(DoneRecord::load(&p), None);
        let link = tmp.path().join("l.done");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert_eq!(DoneRecord::load(&link), None);
    }
}
