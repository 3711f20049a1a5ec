//! Launching a daemon: the only place svc forks, and the crate's only `unsafe` that runs in a
//! child (SPEC §3.1 step 3, §3.7).
//!
//! Everything the child needs — program path, argv, environment, log file, credentials, limits —
//! is prepared before the fork. Between fork and exec the child makes plain syscalls only
//! (`sigaction`, `sigprocmask`, `setsid`, `umask`, `setrlimit`, `setpriority`, `close_range`,
//! `setgroups`, `setgid`, `setuid`): no allocation, no formatting, no locks. std's `Command`
//! reports a failed exec — and any error from the steps above — through its close-on-exec pipe,
//! so `start` learns of it at once, with the errno, and without sleeping.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::definition::Limit;
use crate::users::Credentials;

/// The default PATH of a launched program (and where bare `exec` names are looked up).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start one program.
#[derive(Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    pub creds: Option<Credentials>,
    pub umask: u32,
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    /// stdout and stderr (appended); `None` means /dev/null.
    pub output: Option<File>,
}

/// Why a launch failed.
#[derive(Debug)]
pub enum LaunchError {
    /// The program does not exist or is not executable.
    NotInstalled { path: PathBuf, why: String },
    /// fork, a setup step or exec failed.
    Failed { path: PathBuf, err: io::Error },
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::NotInstalled { path, why } => write!(f, "{}: {why}", path.display()),
            LaunchError::Failed { path, err } => {
                write!(f, "cannot execute {}: {err}", path.display())
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
    let mut head = [0u8; 4];
    let n = {
        use std::io::Read;
        File::open(&candidate)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(4)
    };
    if n >= 2 && &head[..2] != b"#!" && !(n == 4 && &head == b"\x7fELF") {
        return Err(LaunchError::Failed {
            path: candidate,
            err: io::Error::from_raw_os_error(libc::ENOEXEC),
        });
    }
    Ok(candidate)
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let ok = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
    ok && std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
}

impl Launch {
    /// Forks and execs. The returned child leads its own session and process group.
    pub fn spawn(self) -> Result<Child, LaunchError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.workdir)
            .stdin(Stdio::null());
        match &self.output {
            Some(f) => {
                let err = f.try_clone().map_err(|err| LaunchError::Failed {
                    path: self.program.clone(),
                    err,
                })?;
                let out = f.try_clone().map_err(|err| LaunchError::Failed {
                    path: self.program.clone(),
                    err,
                })?;
                cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }

        // Prepared before fork: the child only reads these.
        let umask = self.umask as libc::mode_t;
        let nice = self.nice;
        let limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)> = self
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
        let drop_to: Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)> = self
            .creds
            .as_ref()
            .map(|c| (c.uid, c.gid, c.groups.clone()));
        let switching = match &drop_to {
            // SAFETY (all three): plain getters without arguments.
            Some((uid, gid, _)) => unsafe {
                libc::geteuid() == 0 || *uid != libc::geteuid() || *gid != libc::getegid()
            },
            None => false,
        };

        // SAFETY: the closure runs in the forked child before exec. It only calls
        // async-signal-safe syscalls on data prepared above, allocates nothing, and reports
        // failure through io::Error::last_os_error / from_raw_os_error, which do not allocate.
        unsafe {
            cmd.pre_exec(move || {
                // Default disposition for every signal and an empty mask, whatever the caller had.
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                for sig in 1..65 {
                    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                        libc::sigaction(sig, &dfl, std::ptr::null_mut());
                    }
                }
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // A new session: no controlling terminal, its own process group.
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                libc::umask(umask);
                for (res, lim) in &limits {
                    if libc::setrlimit(*res, lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if let Some(n) = nice {
                    if libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // Only fds 0-2 survive exec: mark every other one close-on-exec (std's own
                // error pipe already is). Fall back to a bounded loop on old kernels.
                if libc::syscall(
                    libc::SYS_close_range,
                    3u32,
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
                    for fd in 3..max {
                        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                }
                // Privileges last, in the order supplementary groups, gid, uid; then make sure
                // root cannot be regained.
                if switching {
                    if let Some((uid, gid, groups)) = &drop_to {
                        if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                            return Err(io::Error::last_os_error());
                        }
                        if libc::setgid(*gid) != 0 {
                            return Err(io::Error::last_os_error());
                        }
                        if libc::setuid(*uid) != 0 {
                            return Err(io::Error::last_os_error());
                        }
                        if *uid != 0 && libc::setuid(0) == 0 {
                            return Err(io::Error::from_raw_os_error(libc::EPERM));
                        }
                    }
                }
                Ok(())
            });
        }
        cmd.spawn().map_err(|err| match err.raw_os_error() {
            Some(libc::ENOENT) => LaunchError::NotInstalled {
                path: self.program.clone(),
                why: err.to_string(),
            },
            _ => LaunchError::Failed {
                path: self.program.clone(),
                err,
            },
        })
    }
}
