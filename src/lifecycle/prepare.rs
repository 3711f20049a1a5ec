//! Preparing a launch, before anything is forked (docs/commands.md, "Starting and stopping";
//! docs/security.md, "The process a service gets"): the program found and checked ([`program`]),
//! the credentials ([`credentials`]), the runtime directories made ([`rundir`]), the log opened ([`open_log`]), the notify socket bound and
//! the environment built ([`prepare`]). Also what a launch hands back ([`Launched`]) and the log
//! lines quoted when it fails ([`log_tail`]).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::definition::{envfile, Definition, Ready, MAX_FILE_SIZE};
use crate::lifecycle::error::{LifecycleError, LogStep, LogTail};
use crate::lifecycle::rundir;
use crate::lifecycle::Lifecycle;
use crate::paths::Dirs;
use crate::process::cgroup;
use crate::process::handle::ProcHandle;
use crate::process::keeper::Keeper;
use crate::process::launch::{self, Launch};
use crate::process::record::Record;
use crate::ready::NotifySocket;
use crate::supervise::logsink;
use crate::trust;
use crate::users;

type Result<T> = std::result::Result<T, LifecycleError>;

/// Lines of the log quoted when a program dies during start.
const LOG_TAIL_LINES: usize = 5;

/// A launched program: the service's main process, its identity record, and — for a program
/// svc forked itself — the child to reap if it dies during start.
pub(crate) struct Launched {
    pub(crate) main: ProcHandle,
    pub(crate) record: Record,
    pub(crate) child: Option<i32>,
    /// A forking launch's keeper: released once the start succeeds; dropped (killing what the
    /// launch created) when it fails.
    pub(crate) keeper: Option<Keeper>,
}

/// What a launch of a service runs: its program, or one of its hook commands (SPEC §8.2).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Command<'a> {
    /// `exec` (as the caller found it) with the definition's `args`.
    Program(&'a str),
    /// A `pre_start`, `post_stop` or `config_test` argument vector (never empty).
    Hook(&'a [String]),
}

/// Everything a launch needs, resolved before anything is forked: the program, the
/// credentials, the log, the notify socket and the environment — for the service's program
/// or any of its hook commands alike (the one place a service's command is prepared).
/// `piped`: a supervised service's output pipe (write end for stdout/stderr, read end kept as
/// fd 3) instead of the log file. Only the program gets the notify socket.
pub(crate) fn prepare(
    life: &Lifecycle,
    def: &Definition,
    command: Command<'_>,
    piped: Option<(File, OwnedFd)>,
) -> Result<(Launch, Option<NotifySocket>)> {
    let (exec, args, is_program): (&str, &[String], bool) = match command {
        Command::Program(exec) => (exec, &def.args, true),
        Command::Hook(argv) => match argv.split_first() {
            Some((p, rest)) => (p.as_str(), rest, false),
            None => ("", &[], false),
        },
    };
    let program = program(def, exec)?;
    let creds = credentials(def)?;
    // The env files are read first: a bad one starts nothing and makes nothing.
    let from_files = env_files(def)?;
    let uid_gid = owner(creds.as_ref());
    let runtime = if is_program {
        // The runtime directories come before the program's launch: everything run for it
        // (pre_start, the program) finds them. Removed again when the rest of the preparation
        // fails.
        rundir::create(&life.dirs, def, uid_gid).map_err(LifecycleError::RuntimeDir)?
    } else {
        // A hook runs while the directories exist (pre_start, post_stop), or must not make
        // them (config_test, before anything changes): it only learns where they are.
        rundir::env_value(&life.dirs, def)
    };
    let command = Prepared {
        program,
        args,
        is_program,
        runtime,
        from_files,
    };
    let prepared = assemble(life, def, command, creds, piped);
    if is_program && prepared.is_err() {
        let _ = rundir::remove(&life.dirs, def, uid_gid);
    }
    prepared
}

/// What [`assemble`] builds a launch of: the command resolved, its environment's parts.
struct Prepared<'a> {
    program: PathBuf,
    args: &'a [String],
    is_program: bool,
    runtime: Option<OsString>,
    from_files: Vec<(String, String)>,
}

/// The uid and gid the service runs as: its credentials', else svc's own.
pub(crate) fn owner(creds: Option<&users::Credentials>) -> (u32, u32) {
    creds.map(|c| (c.uid, c.gid)).unwrap_or_else(|| {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    })
}

