//! Launching a daemon: the only place svc forks, and the crate's only `unsafe` that runs in a
//! child (SPEC §3.1 step 3, §3.7).
//!
//! Everything the child needs — program path, argv, environment, descriptors, credentials,
//! limits — is prepared before the fork. Between fork and exec the child makes plain syscalls
//! only (`rt_sigaction`, `sigprocmask`, `setsid`, `dup2`, `chdir`, `umask`, `setrlimit`,
//! `setpriority`, `setgroups`, `setgid`, `setuid`, `read`, `write`, `close_range`, `execve`;
//! a keeper also `sigprocmask`, `prctl`, `getppid`, `fork`, `waitpid`, `sigwaitinfo`, `open`,
//! `kill`, `close`, `_exit`): no allocation, no formatting, no locks.
//!
//! The launch has two halves. [`Launch::fork`] forks a child that sets itself up and then
//! waits on a pipe; the parent records the child's PID and identity; only then does
//! [`Pending::release`] let it exec. If svc dies before releasing it (SIGKILL, power cut of the
//! terminal), the pipe closes and the child exits without ever running the program: svc never
//! leaves a daemon it did not record. A second close-on-exec pipe carries the errno of a failed
//! step or exec back to the parent, so `start` reports it at once, without sleeping.
//!
//! A program that daemonizes itself is launched with [`Launch::fork_kept`]: the child becomes
//! the launch's keeper (the child subreaper, [`super::keeper`]) and forks the launcher, which
//! then goes through the same steps.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
}

impl Launch {
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
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let ok = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
    ok && std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
}

/// The steps the child reports failures of, by index in the error pipe.
const STEPS: [&str; 14] = [
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
];

/// A forked child, set up and waiting for [`Pending::release`] before it execs.
#[derive(Debug)]
pub struct Pending {
    pid: i32,
    go: Option<OwnedFd>,
    errors: OwnedFd,
    program: PathBuf,
    /// The child is a keeper: its [`Keeper`] reaps it, never this.
    kept: bool,
}

/// An `OwnedFd` duplicated above 3, close-on-exec, so a caller whose fds 0-3 are closed can't
/// have them land on the child's stdio slots (or fd 3) by accident.
fn high_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we hold returns a new one or -1.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 4) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
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

