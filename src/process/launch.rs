//! Launching a daemon: the only place svc forks, and the crate's only `unsafe` that runs in a child
//! (docs/commands.md, "Starting and stopping"; docs/security.md, "The process a service gets").
//!
//! Everything the child needs — program path, argv, environment, descriptors, credentials,
//! limits — is prepared before the fork. Between fork and exec the child makes plain syscalls
//! only (`rt_sigaction`, `sigprocmask`, `setsid`, `dup2`, `chdir`, `umask`, `setrlimit`,
//! `setpriority`, `setgroups`, `setgid`, `setuid`, `read`, `write`, `close_range`, `execve`;
//! a keeper also `sigprocmask`, `prctl`, `getppid`, `fork`, `waitpid`, `sigwaitinfo`, `open`,
//! `kill`, `close`, `_exit`): no allocation, no formatting, no locks.
//!
//! The launch has two halves. [`Launch::fork`] starts a child that sets itself up and then
//! waits on a pipe; the parent records the child's PID and identity; only then does
//! [`Pending::release`] let it exec. If svc dies before releasing it (SIGKILL, power cut of the
//! terminal), the pipe closes and the child exits without ever running the program: svc never
//! leaves a daemon it did not record. A second close-on-exec pipe carries the errno of a failed
//! step or exec back to the parent, so `start` reports it at once, without sleeping.
//!
//! That child is not a copy of svc: it shares svc's memory (`clone3` with `CLONE_VM`,
//! [`super::child::spawn_waiting`]) and runs on a small stack of its own while svc records it,
//! reading only its prepared setup, which the [`Pending`] keeps until the error pipe says the
//! child has exec'd or exited ([`pending`]). No page table is copied, svc takes no
//! copy-on-write faults while it writes the record, and the exec has no copy to tear down —
//! about 0.35 ms of a launch by a 5 MiB svc on a 2-CPU VM. A keeper (below) is forked: it lives
//! on after its exec-less setup. Where clone3 is refused, or on another architecture than
//! x86-64, every launch forks.
//!
//! A connection's server (`svc inetd`, [`Launch::fork_on`]) needs no recording before its
//! exec — the super daemon tracks it as its own child — so its release byte is written before
//! the child exists, and the child is started sharing svc's memory (`CLONE_VM | CLONE_VFORK`,
//! [`super::child::spawn_shared`]) instead of copying it: no page tables copied, no
//! copy-on-write faults in svc afterwards. [`Pending::release_async`] hands back an
//! [`ExecWatch`] whose pipe the super daemon polls for the exec's outcome.
//!
//! A program that daemonizes itself is launched with [`Launch::fork_kept`]: the child becomes
//! the launch's keeper (the child subreaper, [`super::keeper`]) and forks the launcher, which
//! then goes through the same steps.
//!
//! This file is the parent's side: resolving the program, preparing what the child needs, the
//! fork and the release. What the child runs between fork and exec is in [`super::child`].

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::child::{ChildSetup, ChildStack, KeeperSetup};
use super::keeper::Keeper;
use crate::definition::Limit;
use crate::users::Credentials;

/// The default PATH of a launched program (and where bare `exec` names are looked up).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start one program.
#[derive(Debug)]
pub struct Launch {
    pub program: PathBuf,
    /// Arguments and environment are bytes, as the kernel takes them: a path that is not UTF-8
    /// (a state directory with byte 0xff) reaches the program unchanged.
    pub args: Vec<OsString>,
    pub workdir: PathBuf,
    /// The complete environment.
    pub env: Vec<(OsString, OsString)>,
    pub creds: Option<Credentials>,
    pub umask: u32,
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    /// stdout and stderr (appended); `None` means /dev/null.
    pub output: Option<File>,
    /// A connection for stdin and stdout (the super daemon's services); `output` then takes
    /// stderr only. `None`: stdin is /dev/null and stdout goes to `output`.
    pub connection: Option<std::os::fd::OwnedFd>,
    /// A descriptor the program gets as fd 3 (the only one above stderr): a supervised service
    /// keeps the read end of its own output pipe there, so its writes never fail while its
    /// supervisor is gone; the supervisor gets its report pipe to `svc start` there.
    pub fd3: Option<std::os::fd::OwnedFd>,
    /// The service's cgroup, which the child is born in or enters before exec (SPEC §8.7).
    /// `None` without containment.
    pub cgroup: Option<super::cgroup::Entry>,
}

