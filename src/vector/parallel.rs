//! Data parallelism on scoped threads (no thread pool dependency): builds and training hand
//! their items out in small blocks to every thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` over every item, on `threads` threads (the calling one included: a call with one
/// thread or one item spawns none); results in the items' order. A panic in `f` propagates.
///
/// Threads take blocks of items one at a time rather than one equal share each: the items'
/// costs differ (a walk, a prune), and with equal shares one thread idled at the end (100k x
/// 128 inserts: the back-edge prunes kept two cores only 66% busy, the walks 84%).
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    // Enough blocks per thread to even out the ends, few enough to keep the counter cold.
    let block = (items.len() / (threads * 16)).max(1);
    let blocks = items.len().div_ceil(block);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= blocks {
                return done;
            }
            let part = &items[b * block..((b + 1) * block).min(items.len())];
            done.push((b, part.iter().map(&f).collect()));
        }
    };
    let mut parts = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut parts = work();
        for h in handles {
            parts.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        parts
    });
    parts.sort_unstable_by_key(|&(b, _)| b);
    let mut out = Vec::with_capacity(items.len());
    for (_, part) in parts {
        out.extend(part);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..1001).collect();
        for threads in [0, 1, 2, 7] {
            assert_eq!(
                super::map(&items, threads, |x| x * 2),
                items.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
        }
        assert!(super::map(&[] as &[u32], 2, |x| *x).is_empty());
    }

    #[test]
    fn every_thread_takes_part_when_items_cost_unequally() {
        // The first half of the items is slow: with one equal share per thread, the
        // thread given the second half would take only fast ones.
        let items: Vec<u32> = (0..64).collect();
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        let out = super::map(&items, 2, |&x| {
            if x < 32 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if let Ok(mut s) = seen.lock() {
                s.insert((std::thread::current().id(), x < 32));
            }
            x + 1
        });
        assert_eq!(out, (1..65).collect::<Vec<u32>>());
        let seen = seen.into_inner().unwrap_or_default();
        let slow_takers = seen.iter().filter(|(_, slow)| *slow).count();
        assert_eq!(slow_takers, 2, "both threads took slow items");
    }
}
