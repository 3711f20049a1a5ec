//! svc as PID 1 (`svc init`): the reaper and sequencer of a container or a minimal machine.
//!
//! This module owns init's one loop and nothing else: it blocks the signals it handles and reads
//! them from a signalfd in a poll loop (no signal handlers, no threads), makes itself a child
//! subreaper so it also adopts orphans when it is not PID 1, names itself `sysvinit` when it is
//! PID 1 (the name configuration tools read as the service manager), reaps *every* child with
//! `waitpid(-1, WNOHANG)` on each SIGCHLD, and sequences three kinds of children:
//!
//! 1. `svc boot [RUNLEVEL]` — the same binary, with the global flags init got, waited for;
//! 2. the main program (`svc init -- COMMAND ARGS`), in its own process group, given the
//!    terminal when stdin is one, with init's environment;
//! 3. `svc switch 0` — the shutdown, started when the main program exits, or on SIGTERM/SIGINT
//!    when there is none; then init returns the exit status (see [`Init::status`]).
//!
//! SIGTERM/SIGINT during boot cancels the boot: init passes the signal on to `svc boot`, which
//! starts nothing more, gives up its readiness waits and exits (see `process::cancel`); the
//! shutdown follows at once, well within a container engine's grace period.
//!
//! All real work (definitions, PID files, runlevels) is done by those svc children; init only
//! knows PIDs and statuses, so it stays small enough to trust as PID 1. It never prints: it
//! reports [`Event`]s to the caller (`cmd::init`), which turns them into lines.

use std::ffi::OsString;
use std::fmt;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The environment variable that tells svc children the PID of the init that started them.
pub const INIT_PID_ENV: &str = "SVC_INIT_PID";

/// init's process name (`/proc/1/comm`) when it is PID 1. Configuration tools guess the
/// service manager from it: Ansible's `ansible_service_mgr` fact is this name as it stands (its
/// `service` action then runs its `sysvinit` module: `/etc/init.d/NAME ACTION`, `service NAME
/// status`, `update-rc.d`), which is what svc offers with `sysv_dir: /etc` or LSB shims. `svc`
/// would read as daemontools' svc; `init` would leave Ansible to guess from /sbin/init and
/// systemctl (docs/init.md, "What Ansible sees"). Children exec, so they keep their own names.
const PID1_NAME: &std::ffi::CStr = c"sysvinit";

/// Signals init handles through its signalfd.
const HANDLED: [Signal; 8] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// What init runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The svc binary for the boot and shutdown children (normally init's own executable).
    pub svc: PathBuf,
    /// Global flags passed on to every svc child (`--config-dir DIR`, `-q` ...).
    pub global_args: Vec<OsString>,
    /// The runlevel to boot into; `None`: svc boot's default (`default_runlevel`, else 3).
    pub runlevel: Option<String>,
    /// The main program and its arguments; empty: none.
    pub main: Vec<OsString>,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn as_status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s as i32,
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by {s}"),
        }
    }
}

/// What init tells its caller about, in order.
#[derive(Debug)]
pub enum Event {
    /// `svc boot` did not succeed; init keeps running.
    BootFailed(Exit),
    /// A child could not be started at all (`what`: "svc boot", "main program", "svc switch 0").
    SpawnFailed {
        what: &'static str,
        error: std::io::Error,
    },
    MainStarted(Pid),
    /// A signal passed on to the main program.
    Forwarded(Signal, Pid),
    MainExited(Exit),
    /// Shutdown begins (`svc switch 0`); `cause` says why.
    ShuttingDown(Cause),
    /// `svc switch 0` did not succeed.
    ShutdownFailed(Exit),
    /// SIGTERM/SIGINT while the shutdown runs: noted, the shutdown goes on.
    AlreadyShuttingDown(Signal),
    /// SIGTERM/SIGINT during boot: the boot is cancelled (the signal passed on to it), then
    /// the shutdown starts.
    ShutdownAfterBoot(Signal),
}

/// Why init shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Signal(Signal),
    MainExited(Exit),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::BootFailed(e) => write!(f, "init: svc boot failed ({e}); carrying on"),
            Event::SpawnFailed { what, error } => {
                write!(f, "init: cannot start {what}: {error}")
            }
            Event::MainStarted(p) => write!(f, "init: main program started (pid {p})"),
            Event::Forwarded(s, p) => {
                write!(f, "init: {s} forwarded to the main program (pid {p})")
            }
            Event::MainExited(e) => write!(f, "init: main program ended ({e})"),
            Event::ShuttingDown(Cause::Signal(s)) => {
                write!(f, "init: {s} received, switching to runlevel 0")
            }
            Event::ShuttingDown(Cause::MainExited(_)) => {
                write!(f, "init: switching to runlevel 0")
            }
            Event::ShutdownFailed(e) => write!(f, "init: svc switch 0 failed ({e})"),
            Event::AlreadyShuttingDown(s) => {
                write!(f, "init: {s} received, already shutting down")
            }
            Event::ShutdownAfterBoot(s) => {
                write!(
                    f,
                    "init: {s} received during boot: cancelling it, then shutting down"
                )
            }
        }
    }
}