impl Launch {
    /// `/bin/sh -c CMD` in `/`, with only `PATH`, `HOME=/` and `LANG`, no credentials change,
    /// umask 022, stdin, stdout and stderr `/dev/null`: a detached helper command (an access
    /// rule's `spawn`).
    pub fn sh(cmd: &str) -> Launch {
        Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), cmd.into()],
            workdir: PathBuf::from("/"),
            env: vec![
                ("PATH".into(), DEFAULT_PATH.into()),
                ("HOME".into(), "/".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ],
            creds: None,
            umask: 0o022,
            limits: Vec::new(),
            nice: None,
            output: None,
            connection: None,
            fd3: None,
            cgroup: None,
        }
    }

    /// The same launch without its descriptors (output, connection, fd 3), for launching the
    /// same program again without preparing it again.
    pub fn without_fds(&self) -> Launch {
        Launch {
            program: self.program.clone(),
            args: self.args.clone(),
            workdir: self.workdir.clone(),
            env: self.env.clone(),
            creds: self.creds.clone(),
            umask: self.umask,
            limits: self.limits.clone(),
            nice: self.nice,
            output: None,
            connection: None,
            fd3: None,
            cgroup: self.cgroup.as_ref().and_then(|f| f.try_clone().ok()),
        }
    }
}

/// Why a launch failed.
#[derive(Debug)]
pub enum LaunchError {
    /// The program does not exist or is not executable.
    NotInstalled { path: PathBuf, why: String },
    /// fork, a setup step or exec failed.
    Failed {
        path: PathBuf,
        step: &'static str,
        err: io::Error,
    },
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::NotInstalled { path, why } => write!(f, "{}: {why}", path.display()),
            LaunchError::Failed { path, step, err } => {
                write!(f, "cannot execute {}: {step} failed: {err}", path.display())
            }
        }
    }
}

/// Finds the program: an absolute path as is, a bare name in `path_var`. Checks that it is an
/// executable regular file, and that it is a binary or a `#!` script (so the kernel, not a
/// shell fallback, runs it).
pub fn resolve_program(exec: &str, path_var: &str) -> Result<PathBuf, LaunchError> {
    let candidate = if exec.starts_with('/') {
        PathBuf::from(exec)
    } else {
        path_var
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| Path::new(d).join(exec))
            .find(|p| is_executable_file(p))
            .ok_or_else(|| LaunchError::NotInstalled {
                path: PathBuf::from(exec),
                why: format!("not found in PATH ({path_var})"),
            })?
    };
    let meta = std::fs::metadata(&candidate).map_err(|e| LaunchError::NotInstalled {
        path: candidate.clone(),
        why: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(LaunchError::NotInstalled {
            path: candidate,
            why: "not a regular file".into(),
        });
    }
    if !is_executable_file(&candidate) {
        return Err(LaunchError::NotInstalled {
            path: candidate,
            why: "not executable".into(),
        });
    }
    check_header(read_head(&candidate)).map_err(|(step, err)| LaunchError::Failed {
        path: candidate.clone(),
        step,
        err,
    })?;
    Ok(candidate)
}

/// Whether the kernel would refuse to execute this file with ENOEXEC (no `#!` line and no ELF
/// header), so that it must be run as `/bin/sh FILE`, as a shell's `exec` would run it (LSB
/// scripts without an interpreter line, see `lifecycle::script`). Reads at most four bytes and
/// never blocks; a file it cannot read is left to execve (false).
pub fn needs_shell(path: &Path) -> bool {
    matches!(check_header(read_head(path)), Err(("exec", _)))
}

/// The first (up to) four bytes of a file and how many there were.
fn read_head(path: &Path) -> io::Result<([u8; 4], usize)> {
    use std::io::Read;
    // Never blocks: whatever replaced the program since its metadata was read (a FIFO) is
    // refused, not waited on.
    let mut f = crate::regular::open_read(path, crate::regular::Links::Follow)?;
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((head, n))
}

