//! Little-endian reads and writes that cannot panic: every access goes through
//! `get`/`get_mut`, so an out-of-range offset is `None`, never an index panic.

/// Reads `N` bytes at `offset`, or `None` when they are not all inside `buf`.
#[inline]
pub fn array<const N: usize>(buf: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    let bytes = buf.get(offset..end)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Some(out)
}

#[inline]
pub fn u16_at(buf: &[u8], offset: usize) -> Option<u16> {
    array(buf, offset).map(u16::from_le_bytes)
}

#[inline]
pub fn u32_at(buf: &[u8], offset: usize) -> Option<u32> {
    array(buf, offset).map(u32::from_le_bytes)
}

#[inline]
pub fn u64_at(buf: &[u8], offset: usize) -> Option<u64> {
    array(buf, offset).map(u64::from_le_bytes)
}

/// Writes `bytes` at `offset`; `None` when they do not fit.
#[inline]
pub fn put(buf: &mut [u8], offset: usize, bytes: &[u8]) -> Option<()> {
    let end = offset.checked_add(bytes.len())?;
    buf.get_mut(offset..end)?.copy_from_slice(bytes);
    Some(())
}

#[inline]
pub fn put_u16(buf: &mut [u8], offset: usize, value: u16) -> Option<()> {
    put(buf, offset, &value.to_le_bytes())
}

#[inline]
pub fn put_u32(buf: &mut [u8], offset: usize, value: u32) -> Option<()> {
    put(buf, offset, &value.to_le_bytes())
}

#[inline]
pub fn put_u64(buf: &mut [u8], offset: usize, value: u64) -> Option<()> {
    put(buf, offset, &value.to_le_bytes())
}

/// `len` rounded up to the next multiple of 8, or `None` on overflow.
#[inline]
pub const fn align8(len: usize) -> Option<usize> {
    match len.checked_add(7) {
        Some(v) => Some(v & !7),
        None => None,
    }
}
