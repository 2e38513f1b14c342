//! The pool allocator's arithmetic for alignments above what the pool guarantees, kept apart
//! from the allocator so that it runs in host tests.

/// Bytes of the word stored just below an over-aligned block: the pool block's address.
pub const HEADER: usize = core::mem::size_of::<usize>();

/// Bytes to request from the pool for `size` bytes aligned to `align`: room to move up to
/// the next aligned address with a header word below it, from any block address.
pub fn padded_size(size: usize, align: usize) -> Option<usize> {
    size.checked_add(align)?.checked_add(HEADER)
}

/// The offset from a pool block at `addr` to the first `align`-aligned address at least
/// [`HEADER`] bytes in; `align` is a power of two (as `Layout` guarantees). The result lies
/// in `HEADER..HEADER + align`, so the aligned block fits in [`padded_size`].
pub fn aligned_offset(addr: usize, align: usize) -> usize {
    let mask = align.wrapping_sub(1);
    let past_header = addr.wrapping_add(HEADER);
    HEADER.wrapping_add(align.wrapping_sub(past_header & mask) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aligned_block_is_aligned_has_its_header_and_fits() {
        for align in [32usize, 64, 4096] {
            for addr in (0..3 * align).step_by(8).map(|a| a + 0xffff_a000_0000_0000) {
                let offset = aligned_offset(addr, align);
                assert_eq!((addr + offset) % align, 0, "addr {addr:#x} align {align}");
                assert!(offset >= HEADER);
                let size = 100;
                assert!(offset + size <= padded_size(size, align).unwrap());
            }
        }
    }

    #[test]
    fn an_impossible_size_is_refused() {
        assert_eq!(padded_size(usize::MAX - 8, 64), None);
    }
}
