//! `svc init` as PID 1 of a new PID namespace, for the tests that boot it for real (init,
//! sysv_real, ansible_pid1): `unshare --pid --fork --mount-proc --kill-child [FLAGS]
//! [sh -c PRELUDE sh ARGS] svc --config-dir .. --state-dir .. --log-dir .. [OPTS] init [ARGS]`,
//! its stdout and stderr in `work/init.stdout` and `work/init.stderr`. [`Pid1`] finds init as
//! unshare's child, signals it, waits for its output and its exit code (every wait with a
//! deadline), runs commands inside its namespaces (`nsenter`), and on drop SIGKILLs init (which
//! kills every process of the namespace) and reaps unshare, showing init's output and svc's
//! logs when the test failed. A run killed outright takes unshare and init with it.

use super::{all_pids, kill_child, output, proc_stat, wait_until, Run, Sandbox, SVC, SVC_LIMIT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The PATH of init and of what runs inside its namespace.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How to start a [`Pid1`]: `Pid1::builder(&sb).init_args(..).start()`.
pub struct Pid1Builder<'a> {
    sb: &'a Sandbox,
    unshare: Vec<OsString>,
    prelude: Option<(String, Vec<OsString>)>,
    svc_opts: Vec<OsString>,
    init_args: Vec<OsString>,
    deadline: Duration,
}

impl<'a> Pid1Builder<'a> {
    /// unshare's flags after `--pid --fork --mount-proc` (`--mount --propagation private`).
    pub fn unshare_flags(mut self, flags: &[&str]) -> Self {
        self.unshare.extend(flags.iter().map(Into::into));
        self
    }

    /// A shell script PID 1 runs before it becomes svc: `sh -c SCRIPT sh ARGS... SVC ...`, so
    /// the script sees its own arguments first and must end with `shift N; exec "$@"`.
    pub fn prelude<S: AsRef<std::ffi::OsStr>>(mut self, script: &str, args: &[S]) -> Self {
        let args = args.iter().map(|a| a.as_ref().to_owned()).collect();
        self.prelude = Some((script.to_string(), args));
        self
    }

    /// svc's global options after the sandbox's directories (`--sysv-dir DIR`); also used by
    /// [`Pid1::svc`].
    pub fn svc_opts<S: AsRef<std::ffi::OsStr>>(mut self, opts: &[S]) -> Self {
        self.svc_opts
            .extend(opts.iter().map(|o| o.as_ref().to_owned()));
        self
    }

    /// init's arguments (`2`, `-- PROGRAM ARGS`).
    pub fn init_args(mut self, args: &[&str]) -> Self {
        self.init_args.extend(args.iter().map(Into::into));
        self
    }

    /// The deadline of every wait (finding init, its output, its exit); 30 s unless set.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// Starts unshare and waits until init runs as its child, or unshare has already exited
    /// (a main program that exits at once): then `pid` stays 0 and the status is init's.
    pub fn start(self) -> Pid1 {
        let sb = self.sb;
        let out = sb.work.join("init.stdout");
        let err = sb.work.join("init.stderr");
        let mut c = Command::new("unshare");
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        // A test run killed outright skips `Drop`: unshare dies with the test's thread, and
        // init with unshare (`--kill-child`), instead of a namespace outliving the run.
        // SAFETY: prctl is a system call; nothing else runs between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(&self.unshare);
        if let Some((script, args)) = &self.prelude {
            c.args(["sh", "-c", script, "sh"]).args(args);
        }
        c.args(svc_line(sb, &self.svc_opts))
            .arg("init")
            .args(&self.init_args)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", sb.path())
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap());
        let unshare = c.spawn().expect("run unshare");
        let parent = unshare.id() as i32;
        let mut init = Pid1 {
            unshare,
            pid: 0,
            out,
            err,
            logs: sb.log.clone(),
            svc_line: svc_line(sb, &self.svc_opts),
            deadline: self.deadline,
            status: None,
        };
        let cmdline = format!("{SVC}\0");
        wait_until(init.deadline, "svc init to run as unshare's child", || {
            init.pid = all_pids()
                .into_iter()
                .find(|&p| {
                    proc_stat(p).is_some_and(|s| s.ppid == parent)
                        && std::fs::read(format!("/proc/{p}/cmdline"))
                            .is_ok_and(|c| c.starts_with(cmdline.as_bytes()))
                })
                .unwrap_or(0);
            if init.pid == 0 {
                init.status = init.unshare.try_wait().expect("try_wait");
            }
            init.pid != 0 || init.status.is_some()
        });
        init
    }
}

