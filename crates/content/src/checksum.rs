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
    Stream::new(bytes, seed).finish()
}

/// XXH64 of a byte string computed a few stripes at a time, in order, so
/// that a caller reading the bytes anyway can hash them during the same pass
/// (the multiplies of the hash and the caller's own work then overlap).
#[derive(Clone)]
pub(crate) struct Stream<'a> {
    bytes: &'a [u8],
    /// The bytes not hashed yet: `bytes` past its whole stripes hashed so far.
    rest: &'a [u8],
    /// What positions given to [`Self::advance_to`] count from: the offset
    /// of `bytes` in the caller's larger buffer.
    base: usize,
    lanes: [u64; 4],
    seed: u64,
}

impl<'a> Stream<'a> {
    pub(crate) fn new(bytes: &'a [u8], seed: u64) -> Self {
        let lanes =
            [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        Stream { bytes, rest: bytes, base: 0, lanes, seed }
    }

    /// The stream of [`content_checksum`]: every byte of `content` after the
    /// checksum field, positions counted from the start of `content`.
    pub(crate) fn content(content: &'a [u8]) -> Self {
        use crate::format::header;
        let base = header::CHECKSUM.saturating_add(4);
        Stream { base, ..Stream::new(content.get(base..).unwrap_or(&[]), 0) }
    }

    /// How many bytes were hashed so far.
    fn done(&self) -> usize {
        self.bytes.len().saturating_sub(self.rest.len())
    }

    #[inline(always)]
    fn stripe(&mut self, stripe: &[u8; STRIPE]) {
        // Four independent lanes: their multiplies overlap in the pipeline.
        let [a, b, c, d] = lanes(stripe);
        let [v1, v2, v3, v4] = self.lanes;
        self.lanes = [round(v1, a), round(v2, b), round(v3, c), round(v4, d)];
    }

    /// Hashes every whole stripe that ends at or before position `end`.
    pub(crate) fn advance_to(&mut self, end: usize) {
        let len = end.saturating_sub(self.base).saturating_sub(self.done()).min(self.rest.len());
        let span = self.rest.get(..len).unwrap_or(self.rest);
        let mut stripes = span.chunks_exact(STRIPE);
        for stripe in &mut stripes {
            let Ok(stripe) = <&[u8; STRIPE]>::try_from(stripe) else { break };
            self.stripe(stripe);
        }
        let hashed = len.saturating_sub(stripes.remainder().len());
        self.rest = self.rest.get(hashed..).unwrap_or(&[]);
    }

    /// Hashes the next three stripes, if the bytes hold three more.
    #[inline(always)]
    pub(crate) fn three_stripes(&mut self) {
        let Some((next, rest)) = self.rest.split_first_chunk::<{ 3 * STRIPE }>() else { return };
        self.rest = rest;
        let (a, rest) = next.split_first_chunk::<STRIPE>().unwrap_or((&[0; STRIPE], &[]));
        let (b, rest) = rest.split_first_chunk::<STRIPE>().unwrap_or((&[0; STRIPE], &[]));
        let c = rest.first_chunk::<STRIPE>().unwrap_or(&[0; STRIPE]);
        self.stripe(a);
        self.stripe(b);
        self.stripe(c);
    }

    /// The hash of every byte.
    pub(crate) fn finish(mut self) -> u64 {
        self.advance_to(self.base.saturating_add(self.bytes.len()));
        let bytes = self.bytes;
        let mut h = if bytes.len() >= STRIPE {
            let [v1, v2, v3, v4] = self.lanes;
            let h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            merge(merge(merge(merge(h, v1), v2), v3), v4)
        } else {
            self.seed.wrapping_add(P5)
        };
        h = h.wrapping_add(bytes.len() as u64);
        let mut words = self.rest.chunks_exact(8);
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

    /// [`content_checksum`] of the stream's content.
    pub(crate) fn checksum(self) -> u32 {
        u32::try_from(self.finish() & 0xFFFF_FFFF).unwrap_or(0)
    }
}

/// The checksum the header of `content` must carry: the low 32 bits of the
/// XXH64 of every byte after the checksum field.
pub fn content_checksum(content: &[u8]) -> u32 {
    Stream::content(content).checksum()
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

    /// (length, XXH64 of `pattern(length)` with seed 0).
    const REFERENCE: [(usize, u64); 24] = [
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

    #[test]
    fn xxh64_matches_the_reference_library_on_every_stripe_and_tail_shape() {
        for (len, hash) in REFERENCE {
            assert_eq!(xxh64(&pattern(len), 0), hash, "length {len}");
        }
        assert_eq!(xxh64(&pattern(1000), 0x9E37_79B9_7F4A_7C15), 0xEDCB_DA53_46DC_4C3C);
    }

    /// Whatever the pieces (stripes up to positions that are not stripe
    /// boundaries, runs of three stripes, positions past the end), the
    /// stream's hash is the reference one.
    #[test]
    fn a_stream_fed_in_pieces_hashes_as_the_reference_library() {
        for (len, hash) in REFERENCE {
            let bytes = pattern(len);
            for step in [1, 7, 24, 33, 96, 97] {
                for base in [0, 8] {
                    let mut whole = std::vec![0xAA; base];
                    whole.extend_from_slice(&bytes);
                    let mut stream = Stream { base, ..Stream::new(&whole[base..], 0) };
                    for (i, at) in (0..len + 2 * step).step_by(step).enumerate() {
                        stream.advance_to(base + at);
                        if i % 3 == 1 {
                            stream.three_stripes();
                        }
                    }
                    assert_eq!(stream.finish(), hash, "length {len}, step {step}, base {base}");
                }
            }
        }
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
