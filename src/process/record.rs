//! The identity record: what svc knows about the process it launched (docs/security.md, "How svc
//! decides a service runs").
//!
//! Stored as `<state>/NAME.state` (JSON, written atomically). A PID alone proves nothing — PIDs
//! are reused, even within one clock tick — so the record keeps the boot id, the start time and
//! the pidfd inode (pidfs) or, where pidfds have no identity, the executable's device and inode.
//! A process is the service only when all recorded facts match.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::handle::ProcHandle;
use super::pidfile;
use super::procfs::{Procfs, Stat};

/// The facts recorded about a launched process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub pid: i32,
    /// The process group svc kills at the end of a stop.
    pub pgid: i32,
    pub boot_id: String,
    pub start_ticks: u64,
    #[serde(default)]
    pub pidfd_ino: Option<u64>,
    #[serde(default)]
    pub exe_dev: Option<u64>,
    #[serde(default)]
    pub exe_ino: Option<u64>,
    /// The PID file this record goes with (a path that is not UTF-8 is kept as bytes).
    #[serde(with = "path_bytes")]
    pub pidfile: PathBuf,
    /// Unix time (seconds) of the launch.
    pub launched_at: u64,
    /// False while `start` still waits for readiness.
    #[serde(default = "yes")]
    pub ready: bool,
    /// Set when the PID file is a forking daemon's own, written by another user (its `user:`) and
    /// accepted because the launch created the process it names (docs/security.md, "How svc decides
    /// a service runs"): that user's uid. Later reads accept the file while it is still that user's
    /// and names this process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile_owner: Option<u32>,
    /// Set when the launch put the process in the service's cgroup (SPEC §8.7), so a stop
    /// knows it without asking cgroupfs. Absent (false) in records written before the field
    /// existed and for launches without containment: a stop then looks for the cgroup itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_cgroup: bool,
}

fn yes() -> bool {
    true
}

/// How a process compares with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Different(String),
}

impl Record {
    /// Captures the identity of the process behind `handle`.
    pub fn capture(handle: &ProcHandle, procfs: &Procfs, pidfile: &Path) -> io::Result<Record> {
        let pid = handle.pid();
        let stat = procfs
            .stat(pid)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let boot_id = procfs.boot_id()?;
        let pidfd_ino = handle.inode();
        let (exe_dev, exe_ino) = match procfs.exe_id(pid) {
            Ok((d, i)) => (Some(d), Some(i)),
            Err(_) => (None, None),
        };
        Ok(Record {
            pid,
            pgid: stat.pgrp,
            boot_id,
            start_ticks: stat.start_ticks,
            pidfd_ino,
            exe_dev,
            exe_ino,
            pidfile: pidfile.to_owned(),
            launched_at: crate::clock::unix_secs(std::time::SystemTime::now()),
            ready: true,
            pidfile_owner: None,
            in_cgroup: false,
        })
    }

    /// Compares the process behind `handle` (opened *before* the checks, so it cannot be
    /// swapped in between) with this record.
    pub fn verify(&self, handle: &ProcHandle, procfs: &Procfs) -> Verdict {
        self.verify_stat(handle, procfs, || procfs.stat(handle.pid()))
    }

    /// [`Record::verify`] with the process's stat as the caller read it, *after* it opened
    /// `handle` (a probe that has just read it for its own checks need not read it twice).
    pub fn verify_stat(
        &self,
        handle: &ProcHandle,
        procfs: &Procfs,
        stat: impl FnOnce() -> Option<Stat>,
    ) -> Verdict {
        let pid = handle.pid();
        if pid != self.pid {
            return Verdict::Different(format!(
                "svc launched pid {}, the pid file names {pid}",
                self.pid
            ));
        }
        match procfs.boot_id() {
            Ok(b) if b == self.boot_id => {}
            Ok(_) => return Verdict::Different("the record is from a previous boot".into()),
            Err(e) => return Verdict::Different(format!("cannot read the boot id: {e}")),
        }
        // On pidfs (Linux 6.9+) a pidfd's inode is never reused within a boot on a 64-bit
        // kernel (32-bit ones give only the low half of the process's 64-bit id, which wraps):
        // the recorded one names this very process, and whether it has exited its pidfd says.
        // /proc/PID/stat (the kernel's costliest small file: every field of the task computed)
        // is not read.
        let unique = cfg!(target_pointer_width = "64");
        if let (true, Some(recorded), Some(now)) = (unique, self.pidfd_ino, handle.inode()) {
            if recorded == now && handle.fd().is_some() {
                return match handle.exited() {
                    false => Verdict::Same,
                    true => Verdict::Different(format!("process {pid} is a zombie")),
                };
            }
        }
        let Some(stat) = stat() else {
            return Verdict::Different(format!("process {pid} is gone"));
        };
        if stat.is_zombie() {
            return Verdict::Different(format!("process {pid} is a zombie"));
        }
        if stat.start_ticks != self.start_ticks {
            return Verdict::Different(format!(
                "process {pid} started at tick {}, the service at tick {}: the PID was reused",
                stat.start_ticks, self.start_ticks
            ));
        }
        match (self.pidfd_ino, handle.inode()) {
            (Some(a), Some(b)) if a != b => {
                return Verdict::Different(format!(
                    "process {pid} is not the one svc launched (pidfd inode {b}, recorded {a}): the PID was reused"
                ))
            }
            (Some(_), Some(_)) => return Verdict::Same,
            _ => {}
        }
        if let (Some(dev), Some(ino)) = (self.exe_dev, self.exe_ino) {
            match procfs.exe_id(pid) {
                Ok((d, i)) if d == dev && i == ino => {}
                Ok(_) => {
                    return Verdict::Different(format!(
                        "process {pid} runs another executable: the PID was reused"
                    ))
                }
                Err(e) => {
                    return Verdict::Different(format!(
                        "cannot read the executable of process {pid}: {e}"
                    ))
                }
            }
        }
        Verdict::Same
    }

