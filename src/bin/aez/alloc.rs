//! The CLI's global allocator: the system allocator for every block under [`LARGE`] bytes; on Linux, each
//! block of at least [`LARGE`] bytes is its own anonymous mapping, aligned to 2 MiB and marked for
//! transparent huge pages (`madvise(MADV_HUGEPAGE)`), and unmapped when it is freed.
//!
//! Why: a one-image run of a convolutional model is mostly first touches of fresh memory (the networks'
//! im2col and activation buffers, megabytes each). On a 4 KiB page every first touch of a page is a fault,
//! and the faults, not the arithmetic, were a quarter of a 256x256 `compress` (benches/startup.md, "Memory
//! first touched"); a 2 MiB page takes one fault where 512 were. The kernel still zeroes every page, so the
//! pages cost the same memory; a block of `n` bytes holds `n` rounded up to 4 KiB, and huge pages are used
//! only for its whole aligned 2 MiB spans. Where the kernel gives none (THP off, no free huge page), the
//! pages are ordinary ones. With the kernel's default THP `defrag` setting (`madvise`), a fault in such a
//! block may first compact memory to find a huge page, which on a host short of free huge pages costs time
//! instead of saving it (not seen on the machines measured). Keeping freed blocks for reuse was measured and
//! not kept: a run has few large blocks, of different sizes, so it saved no faults.
//!
//! The library does not set an allocator: a program that links aez chooses its own.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of at least this many bytes get their own mapping (Linux).
pub const LARGE: usize = 2 << 20;
/// A transparent huge page on x86-64 and aarch64 (4 KiB base pages).
const HUGE: usize = 2 << 20;
const PAGE: usize = 4096;

/// See the module documentation.
pub struct Allocator;

/// Whether a block of layout `l` is one of this allocator's own mappings (the same answer at allocation and
/// release: it depends on the layout alone).
fn own(l: &Layout) -> bool {
    cfg!(target_os = "linux") && l.size() >= LARGE && l.align() <= PAGE
}

/// `n` rounded up to a multiple of `to` (a power of two), or `None` on overflow.
fn round_up(n: usize, to: usize) -> Option<usize> {
    n.checked_add(to - 1).map(|v| v & !(to - 1))
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod os {
    use super::{round_up, HUGE, PAGE};

    /// A fresh zeroed mapping of at least `size` bytes starting on a 2 MiB boundary, marked for huge pages;
    /// null if the kernel refuses.
    pub fn map(size: usize) -> *mut u8 {
        let (Some(len), Some(span)) = (
            round_up(size, PAGE),
            round_up(size, PAGE).and_then(|l| l.checked_add(HUGE)),
        ) else {
            return std::ptr::null_mut();
        };
        // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no existing
        // memory; the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let base = p as usize;
        let start = (base + HUGE - 1) & !(HUGE - 1);
        let (head, tail) = (start - base, span - (start - base) - len);
        // SAFETY: the head and tail are page-aligned parts of the mapping just made, outside the block
        // returned; `madvise` only changes how the block's pages are backed. Failures leave more mapped (a
        // head or tail) or ordinary pages, never a wrong block.
        unsafe {
            if head > 0 {
                libc::munmap(p, head);
            }
            if tail > 0 {
                libc::munmap((start + len) as *mut libc::c_void, tail);
            }
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
        start as *mut u8
    }

    /// Releases a block that [`map`] returned for `size` bytes.
    ///
    /// # Safety
    /// `p` came from `map(size)` (or [`remap`] to `size`) and is not used again.
    pub unsafe fn unmap(p: *mut u8, size: usize) {
        if let Some(len) = round_up(size, PAGE) {
            // SAFETY: the caller's contract: `p .. p + len` is the block's own mapping.
            unsafe { libc::munmap(p.cast(), len) };
        }
    }

    /// Moves or grows a block of [`map`] from `old` to `new` bytes (both at least `LARGE`), keeping its
    /// contents; null (and the old block untouched) if the kernel refuses.
    ///
    /// # Safety
    /// `p` came from `map(old)` (or this function); on success it is not used again.
    pub unsafe fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        let (Some(old), Some(new)) = (round_up(old, PAGE), round_up(new, PAGE)) else {
            return std::ptr::null_mut();
        };
        if old == new {
            return p;
        }
        // SAFETY: the caller's contract; `mremap` keeps the contents and the huge-page advice, and the new
        // address is page-aligned, which is all the layouts of this allocator need (align <= 4096).
        let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            q.cast()
        }
    }
}