/// Judges a program by its first bytes: a `#!` script or an ELF binary, else ENOEXEC (the
/// kernel would refuse it, and svc never falls back to a shell). A file svc may execute but
/// not read (mode 0111, svc not root) is left to execve; any other read error is reported as
/// itself, with the step that failed.
fn check_header(head: io::Result<([u8; 4], usize)>) -> Result<(), (&'static str, io::Error)> {
    match head {
        Ok((head, n)) if n >= 2 && &head[..2] != b"#!" && !(n == 4 && &head == b"\x7fELF") => {
            Err(("exec", io::Error::from_raw_os_error(libc::ENOEXEC)))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) => Err(("reading its first bytes", e)),
    }
}

fn is_executable_file(p: &Path) -> bool {
    let ok = nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok();
    ok && std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
}

/// An `OwnedFd` duplicated above 3, close-on-exec, so a caller whose fds 0-3 are closed can't
/// have them land on the child's stdio slots (or fd 3) by accident.
fn high_fd(fd: RawFd) -> io::Result<OwnedFd> {
    let n = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(4))?;
    // SAFETY: `n` was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

/// `fd` itself when it is above 3, else a close-on-exec duplicate that is.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 3 {
        Ok(fd)
    } else {
        high_fd(fd.as_raw_fd())
    }
}

/// A descriptor the child puts on one of its slots 0-3: the caller's own when it is above 3
/// (the child's dup2 cannot clobber it), else a close-on-exec duplicate that is.
enum Stdio {
    Borrowed(RawFd),
    Owned(OwnedFd),
}

impl Stdio {
    fn above_3(fd: RawFd) -> io::Result<Stdio> {
        if fd > 3 {
            Ok(Stdio::Borrowed(fd))
        } else {
            high_fd(fd).map(Stdio::Owned)
        }
    }

    fn raw(&self) -> RawFd {
        match self {
            Stdio::Borrowed(fd) => *fd,
            Stdio::Owned(fd) => fd.as_raw_fd(),
        }
    }
}

