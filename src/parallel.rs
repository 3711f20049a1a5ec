//! Independent pieces of one command's work spread over the CPUs: reading and checking every
//! definition, probing every service for `status` of all or for a switch's plan. Each piece is
//! a few dozen system calls that wait on nothing but the kernel, so on a machine with more than
//! one CPU the pieces run side by side on scoped threads, and the answers come back in the order
//! of the input — whatever prints them sees exactly what a plain loop would give.
//!
//! Few pieces stay on the calling thread: making a thread costs about as much as a few pieces.
//! A thread that cannot be made (a pids limit) is no error: the threads there are take its share.

use std::sync::Mutex;

/// Pieces per thread below which a thread is not worth making.
const PER_THREAD: usize = 32;

/// Pieces a thread takes at a time: few enough that a slow piece (an LSB script's `status`)
/// does not hold up a big share, enough that taking them costs nothing.
const CHUNK: usize = 8;

/// `f` of every item, in the order of `items`, computed on up to one thread per CPU.
///
/// Each answer is written straight into its place in the one vector returned: a definition is
/// over a kilobyte, and 10,000 of them gathered through per-thread lists first cost half as
/// much memory again as the plain loop.
pub fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads_for(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let mut slots: Vec<Option<R>> = Vec::with_capacity(items.len());
    slots.resize_with(items.len(), || None);
    {
        // The chunks still to do, each a run of items and the slots for their answers; a
        // thread takes the next one until none is left.
        let chunks = Mutex::new(items.chunks(CHUNK).zip(slots.chunks_mut(CHUNK)));
        let work = || loop {
            let next = chunks.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((items, slots)) = next else { break };
            for (item, slot) in items.iter().zip(slots) {
                *slot = Some(f(item));
            }
        };
        std::thread::scope(|scope| {
            let mut helpers = Vec::new();
            for _ in 1..threads {
                match std::thread::Builder::new().spawn_scoped(scope, work) {
                    Ok(h) => helpers.push(h),
                    Err(_) => break,
                }
            }
            work();
            // Joined, not only waited for: the scope's own wait ends when the work does, the
            // threads' exit after it. Once `map` returns the process has its one thread again,
            // which a switch's fork of its worker processes relies on (`Worker::spawn`).
            for h in helpers {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
    // Every chunk was taken by a thread that finished it (a panic would have ended the
    // scope), so every slot holds its answer. Collected in place: no second vector.
    // (`flatten` would say the same, but std collects only a `filter_map` in place.)
    #[allow(clippy::filter_map_identity)]
    let answers = slots.into_iter().filter_map(|a| a).collect();
    answers
}

/// How many threads `n` pieces get: one per CPU, at most one per [`PER_THREAD`] pieces, and
/// no more than the open-file limit leaves room for (each piece holds a few descriptors while
/// it runs: a definition, a PID file, a pidfd; under a low limit a probe that cannot open its
/// files would answer wrongly, not slowly).
fn threads_for(n: usize) -> usize {
    if n / PER_THREAD <= 1 {
        return 1;
    }
    let cpus = cpus();
    let soft = crate::fdlimit::current().map_or(1024, |(soft, _)| soft);
    threads_within(n, cpus, soft, crate::fdlimit::open_now())
}

/// The CPUs this process may use, asked once: std answers from the affinity mask and the
/// cgroup's CPU quota, a dozen system calls (`/proc/self/cgroup` and the quota files) that
/// would otherwise be repeated by every `map` of one command.
pub fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()))
}

/// [`threads_for`] on a machine of `cpus` CPUs, `soft` the open-file limit and `open` the
/// descriptors open now: bounded as `--jobs` is ([`crate::fdlimit::fit_jobs`]).
fn threads_within(n: usize, cpus: usize, soft: u64, open: usize) -> usize {
    let wanted = cpus.min(n / PER_THREAD).max(1);
    crate::fdlimit::fit_jobs(wanted, soft, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_in_input_order_whatever_thread_made_them() {
        let items: Vec<u32> = (0..1000).collect();
        let out = map(&items, |x| {
            // Uneven pieces, so that threads finish out of order.
            if x % 97 == 0 {
                std::thread::yield_now();
            }
            x * 2
        });
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    /// When `map` returns, the threads it made are gone from the kernel's task list, not only
    /// done with their work: the caller may fork next and must be its process's one thread.
    #[test]
    fn the_helper_threads_have_exited_when_map_returns() {
        /// Makes a thread's exit slow: its thread-local destructors run after its work is done.
        struct SlowExit;
        impl Drop for SlowExit {
            fn drop(&mut self) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        thread_local! { static SLOW: SlowExit = const { SlowExit }; }
        let me = nix::unistd::gettid();
        let items: Vec<u32> = (0..(PER_THREAD * 8) as u32).collect();
        let tids: std::collections::BTreeSet<_> = map(&items, |_| {
            SLOW.with(|_| ());
            // Pieces slow enough that every thread gets some.
            std::thread::sleep(std::time::Duration::from_micros(200));
            nix::unistd::gettid()
        })
        .into_iter()
        .collect();
        for tid in tids.iter().filter(|t| **t != me) {
            assert!(
                !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists(),
                "helper thread {tid} still exists"
            );
        }
    }

    #[test]
    fn few_pieces_stay_on_the_calling_thread() {
        let me = std::thread::current().id();
        let items = [1, 2, 3];
        assert!(map(&items, |_| std::thread::current().id() == me)
            .into_iter()
            .all(|same| same));
        assert_eq!(threads_for(0), 1);
        assert_eq!(threads_for(PER_THREAD - 1), 1);
    }

    /// Under a low open-file limit the pieces stay on fewer threads, down to the caller's one.
    #[test]
    fn the_open_file_limit_bounds_the_threads() {
        use crate::fdlimit::{PER_JOB, RESERVE};
        let many = 100 * PER_THREAD;
        assert_eq!(threads_within(many, 8, 1024, 10), 8);
        assert_eq!(
            threads_within(many, 8, (10 + RESERVE + 2 * PER_JOB) as u64, 10),
            2
        );
        assert_eq!(threads_within(many, 8, 32, 10), 1);
        assert_eq!(threads_within(3 * PER_THREAD, 8, 1024, 10), 3);
        assert_eq!(threads_within(many, 1, 1024, 10), 1);
    }
}
