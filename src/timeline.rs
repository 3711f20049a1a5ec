//! The boot timeline: when each service of a runlevel transition began to start (or stop) and
//! when it was ready, kept as `<state>/timeline.json` for `svc analyze`. Nothing in the SysV
//! world shows one; this is svc's `systemd-analyze blame`.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One runlevel transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The runlevel switched to (`"3"`, `"S"`; `boot` records rcS.d and the target in one
    /// timeline, with target `"S+3"`).
    pub target: String,
    /// Unix time in milliseconds when the transition began; every other time is relative to it.
    pub started_at_unix_ms: u64,
    /// Milliseconds from the beginning to the end of the transition.
    pub total_ms: u64,
    pub services: Vec<Step>,
}

/// What happened to one service during the transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// `"start"` or `"stop"`.
    pub action: String,
    /// The entry's number (NN of S<NN>name / K<NN>name).
    pub number: u8,
    /// When svc began to start (or stop) it; `None` if it was skipped.
    pub begin_ms: Option<u64>,
    /// When it was ready (start) or gone (stop); `None` if it failed or was skipped.
    pub ready_ms: Option<u64>,
    /// `"ok"`, `"failed"`, `"skipped"` (a dependency failed or was left out) or `"already"`
    /// (already running / already stopped: nothing was done).
    pub outcome: String,
    /// The services it waited for (its `requires` and `wants` that were part of the transition).
    pub after: Vec<String>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Timeline {
    /// Reads `<state>/timeline.json`.
    pub fn load(path: &Path) -> std::io::Result<Timeline> {
        let text = std::fs::read(path)?;
        serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Writes it atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::process::pidfile::write_atomic(path, &text, 0o644)
    }
}
