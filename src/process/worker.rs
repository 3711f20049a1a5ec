//! Worker processes: forked copies of svc that each carry out the requests they are sent, one
//! at a time, so that forks (of the services they start) happen from small single-threaded
//! processes rather than from a many-threaded parent. A runlevel switch makes one per job for
//! its start phase (see `cmd::switch`).
//!
//! What a worker does with a request is the caller's: [`Worker::spawn`] takes it as a function
//! from a service name to a [`Reply`], so this module knows nothing of definitions or commands.
//! The protocol on the two pipes: a service name and a newline in; a reply out (kind byte, length
//! as a native-endian u32, message bytes).

use std::fs::File;
use std::io::{self, BufRead, Read, Write};

use super::cancel;
use crate::name::ServiceName;

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done (started or stopped).
    Done,
    /// Nothing to do (already in the state asked for).
    Already,
    /// Failed, and why.
    Failed(String),
}

/// A forked worker, seen from its parent.
#[derive(Debug)]
pub struct Worker {
    pid: i32,
    requests: File,
    results: File,
}

impl Worker {
    /// Forks a worker that answers every request with `serve`; a request that is no service
    /// name fails with "unknown service". `others` are the workers made so far: the new one
    /// closes its copies of their pipes, so each worker sees the end of its own requests.
    ///
    /// The worker never returns into the caller's frames: it leaves by `exit`, also when
    /// `serve` panics, so no destructor of the parent's state (a lock's unlock on the open file
    /// description the two share, above all) ever runs in the copy.
    ///
    /// # Safety
    ///
    /// The process must have a single thread: the child runs ordinary code (it allocates)
    /// after fork, which is sound only when no other thread can have held a lock at the fork.
    pub unsafe fn spawn(
        serve: &dyn Fn(&ServiceName) -> Reply,
        others: &mut Vec<Option<Worker>>,
    ) -> io::Result<Worker> {
        let (req_r, req_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (res_r, res_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let parent = nix::unistd::getpid();
        // SAFETY: the caller guarantees the process has one thread here (workers are made
        // before any scheduler thread), so the child may run ordinary code after fork.
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                // A worker never outlives the process that made it (a killed switch must not
                // leave workers holding its output pipes or waiting on readiness).
                let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
                if nix::unistd::getppid() != parent {
                    std::process::exit(1);
                }
                drop(req_w);
                drop(res_r);
                others.clear();
                // Only the parent holds the cancellation pipe's write end (see
                // process::cancel).
                cancel::forget_writer();
                let requests = io::BufReader::new(File::from(req_r));
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    serve_requests(serve, requests, File::from(res_w))
                }));
                match served {
                    Ok(Ok(())) => std::process::exit(0),
                    Ok(Err(_)) | Err(_) => std::process::exit(1),
                }
            }
            nix::unistd::ForkResult::Parent { child } => Ok(Worker {
                pid: child.as_raw(),
                requests: File::from(req_w),
                results: File::from(res_r),
            }),
        }
    }

    /// Has the worker carry out the request for `name`; waits for the reply.
    pub fn run(&mut self, name: &ServiceName) -> io::Result<Reply> {
        self.requests.write_all(format!("{name}\n").as_bytes())?;
        read_reply(&mut self.results)
    }

    /// Ends the worker and reaps it.
    pub fn finish(self) {
        drop(self.requests);
        super::reap::reap(self.pid);
    }
}

/// The worker's life: a reply for every request until the requests end (`Ok`) or a reply
/// cannot be written (`Err`).
fn serve_requests(
    serve: &dyn Fn(&ServiceName) -> Reply,
    mut requests: impl BufRead,
    mut results: impl Write,
) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        match requests.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => return Ok(()),
        }
        let reply = match ServiceName::new(line.trim_end()) {
            Ok(name) => serve(&name),
            Err(_) => Reply::Failed("unknown service".into()),
        };
        results.write_all(&encode(&reply))?;
    }
}

/// Reads one reply.
fn read_reply(from: &mut impl Read) -> io::Result<Reply> {
    let mut head = [0u8; 5];
    from.read_exact(&mut head)?;
    let len = u32::from_ne_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut msg = vec![0u8; len];
    from.read_exact(&mut msg)?;
    let msg = String::from_utf8_lossy(&msg).into_owned();
    Ok(match head[0] {
        b'o' => Reply::Done,
        b'a' => Reply::Already,
        _ => Reply::Failed(msg),
    })
}

/// A reply as it goes on the pipe.
fn encode(reply: &Reply) -> Vec<u8> {
    let (kind, msg) = match reply {
        Reply::Done => (b'o', ""),
        Reply::Already => (b'a', ""),
        Reply::Failed(m) => (b'f', m.as_str()),
    };
    let mut buf = vec![kind];
    buf.extend_from_slice(&(msg.len() as u32).to_ne_bytes());
    buf.extend_from_slice(msg.as_bytes());
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_gets_its_reply_in_order() {
        let serve = |n: &ServiceName| match n.as_str() {
            "good" => Reply::Done,
            "same" => Reply::Already,
            other => Reply::Failed(format!("no {other}\nsecond line")),
        };
        let mut out = Vec::new();
        serve_requests(&serve, &b"good\nsame\nbad\n../x\n"[..], &mut out).unwrap();
        let mut replies = &out[..];
        assert_eq!(read_reply(&mut replies).unwrap(), Reply::Done);
        assert_eq!(read_reply(&mut replies).unwrap(), Reply::Already);
        assert_eq!(
            read_reply(&mut replies).unwrap(),
            Reply::Failed("no bad\nsecond line".into())
        );
        assert_eq!(
            read_reply(&mut replies).unwrap(),
            Reply::Failed("unknown service".into())
        );
        assert!(replies.is_empty());
        // A truncated reply is an error, not a guess.
        assert!(read_reply(&mut &out[..3]).is_err());
    }
}
