//! The binary's allocator (mimalloc, with the system allocator for redb's page blocks, which
//! mimalloc rounds up by a quarter) and returning freed memory to the OS.

use std::alloc::{GlobalAlloc, Layout, System};

/// Asks the allocator to return the pages it holds free. mimalloc keeps a thread's freed pages
/// for reuse and gives them back only when that thread allocates again after a delay, so a
/// thread that did a large piece of work and then idles keeps it resident: after start-up
/// with a 100,000-element vector set, RSS stayed at 197 MiB; after one call, 69 MiB.
pub fn release_freed() {
    // SAFETY: mi_collect takes no pointers and only walks mimalloc's own heaps and arenas; it
    // may be called from any thread at any time, also when mimalloc is not the global
    // allocator (its heap is then empty).
    unsafe { libmimalloc_sys::mi_collect(true) }
    // glibc (redb's page blocks, `Allocator`) keeps freed blocks below its heap's top: after a
    // 100,000-element vector set was deleted, RSS stayed at 40 MiB instead of 24 without this.
    // SAFETY: malloc_trim takes no pointers; glibc locks each arena while it hands back free
    // pages, so it is safe from any thread at any time.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hands back what this thread's heap holds freed: the event loops call it each second.
/// mimalloc keeps a block freed by another thread in the page of the thread that allocated it
/// until that thread collects, so after a load through pipelined VADDs an idle event loop kept
/// its pages of request and record buffers that the writer and the index builders had freed
/// (about 30 bytes per element of a 100k x 128 set once settled). Calling this as the loop
/// parked (up to ten times a second) looked 10-20% dearer per GET at -P 16 in one series
/// (a later one did not repeat it); once a second costs nothing measurable.
pub fn release_thread_freed() {
    // SAFETY: as in `release_freed`; without `force` it only walks this thread's heap (the
    // background thread purges the arenas and trims glibc each second).
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// The global allocator of Luma's binary: mimalloc, except for redb's page blocks, which go to
/// the system allocator. mimalloc has four size classes per doubling, so a block just past
/// 4 KiB takes 5 KiB; redb's page cache holds every page in such a block (4,096 bytes and the
/// `Arc`'s 16), so a quarter of the cache was lost to rounding: a 100,000 x 128 vector set's
/// rows cost about 380 bytes each where the pages hold about 310, and a full 256 MiB cache took
/// about 320 MiB. glibc rounds them to 16 bytes.
pub struct Allocator;

/// Is a block of `size` bytes a redb page in its `Arc` (a power of two from 4 KiB to 1 MiB plus
/// the `Arc`'s two counters), which the system allocator gets? Only exactly those: routing
/// every size just past a power of two also sent some of the request path's buffers to glibc,
/// and cost 5% of `SET -P 16`.
fn is_page_block(size: usize) -> bool {
    const ARC_COUNTERS: usize = 16;
    let payload = size.wrapping_sub(ARC_COUNTERS);
    (4096..=1 << 20).contains(&payload) && payload.is_power_of_two()
}

/// Blocks from this size up go to the system allocator too, which maps each on its own (see
/// `init`) and unmaps it when freed. mimalloc serves them from its arenas, where a block that
/// grows (a vector index's codes and lists grow by an eighth at a time) reuses memory freed
/// moments before and still resident, so its unused tail cost RSS: a 100k x 128 vector set
/// restarted at 433 bytes per element with mimalloc for them, 383 with glibc.
const LARGE_BLOCK: usize = 1 << 20;

/// Which allocator owns a block of `size` bytes: the system's for redb's page blocks and for
/// large blocks, mimalloc for the rest.
fn system_owns_size(size: usize) -> bool {
    is_page_block(size) || size >= LARGE_BLOCK
}

fn system_owns(layout: Layout) -> bool {
    system_owns_size(layout.size())
}

/// Sets glibc up for the blocks it gets: every block from `LARGE_BLOCK` up is mapped on its
/// own. glibc's own threshold starts at 128 KiB and rises to the size of any mapped block
/// freed (up to 32 MiB), after which such blocks came from its heap, where a freed one stays
/// resident until trimmed. Call once at the start of `main`.
pub fn init() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes no pointers; setting a threshold is valid at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK as libc::c_int);
    }
}

