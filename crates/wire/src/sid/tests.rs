#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::*;
use proptest::prelude::*;
use std::string::String;
use std::vec::Vec;

/// A binary SID from its parts.
fn sid(authority: u64, subs: &[u32]) -> Vec<u8> {
    let mut b = std::vec![SID_REVISION, u8::try_from(subs.len()).unwrap_or(u8::MAX)];
    b.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

fn text(bytes: &[u8]) -> Result<String, SidError> {
    SidText::parse(bytes).map(|t| String::from_utf16_lossy(t.as_units()))
}

#[test]
fn well_known_sids_read_as_windows_writes_them() {
    assert_eq!(text(&sid(5, &[18])).as_deref(), Ok("S-1-5-18"));
    assert_eq!(text(&sid(5, &[32, 544])).as_deref(), Ok("S-1-5-32-544"));
    assert_eq!(
        text(&sid(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330, 1001])).as_deref(),
        Ok("S-1-5-21-1004336348-1177238915-682003330-1001")
    );
    assert_eq!(text(&sid(16, &[0x2000])).as_deref(), Ok("S-1-16-8192"));
    assert_eq!(text(&sid(0, &[0])).as_deref(), Ok("S-1-0-0"));
    assert_eq!(text(&sid(5, &[])).as_deref(), Ok("S-1-5"));
    assert_eq!(text(&sid(0xFFFF_FFFF, &[u32::MAX])).as_deref(), Ok("S-1-4294967295-4294967295"));
}

#[test]
fn an_authority_of_2_to_the_32_or_more_is_twelve_hex_digits() {
    assert_eq!(text(&sid(0x1234_5678_9ABC, &[7])).as_deref(), Ok("S-1-0x123456789ABC-7"));
    assert_eq!(text(&sid(1 << 32, &[])).as_deref(), Ok("S-1-0x000100000000"));
}

#[test]
fn the_longest_sid_fills_exactly_the_declared_limit() {
    let longest = text(&sid(0xFFFF_FFFF_FFFF, &[u32::MAX; 15])).unwrap();
    assert_eq!(longest.len(), usize::from(SID_TEXT_UNITS));
    assert_eq!(sid(0, &[0; 15]).len(), MAX_SID_BYTES);
}

#[test]
fn malformed_sids_are_refused_with_the_reason() {
    assert_eq!(text(&[]), Err(SidError::Truncated { needed: 8, available: 0 }));
    assert_eq!(text(&[1]), Err(SidError::Truncated { needed: 8, available: 1 }));
    let mut wrong_revision = sid(5, &[18]);
    wrong_revision[0] = 2;
    assert_eq!(text(&wrong_revision), Err(SidError::Revision { found: 2 }));
    let mut too_many = sid(5, &[1; 15]);
    too_many[1] = 16;
    assert_eq!(text(&too_many), Err(SidError::SubAuthorityCount { found: 16 }));
    let short = sid(5, &[21, 1, 2]);
    assert_eq!(text(&short[..short.len() - 1]), Err(SidError::Truncated { needed: 20, available: 19 }));
    assert_eq!(sid_len(&short[..8]), Ok(20), "the header alone tells how much to read");
}

#[test]
fn the_last_sub_authority_is_the_integrity_rid_of_a_label() {
    assert_eq!(last_sub_authority(&sid(16, &[0x3000])), Ok(Some(0x3000)));
    assert_eq!(last_sub_authority(&sid(5, &[21, 9, 1001])), Ok(Some(1001)));
    assert_eq!(last_sub_authority(&sid(5, &[])), Ok(None));
    assert_eq!(last_sub_authority(&[1, 1, 0]), Err(SidError::Truncated { needed: 12, available: 3 }));
}

/// The inverse of the text form, written from the format's definition.
fn back(text: &str) -> Option<(u64, Vec<u32>)> {
    let rest = text.strip_prefix("S-1-")?;
    let mut parts = rest.split('-');
    let authority = parts.next()?;
    let authority = match authority.strip_prefix("0x") {
        Some(hex) if hex.len() == 12 => u64::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None => authority.parse::<u32>().ok()?.into(),
    };
    let subs = parts.map(|p| p.parse::<u32>().ok()).collect::<Option<Vec<_>>>()?;
    Some((authority, subs))
}

proptest! {
    #[test]
    fn every_valid_sid_reads_back_to_its_parts(
        authority in prop_oneof![0u64..1000, any::<u32>().prop_map(u64::from), 0u64..(1 << 48)],
        subs in proptest::collection::vec(any::<u32>(), 0..=15),
    ) {
        let t = text(&sid(authority, &subs)).unwrap();
        prop_assert!(t.len() <= usize::from(SID_TEXT_UNITS));
        prop_assert_eq!(back(&t), Some((authority, subs)));
    }

    #[test]
    fn any_bytes_give_text_within_the_limit_or_a_precise_error(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        match SidText::parse(&bytes) {
            Ok(t) => {
                prop_assert!(t.as_units().len() <= usize::from(SID_TEXT_UNITS));
                prop_assert!(bytes.len() >= sid_len(&bytes).unwrap());
            }
            Err(SidError::Revision { found }) => prop_assert_ne!(found, 1),
            Err(SidError::SubAuthorityCount { found }) => prop_assert!(found > 15),
            Err(SidError::Truncated { needed, available }) => prop_assert!(available < needed),
        }
    }
}
