//! The content checksum: XXH64 (seed 0) of everything after the checksum
//! field, truncated to 32 bits. It guards against corruption in transit,
//! while the structural checks guard against everything else. XXH64 is bound
//! by its eight 64-bit multiplies per 32-byte stripe (four bytes per cycle at
//! one multiply per cycle), not by reading the bytes.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Bytes per stripe: four 8-byte lanes.
const STRIPE: usize = 32;

#[inline(always)]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

/// The four little-endian lanes of a stripe. The array's length is known, so
/// the splits compile to four plain loads with no branch.
#[inline(always)]
fn lanes(stripe: &[u8; STRIPE]) -> [u64; 4] {
    let (a, rest) = stripe.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let (b, rest) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let (c, rest) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
    let d = rest.first_chunk::<8>().unwrap_or(&[0; 8]);
    [u64::from_le_bytes(*a), u64::from_le_bytes(*b), u64::from_le_bytes(*c), u64::from_le_bytes(*d)]
}

/// XXH64 of `bytes` with `seed`, as specified by the xxHash project.
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let mut stripes = bytes.chunks_exact(STRIPE);
    let mut h = if bytes.len() >= STRIPE {
        let [mut v1, mut v2, mut v3, mut v4] =
            [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        for stripe in &mut stripes {
            let Ok(stripe) = <&[u8; STRIPE]>::try_from(stripe) else { break };
            // Four independent lanes: their multiplies overlap in the pipeline.
            let [a, b, c, d] = lanes(stripe);
            (v1, v2, v3, v4) = (round(v1, a), round(v2, b), round(v3, c), round(v4, d));
        }
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
    for word in &mut words {
        let Some(word) = word.first_chunk::<8>() else { break };
        h = (h ^ round(0, u64::from_le_bytes(*word))).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut tail = words.remainder();
    if let Some((four, after)) = tail.split_first_chunk::<4>() {
        h = (h ^ u64::from(u32::from_le_bytes(*four)).wrapping_mul(P1))
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

    /// Bytes `(131 i + 17) mod 256`; the hashes below were computed with the
    /// xxHash project's own library (libxxhash 0.8.1, `XXH64`, seed 0).
    fn pattern(len: usize) -> std::vec::Vec<u8> {
        (0..len).map(|i| ((i * 131 + 17) % 256) as u8).collect()
    }

    #[test]
    fn xxh64_matches_the_reference_library_on_every_stripe_and_tail_shape() {
        let expected: [(usize, u64); 24] = [
            (0, 0xEF46_DB37_51D8_E999),
            (1, 0xAD10_CD97_80AC_4FF7),
            (3, 0x4062_6D96_276E_4594),
            (4, 0x8822_07C1_22C7_6E23),
            (5, 0xA3DA_885E_EC61_8BB4),
            (8, 0x90FD_A2F0_89FA_86DE),
            (11, 0xD295_3E13_54CA_EF18),
            (31, 0x44CC_9EFE_5D2D_0233),
            (32, 0x0E1A_AB1D_173C_F196),
            (33, 0x5C82_0B4B_4FE2_8FDC),
            (35, 0x22DE_4560_5909_B372),
            (36, 0x4085_F13B_32C5_FEB0),
            (40, 0xC044_1297_B12D_2395),
            (63, 0x1153_D36C_ADE8_7066),
            (64, 0xD4C2_0EF5_4CBC_9F67),
            (95, 0xD813_7F7D_8598_EB90),
            (96, 0xC033_1DAE_6E06_4E2C),
            (100, 0x7F83_75F3_E09D_8123),
            (127, 0x5493_AA81_F81F_D0D9),
            (128, 0x9441_5292_08FC_B7EC),
            (255, 0xFC0C_21A2_34C0_A092),
            (256, 0xFA76_39C7_A1C6_E86E),
            (999, 0xA119_1AAB_2A66_997F),
            (1000, 0x9FB3_251B_EF67_C2B5),
        ];
        for (len, hash) in expected {
            assert_eq!(xxh64(&pattern(len), 0), hash, "length {len}");
        }
        assert_eq!(xxh64(&pattern(1000), 0x9E37_79B9_7F4A_7C15), 0xEDCB_DA53_46DC_4C3C);
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