// SAFETY: every block is allocated, reallocated and freed by the allocator that `system_owns`
// picks from its size, which both `alloc` and `dealloc` receive in the layout; a reallocation
// that changes the owner copies the block into a new one from the other allocator.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `layout` is passed on unchanged.
        unsafe {
            if system_owns(layout) {
                System.alloc(layout)
            } else {
                mimalloc::MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if system_owns(layout) {
                System.alloc_zeroed(layout)
            } else {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the allocator that the same layout picks (see above).
        unsafe {
            if system_owns(layout) {
                System.dealloc(ptr, layout)
            } else {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_owner_system = system_owns_size(new_size);
        // SAFETY: `ptr` and `layout` describe a live block of the owner `layout` picks; the new
        // block has the same alignment, and `new_size` is valid for it (the caller's contract).
        unsafe {
            match (system_owns(layout), new_owner_system) {
                (true, true) => System.realloc(ptr, layout, new_size),
                (false, false) => mimalloc::MiMalloc.realloc(ptr, layout, new_size),
                _ => {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_blocks_and_large_blocks_go_to_the_system_allocator() {
        for size in [4096 + 16, 8192 + 16, 65536 + 16, (1 << 20) + 16] {
            assert!(is_page_block(size) && system_owns_size(size), "{size}");
        }
        for size in [LARGE_BLOCK, LARGE_BLOCK + 1, 13 << 20] {
            assert!(system_owns_size(size), "{size}");
        }
        for size in [0, 16, 4096, 5000, 100_000, LARGE_BLOCK - 1] {
            assert!(!system_owns_size(size), "{size}");
        }
        for size in [
            0,
            16,
            4096,
            4096 + 8,
            4096 + 64,
            5000,
            8192,
            100_000,
            (2 << 20) + 16,
        ] {
            assert!(!is_page_block(size), "{size}");
        }
    }

    #[test]
    fn blocks_keep_their_bytes_across_reallocations_between_the_allocators() {
        let a = Allocator;
        // mimalloc -> system (pages) -> system -> mimalloc -> system (large) -> system
        // (larger) -> mimalloc, growing and shrinking.
        let sizes = [
            3000usize,
            4112,
            8208,
            4100,
            LARGE_BLOCK + 3,
            3 * LARGE_BLOCK,
            20_000,
            100,
        ];
        let layout = Layout::from_size_align(sizes[0], 16).unwrap();
        // SAFETY: each block is used within the size it was last given, then freed with the
        // layout it has.
        unsafe {
            let mut ptr = a.alloc(layout);
            assert!(!ptr.is_null());
            let mut size = sizes[0];
            for i in 0..size {
                *ptr.add(i) = (i % 251) as u8;
            }
            for &next in &sizes[1..] {
                ptr = a.realloc(ptr, Layout::from_size_align(size, 16).unwrap(), next);
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % 16, 0, "alignment kept");
                for i in 0..size.min(next) {
                    assert_eq!(
                        *ptr.add(i),
                        (i % 251) as u8,
                        "byte {i} after {size} -> {next}"
                    );
                }
                for i in size.min(next)..next {
                    *ptr.add(i) = (i % 251) as u8;
                }
                size = next;
            }
            a.dealloc(ptr, Layout::from_size_align(size, 16).unwrap());
            let zeroed = a.alloc_zeroed(Layout::from_size_align(4112, 8).unwrap());
            assert!((0..4112).all(|i| *zeroed.add(i) == 0));
            a.dealloc(zeroed, Layout::from_size_align(4112, 8).unwrap());
        }
    }
}
