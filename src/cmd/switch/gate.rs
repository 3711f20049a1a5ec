//! The start gate of a switch phase (`super::execute`): no step runs until every thread of the
//! phase exists, and the gate opens even when making one failed.

use std::sync::{Condvar, Mutex};

/// Opens when dropped: after the phase's threads are all made, or when making one failed
/// (`scope.spawn` panics), so that the threads already made never wait for it forever.
pub(super) struct StartGate<'a>(pub(super) &'a (Mutex<bool>, Condvar));

impl StartGate<'_> {
    /// Waits until the gate is open.
    pub(super) fn wait((open, opened): &(Mutex<bool>, Condvar)) {
        let mut is_open = open.lock().unwrap_or_else(|e| e.into_inner());
        while !*is_open {
            is_open = opened.wait(is_open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for StartGate<'_> {
    fn drop(&mut self) {
        let (open, opened) = self.0;
        *open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        opened.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The phase's threads wait at the gate until it is dropped — also when making the
    /// threads panicked half-way, or they would wait forever and the switch would hang.
    #[test]
    fn the_start_gate_opens_when_dropped_even_by_a_panic() {
        for panic_while_closed in [false, true] {
            // Leaked, and a detached thread: were the gate never to open, the test fails at
            // its deadline instead of hanging in a join.
            let go: &'static (Mutex<bool>, Condvar) =
                Box::leak(Box::new((Mutex::new(false), Condvar::new())));
            let (passed, through) = mpsc::channel();
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _gate = StartGate(go);
                std::thread::spawn(move || {
                    StartGate::wait(go);
                    let _ = passed.send(());
                });
                // Closed while it is held: the thread has not got through.
                assert!(through.recv_timeout(Duration::from_millis(50)).is_err());
                if panic_while_closed {
                    panic!("making a thread failed");
                }
            }));
            assert_eq!(made.is_err(), panic_while_closed);
            through
                .recv_timeout(Duration::from_secs(10))
                .expect("the thread got through the gate once it was dropped");
        }
    }
}