fn cstring(s: &[u8], what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

impl Launch {
    /// Forks a child that prepares itself and waits for [`Pending::release`].
    pub fn fork(self) -> Result<Pending, LaunchError> {
        self.fork_inner(false).map(|(p, _)| p)
    }

    /// For a program that daemonizes itself: forks a [`Keeper`] — the launch's child
    /// subreaper — which forks the program's launcher, prepared as by [`Launch::fork`]. The
    /// [`Pending`] is the keeper's; [`Pending::release`] lets the launcher exec.
    pub fn fork_kept(self) -> Result<(Pending, Keeper), LaunchError> {
        self.fork_inner(true)
            .map(|(p, k)| (p, k.expect("a kept launch has a keeper")))
    }

    fn fork_inner(self, kept: bool) -> Result<(Pending, Option<Keeper>), LaunchError> {
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
        let devnull = File::open("/dev/null").map_err(|e| fail("opening /dev/null", e))?;
        let stdin = match &self.connection {
            Some(c) => high_fd(c.as_raw_fd()),
            None => high_fd(devnull.as_raw_fd()),
        }
        .map_err(|e| fail("redirecting stdin/stdout/stderr", e))?;
        let out = match &self.output {
            Some(f) => high_fd(f.as_raw_fd()),
            None => high_fd(devnull.as_raw_fd()),
        }
        .map_err(|e| fail("redirecting stdin/stdout/stderr", e))?;
        let fd3 = match &self.fd3 {
            Some(f) => Some(high_fd(f.as_raw_fd()).map_err(|e| fail("redirecting fd 3", e))?),
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
        if let Some(nofile) = super::fdlimit::inherited() {
            if !limits.iter().any(|(r, _)| *r == libc::RLIMIT_NOFILE) {
                limits.insert(0, (libc::RLIMIT_NOFILE, nofile));
            }
        }
        // SAFETY (all three): plain getters without arguments.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
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

        let child = ChildSetup {
            path: &path,
            argv: &argv,
            envp: &envp,
            workdir: &workdir,
            stdin: stdin.as_raw_fd(),
            stdout: if self.connection.is_some() {
                stdin.as_raw_fd()
            } else {
                out.as_raw_fd()
            },
            out: out.as_raw_fd(),
            fd3: fd3.as_ref().map_or(-1, |f| f.as_raw_fd()),
            umask,
            limits: &limits,
            nice,
            drop_to: drop_to.as_ref().map(|(u, g, gs)| (*u, *g, gs.as_slice())),
            go_r: go_r.as_raw_fd(),
            go_w: go_w.as_raw_fd(),
            err_r: err_r.as_raw_fd(),
            err_w: err_w.as_raw_fd(),
            keeper: keeper_pipe.as_ref().map(|(r, w)| KeeperSetup {
                status_r: r.as_raw_fd(),
                status_w: w.as_raw_fd(),
                // SAFETY: getpid has no preconditions.
                parent: unsafe { libc::getpid() },
            }),
        };
        // SAFETY: fork in a process that may have other threads is sound as long as the child
        // only calls async-signal-safe functions before exec, which `ChildSetup::run` does.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(fail("fork", io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: we are the freshly forked child; `run` never returns.
            unsafe { child.run() }
        }
        drop(go_r);
        drop(err_w);
        let keeper = keeper_pipe.map(|(r, w)| {
            drop(w);
            Keeper::new(pid, r)
        });
        Ok((
            Pending {
                pid,
                go: Some(go_w),
                errors: err_r,
                program: self.program,
                kept,
            },
            keeper,
        ))
    }
}

/// What the keeper of a kept launch needs: its status pipe and svc's PID.
struct KeeperSetup {
    status_r: RawFd,
    status_w: RawFd,
    parent: libc::pid_t,
}

/// What the child needs, as raw pointers and numbers prepared by the parent.
struct ChildSetup<'a> {
    path: &'a CString,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    workdir: &'a CString,
    stdin: RawFd,
    stdout: RawFd,
    /// stderr.
    out: RawFd,
    /// Becomes fd 3 when not -1.
    fd3: RawFd,
    umask: libc::mode_t,
    limits: &'a [(libc::__rlimit_resource_t, libc::rlimit)],
    nice: Option<i32>,
    drop_to: Option<(libc::uid_t, libc::gid_t, &'a [libc::gid_t])>,
    go_r: RawFd,
    go_w: RawFd,
    err_r: RawFd,
    err_w: RawFd,
    /// Set for a kept launch: this child becomes the keeper and forks the launcher.
    keeper: Option<KeeperSetup>,
}

impl ChildSetup<'_> {
    /// Reports the failed step and errno to the parent, then exits.
    ///
    /// SAFETY: only called in the forked child; write and _exit are async-signal-safe.
    unsafe fn die(&self, step: usize) -> ! {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(self.err_w, msg.as_ptr().cast(), msg.len());
        libc::_exit(127);
    }

    /// The child's whole life until exec.
    ///
    /// SAFETY: must run in a freshly forked child only. Every call below is an
    /// async-signal-safe syscall on memory the parent prepared before forking; nothing
    /// allocates, formats, locks or unwinds.
    unsafe fn run(&self) -> ! {
        libc::close(self.go_w);
        libc::close(self.err_r);
        if !reset_signals() {
            self.die(0);
        }
        if let Some(k) = &self.keeper {
            libc::close(k.status_r);
            // The keeper takes its signals with sigwaitinfo: blocked from here on, so that
            // neither svc's death signal nor a Ctrl-C to svc's process group can end it before
            // it has ended the launch (see `keeper::keep`).
            let set = super::keeper::signals();
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                self.die(0);
            }
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                super::keeper::DEATH_SIGNAL as libc::c_ulong,
            );
            // If svc is already gone, it must not start anything.
            if libc::getppid() != k.parent {
                libc::_exit(126);
            }
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) != 0 {
                self.die(12);
            }
            // fork is async-signal-safe; this process has one thread.
            match libc::fork() {
                -1 => self.die(13),
                0 => {
                    // The launcher: it goes on below (the death signal and the subreaper
                    // flag are not inherited; the blocked signals are, and are unblocked).
                    libc::close(k.status_w);
                    if !reset_signals() {
                        self.die(0);
                    }
                }
                launcher => super::keeper::keep(launcher, k.status_w, k.parent),
            }
        }
        // A new session: no controlling terminal, its own process group.
        if libc::setsid() < 0 {
            self.die(1);
        }
        if libc::dup2(self.stdin, 0) < 0
            || libc::dup2(self.stdout, 1) < 0
            || libc::dup2(self.out, 2) < 0
        {
            self.die(2);
        }
        // All descriptors the child still needs are above 3 (see `high_fd`).
        if self.fd3 >= 0 && libc::dup2(self.fd3, 3) < 0 {
            self.die(2);
        }
        if libc::chdir(self.workdir.as_ptr()) != 0 {
            self.die(3);
        }
        libc::umask(self.umask);
        for (res, lim) in self.limits {
            if libc::setrlimit(*res, lim) != 0 {
                self.die(4);
            }
        }
        if let Some(n) = self.nice {
            if libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0 {
                self.die(5);
            }
        }
        // Privileges last, in the order supplementary groups, gid, uid; then make sure root
        // cannot be regained.
        if let Some((uid, gid, groups)) = self.drop_to {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                self.die(6);
            }
            if libc::setgid(gid) != 0 {
                self.die(7);
            }
            if libc::setuid(uid) != 0 {
                self.die(8);
            }
            if uid != 0 && libc::setuid(0) == 0 {
                *libc::__errno_location() = libc::EPERM;
                self.die(9);
            }
        }
        // Wait until svc has recorded us. EOF means svc is gone: never run unrecorded.
        let mut byte = 0u8;
        loop {
            let r = libc::read(self.go_r, (&mut byte as *mut u8).cast(), 1);
            if r == 1 {
                break;
            }
            if r < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            libc::_exit(126);
        }
        // Only fds 0-2 (and 3 when given) survive exec: mark every other one close-on-exec
        // (the error pipe already is). Fall back to a bounded loop on kernels without
        // close_range.
        let first: i32 = if self.fd3 >= 0 { 4 } else { 3 };
        if libc::syscall(
            libc::SYS_close_range,
            first as u32,
            u32::MAX,
            4u32, /* CLOEXEC */
        ) != 0
        {
            let mut rl: libc::rlimit = std::mem::zeroed();
            let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
                rl.rlim_max.min(1 << 20) as i32
            } else {
                65536
            };
            for fd in first..max {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
        self.die(11);
    }
}

