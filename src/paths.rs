//! The configuration, state and log directories (docs/commands.md, "Files").
//!
//! Each is chosen by flag, then environment, then a default that depends on whether svc runs as
//! root. The state and log directories are created on demand (mode 0755) and, like every file svc
//! trusts, checked by [`crate::trust`] before use.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::name::ServiceName;
use crate::trust;

/// The three directories svc works with, and the SysV directory whose scripts it also runs.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub state: PathBuf,
    pub log: PathBuf,
    /// `--sysv-dir`, `SVC_SYSV_DIR` or `sysv_dir:` in svc.yaml (SPEC §9; docs/lsb.md): its
    /// `init.d/` scripts are services, its `rcN.d/` runlevel directories. `None`: no such
    /// directory (the default).
    pub sysv: Option<PathBuf>,
}

/// What the command line said (each may be absent).
#[derive(Debug, Clone, Default)]
pub struct DirFlags {
    pub config: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub sysv: Option<PathBuf>,
}

/// The environment variable naming the SysV directory (SPEC §9).
pub const SYSV_ENV: &str = "SVC_SYSV_DIR";

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    if let Some(h) = env_path("HOME") {
        return h;
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// One directory: the flag, else the environment variable `env`, else `as_root` for root and
/// `ordinary()` for anyone else.
fn pick(
    flag: &Option<PathBuf>,
    env: &str,
    root: bool,
    as_root: &str,
    ordinary: impl FnOnce() -> PathBuf,
) -> PathBuf {
    flag.clone().or_else(|| env_path(env)).unwrap_or_else(|| {
        if root {
            PathBuf::from(as_root)
        } else {
            ordinary()
        }
    })
}

impl Dirs {
    /// Resolves the directories: flag > environment > default (docs/commands.md, "Files").
    pub fn resolve(flags: &DirFlags) -> Dirs {
        let root = nix::unistd::geteuid().is_root();
        let uid = nix::unistd::getuid().as_raw();
        let config = pick(&flags.config, "SVC_CONFIG_DIR", root, "/etc/svc", || {
            env_path("XDG_CONFIG_HOME")
                .unwrap_or_else(|| home().join(".config"))
                .join("svc")
        });
        let state = pick(&flags.state, "SVC_STATE_DIR", root, "/run/svc", || {
            env_path("XDG_RUNTIME_DIR")
                .map(|d| d.join("svc"))
                .unwrap_or_else(|| PathBuf::from(format!("/tmp/svc-{uid}")))
        });
        let log = pick(&flags.log, "SVC_LOG_DIR", root, "/var/log/svc", || {
            env_path("XDG_STATE_HOME")
                .unwrap_or_else(|| home().join(".local/state"))
                .join("svc/log")
        });
        Dirs {
            config: absolute(config),
            state: absolute(state),
            log: absolute(log),
            sysv: flags
                .sysv
                .clone()
                .or_else(|| env_path(SYSV_ENV))
                .map(absolute),
        }
    }

    /// The SysV directory's `init.d/` (scripts that are services), if there is a SysV directory.
    pub fn sysv_init_d(&self) -> Option<PathBuf> {
        self.sysv.as_ref().map(|d| d.join("init.d"))
    }

    pub fn init_d(&self) -> PathBuf {
        self.config.join("init.d")
    }

    pub fn runlevels(&self) -> PathBuf {
        self.config.join("runlevels")
    }

    pub fn definition(&self, name: &ServiceName) -> PathBuf {
        self.init_d().join(format!("{name}.yaml"))
    }

    pub fn default_pidfile(&self, name: &ServiceName) -> PathBuf {
        self.state.join(format!("{name}.pid"))
    }

    pub fn record(&self, name: &ServiceName) -> PathBuf {
        self.state.join(format!("{name}.state"))
    }

    pub fn lock(&self, name: &ServiceName) -> PathBuf {
        self.state.join(format!("{name}.lock"))
    }

    pub fn notify_socket(&self, name: &ServiceName) -> PathBuf {
        self.state.join(format!("{name}.notify"))
    }

    /// The last runlevel transition's timeline (`svc analyze`).
    pub fn timeline(&self) -> PathBuf {
        self.state.join("timeline.json")
    }

    /// `PREVIOUS CURRENT` runlevel record (`svc runlevel`).
    pub fn runlevel_record(&self) -> PathBuf {
        self.state.join("runlevel")
    }

    /// The global lock a runlevel switch holds.
    pub fn switch_lock(&self) -> PathBuf {
        self.state.join("switch.lock")
    }

    pub fn default_log(&self, name: &ServiceName) -> PathBuf {
        self.log.join(format!("{name}.log"))
    }

    /// Creates the state directory if needed and checks it can be trusted.
    pub fn ensure_state(&self) -> io::Result<()> {
        ensure_dir(&self.state)
    }

    /// Creates the log directory if needed and checks it can be trusted.
    pub fn ensure_log(&self) -> io::Result<()> {
        ensure_dir(&self.log)
    }
}

/// Relative directories are taken from the current directory once, so that a daemon whose
/// working directory is `/` still finds its files.
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|cwd| cwd.join(&p)).unwrap_or(p)
    }
}

/// Creates `dir` (and parents) with mode 0755, then refuses it unless it is a real directory
/// that only the caller (or root) can write.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    let existed = dir.exists();
    if existed {
        // Nothing to make: the check alone (every lock of every service comes here).
        return trust::check_dir(dir).map_err(io::Error::other);
    }
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create directory {}: {e}", dir.display()),
            ))
        }
    }
    if !existed {
        // Mode 0755 whatever the caller's umask (docs/commands.md, "Files").
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    trust::check_dir(dir).map_err(io::Error::other)
}