/// The rest of [`prepare`], once program, credentials and runtime directories are there.
fn assemble(
    life: &Lifecycle,
    def: &Definition,
    command: Prepared<'_>,
    creds: Option<users::Credentials>,
    piped: Option<(File, OwnedFd)>,
) -> Result<(Launch, Option<NotifySocket>)> {
    let Prepared {
        program,
        args,
        is_program,
        runtime,
        from_files,
    } = command;
    let cgroup = enter_cgroup(life, def)?;
    let (output, fd3) = match (piped, def.log_path(&life.dirs)) {
        (Some((w, r)), _) => (Some(w), Some(r)),
        (None, Some(p)) => (
            Some(
                open_log(&life.dirs, &p).map_err(|(step, source)| LifecycleError::OpenLog {
                    path: p,
                    step,
                    source,
                })?,
            ),
            None,
        ),
        (None, None) => (None, None),
    };
    let notify = match &def.ready {
        Some(Ready::Notify) if is_program => Some(
            NotifySocket::bind(
                &life.dirs.notify_socket(&def.name),
                creds.as_ref().map(|c| (c.uid, c.gid)),
            )
            .map_err(LifecycleError::Notify)?,
        ),
        _ => None,
    };
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), launch::DEFAULT_PATH.into()),
        ("HOME".into(), home_of(creds.as_ref())),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    // The directories of the svc that launched it: a service that runs svc itself (the
    // super daemon, a script calling `svc status`) addresses the same configuration.
    for (k, dir) in [
        ("SVC_CONFIG_DIR", &life.dirs.config),
        ("SVC_STATE_DIR", &life.dirs.state),
        ("SVC_LOG_DIR", &life.dirs.log),
    ] {
        // Bytes as they are: a directory that is not UTF-8 reaches the service unchanged.
        let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        env.push((k.into(), abs.into_os_string()));
    }
    if let Some(sysv) = &life.dirs.sysv {
        env.push((crate::paths::SYSV_ENV.into(), sysv.clone().into_os_string()));
    }
    for (k, v) in &def.env {
        env.retain(|(ek, _)| ek.as_os_str() != k.as_str());
        env.push((k.into(), v.into()));
    }
    // §8.4: the files override `env:`, in the order given.
    for (k, v) in from_files {
        env.retain(|(ek, _)| ek.as_os_str() != k.as_str());
        env.push((k.into(), v.into()));
    }
    if let Some(dirs) = runtime {
        env.retain(|(ek, _)| ek != "RUNTIME_DIRECTORY");
        env.push(("RUNTIME_DIRECTORY".into(), dirs));
    }
    if let Some(ns) = &notify {
        env.push(("NOTIFY_SOCKET".into(), ns.env_value()));
    }
    let launch = Launch {
        program,
        // §8.5: the service's own variables, expanded once the environment is complete.
        args: envfile::expand(args, &env),
        workdir: def.workdir.clone(),
        env,
        creds,
        umask: def.umask,
        limits: def.limits.clone(),
        nice: def.nice,
        output,
        connection: None,
        fd3,
        cgroup,
    };
    Ok((launch, notify))
}

/// The service's cgroup, made ready, as the `cgroup.procs` its launched child writes itself
/// into (SPEC §8.7); `None` without containment — where `limits.memory` or `limits.pids` is
/// an error, never dropped.
pub(crate) fn enter_cgroup(life: &Lifecycle, def: &Definition) -> Result<Option<cgroup::Entry>> {
    let failed = |source| LifecycleError::Cgroup {
        service: def.name.clone(),
        source,
    };
    match life.cgroup(def) {
        Some(cg) => cg.prepare(&def.cgroup_limits).map(Some).map_err(failed),
        None => match cgroup::unsupported(&def.cgroup_limits) {
            Some(e) => Err(failed(e)),
            None => Ok(None),
        },
    }
}

/// The names svc itself puts in every launched program's environment, before `env:` and the
/// env files (`RUNTIME_DIRECTORY` and `NOTIFY_SOCKET` only with `runtime_dir` and
/// `ready: notify`): what `svc check` counts as defined when it looks at `${NAME}` in `args`.
pub(crate) const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "SVC_CONFIG_DIR",
    "SVC_STATE_DIR",
    "SVC_LOG_DIR",
    "SVC_SYSV_DIR",
    "NOTIFY_SOCKET",
    "RUNTIME_DIRECTORY",
];

