//! Independent pieces of one command's work spread over the CPUs: reading and checking every
//! definition, probing every service for `status` of all or for a switch's plan. Each piece is
//! a few dozen system calls that wait on nothing but the kernel, so on a machine with more than
//! one CPU the pieces run side by side on scoped threads, and the answers come back in the order
//! of the input — whatever prints them sees exactly what a plain loop would give.
//!
//! Few pieces stay on the calling thread: making a thread costs about as much as a few pieces.
//! A thread that cannot be made (a pids limit) is no error: the threads there are take its share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Pieces per thread below which a thread is not worth making.
const PER_THREAD: usize = 32;

/// `f` of every item, in the order of `items`, computed on up to one thread per CPU.
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
    // Each thread takes the next item until none is left, so a slow piece (an LSB script's
    // `status`) does not hold up a whole share.
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    let work = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            mine.push((i, f(item)));
        }
        done.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            if std::thread::Builder::new()
                .spawn_scoped(scope, work)
                .is_err()
            {
                break;
            }
        }
        work();
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// How many threads `n` pieces get: one per CPU, at most one per [`PER_THREAD`] pieces.
fn threads_for(n: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    cpus.min(n / PER_THREAD).max(1)
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
}
