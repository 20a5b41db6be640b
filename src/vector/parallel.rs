//! Data parallelism on scoped threads (no thread pool dependency): builds and training split
//! their work in one contiguous chunk per thread.

/// `f` over every item, on `threads` threads (the calling one included: a call with one
/// chunk spawns none); results in the items' order. A panic in `f` propagates.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let per = items.len().div_ceil(threads.max(1)).max(1);
    let f = &f;
    let mut chunks = items.chunks(per);
    let last = chunks.next_back().unwrap_or_default();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let tail: Vec<R> = last.iter().map(f).collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        out.extend(tail);
        out
    })
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
}
