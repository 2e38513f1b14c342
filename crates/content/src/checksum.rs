//! CRC-32 (IEEE 802.3, reflected, as zlib computes it), slicing-by-8 so that
//! the checksum does not dominate validation. Tables are built at compile time.

const POLY: u32 = 0xEDB8_8320;

// Runs at compile time: an out-of-range index there is a build error, not a panic.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = tables();

#[inline(always)]
fn entry(table: usize, index: u32) -> u32 {
    // `index & 0xFF` < 256 and `table` < 8 at every call site, so `get` never fails.
    TABLES.get(table).and_then(|t| t.get((index & 0xFF) as usize)).copied().unwrap_or(0)
}

/// Continues a CRC-32 over `bytes`; start with `state = 0`.
pub(crate) fn update(state: u32, bytes: &[u8]) -> u32 {
    let mut crc = !state;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let lo = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) ^ crc;
        let hi = u32::from_le_bytes([word[4], word[5], word[6], word[7]]);
        crc = entry(7, lo)
            ^ entry(6, lo >> 8)
            ^ entry(5, lo >> 16)
            ^ entry(4, lo >> 24)
            ^ entry(3, hi)
            ^ entry(2, hi >> 8)
            ^ entry(1, hi >> 16)
            ^ entry(0, hi >> 24);
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ entry(0, crc ^ u32::from(byte));
    }
    !crc
}

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    update(0, bytes)
}

/// The content checksum: the CRC-32 of `content` with the checksum field read as zero.
pub(crate) fn content_checksum(content: &[u8]) -> u32 {
    use crate::format::header;
    let before = content.get(..header::CHECKSUM).unwrap_or(&[]);
    let after = content.get(header::CHECKSUM.saturating_add(4)..).unwrap_or(&[]);
    update(update(update(0, before), &[0; 4]), after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_standard_check_string_is_cbf43926() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn crc32_is_the_same_whether_computed_in_one_pass_or_in_pieces() {
        let data: std::vec::Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(update(update(0, a), b), crc32(&data));
        }
    }
}