impl Event {
    /// Failures go to stderr; the rest is progress.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Event::BootFailed(_)
                | Event::SpawnFailed { .. }
                | Event::ShutdownFailed(_)
                | Event::MainExited(Exit::Signal(_))
        ) || matches!(self, Event::MainExited(Exit::Code(c)) if *c != 0)
    }
}

/// Where init is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `svc boot` runs (its PID, if it could be started).
    Boot(Option<Pid>),
    /// Booted: the main program runs, or init idles until SIGTERM/SIGINT.
    Up,
    /// `svc switch 0` runs.
    Shutdown(Pid),
    /// Over: the shutdown ended (or could not be started).
    Done,
}

/// The state of one init: the plan, the phase, and what the children ended with.
pub struct Init<'a> {
    plan: Plan,
    phase: Phase,
    main: Option<Pid>,
    main_exit: Option<Exit>,
    shutdown_exit: Option<Exit>,
    stop_after_boot: Option<Signal>,
    tty: bool,
    report: &'a mut dyn FnMut(Event),
}

/// Runs init to the end and returns its exit status (see [`Init::status`]).
pub fn run(plan: Plan, report: &mut dyn FnMut(Event)) -> std::io::Result<i32> {
    let mut handled = SigSet::empty();
    for s in HANDLED {
        handled.add(s);
    }
    // Blocked as well, never read: SIGTTOU/SIGTTIN, so init can take the terminal back
    // (tcsetpgrp) from the background without being stopped.
    let mut blocked = handled;
    blocked.add(Signal::SIGTTOU);
    blocked.add(Signal::SIGTTIN);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None)?;
    let sfd = SignalFd::with_flags(&handled, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    // Not fatal: as PID 1 every orphan comes to init anyway; elsewhere it only means orphans
    // go to the real init.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    if nix::unistd::getpid().as_raw() == 1 {
        // Not fatal either: the name only tells tools what kind of init this is.
        let _ = nix::sys::prctl::set_name(PID1_NAME);
    }

    let mut init = Init {
        plan,
        phase: Phase::Boot(None),
        main: None,
        main_exit: None,
        shutdown_exit: None,
        stop_after_boot: None,
        tty: std::io::stdin().is_terminal(),
        report,
    };
    init.boot();
    while init.phase != Phase::Done {
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        while let Some(info) = sfd.read_signal()? {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            init.on_signal(sig);
            if init.phase == Phase::Done {
                break;
            }
        }
    }
    // Whatever exited meanwhile goes too; what still runs is the kernel's business once
    // init is gone (as PID 1 its namespace ends with it).
    init.reap();
    Ok(init.status())
}