/// `svc` with the sandbox's directories and `opts`.
fn svc_line(sb: &Sandbox, opts: &[OsString]) -> Vec<OsString> {
    let mut line: Vec<OsString> = vec![SVC.into()];
    for (flag, dir) in [
        ("--config-dir", &sb.config),
        ("--state-dir", &sb.state),
        ("--log-dir", &sb.log),
    ] {
        line.push(flag.into());
        line.push(dir.into());
    }
    line.extend(opts.iter().cloned());
    line
}

/// `svc init` as PID 1 of its own namespaces (see the module's documentation).
pub struct Pid1 {
    unshare: Child,
    /// init's PID as seen from here (1 inside its namespace); 0 when unshare had exited before
    /// it was found.
    pub pid: i32,
    out: PathBuf,
    err: PathBuf,
    /// svc's log directory: the services' output, shown when the test fails.
    logs: PathBuf,
    /// `svc` and its global options, for [`Pid1::svc`].
    svc_line: Vec<OsString>,
    deadline: Duration,
    /// unshare's status (init's), once reaped.
    status: Option<ExitStatus>,
}

impl Pid1 {
    pub fn builder(sb: &Sandbox) -> Pid1Builder<'_> {
        Pid1Builder {
            sb,
            unshare: Vec::new(),
            prelude: None,
            svc_opts: Vec::new(),
            init_args: Vec::new(),
            deadline: Duration::from_secs(30),
        }
    }

    /// Asserts that init is running (unshare did not end before init was found).
    #[track_caller]
    pub fn assert_up(&self) {
        assert!(
            self.pid != 0,
            "unshare ended before init ran ({:?})\n{}",
            self.status,
            self.output()
        );
    }

    #[track_caller]
    pub fn signal(&self, sig: Signal) {
        // Never kill(0, ...): that would be this test's own process group.
        assert!(self.pid > 0, "init has already exited\n{}", self.output());
        kill(Pid::from_raw(self.pid), sig).expect("signal init");
    }

    /// Both output streams, for assertions and failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- init stdout\n{}--- init stderr\n{}",
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        )
    }

    /// Waits until init's stdout contains `needle`, failing early (with init's output) if init
    /// exits without having shown it.
    #[track_caller]
    pub fn wait_stdout(&mut self, needle: &str) {
        let shows = |out: &Path| std::fs::read_to_string(out).is_ok_and(|t| t.contains(needle));
        let (out, child, status) = (&self.out, &mut self.unshare, &mut self.status);
        wait_until(
            self.deadline,
            &format!("init's stdout to show {needle:?}"),
            || {
                if status.is_none() {
                    *status = child.try_wait().expect("try_wait");
                }
                status.is_some() || shows(out)
            },
        );
        assert!(
            shows(&self.out),
            "init exited ({:?}) before its stdout showed {needle:?}\n{}",
            self.status,
            self.output()
        );
    }

    /// Waits for init to exit (unshare exits with its status) and returns its exit code (-1
    /// for a signal).
    #[track_caller]
    pub fn exit_code(&mut self) -> i32 {
        self.exit_code_within(self.deadline, "svc init to exit")
    }

    /// [`Pid1::exit_code`] with a deadline of its own, `what` naming the wait in its failure.
    #[track_caller]
    pub fn exit_code_within(&mut self, limit: Duration, what: &str) -> i32 {
        let (child, status) = (&mut self.unshare, &mut self.status);
        wait_until(limit, what, || {
            if status.is_none() {
                *status = child.try_wait().expect("try_wait");
            }
            status.is_some()
        });
        self.status.unwrap().code().unwrap_or(-1)
    }

    /// `nsenter -t PID -m -p [--wd=WD] --`: a command line prefix entering init's PID and mount
    /// namespaces.
    pub fn enter(&self, wd: Option<&Path>) -> Vec<OsString> {
        let mut line: Vec<OsString> = vec![
            "nsenter".into(),
            "-t".into(),
            self.pid.to_string().into(),
            "-m".into(),
            "-p".into(),
        ];
        if let Some(wd) = wd {
            line.push(format!("--wd={}", wd.display()).into());
        }
        line.push("--".into());
        line
    }

    /// `svc ARGS` inside the namespace, with the sandbox's directories and the global options
    /// init was given, a cleared environment and the usual deadline.
    #[track_caller]
    pub fn svc(&self, args: &[&str]) -> Run {
        let enter = self.enter(Some(Path::new("/")));
        let mut c = Command::new(&enter[0]);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c.args(&enter[1..])
            .args(&self.svc_line)
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null());
        output(c, args.iter().map(|a| a.to_string()).collect(), SVC_LIMIT)
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.output());
            for e in std::fs::read_dir(&self.logs)
                .into_iter()
                .flatten()
                .flatten()
            {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                eprintln!("--- {}\n{text}", e.path().display());
            }
        }
        if self.status.is_none() {
            if self.pid > 0 {
                let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            }
            kill_child(&mut self.unshare);
        }
    }
}
