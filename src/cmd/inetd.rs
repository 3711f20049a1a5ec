//! `svc inetd` (docs/inetd.md, "The super daemon"): the super daemon, in the foreground or detached
//! (`--daemon`).
//!
//! In the foreground it is an ordinary long-running program, so svc itself can supervise it
//! (`init.d/inetd.yaml`); when `NOTIFY_SOCKET` is set it sends `READY=1` once it listens.
//! `--daemon` runs a copy of itself (`/proc/self/exe`, the same arguments) in a new session,
//! with stdin and stdout `/dev/null`, stderr appended to `<log>/inetd.log` and the working
//! directory `/`; the copy writes `<state>/inetd.pid` (atomically) once it listens, and only
//! then does the command exit 0. If the copy cannot serve anything, the command prints what it
//! said and exits 1.
//!
//! Either way the daemon names itself `svc-inetd` (`/proc/PID/comm`, what ps, top and `ss -p`
//! show; its secure-log lines say `svc-inetd[PID]` too): run again as `/proc/self/exe`, the
//! detached copy would otherwise be called `exe`. Its command line stays svc's.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::Context;
use crate::exit::Code;
use crate::process::pidfile;

/// Set in the environment of the detached copy (and removed by it at once).
const DETACHED: &str = "SVC_INETD_DETACHED";

pub fn run(ctx: &Context, daemon: bool) -> Code {
    let detached = daemon && std::env::var_os(DETACHED).is_some();
    if daemon && !detached {
        return detach(ctx);
    }
    // The thread's name is the process's while it is the main thread; threads started later
    // (access checks that need host names) inherit it.
    let _ = nix::sys::prctl::set_name(c"svc-inetd");
    if detached {
        std::env::remove_var(DETACHED);
        if let Err(e) = nix::unistd::setsid() {
            ctx.out.error(&format!("inetd: setsid failed: {e}"));
            return Code::Failure;
        }
        let _ = std::env::set_current_dir("/");
    }
    let pidfile_path = ctx.dirs.state.join("inetd.pid");
    let mut wrote_pidfile = false;
    let mut on_ready = |served: usize| {
        if detached {
            let written = ctx
                .dirs
                .ensure_state()
                .and_then(|_| pidfile::write(&pidfile_path, std::process::id() as i32));
            match written {
                Ok(()) => wrote_pidfile = true,
                Err(e) => ctx.out.error(&format!(
                    "inetd: cannot write {}: {e}",
                    pidfile_path.display()
                )),
            }
            // Tell the waiting parent, then let go of its pipe.
            let mut out = std::io::stdout();
            let _ = writeln!(out, "ready {served}");
            let _ = out.flush();
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
            }
        } else {
            ctx.out
                .line(&format!("svc inetd: serving {served} service(s)"));
            notify_ready();
        }
        // Listening: what parsing and setting up needed can go.
        crate::process::memory::shed_startup_pages();
    };
    let result = crate::inetd::serve(&ctx.life, &mut on_ready);
    if wrote_pidfile {
        if let pidfile::PidFile::Pid(p) = pidfile::read(&pidfile_path, i64::from(i32::MAX)) {
            if p == std::process::id() as i32 {
                let _ = pidfile::remove(&pidfile_path);
            }
        }
    }
    match result {
        Ok(()) => Code::Success,
        Err(why) => {
            ctx.out.error(&format!("inetd: {why}"));
            Code::Failure
        }
    }
}

/// sd_notify `READY=1`, when started by a service manager that asked for it.
pub(super) fn notify_ready() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(abs) => SocketAddr::from_abstract_name(abs.as_bytes()),
        None => SocketAddr::from_pathname(&path),
    };
    if let (Ok(addr), Ok(sock)) = (addr, UnixDatagram::unbound()) {
        let _ = sock.send_to_addr(b"READY=1\n", &addr);
    }
}

/// `--daemon`: start the detached copy and wait until it listens (or gives up).
fn detach(ctx: &Context) -> Code {
    let log_path = ctx.dirs.log.join("inetd.log");
    let log = ctx
        .dirs
        .ensure_log()
        .and_then(|_| crate::securelog::open(&log_path));
    let mut log = match log {
        Ok(f) => f,
        Err(e) => {
            ctx.out
                .error(&format!("inetd: cannot open {}: {e}", log_path.display()));
            return Code::Failure;
        }
    };
    let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => {
            ctx.out.error(&format!("inetd: {e}"));
            return Code::Failure;
        }
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "svc".into());
    let spawned = Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .env(DETACHED, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            ctx.out.error(&format!("inetd: cannot start: {e}"));
            return Code::Failure;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    if let Some(served) = line.trim().strip_prefix("ready ") {
        ctx.out.line(&format!(
            "svc inetd: serving {served} service(s) (pid {})",
            child.id()
        ));
        return Code::Success;
    }
    let status = child.wait().ok();
    ctx.out.error(&format!(
        "inetd: the daemon did not start ({}); from {}:",
        status.map_or("unknown status".to_string(), |s| s.to_string()),
        log_path.display()
    ));
    print_from(&log_path, start);
    Code::Failure
}

/// What the detached copy wrote to its log, from `offset` on (at most 64 KiB).
fn print_from(path: &Path, offset: u64) {
    let Ok(mut f) = crate::regular::open_read(path, crate::regular::Links::Refuse) else {
        return;
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return;
    }
    let mut text = String::new();
    let _ = f.take(64 << 10).read_to_string(&mut text);
    eprint!("{text}");
}
