//! Signals read as events: the signals a loop handles are blocked in the calling thread and
//! read from a non-blocking, close-on-exec signalfd (the supervisor and the super daemon).

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Which step failed.
#[derive(Debug)]
pub enum SigfdError {
    /// Blocking the signals.
    Block(nix::Error),
    /// Creating the signalfd.
    Create(nix::Error),
}

impl SigfdError {
    pub fn errno(&self) -> nix::Error {
        match self {
            SigfdError::Block(e) | SigfdError::Create(e) => *e,
        }
    }
}

/// Blocks `signals` in this thread and opens a signalfd that reads them.
pub fn open(signals: &[Signal]) -> Result<SignalFd, SigfdError> {
    let mask: SigSet = signals.iter().copied().collect();
    mask.thread_block().map_err(SigfdError::Block)?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(SigfdError::Create)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_signal_is_read_from_the_descriptor() {
        // A thread of its own: the mask stays there.
        std::thread::spawn(|| {
            let fd = open(&[Signal::SIGUSR2]).unwrap();
            assert!(fd.read_signal().unwrap().is_none(), "nothing pending yet");
            // raise(3) in a threaded program signals the calling thread.
            nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
            let info = fd.read_signal().unwrap().expect("the signal is pending");
            assert_eq!(info.ssi_signo, Signal::SIGUSR2 as u32);
        })
        .join()
        .unwrap();
    }
}
