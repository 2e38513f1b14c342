//! The content checksum: XXH64 (seed 0) of everything after the checksum
//! field, truncated to 32 bits. XXH64 runs at memory speed, so validation is
//! not bound by the checksum; it guards against corruption in transit, while
//! the structural checks guard against everything else.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline(always)]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    chunk.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b))
}

/// XXH64 of `bytes` with `seed`, as specified by the xxHash project.
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let mut stripes = bytes.chunks_exact(32);
    let mut h = if bytes.len() >= 32 {
        let mut v =
            [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        for stripe in &mut stripes {
            // Four independent lanes, read straight from the 32-byte stripe.
            let lane = |at: usize| stripe.get(at..at.saturating_add(8)).map_or(0, word);
            v = [round(v[0], lane(0)), round(v[1], lane(8)), round(v[2], lane(16)), round(v[3], lane(24))];
        }
        let [v1, v2, v3, v4] = v;
        let h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        merge(merge(merge(merge(h, v1), v2), v3), v4)
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(bytes.len() as u64);
    let rest = stripes.remainder();
    let mut words = rest.chunks_exact(8);
    for chunk in &mut words {
        h = (h ^ round(0, word(chunk))).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut tail = words.remainder();
    if let (Some(four), Some(after)) = (tail.get(..4), tail.get(4..)) {
        let mut b = [0u8; 4];
        b.copy_from_slice(four);
        h = (h ^ u64::from(u32::from_le_bytes(b)).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        tail = after;
    }
    for &byte in tail {
        h = (h ^ u64::from(byte).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// The checksum the header of `content` must carry: the low 32 bits of the
/// XXH64 of every byte after the checksum field.
pub fn content_checksum(content: &[u8]) -> u32 {
    use crate::format::header;
    let covered = content.get(header::CHECKSUM.saturating_add(4)..).unwrap_or(&[]);
    u32::try_from(xxh64(covered, 0) & 0xFFFF_FFFF).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        // 39 bytes: one 32-byte stripe, then the tail.
        assert_eq!(xxh64(b"Nobody inspects the spammish repetition", 0), 0xFBCE_A83C_8A37_8BF1);
    }

    #[test]
    fn every_length_path_of_xxh64_sees_every_byte() {
        let data: std::vec::Vec<u8> = (0..100u8).collect();
        for len in [1, 3, 4, 7, 8, 12, 31, 32, 33, 63, 64, 65, 100] {
            let mut flipped = data[..len].to_vec();
            flipped[len - 1] ^= 1;
            assert_ne!(xxh64(&data[..len], 0), xxh64(&flipped, 0), "length {len}");
        }
    }
}
