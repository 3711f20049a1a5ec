//! The worker processes of a switch's start phase (see the parent module): forked copies of svc
//! that each start the services they are sent, one at a time, so that forks happen from small
//! single-threaded processes rather than from the switch's threads.

use std::collections::BTreeMap;
use std::fs::File;

use super::{run_step, Outcome};
use crate::cmd::Context;
use crate::definition::Definition;
use crate::name::ServiceName;
use crate::process::cancel;

/// A forked copy of svc that starts or stops the services it is sent, one at a time: a
/// service name and a newline in, an outcome out (kind byte, length, message).
pub(super) struct Worker {
    pid: i32,
    requests: File,
    results: File,
}

impl Worker {
    /// Forks a worker. Must be called while this process has a single thread. `others` are
    /// the workers made so far: the new one closes its copies of their pipes, so each worker
    /// sees the end of its own requests.
    pub(super) fn spawn(
        ctx: &Context,
        defs: &BTreeMap<ServiceName, Definition>,
        stopping: bool,
        others: &mut Vec<Option<Worker>>,
    ) -> std::io::Result<Worker> {
        let (req_r, req_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (res_r, res_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let parent = std::process::id() as i32;
        // SAFETY: the process has one thread here (workers are made before any scheduler
        // thread), so the child may run ordinary code after fork.
        match unsafe { libc::fork() } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                // A worker never outlives the switch that made it (a killed switch must not
                // leave workers holding its output pipes or waiting on readiness).
                // SAFETY: prctl with integer arguments only.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                if nix::unistd::getppid().as_raw() != parent {
                    std::process::exit(1);
                }
                drop(req_w);
                drop(res_r);
                others.clear();
                // Only the switch holds the cancellation pipe's write end (see process::cancel).
                cancel::forget_writer();
                let mut requests = std::io::BufReader::new(File::from(req_r));
                let mut results = File::from(res_w);
                let mut line = String::new();
                loop {
                    line.clear();
                    match std::io::BufRead::read_line(&mut requests, &mut line) {
                        Ok(n) if n > 0 => {}
                        _ => std::process::exit(0),
                    }
                    let outcome = ServiceName::new(line.trim_end())
                        .ok()
                        .and_then(|n| defs.get(&n))
                        .map(|d| run_step(ctx, d, stopping))
                        .unwrap_or_else(|| Outcome::Failed("unknown service".into()));
                    let (kind, msg) = match &outcome {
                        Outcome::Ok => (b'o', ""),
                        Outcome::Already => (b'a', ""),
                        Outcome::Failed(m) => (b'f', m.as_str()),
                        _ => (b'f', "unexpected outcome"),
                    };
                    let mut buf = vec![kind];
                    buf.extend_from_slice(&(msg.len() as u32).to_ne_bytes());
                    buf.extend_from_slice(msg.as_bytes());
                    if std::io::Write::write_all(&mut results, &buf).is_err() {
                        std::process::exit(1);
                    }
                }
            }
            pid => Ok(Worker {
                pid,
                requests: File::from(req_w),
                results: File::from(res_r),
            }),
        }
    }

    /// Has the worker start or stop `name`; waits for the outcome.
    pub(super) fn run(&mut self, name: &ServiceName) -> std::io::Result<Outcome> {
        use std::io::{Read, Write};
        self.requests.write_all(format!("{name}\n").as_bytes())?;
        let mut head = [0u8; 5];
        self.results.read_exact(&mut head)?;
        let len = u32::from_ne_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut msg = vec![0u8; len];
        self.results.read_exact(&mut msg)?;
        let msg = String::from_utf8_lossy(&msg).into_owned();
        Ok(match head[0] {
            b'o' => Outcome::Ok,
            b'a' => Outcome::Already,
            _ => Outcome::Failed(msg),
        })
    }

    /// Ends the worker and reaps it.
    pub(super) fn finish(self) {
        drop(self.requests);
        crate::process::launch::reap(self.pid);
    }
}
