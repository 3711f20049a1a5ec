//! The parent's hold on a launched child between its birth and its exec ([`Pending`], then
//! [`ExecWatch`]): the release byte, the error pipe that reports the exec's outcome, and —
//! for a child sharing svc's memory — the memory it reads, kept until that pipe is at EOF.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use super::super::child::{ChildSetup, ChildStack};
use super::super::reap::reap;
use super::LaunchError;

/// The steps the child reports failures of, by index in the error pipe.
const STEPS: [&str; 15] = [
    "resetting signals",
    "setsid",
    "redirecting stdin/stdout/stderr",
    "chdir to the working directory",
    "setrlimit",
    "setpriority (nice)",
    "setgroups",
    "setgid",
    "setuid",
    "dropping privileges for good",
    "waiting for svc",
    "exec",
    "becoming the launch's subreaper",
    "forking the launcher",
    "entering the service's cgroup",
];

/// A forked child, set up and waiting for [`Pending::release`] before it execs.
#[derive(Debug)]
pub struct Pending {
    pub(super) pid: i32,
    pub(super) go: Option<OwnedFd>,
    /// Taken by [`Pending::release_async`].
    pub(super) errors: Option<OwnedFd>,
    pub(super) program: PathBuf,
    /// The child is a keeper: its [`Keeper`] reaps it, never this.
    pub(super) kept: bool,
    /// What a child sharing svc's memory reads until its exec; moved into the [`ExecWatch`].
    pub(super) shared: Option<Box<SharedChild>>,
}

/// The memory a child's [`ChildSetup`] points into: C strings and the arrays of pointers to
/// them, limits, groups.
pub(super) struct ChildMemory {
    pub(super) path: CString,
    pub(super) _argv_c: Vec<CString>,
    pub(super) _envp_c: Vec<CString>,
    pub(super) argv: Vec<*const libc::c_char>,
    pub(super) envp: Vec<*const libc::c_char>,
    pub(super) workdir: CString,
    pub(super) limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    pub(super) groups: Vec<libc::gid_t>,
}

/// A child's setup with the memory it points into and, for a child sharing svc's memory
/// ([`super::child::spawn_waiting`]), its stack. Such a child reads all three until it has
/// exec'd or exited, so whoever holds this drops it only once the child's error pipe is at
/// EOF ([`drain`]).
pub(super) struct SharedChild {
    pub(super) setup: ChildSetup,
    pub(super) _memory: ChildMemory,
    pub(super) stack: Option<ChildStack>,
}

impl std::fmt::Debug for SharedChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedChild").finish_non_exhaustive()
    }
}

/// Reads a child's error pipe to EOF: the child has exec'd (the pipe is close-on-exec) or
/// exited, and no longer uses a [`SharedChild`].
fn drain(errors: &OwnedFd) {
    let mut buf = [0u8; 64];
    loop {
        match nix::unistd::read(errors.as_raw_fd(), &mut buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

impl Pending {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Lets the child exec and waits until it did (or failed to).
    pub fn release(self) -> Result<i32, LaunchError> {
        let (pid, kept) = (self.pid, self.kept);
        let outcome = self.release_async().outcome();
        if outcome.is_err() && !kept {
            reap(pid);
        }
        outcome
    }

    /// Lets the child exec without waiting for it: the [`ExecWatch`] tells, once its
    /// descriptor is readable, whether the exec succeeded. A child that failed exits at once
    /// and is left to the caller's reaping (the super daemon's SIGCHLD).
    pub fn release_async(mut self) -> ExecWatch {
        if let Some(go) = self.go.take() {
            let _ = nix::unistd::write(&go, b"x");
        }
        ExecWatch {
            pid: self.pid,
            errors: self.errors.take().expect("released once"),
            program: std::mem::take(&mut self.program),
            shared: self.shared.take(),
        }
    }

    /// Gives up on the child: it exits without running the program.
    pub fn abort(mut self) {
        self.go.take();
        if !self.kept {
            reap(self.pid);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Closing the release pipe makes a still-waiting child exit on its own; one that
        // shares svc's memory is waited for before that memory goes.
        self.go.take();
        if let (Some(_), Some(errors)) = (&self.shared, &self.errors) {
            drain(errors);
        }
    }
}

/// A released child on its way to exec: its error pipe reaches EOF when the exec succeeded
/// (the pipe is close-on-exec), or carries the failed step and errno first.
#[derive(Debug)]
pub struct ExecWatch {
    pid: i32,
    errors: OwnedFd,
    program: PathBuf,
    /// Freed once the error pipe is at EOF (see `SharedChild`).
    shared: Option<Box<SharedChild>>,
}

impl Drop for ExecWatch {
    fn drop(&mut self) {
        if self.shared.is_some() {
            drain(&self.errors);
        }
    }
}

impl ExecWatch {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Readable once the outcome is known (for `poll`).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.errors.as_fd()
    }

    /// The PID once the program runs, or why it does not. Blocks until the exec is done
    /// unless [`ExecWatch::fd`] was seen readable. Reaps nothing.
    pub fn outcome(mut self) -> Result<i32, LaunchError> {
        let mut msg = [0u8; 8];
        let mut got = 0;
        while got < msg.len() {
            match nix::unistd::read(self.errors.as_raw_fd(), &mut msg[got..]) {
                Err(nix::errno::Errno::EINTR) => continue,
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        if got == 0 {
            return Ok(self.pid);
        }
        let step = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize;
        let errno = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let step_name = STEPS.get(step).copied().unwrap_or("setup");
        let err = io::Error::from_raw_os_error(errno);
        if step_name == "exec" && matches!(errno, libc::ENOENT | libc::EACCES) {
            return Err(LaunchError::NotInstalled {
                path: std::mem::take(&mut self.program),
                why: err.to_string(),
            });
        }
        Err(LaunchError::Failed {
            path: std::mem::take(&mut self.program),
            step: step_name,
            err,
        })
    }
}
