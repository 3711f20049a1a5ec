//! A service's launch, prepared once and forked for every connection (docs/inetd.md, "The
//! super daemon"): resolving the program, the trust checks, the credentials, the environment
//! (with the env files), the cgroup and the log are done when the service first gets a
//! connection, not per connection (an on-demand service has no runtime directories).
//!
//! A template stays only as long as what it was made from: SIGHUP and a server that failed to
//! start drop it, and before every fork the files it read are compared by identity (device,
//! inode, size, modification time) with what is there now — the env files, and `/etc/passwd`
//! and `/etc/group` for a service with a `user` or `group` — and the log held open with the
//! file at the log's path (a rotation by rename is followed at the next connection). A change
//! means a new template, so a connection never gets what an edit has replaced.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::definition::Definition;
use crate::lifecycle::{Lifecycle, LifecycleError};
use crate::process::launch::Launch;

/// What identifies a file's contents cheaply; `None` for a file that is not there.
type Stamp = Option<(u64, u64, u64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// A prepared launch and the identities of the files it was prepared from.
#[derive(Debug)]
pub(super) struct Template {
    pub(super) launch: Launch,
    sources: Vec<(PathBuf, Stamp)>,
    /// The log's path; the launch holds the file open as its stderr.
    log: Option<PathBuf>,
}

impl Template {
    /// Prepares `def`'s launch. The files are stamped first: one changed while preparing is
    /// seen as changed at the next connection, never the other way round.
    pub(super) fn build(life: &Lifecycle, def: &Definition) -> Result<Template, LifecycleError> {
        let mut paths: Vec<PathBuf> = def.env_files.iter().map(|f| f.path.clone()).collect();
        if def.user.is_some() || def.group.is_some() {
            paths.push(PathBuf::from("/etc/passwd"));
            paths.push(PathBuf::from("/etc/group"));
        }
        let sources = paths
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        let launch = life.connection_template(def)?;
        Ok(Template {
            launch,
            sources,
            log: def.log_path(&life.dirs),
        })
    }

    /// Whether every file the template was prepared from is still the same, and the log it
    /// holds open is still the file at the log's path.
    pub(super) fn fresh(&self) -> bool {
        let same =
            |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        let log_kept = match (&self.log, &self.launch.output) {
            (Some(path), Some(held)) => match (std::fs::metadata(path), held.metadata()) {
                (Ok(now), Ok(held)) => same(&now, &held),
                _ => false,
            },
            _ => true,
        };
        log_kept && self.sources.iter().all(|(p, s)| stamp(p) == *s)
    }
}
