//! The windows-sys backend's global allocator and panic handler.

use super::align;
use super::ffi::{ExAllocatePool2, ExFreePoolWithTag, KeBugCheckEx};
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// Pool tag "Rfnc" as pool tools (poolmon, `!pool`, `!verifier 3`) show it: the tag's bytes in
/// memory order. A C driver would spell the same tag `'cnfR'`.
pub(crate) const POOL_TAG: u32 = u32::from_le_bytes(*b"Rfnc");
/// `POOL_FLAG_NON_PAGED`: callbacks and the reader touch this memory with locks held.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// Pool blocks are 16-byte aligned on x64; larger alignments are made by hand.
const POOL_ALIGN: usize = 16;

/// Non-paged pool through `ExAllocatePool2` (which zeroes and returns null on failure;
/// every allocation in ringfence is fallible, so null becomes an error, never a panic).
///
/// Alignments above 16 over-allocate (see `align`) and keep the block's own address in the
/// word just below the aligned pointer.
struct Pool;

// SAFETY: alloc returns null or a block of at least `layout.size()` bytes aligned to
// `layout.align()`, which stays valid until dealloc with the same layout.
unsafe impl GlobalAlloc for Pool {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = layout.size().max(1);
        if layout.align() <= POOL_ALIGN {
            // SAFETY: plain allocation call; IRQL <= DISPATCH_LEVEL for non-paged pool.
            return unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, size, POOL_TAG) }.cast();
        }
        let Some(total) = align::padded_size(size, layout.align()) else { return core::ptr::null_mut() };
        // SAFETY: as above.
        let block: *mut u8 = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, total, POOL_TAG) }.cast();
        if block.is_null() {
            return block;
        }
        let offset = align::aligned_offset(block.addr(), layout.align());
        let aligned = block.wrapping_add(offset);
        // SAFETY: `aligned - 8` lies inside the block (offset >= HEADER) and is 8-aligned,
        // and `aligned + size` ends inside it (see align::aligned_offset).
        let slot = unsafe { aligned.cast::<*mut u8>().sub(1) };
        // SAFETY: as above: a writable, aligned word inside the block.
        unsafe { slot.write(block) };
        aligned
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        let block = if layout.align() <= POOL_ALIGN {
            pointer
        } else {
            // SAFETY: alloc stored the block's address in the word below `pointer`.
            let slot = unsafe { pointer.cast::<*mut u8>().sub(1) };
            // SAFETY: as above: that word is inside the block and aligned.
            unsafe { slot.read() }
        };
        // SAFETY: `block` came from ExAllocatePool2 with this tag and is freed once.
        unsafe { ExFreePoolWithTag(block.cast::<c_void>(), POOL_TAG) };
    }
}

#[global_allocator]
static POOL: Pool = Pool;

/// The bugcheck code of a ringfence panic ('RFNC'); parameter 1 is the source line,
/// parameter 2 the column. The parsers are proven panic-free (no-panic); this is the last
/// line: a kernel that reached a panic must stop rather than run on in an unknown state.
pub(crate) const RINGFENCE_PANIC: u32 = u32::from_be_bytes(*b"RFNC");

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (line, column) = info.location().map_or((0, 0), |at| (at.line(), at.column()));
    let wide = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    // SAFETY: KeBugCheckEx takes plain integers and does not return.
    unsafe { KeBugCheckEx(RINGFENCE_PANIC, wide(line), wide(column), 0, 0) }
}

// The precompiled core and alloc carry unwind tables that name the MSVC C++ personality
// routine, so a link without LTO needs the symbol. ringfence is built with panic=abort and
// nothing ever unwinds, so it is never called; were it called, `ud2` stops the machine.
// `_fltused` is the marker the msvc toolchain expects once any floating-point code (here,
// in core's formatting) is linked. Both are defined in assembly so that, unlike
// #[no_mangle] items, they are not exported from the driver.
core::arch::global_asm!(
    ".globl __CxxFrameHandler3",
    "__CxxFrameHandler3:",
    "ud2",
    ".section .rdata,\"dr\"",
    ".globl _fltused",
    "_fltused:",
    ".long 0",
    ".text",
);