#[cfg(not(target_os = "linux"))]
#[allow(unsafe_code)]
mod os {
    pub fn map(_: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub unsafe fn unmap(_: *mut u8, _: usize) {}
    pub unsafe fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
}

#[allow(unsafe_code)]
// SAFETY: every block is either the system allocator's (small, or an alignment over 4 KiB) or a mapping
// of its own of at least its size, page-aligned (so aligned to anything up to 4 KiB) and zero-filled by
// the kernel; `own` decides which from the layout alone, which `dealloc` and `realloc` are given unchanged.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if own(&l) {
            os::map(l.size())
        } else {
            // SAFETY: forwarded with the caller's contract.
            unsafe { System.alloc(l) }
        }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if own(&l) {
            // A fresh anonymous mapping is zero-filled.
            os::map(l.size())
        } else {
            // SAFETY: forwarded with the caller's contract.
            unsafe { System.alloc_zeroed(l) }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if own(&l) {
            // SAFETY: `own(l)` held when the block was allocated with this layout: it is a mapping of
            // `l.size()` bytes.
            unsafe { os::unmap(p, l.size()) }
        } else {
            // SAFETY: forwarded with the caller's contract.
            unsafe { System.dealloc(p, l) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that `new`, rounded up to `l.align()`, does not overflow.
        let nl = unsafe { Layout::from_size_align_unchecked(new, l.align()) };
        match (own(&l), own(&nl)) {
            // SAFETY: forwarded with the caller's contract.
            (false, false) => unsafe { System.realloc(p, l, new) },
            // SAFETY: `p` is a mapping of `l.size()` bytes (see `dealloc`).
            (true, true) => unsafe { os::remap(p, l.size(), new) },
            _ => {
                // SAFETY: `nl` is a valid non-zero layout (the caller's contract); the copy is within both
                // blocks; the old block is released with its own layout and not used again.
                unsafe {
                    let q = self.alloc(nl);
                    if !q.is_null() {
                        std::ptr::copy_nonoverlapping(p, q, l.size().min(new));
                        self.dealloc(p, l);
                    }
                    q
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_aligned_zeroed_and_keep_their_contents_when_moved() {
        let a = Allocator;
        for size in [LARGE, LARGE + 1, 3 * LARGE + 12345] {
            let l = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: non-zero layouts; every block is written within its size and released once.
            unsafe {
                let p = a.alloc_zeroed(l);
                assert!(!p.is_null());
                if cfg!(target_os = "linux") {
                    assert_eq!(p as usize % HUGE, 0);
                }
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                for i in 0..size {
                    *p.add(i) = (i % 251) as u8;
                }
                // Grow (own -> own), then shrink below LARGE (own -> system), then grow back.
                let q = a.realloc(p, l, 2 * size);
                assert!(!q.is_null());
                assert!((0..size).all(|i| *q.add(i) == (i % 251) as u8));
                let l2 = Layout::from_size_align(2 * size, 64).unwrap();
                let r = a.realloc(q, l2, 1000);
                assert!(!r.is_null());
                assert!((0..1000).all(|i| *r.add(i) == (i % 251) as u8));
                let l3 = Layout::from_size_align(1000, 64).unwrap();
                let s = a.realloc(r, l3, size);
                assert!(!s.is_null());
                assert!((0..1000).all(|i| *s.add(i) == (i % 251) as u8));
                a.dealloc(s, l);
            }
        }
    }

    #[test]
    fn the_owner_of_a_block_depends_on_its_layout_alone() {
        let small = Layout::from_size_align(LARGE - 1, 8).unwrap();
        let big = Layout::from_size_align(LARGE, 8).unwrap();
        let aligned = Layout::from_size_align(LARGE, 2 * PAGE).unwrap();
        assert!(!own(&small));
        assert_eq!(own(&big), cfg!(target_os = "linux"));
        assert!(!own(&aligned));
        assert_eq!(round_up(usize::MAX - 10, PAGE), None);
    }
}