/// The pairs of `def`'s env files (§8.4), in order, read now (at every start): never blocking
/// on a FIFO ([`crate::regular`]), as root only if trusted ([`trust::check_config_file`]). A
/// missing file is skipped when optional (`-`), else an error; so is a bad line.
pub(crate) fn env_files(def: &Definition) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for ef in &def.env_files {
        let path = &ef.path;
        let unreadable = |source: io::Error| LifecycleError::EnvFileUnreadable {
            service: def.name.clone(),
            path: path.clone(),
            source,
        };
        let f = match crate::regular::open_read(path, crate::regular::Links::Follow) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && ef.optional => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LifecycleError::EnvFileMissing {
                    service: def.name.clone(),
                    path: path.clone(),
                })
            }
            Err(e) => return Err(unreadable(e)),
        };
        let meta = f.metadata().map_err(unreadable)?;
        trust::check_config_file(path, &meta)
            .map_err(|why| LifecycleError::UntrustedFile { why })?;
        let mut bytes = Vec::new();
        f.take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(unreadable(io::Error::other(format!(
                "larger than {MAX_FILE_SIZE} bytes"
            ))));
        }
        let pairs = envfile::parse(&bytes).map_err(|bad| LifecycleError::EnvFileLine {
            service: def.name.clone(),
            path: path.clone(),
            line: bad.line,
            error: bad.error,
        })?;
        out.extend(pairs);
    }
    Ok(out)
}

/// HOME of the launched program: the service user's home, else that of the user svc runs as,
/// else `/` — never the caller's environment.
fn home_of(creds: Option<&users::Credentials>) -> OsString {
    let home = match creds {
        Some(c) => c.home.clone(),
        None => nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir),
    };
    home.map(PathBuf::into_os_string)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// PATH for looking up a bare `exec`: the definition's own `env: PATH`, else the default.
pub(crate) fn env_path(def: &Definition) -> String {
    def.env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| launch::DEFAULT_PATH.to_string())
}

/// The program a launch of `def` runs: `exec` found like at launch (PATH of the service's
/// environment), an executable file, and as root one that only root can write (docs/security.md,
/// "The process a service gets"). `start` and `svc inetd` check it before anything is forked; `svc
/// check` reports it.
pub(crate) fn program(def: &Definition, exec: &str) -> Result<PathBuf> {
    let program = launch::resolve_program(exec, &env_path(def))?;
    if trust::running_as_root() {
        let meta = std::fs::metadata(&program).map_err(|source| LifecycleError::Inspect {
            path: program.clone(),
            source,
        })?;
        trust::check_config_file(&program, &meta)
            .map_err(|why| LifecycleError::UntrustedFile { why })?;
    }
    Ok(program)
}

/// The credentials a launch of `def` switches to; another user or group than svc's own needs
/// root (LSB 4 otherwise). Checked before anything is forked; `svc check` reports it.
pub(crate) fn credentials(def: &Definition) -> Result<Option<users::Credentials>> {
    let creds = users::resolve(def.user.as_ref(), def.group.as_ref()).map_err(|why| {
        LifecycleError::Credentials {
            file: def.file.clone(),
            why,
        }
    })?;
    if let Some(c) = &creds {
        let me = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        if !trust::running_as_root() && (c.uid, c.gid) != me {
            return Err(LifecycleError::NeedsRoot {
                service: def.name.clone(),
                user: def
                    .user
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| c.uid.to_string()),
            });
        }
    }
    Ok(creds)
}

/// Opens a service's log for appending (creating svc's log directory when it is the one);
/// on failure, which step failed.
pub(crate) fn open_log(
    dirs: &Dirs,
    path: &Path,
) -> std::result::Result<File, (LogStep, io::Error)> {
    if path.parent() == Some(dirs.log.as_path()) {
        dirs.ensure_log().map_err(|e| (LogStep::Directory, e))?;
    }
    logsink::open_append(path).map_err(|e| (LogStep::File, e))
}

/// The last lines of a log, for an error message (control characters made `?`). The log is
/// read as `svc logs` reads it: no symlink, no FIFO ([`crate::regular`]).
pub(crate) fn log_tail(path: Option<&Path>) -> LogTail {
    let none = LogTail::default();
    let Some(path) = path else {
        return none;
    };
    let Ok((mut f, meta)) = crate::regular::open_read_meta(path, crate::regular::Links::Refuse)
    else {
        return none;
    };
    let len = meta.len();
    let start = len.saturating_sub(4096);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return none;
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return none;
    }
    let quoted = tail
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                .collect()
        })
        .collect();
    LogTail {
        quoted: Some(Box::new((path.to_path_buf(), quoted))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_quotes_the_last_lines_without_control_characters() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("a.log");
        let text: String = (1..=8).map(|i| format!("line {i}\n\n")).collect();
        std::fs::write(&log, text + "bell\x07\tend\n").unwrap();
        let tail = log_tail(Some(&log)).to_string();
        assert_eq!(
            tail,
            format!(
                "; last lines of {}:\n    line 5\n    line 6\n    line 7\n    line 8\n    bell?\tend",
                log.display()
            )
        );
        assert_eq!(log_tail(None).to_string(), "");
        assert_eq!(log_tail(Some(&dir.join("missing"))).to_string(), "");
    }
}
