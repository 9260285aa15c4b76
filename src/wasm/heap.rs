//! The wasm's global allocator: blocks whose sizes are powers of two, with a
//! free list for each size. It takes a few hundred bytes of wasm where
//! dlmalloc takes about 8 KB. A freed block is reused by the next request of
//! its size, so memory stays flat while the same kinds of calls repeat.
//! Memory is never given back, because wasm memory cannot shrink.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, null_mut};

/// The smallest block is 16 bytes, which is also the largest alignment given.
const MIN_BITS: u32 = 4;
/// One free list per block size, from 16 bytes to 2 GiB.
const SIZES: usize = (usize::BITS - MIN_BITS) as usize;
const PAGE_BYTES: usize = 65_536;

pub struct Heap {
    state: UnsafeCell<State>,
}

struct State {
    /// The first free block of each size. Each free block starts with the address of the next.
    free: [usize; SIZES],
    /// The unused memory at the end, from `next` up to `end`.
    next: usize,
    end: usize,
}

// SAFETY: wasm32-unknown-unknown without the atomics feature runs one thread.
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Self {
        Heap { state: UnsafeCell::new(State { free: [0; SIZES], next: 0, end: 0 }) }
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

/// Returns log2 of the block size that fits `layout`, or `None` when no block
/// does: an alignment over 16 bytes, or a size over 2 GiB.
fn size_bits(layout: Layout) -> Option<u32> {
    if layout.align() > 1 << MIN_BITS {
        return None;
    }
    let size = layout.size().max(1 << MIN_BITS).checked_next_power_of_two()?;
    Some(size.trailing_zeros())
}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(bits) = size_bits(layout) else {
            return null_mut();
        };
        // SAFETY: one thread, and no call below re-enters the allocator.
        let state = unsafe { &mut *self.state.get() };
        let head = &mut state.free[(bits - MIN_BITS) as usize];
        if *head != 0 {
            let block = *head as *mut usize;
            // SAFETY: a free block starts with the address of the next free block.
            *head = unsafe { block.read() };
            return block.cast();
        }
        let size = 1usize << bits;
        if state.end - state.next < size {
            let pages = size.div_ceil(PAGE_BYTES);
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return null_mut();
            }
            let start = previous * PAGE_BYTES;
            // Memory that ends at 4 GiB has an end address wasm32 cannot hold.
            let Some(end) = start.checked_add(pages * PAGE_BYTES) else {
                return null_mut();
            };
            // New pages that do not follow the unused memory start a new stretch,
            // and the rest of the old one stays unused.
            if start != state.end {
                state.next = start;
            }
            state.end = end;
        }
        let block = state.next;
        state.next += size;
        block as *mut u8
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(bits) = size_bits(layout) else {
            return;
        };
        // SAFETY: one thread, and `block` came from `alloc` with this layout.
        let state = unsafe { &mut *self.state.get() };
        let head = &mut state.free[(bits - MIN_BITS) as usize];
        unsafe { block.cast::<usize>().write(*head) };
        *head = block as usize;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that the new size, rounded up to the alignment, does not overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if size_bits(new_layout) == size_bits(layout) {
            return block;
        }
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            unsafe {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
        }
        moved
    }
}