impl Init<'_> {
    /// init's exit status: the main program's status when there was one (its exit code, or
    /// 128 + signal; 127/126 when it could not be started), else 0 when the switch to
    /// runlevel 0 succeeded and 1 otherwise.
    pub fn status(&self) -> i32 {
        match self.main_exit {
            Some(e) => e.as_status(),
            None if self.shutdown_exit.is_some_and(Exit::success) => 0,
            None => 1,
        }
    }

    fn svc(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.plan.svc);
        c.args(&self.plan.global_args)
            .args(args)
            .env(INIT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::null());
        unblock_in_child(&mut c, false);
        c
    }

    fn boot(&mut self) {
        let mut args = vec!["boot"];
        if let Some(l) = &self.plan.runlevel {
            args.push(l);
        }
        match self.svc(&args).spawn() {
            Ok(child) => self.phase = Phase::Boot(Some(pid_of(&child))),
            Err(error) => {
                (self.report)(Event::SpawnFailed {
                    what: "svc boot",
                    error,
                });
                self.booted();
            }
        }
    }

    /// Boot is over (whatever its outcome): start the main program, or shut down when asked.
    fn booted(&mut self) {
        self.phase = Phase::Up;
        if let Some(sig) = self.stop_after_boot {
            self.shutdown(Cause::Signal(sig));
        } else if !self.plan.main.is_empty() {
            self.start_main();
        }
    }

    fn start_main(&mut self) {
        let mut c = Command::new(&self.plan.main[0]);
        c.args(&self.plan.main[1..]).process_group(0);
        unblock_in_child(&mut c, self.tty);
        match c.spawn() {
            Ok(child) => {
                let pid = pid_of(&child);
                if self.tty {
                    let _ = nix::unistd::tcsetpgrp(std::io::stdin().as_fd(), pid);
                }
                self.main = Some(pid);
                (self.report)(Event::MainStarted(pid));
            }
            Err(error) => {
                let exit = match error.kind() {
                    std::io::ErrorKind::NotFound => Exit::Code(127),
                    _ => Exit::Code(126),
                };
                (self.report)(Event::SpawnFailed {
                    what: "main program",
                    error,
                });
                self.main_exit = Some(exit);
                self.shutdown(Cause::MainExited(exit));
            }
        }
    }

    fn shutdown(&mut self, cause: Cause) {
        (self.report)(Event::ShuttingDown(cause));
        match self.svc(&["switch", "0"]).spawn() {
            Ok(child) => self.phase = Phase::Shutdown(pid_of(&child)),
            Err(error) => {
                (self.report)(Event::SpawnFailed {
                    what: "svc switch 0",
                    error,
                });
                self.phase = Phase::Done;
            }
        }
    }

    fn on_signal(&mut self, sig: Signal) {
        match sig {
            Signal::SIGCHLD => self.reap(),
            Signal::SIGTERM | Signal::SIGINT => match (self.phase, self.main) {
                (Phase::Boot(boot), _) => {
                    if self.stop_after_boot.is_none() {
                        (self.report)(Event::ShutdownAfterBoot(sig));
                        self.stop_after_boot = Some(sig);
                        // `svc boot` is our unreaped child: its PID cannot have been reused.
                        // SIGTERM cancels it (whatever init got): it starts nothing more.
                        if let Some(pid) = boot {
                            let _ = kill(pid, Signal::SIGTERM);
                        }
                    }
                }
                (Phase::Up, Some(pid)) => self.forward(sig, pid),
                (Phase::Up, None) => self.shutdown(Cause::Signal(sig)),
                (Phase::Shutdown(_), _) => (self.report)(Event::AlreadyShuttingDown(sig)),
                (Phase::Done, _) => {}
            },
            _ => {
                if let Some(pid) = self.main {
                    self.forward(sig, pid);
                }
            }
        }
    }

    fn forward(&mut self, sig: Signal, pid: Pid) {
        // The main program is still our unreaped child, so its PID cannot have been reused.
        if kill(pid, sig).is_ok() {
            (self.report)(Event::Forwarded(sig, pid));
        }
    }

    /// Reaps every child that has exited, and acts on the ones init waits for.
    fn reap(&mut self) {
        loop {
            let (pid, exit) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            self.exited(pid, exit);
        }
    }

    fn exited(&mut self, pid: Pid, exit: Exit) {
        if self.phase == Phase::Boot(Some(pid)) {
            if !exit.success() {
                (self.report)(Event::BootFailed(exit));
            }
            self.booted();
        } else if self.main == Some(pid) {
            self.main = None;
            self.main_exit = Some(exit);
            (self.report)(Event::MainExited(exit));
            if self.tty {
                let _ = nix::unistd::tcsetpgrp(std::io::stdin().as_fd(), nix::unistd::getpgrp());
            }
            if self.phase == Phase::Up {
                self.shutdown(Cause::MainExited(exit));
            }
        } else if self.phase == Phase::Shutdown(pid) {
            if !exit.success() {
                (self.report)(Event::ShutdownFailed(exit));
            }
            self.shutdown_exit = Some(exit);
            self.phase = Phase::Done;
        }
        // Anything else is an adopted orphan or a daemon: reaped, nothing more to do.
    }
}

/// Makes the child start with default signal dispositions and an empty mask (std resets
/// neither, and init blocks the signals it reads from its signalfd), and, with `take_tty`, in
/// the terminal's foreground.
fn unblock_in_child(c: &mut Command, take_tty: bool) {
    // SAFETY: the closure runs in the child between fork and exec and makes only
    // async-signal-safe syscalls (rt_sigaction, rt_sigprocmask, getpid, tcsetpgrp) on plain
    // stack values: no
    // allocation, no locks, no unwinding. For the terminal: std has already put the child in
    // its own process group (`process_group(0)` runs before the closures); SIGTTOU is still
    // blocked then, as tcsetpgrp from the background needs. The parent calls tcsetpgrp too
    // after spawn; whichever comes first wins the race against the program reading stdin.
    unsafe {
        c.pre_exec(move || {
            if take_tty {
                libc::tcsetpgrp(0, libc::getpid());
            }
            let _ = crate::process::child::reset_signals();
            Ok(())
        });
    }
}

fn pid_of(child: &std::process::Child) -> Pid {
    Pid::from_raw(child.id() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_follows_the_shell_convention() {
        assert_eq!(Exit::Code(7).as_status(), 7);
        assert_eq!(Exit::Signal(Signal::SIGTERM).as_status(), 143);
        assert!(Exit::Code(0).success());
        assert!(!Exit::Signal(Signal::SIGKILL).success());
        assert_eq!(
            Exit::Signal(Signal::SIGKILL).to_string(),
            "killed by SIGKILL"
        );
    }

    #[test]
    fn failures_are_told_from_progress() {
        assert!(Event::BootFailed(Exit::Code(1)).is_failure());
        assert!(Event::MainExited(Exit::Code(3)).is_failure());
        assert!(!Event::MainExited(Exit::Code(0)).is_failure());
        assert!(!Event::ShuttingDown(Cause::Signal(Signal::SIGTERM)).is_failure());
    }
}
