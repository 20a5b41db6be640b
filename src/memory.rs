//! Returning freed memory to the OS (Luma's binary allocates with mimalloc).

/// Asks the allocator to return the pages it holds free. mimalloc keeps a thread's freed pages
/// for reuse and gives them back only when that thread allocates again after a delay, so a
/// thread that did a large piece of work and then idles keeps it resident: after start-up
/// with a 100,000-element vector set, RSS stayed at 197 MiB; after one call, 69 MiB.
pub fn release_freed() {
    // SAFETY: mi_collect takes no pointers and only walks mimalloc's own heaps and arenas; it
    // may be called from any thread at any time, also when mimalloc is not the global
    // allocator (its heap is then empty).
    unsafe { libmimalloc_sys::mi_collect(true) }
}