fn cstring(s: &[u8], what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

impl Launch {
    /// Starts a child that prepares itself and waits for [`Pending::release`] (sharing svc's
    /// memory where it can, see the module's notes).
    pub fn fork(self) -> Result<Pending, LaunchError> {
        self.fork_inner(false, None).map(|(p, _)| p)
    }

    /// Starts a child set up as [`Launch::fork`]'s, with `connection` as its stdin and stdout
    /// (in place of the launch's own), already released (nothing records it before its exec:
    /// the super daemon tracks it as its own child) and sharing svc's memory until then where
    /// it can ([`super::child::spawn_shared`]). The super daemon prepares a service's launch
    /// once and starts it so for every connection; [`Pending::release_async`] gives the watch
    /// on its exec.
    pub fn fork_on(&self, connection: &OwnedFd) -> Result<Pending, LaunchError> {
        self.fork_inner(false, Some(connection.as_raw_fd()))
            .map(|(p, _)| p)
    }

    /// For a program that daemonizes itself: forks a [`Keeper`] — the launch's child
    /// subreaper — which forks the program's launcher, prepared as by [`Launch::fork`]. The
    /// [`Pending`] is the keeper's; [`Pending::release`] lets the launcher exec.
    pub fn fork_kept(self) -> Result<(Pending, Keeper), LaunchError> {
        self.fork_inner(true, None)
            .map(|(p, k)| (p, k.expect("a kept launch has a keeper")))
    }

    /// `connection`: a connection's server (see [`Launch::fork_on`]), released at once.
    fn fork_inner(
        &self,
        kept: bool,
        connection: Option<RawFd>,
    ) -> Result<(Pending, Option<Keeper>), LaunchError> {
        let connection_launch = connection.is_some() && !kept;
        let program = self.program.clone();
        let fail = |step: &'static str, err: io::Error| LaunchError::Failed {
            path: program.clone(),
            step,
            err,
        };
        // Everything the child touches is built here, before the fork.
        let path = cstring(self.program.as_os_str().as_bytes(), "the program path")
            .map_err(|e| fail("exec", e))?;
        let mut argv_c = vec![path.clone()];
        for a in &self.args {
            argv_c.push(cstring(a.as_bytes(), "an argument").map_err(|e| fail("exec", e))?);
        }
        let envp_c: Vec<CString> = self
            .env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstring(&kv, "the environment")
            })
            .collect::<io::Result<_>>()
            .map_err(|e| fail("exec", e))?;
        let argv: Vec<*const libc::c_char> = argv_c
            .iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp: Vec<*const libc::c_char> = envp_c
            .iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let workdir = cstring(self.workdir.as_os_str().as_bytes(), "the working directory")
            .map_err(|e| fail("chdir to the working directory", e))?;
        let connection = connection.or(self.connection.as_ref().map(|c| c.as_raw_fd()));
        // /dev/null only when something goes there.
        let devnull = match (connection, &self.output) {
            (Some(_), Some(_)) => None,
            _ => Some(File::open("/dev/null").map_err(|e| fail("opening /dev/null", e))?),
        };
        let null_fd = || devnull.as_ref().map_or(-1, |f| f.as_raw_fd());
        let stdin = Stdio::above_3(connection.unwrap_or_else(null_fd))
            .map_err(|e| fail("redirecting stdin/stdout/stderr", e))?;
        let out = Stdio::above_3(self.output.as_ref().map_or_else(null_fd, |f| f.as_raw_fd()))
            .map_err(|e| fail("redirecting stdin/stdout/stderr", e))?;
        let fd3 = match &self.fd3 {
            Some(f) => {
                Some(Stdio::above_3(f.as_raw_fd()).map_err(|e| fail("redirecting fd 3", e))?)
            }
            None => None,
        };
        let cgroup = match &self.cgroup {
            Some(c) => {
                let high = |f: &OwnedFd| {
                    high_fd(f.as_raw_fd()).map_err(|e| fail("entering the service's cgroup", e))
                };
                Some((high(&c.dir)?, high(&c.procs)?))
            }
            None => None,
        };
        let umask = self.umask as libc::mode_t;
        let nice = self.nice;
        let mut limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)> = self
            .limits
            .iter()
            .map(|l| {
                let v = |x: Option<u64>| x.unwrap_or(libc::RLIM_INFINITY);
                (
                    l.resource.raw(),
                    libc::rlimit {
                        rlim_cur: v(l.soft),
                        rlim_max: v(l.hard),
                    },
                )
            })
            .collect();
        // A switch raises svc's own open-file limit; the program gets the one svc was started
        // with, unless its definition sets one.
        if let Some(nofile) = crate::fdlimit::inherited() {
            if !limits.iter().any(|(r, _)| *r == libc::RLIMIT_NOFILE) {
                limits.insert(0, (libc::RLIMIT_NOFILE, nofile));
            }
        }
        let (euid, egid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let drop_to: Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)> = self
            .creds
            .as_ref()
            .filter(|c| euid == 0 || c.uid != euid || c.gid != egid)
            .map(|c| (c.uid, c.gid, c.groups.clone()));
        let (go_r, go_w) = pipe().map_err(|e| fail("creating a pipe", e))?;
        let (err_r, err_w) = pipe().map_err(|e| fail("creating a pipe", e))?;
        let keeper_pipe = match kept {
            true => Some(pipe().map_err(|e| fail("creating a pipe", e))?),
            false => None,
        };
        // What the child reads, where it stays put: the heap buffers of these strings and
        // vectors do not move when `memory` does.
        let memory = ChildMemory {
            path,
            _argv_c: argv_c,
            _envp_c: envp_c,
            argv,
            envp,
            workdir,
            limits,
            groups: drop_to
                .as_ref()
                .map(|(_, _, g)| g.clone())
                .unwrap_or_default(),
        };
        let child = ChildSetup {
            path: memory.path.as_ptr(),
            argv: memory.argv.as_ptr(),
            envp: memory.envp.as_ptr(),
            workdir: memory.workdir.as_ptr(),
            stdin: stdin.raw(),
            stdout: if connection.is_some() {
                stdin.raw()
            } else {
                out.raw()
            },
            out: out.raw(),
            fd3: fd3.as_ref().map_or(-1, Stdio::raw),
            cgroup_dir: cgroup.as_ref().map_or(-1, |(d, _)| d.as_raw_fd()),
            cgroup: cgroup.as_ref().map_or(-1, |(_, p)| p.as_raw_fd()),
            umask,
            limits: memory.limits.as_ptr(),
            limits_len: memory.limits.len(),
            nice,
            drop_to: drop_to.as_ref().map(|(u, g, _)| (*u, *g)),
            groups: memory.groups.as_ptr(),
            groups_len: memory.groups.len(),
            go_r: go_r.as_raw_fd(),
            go_w: go_w.as_raw_fd(),
            err_r: err_r.as_raw_fd(),
            err_w: err_w.as_raw_fd(),
            keeper: keeper_pipe.as_ref().map(|(r, w)| KeeperSetup {
                status_r: r.as_raw_fd(),
                status_w: w.as_raw_fd(),
                parent: nix::unistd::getpid().as_raw(),
            }),
        };
        // A kept launch's keeper stays outside the cgroup (it forks the launcher into it);
        // any other child is born in it.
        let into = if kept { -1 } else { child.cgroup_dir };
        let mut shared = Box::new(SharedChild {
            setup: child,
            _memory: memory,
            stack: None,
        });
        // A connection's server is released at once: its release byte goes in before the
        // child exists, and the child shares svc's memory, with svc suspended until its exec.
        // Any other launch but a keeper's waits for svc's record on a stack of its own,
        // sharing svc's memory; the `Pending` keeps what it reads (`shared`) until the child
        // has exec'd or exited. A keeper, or where neither can be, is forked.
        let mut go = Some(go_w);
        let born = if connection_launch {
            if let Some(w) = go.take() {
                nix::unistd::write(&w, b"x").map_err(|e| fail("creating a pipe", e.into()))?;
            }
            // SAFETY: not a keeper, the release byte is written, and `shared` lives until the
            // end of this function.
            unsafe { super::child::spawn_shared(&shared.setup) }.map(|r| r.map(|pid| (pid, false)))
        } else if !kept {
            shared.stack = Some(ChildStack::new().map_err(|e| fail("fork", e))?);
            let stack = shared.stack.as_ref().expect("just set");
            // SAFETY: not a keeper; `shared` holds the setup, all it points to and the stack,
            // and goes into the `Pending`, which frees it only once the error pipe is at EOF
            // (see `SharedChild`).
            unsafe { super::child::spawn_waiting(&shared.setup, stack) }
                .map(|r| r.map(|pid| (pid, true)))
        } else {
            None
        };
        let (pid, sharing) = match born {
            Some(Ok(born)) => born,
            Some(Err(errno)) => return Err(fail("fork", io::Error::from_raw_os_error(errno))),
            None => {
                // SAFETY: forking in a process that may have other threads is sound as long as
                // the child only makes async-signal-safe calls before exec, which
                // `ChildSetup::run` does (raw syscalls, see `child::fork_into`).
                let (pid, born_inside) = unsafe { super::child::fork_into(into) };
                if pid < 0 {
                    return Err(fail("fork", io::Error::last_os_error()));
                }
                if pid == 0 {
                    // SAFETY: we are the freshly forked child; `run` never returns.
                    unsafe { shared.setup.run(born_inside) }
                }
                (pid, false)
            }
        };
        drop(go_r);
        drop(err_w);
        let keeper = keeper_pipe.map(|(r, w)| {
            drop(w);
            Keeper::new(pid, r)
        });
        Ok((
            Pending {
                pid,
                go,
                errors: Some(err_r),
                program: self.program.clone(),
                kept,
                shared: sharing.then_some(shared),
            },
            keeper,
        ))
    }
}

mod pending;

use pending::{ChildMemory, SharedChild};
pub use pending::{ExecWatch, Pending};

#[cfg(test)]
mod tests;
