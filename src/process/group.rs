//! Signalling a service's process group (docs/commands.md, "Starting and stopping"): the stop
//! signal, a wait woken by the exits, KILL after the stop timeout, and a bounded wait for the
//! kernel to take the processes away.
//!
//! The group svc itself runs in, and those led by svc or one of its ancestors, are never
//! signalled ([`Groups`] carries that list), nor are groups 0 and 1. `svc stop`, a failed
//! start and the supervisor between two instances all go through here.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::process::handle::{wait_any_exit, ProcHandle};
use crate::process::procfs::Procfs;

/// After KILL, how long svc waits for the kernel to take the processes away.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// What a process (or its supervisor) is to the person reading a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The service's main process.
    Process,
    /// The supervisor of a `respawn:` service.
    Supervisor,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Process => "process",
            Target::Supervisor => "its supervisor",
        })
    }
}

/// Why signalling a service's processes did not end them.
#[derive(Debug)]
pub enum SignalError {
    /// The signal could not be sent at all (EPERM: another user's process).
    Refused {
        target: Target,
        pid: i32,
        source: std::io::Error,
    },
    /// The main process was still there after KILL and [`KILL_GRACE`].
    Survived { pid: i32 },
    /// Members of the group were still there after KILL and [`KILL_GRACE`].
    GroupSurvived { pgid: i32, members: Vec<i32> },
}

impl SignalError {
    /// Whether the kernel refused for lack of privilege (LSB 4 rather than 1).
    pub fn is_privilege(&self) -> bool {
        matches!(self, SignalError::Refused { source, .. } if source.raw_os_error() == Some(libc::EPERM))
    }
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::Refused {
                target,
                pid,
                source,
            } => write!(f, "cannot signal {target} {pid}: {source}"),
            SignalError::Survived { pid } => write!(f, "process {pid} survived SIGKILL"),
            SignalError::GroupSurvived { pgid, members } => write!(
                f,
                "processes {members:?} of process group {pgid} survived SIGKILL"
            ),
        }
    }
}

impl std::error::Error for SignalError {}

/// svc itself and its ancestors (never a service), nearest first, at most 64.
pub fn ancestors(procfs: &Procfs) -> Vec<i32> {
    let mut out = vec![std::process::id() as i32];
    let mut cur = nix::unistd::getppid().as_raw();
    while cur > 1 && out.len() < 64 {
        out.push(cur);
        cur = match procfs.stat(cur) {
            Some(s) => s.ppid,
            None => break,
        };
    }
    out
}

/// Signals process groups, sparing svc's own group and its ancestors'.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    procfs: &'a Procfs,
    /// svc and its ancestors ([`ancestors`]).
    spared: &'a [i32],
}

impl<'a> Groups<'a> {
    pub fn new(procfs: &'a Procfs, spared: &'a [i32]) -> Groups<'a> {
        Groups { procfs, spared }
    }

    /// `sig`, SIGCONT, a wait woken by the exit, then KILL to the whole group after
    /// `timeout`; returns once no process of the group is left. A main process svc may not
    /// signal (another user's) is reported at once, not after the whole timeout.
    pub fn terminate(
        &self,
        main: &ProcHandle,
        pgid: i32,
        sig: Signal,
        timeout: Duration,
    ) -> Result<(), SignalError> {
        let soft = Instant::now() + timeout;
        let hard = soft + KILL_GRACE;
        main.signal(sig).map_err(|source| SignalError::Refused {
            target: Target::Process,
            pid: main.pid(),
            source,
        })?;
        let _ = main.signal(Signal::SIGCONT);
        if !main.wait_exit(soft) {
            let _ = main.signal(Signal::SIGKILL);
            self.kill(pgid, Signal::SIGKILL);
            if !main.wait_exit(hard) {
                return Err(SignalError::Survived { pid: main.pid() });
            }
        }
        // The main process has exited: when it leads the group, its own entry is not read.
        self.drain(pgid, Some(main.pid()), sig, soft, hard)
    }

    /// Ends what is left of a group whose leader is gone (after a failed start, or between
    /// two instances of a supervised service): `sig`, then KILL after `timeout`.
    pub fn clear(&self, pgid: i32, sig: Signal, timeout: Duration) {
        let soft = Instant::now() + timeout;
        let _ = self.drain(pgid, None, sig, soft, soft + KILL_GRACE);
    }

    /// Signals what is left of group `pgid` and waits for it to end; `exited` is a process
    /// known to have exited (the main one).
    fn drain(
        &self,
        pgid: i32,
        exited: Option<i32>,
        sig: Signal,
        soft: Instant,
        hard: Instant,
    ) -> Result<(), SignalError> {
        let mut signalled = false;
        let mut killed = false;
        loop {
            let members = self.live(pgid, exited == Some(pgid));
            if members.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if !signalled {
                self.kill(pgid, sig);
                self.kill(pgid, Signal::SIGCONT);
                signalled = true;
            }
            if now >= soft && !killed {
                self.kill(pgid, Signal::SIGKILL);
                killed = true;
            }
            if now >= hard {
                return Err(SignalError::GroupSurvived { pgid, members });
            }
            let handles: Vec<ProcHandle> = members
                .iter()
                .filter_map(|p| ProcHandle::open(*p, self.procfs).ok())
                .collect();
            let refs: Vec<&ProcHandle> = handles.iter().collect();
            let until = if killed { hard } else { soft };
            // Re-scan now and then: a member may fork while we wait.
            let until = until.min(Instant::now() + Duration::from_millis(100));
            if refs.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                wait_any_exit(&refs, until);
            }
        }
    }

    /// Non-zombie members of a service's process group; empty for groups svc must not touch.
    fn live(&self, pgid: i32, leader_gone: bool) -> Vec<i32> {
        if !self.signallable(pgid) {
            return Vec::new();
        }
        // Cheap first: no process at all in the group.
        if nix::sys::signal::killpg(Pid::from_raw(pgid), None).is_err() {
            return Vec::new();
        }
        match leader_gone {
            true => self.procfs.members_after_leader(pgid),
            false => self.procfs.group_members(pgid),
        }
    }

    /// Whether `pgid` may be signalled: not 0 or 1, not svc's own group, not one led by svc or
    /// an ancestor.
    pub fn signallable(&self, pgid: i32) -> bool {
        pgid > 1 && pgid != nix::unistd::getpgrp().as_raw() && !self.spared.contains(&pgid)
    }

    fn kill(&self, pgid: i32, sig: Signal) {
        if self.signallable(pgid) {
            let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svc_and_its_groups_are_never_signallable() {
        let procfs = Procfs::system();
        let spared = ancestors(&procfs);
        assert_eq!(spared[0], std::process::id() as i32);
        let groups = Groups::new(&procfs, &spared);
        assert!(!groups.signallable(0));
        assert!(!groups.signallable(1));
        assert!(!groups.signallable(nix::unistd::getpgrp().as_raw()));
        assert!(!groups.signallable(std::process::id() as i32));
    }

    #[test]
    fn messages_name_the_process_and_the_group() {
        let refused = SignalError::Refused {
            target: Target::Supervisor,
            pid: 42,
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(refused.is_privilege());
        assert!(refused
            .to_string()
            .starts_with("cannot signal its supervisor 42: "));
        assert_eq!(
            SignalError::GroupSurvived {
                pgid: 7,
                members: vec![7, 8]
            }
            .to_string(),
            "processes [7, 8] of process group 7 survived SIGKILL"
        );
        assert!(!SignalError::Survived { pid: 3 }.is_privilege());
    }
}
