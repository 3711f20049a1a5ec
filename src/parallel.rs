//! Independent pieces of one command's work spread over the CPUs: reading and checking every
//! definition, probing every service for `status` of all or for a switch's plan. Each piece is
//! a few dozen system calls that wait on nothing but the kernel, so on a machine with more than
//! one CPU the pieces run side by side on scoped threads, and the answers come back in the order
//! of the input — whatever prints them sees exactly what a plain loop would give.
//!
//! Few pieces stay on the calling thread: making a thread costs about as much as a few pieces.
//! A thread that cannot be made (a pids limit) is no error: the threads there are take its share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

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
            let helpers = spawn_helpers(scope, threads - 1, work);
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

/// Up to `n` scoped threads running `work`: as many as the system lets svc make (the calling
/// thread does the work too, so fewer helpers only make it slower).
fn spawn_helpers<'scope, T, W>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    n: usize,
    work: W,
) -> Vec<std::thread::ScopedJoinHandle<'scope, T>>
where
    T: Send + 'scope,
    W: FnOnce() -> T + Send + Copy + 'scope,
{
    let mut helpers = Vec::new();
    for _ in 0..n {
        match std::thread::Builder::new().spawn_scoped(scope, work) {
            Ok(h) => helpers.push(h),
            Err(_) => break,
        }
    }
    helpers
}

/// [`map`] over items that exist only once the helper threads do: `list` runs on the calling
/// thread after the helpers are made, and gives back something of its own (`C`) with the
/// items; `expected`, how many items there will probably be, decides the threads. For a
/// listing of the process table ([`crate::process::procfs`]): the helpers' own thread IDs are
/// older than anything `list` reads, so the table is not out of date the moment it is made.
/// A panic in `list` or `f` is passed on once the helpers are joined.
pub fn map_listed<C, T, R, L, F>(expected: usize, list: L, f: F) -> (C, Vec<R>)
where
    T: Sync + Send,
    R: Send,
    L: FnOnce() -> (C, Vec<T>),
    F: Fn(&T) -> R + Sync,
{
    let threads = threads_for(expected);
    if threads <= 1 {
        let (context, items) = list();
        return (context, items.iter().map(&f).collect());
    }
    let listed: OnceLock<Vec<T>> = OnceLock::new();
    let next = AtomicUsize::new(0);
    let go = (Mutex::new(false), Condvar::new());
    // A thread's share: chunks taken in turn once the items are there, each answer with its
    // place. Nothing to do when `list` panicked.
    let work = || -> Vec<(usize, R)> {
        let mut open = go.0.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = go.1.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        drop(open);
        let items = listed.get().map_or(&[][..], Vec::as_slice);
        let mut out = Vec::new();
        loop {
            let first = next.fetch_add(CHUNK, Ordering::Relaxed);
            if first >= items.len() {
                return out;
            }
            for (i, item) in items.iter().enumerate().skip(first).take(CHUNK) {
                out.push((i, f(item)));
            }
        }
    };
    std::thread::scope(|scope| {
        let helpers = spawn_helpers(scope, threads - 1, work);
        let listing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(list));
        let context = listing.map(|(context, items)| {
            let _ = listed.set(items);
            context
        });
        *go.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        go.1.notify_all();
        let mut parts = vec![work()];
        // Joined, as in `map`: the process has its one thread again when this returns.
        for h in helpers {
            match h.join() {
                Ok(part) => parts.push(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let context = context.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let mut slots: Vec<Option<R>> = Vec::new();
        slots.resize_with(listed.get().map_or(0, Vec::len), || None);
        for (i, answer) in parts.into_iter().flatten() {
            slots[i] = Some(answer);
        }
        (context, slots.into_iter().flatten().collect())
    })
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

    /// `map_listed`: every answer in its place, the listing's own answer given back — and
    /// every thread that computed an answer already existed when the items were listed.
    #[test]
    fn a_listing_made_after_the_threads_is_mapped_in_order() {
        let tasks_when_listed = Mutex::new(Vec::new());
        let seen = Mutex::new(std::collections::BTreeSet::new());
        let ((), out) = map_listed(
            5000,
            || {
                *tasks_when_listed.lock().unwrap() = tasks_of_this_process();
                ((), (0..5000u32).collect())
            },
            |x| {
                let me = nix::unistd::gettid().as_raw();
                seen.lock().unwrap().insert(me);
                // The first chunk waits (5 s at most) for another thread to take a chunk, so
                // that the answer does not depend on how fast the helpers wake.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while cpus() > 1
                    && *x < 8
                    && seen.lock().unwrap().len() < 2
                    && std::time::Instant::now() < deadline
                {
                    std::thread::yield_now();
                }
                (x * 3, me)
            },
        );
        let answers: Vec<u32> = out.iter().map(|(x, _)| *x).collect();
        assert_eq!(answers, (0..5000u32).map(|x| x * 3).collect::<Vec<_>>());
        let known = tasks_when_listed.lock().unwrap().clone();
        let workers: std::collections::BTreeSet<i32> = out.iter().map(|(_, t)| *t).collect();
        for tid in &workers {
            assert!(
                known.contains(tid),
                "thread {tid} was made after the listing"
            );
        }
        if cpus() > 1 {
            assert!(workers.len() > 1, "one thread did all the work");
        }
        let (n, few) = map_listed(0, || (7, vec![1, 2]), |x| x + 1);
        assert_eq!((n, few), (7, vec![2, 3]));
    }

    /// Thread IDs of this process now (`/proc/self/task`).
    fn tasks_of_this_process() -> Vec<i32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
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