    /// Reads a record; a missing or unreadable one is `None` (treated as "no record").
    pub fn load(path: &Path) -> Option<Record> {
        // Never blocks on what is planted there (a FIFO), never follows a symlink.
        let text = crate::regular::read(path, crate::regular::Links::Refuse).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the record atomically.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        pidfile::write_atomic(path, &text, 0o644)
    }
}

/// A path in JSON: a string when it is UTF-8 (every record svc ever wrote), else its bytes as an
/// array of numbers, so a state directory with byte 0xff in its name can still be recorded.
mod path_bytes {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => s.serialize_str(text),
            None => s.collect_seq(path.as_os_str().as_bytes()),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(match Form::deserialize(d)? {
            Form::Text(t) => PathBuf::from(t),
            Form::Bytes(b) => PathBuf::from(OsString::from_vec(b)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    /// A child killed when the test ends, however it ends.
    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// On pidfs the recorded inode alone proves the identity, and the pidfd tells an exit: the
    /// process's stat is not read. An inode that differs still goes the long way and is refused.
    #[test]
    fn a_matching_pidfd_inode_proves_identity_without_reading_stat() {
        let procfs = Procfs::system();
        let mut child = Child(
            std::process::Command::new("/bin/sleep")
                .arg("100")
                .spawn()
                .unwrap(),
        );
        let pid = child.0.id() as i32;
        let h = ProcHandle::open(pid, &procfs).unwrap();
        let r = Record::capture(&h, &procfs, Path::new("/nonexistent/x.pid")).unwrap();
        let asked = Cell::new(false);
        let stat = || {
            asked.set(true);
            procfs.stat(pid)
        };
        assert_eq!(r.verify_stat(&h, &procfs, stat), Verdict::Same);
        let pidfs = crate::process::handle::pidfd_inodes_identify();
        assert_eq!(
            asked.get(),
            !pidfs,
            "stat read although the inode proved it"
        );
        if pidfs {
            let mut other = r.clone();
            other.pidfd_ino = r.pidfd_ino.map(|i| i + 1);
            assert!(matches!(
                other.verify_stat(&h, &procfs, stat),
                Verdict::Different(why) if why.contains("not the one svc launched")
            ));
        }
        // Killed, not reaped yet: a zombie, whichever way it is told.
        child.0.kill().unwrap();
        assert!(
            h.wait_exit(Instant::now() + Duration::from_secs(10)),
            "the killed child never exited"
        );
        assert!(matches!(
            r.verify_stat(&h, &procfs, || procfs.stat(pid)),
            Verdict::Different(why) if why.contains("zombie")
        ));
    }

    /// Whether the launch put the process in its cgroup is kept only when it did; a record
    /// written before the field existed reads as "not known to": a stop then looks itself.
    #[test]
    fn a_record_says_in_cgroup_only_when_the_launch_put_it_there() {
        let old = br#"{"pid": 7, "pgid": 7, "boot_id": "b", "start_ticks": 1, "pidfile": "/x.pid", "launched_at": 0}"#;
        let mut r: Record = serde_json::from_slice(old).unwrap();
        assert!(!r.in_cgroup);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("in_cgroup"), "{text}");
        r.in_cgroup = true;
        let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert!(back.in_cgroup);
    }
}