impl Pending {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Lets the child exec and waits until it did (or failed to).
    pub fn release(mut self) -> Result<i32, LaunchError> {
        let go = self.go.take();
        if let Some(go) = &go {
            // SAFETY: writing one byte from a valid buffer to a pipe we own.
            unsafe { libc::write(go.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        }
        drop(go);
        let mut msg = [0u8; 8];
        let mut got = 0;
        while got < msg.len() {
            // SAFETY: reading into the unfilled tail of a buffer we own.
            let r = unsafe {
                libc::read(
                    self.errors.as_raw_fd(),
                    msg[got..].as_mut_ptr().cast(),
                    msg.len() - got,
                )
            };
            if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if r <= 0 {
                break;
            }
            got += r as usize;
        }
        if got == 0 {
            return Ok(self.pid);
        }
        let step = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize;
        let errno = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        if !self.kept {
            reap(self.pid);
        }
        let step_name = STEPS.get(step).copied().unwrap_or("setup");
        let err = io::Error::from_raw_os_error(errno);
        if step_name == "exec" && matches!(errno, libc::ENOENT | libc::EACCES) {
            return Err(LaunchError::NotInstalled {
                path: self.program.clone(),
                why: err.to_string(),
            });
        }
        Err(LaunchError::Failed {
            path: self.program.clone(),
            step: step_name,
            err,
        })
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
        // Closing the release pipe makes a still-waiting child exit on its own.
        self.go.take();
    }
}

/// Waits for a child of ours and returns its status (`None` if it is not ours or is gone).
pub fn reap(pid: i32) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    loop {
        // SAFETY: waitpid on a specific PID with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(std::process::ExitStatus::from_raw(status));
        }
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// Default disposition for every signal and an empty mask, whatever the caller had; false if
/// the mask could not be set. The raw syscall also resets 32 and 33, which glibc's sigaction
/// refuses to touch.
///
/// # Safety
/// Only between fork and exec: it makes async-signal-safe syscalls only.
pub unsafe fn reset_signals() -> bool {
    let dfl = [0u64; 4];
    for sig in 1..65 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
    let empty = 0u64;
    libc::syscall(
        libc::SYS_rt_sigprocmask,
        libc::SIG_SETMASK,
        &empty as *const u64,
        std::ptr::null_mut::<u64>(),
        8usize,
    ) == 0
}

/// For a child started another way (std's `Command`, in `pre_exec`): [`reset_signals`], the
/// open-file limit svc was started with (see `fdlimit`), and every descriptor above stderr
/// close-on-exec — the clean state SPEC §3.7 asks for, whatever
/// the caller's.
///
/// # Safety
/// Only between fork and exec: it makes async-signal-safe syscalls only.
pub unsafe fn reset_inherited_state() {
    reset_signals();
    super::fdlimit::restore_in_child();
    libc::syscall(
        libc::SYS_close_range,
        3u32,
        u32::MAX,
        4u32, /* CLOEXEC */
    );
}

/// Reaps `pid` if it is an exited child of ours; never blocks.
pub fn reap_nohang(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid on a specific PID with a valid status pointer, without blocking.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_read_errors_are_reported_as_themselves() {
        let emfile = check_header(Err(io::Error::from_raw_os_error(libc::EMFILE))).unwrap_err();
        assert_eq!(emfile.1.raw_os_error(), Some(libc::EMFILE));
        let eio = check_header(Err(io::Error::from_raw_os_error(libc::EIO))).unwrap_err();
        assert_eq!(eio.1.raw_os_error(), Some(libc::EIO));
        // Execute-only: execve decides.
        assert!(check_header(Err(io::Error::from_raw_os_error(libc::EACCES))).is_ok());
        assert!(check_header(Ok((*b"\x7fELF", 4))).is_ok());
        assert!(check_header(Ok((*b"#!/b", 4))).is_ok());
        assert!(check_header(Ok((*b"#!\0\0", 2))).is_ok());
        let junk = check_header(Ok((*b"echo", 4))).unwrap_err();
        assert_eq!(junk.1.raw_os_error(), Some(libc::ENOEXEC));
    }
}
