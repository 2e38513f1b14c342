//! The envelope's malformed suite: every field a parser checks, broken on its
//! own, gives exactly its error and offset; every prefix of a good envelope is
//! refused as truncated; parse and emit round-trip.

mod common;

use common::{content, declaration, seal, sealed, signer};
use proptest::prelude::*;
use ringfence_trust::envelope::{self, EmitError, Envelope, EnvelopeErrorKind as E, FORMAT_VERSION, layout};
use ringfence_trust::{Declaration, EnvelopeError};

fn parse(bytes: &[u8]) -> Result<Declaration, EnvelopeError> {
    Envelope::new_checked(bytes).map(|e| e.declaration())
}

fn err(offset: usize, kind: E) -> Result<Declaration, EnvelopeError> {
    Err(EnvelopeError { offset, kind })
}

fn with(mut bytes: Vec<u8>, offset: usize, value: &[u8]) -> Vec<u8> {
    bytes[offset..offset + value.len()].copy_from_slice(value);
    bytes
}

#[test]
fn a_well_formed_envelope_parses_to_what_was_emitted() {
    let bytes = sealed();
    let checked = Envelope::new_checked(&bytes).expect("well-formed");
    assert_eq!(checked.declaration(), declaration(&signer(), 7));
    assert_eq!(checked.content(), &content()[..]);
    assert_eq!(checked.signed_bytes(), &bytes[..bytes.len() - layout::SIGNATURE_LEN]);
    assert_eq!(checked.signature_at(), layout::HEADER_LEN + content().len());
    assert_eq!(bytes.len(), content().len() + layout::OVERHEAD);
}

#[test]
fn every_prefix_is_refused_as_truncated_with_what_it_needs() {
    let bytes = sealed();
    for len in 0..bytes.len() {
        let needed = if len < layout::HEADER_LEN { layout::HEADER_LEN } else { bytes.len() } as u64;
        let expected = err(len, E::Truncated { needed, available: len as u64 });
        assert_eq!(parse(&bytes[..len]), expected, "prefix of {len} bytes");
    }
}

#[test]
fn each_broken_field_is_named_at_its_offset() {
    let good = sealed();
    let cases: [(Vec<u8>, Result<Declaration, EnvelopeError>); 5] = [
        (with(good.clone(), layout::MAGIC, b"RFSH"), err(layout::MAGIC, E::BadMagic)),
        (
            with(good.clone(), layout::FORMAT, &2u16.to_le_bytes()),
            err(layout::FORMAT, E::UnsupportedFormat { found: 2 }),
        ),
        (
            with(good.clone(), layout::RESERVED_FORMAT, &[0, 1]),
            err(layout::RESERVED_FORMAT, E::NonZeroReserved),
        ),
        (with(good.clone(), layout::RESERVED, &[0, 0, 0, 0x80]), err(layout::RESERVED, E::NonZeroReserved)),
        (
            with(
                with(good.clone(), layout::SENSOR_MIN, &9u32.to_le_bytes()),
                layout::SENSOR_MAX,
                &3u32.to_le_bytes(),
            ),
            err(layout::SENSOR_MIN, E::EmptySensorRange { min: 9, max: 3 }),
        ),
    ];
    for (i, (bytes, expected)) in cases.into_iter().enumerate() {
        assert_eq!(parse(&bytes), expected, "case {i}");
    }
}

#[test]
fn a_content_length_that_disagrees_with_the_buffer_is_truncation_or_trailing_bytes() {
    let good = sealed();
    let len = u32::try_from(content().len()).unwrap();
    let longer = with(good.clone(), layout::CONTENT_LEN, &(len + 1).to_le_bytes());
    assert_eq!(
        parse(&longer),
        err(good.len(), E::Truncated { needed: good.len() as u64 + 1, available: good.len() as u64 })
    );
    let shorter = with(good.clone(), layout::CONTENT_LEN, &(len - 1).to_le_bytes());
    assert_eq!(
        parse(&shorter),
        err(good.len() - 1, E::TrailingBytes { expected: good.len() as u64 - 1, actual: good.len() as u64 })
    );
    let huge = with(good.clone(), layout::CONTENT_LEN, &u32::MAX.to_le_bytes());
    let needed = u64::from(u32::MAX) + layout::OVERHEAD as u64;
    assert_eq!(parse(&huge), err(good.len(), E::Truncated { needed, available: good.len() as u64 }));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        parse(&trailing),
        err(good.len(), E::TrailingBytes { expected: good.len() as u64, actual: good.len() as u64 + 1 })
    );
}

#[test]
fn emit_refuses_a_short_buffer_and_an_empty_sensor_range_and_writes_nothing_else() {
    let content = content();
    let d = declaration(&signer(), 7);
    let needed = envelope::envelope_len(content.len()).unwrap();
    let mut short = vec![0xAAu8; needed - 1];
    assert_eq!(
        envelope::emit(&d, &content, &mut short),
        Err(EmitError::BufferTooSmall { needed, available: needed - 1 })
    );
    assert!(short.iter().all(|&b| b == 0xAA));
    let empty = Declaration { sensor_min: 2, sensor_max: 1, ..d };
    let mut out = vec![0u8; needed];
    assert_eq!(
        envelope::emit(&empty, &content, &mut out),
        Err(EmitError::EmptySensorRange { min: 2, max: 1 })
    );
    assert_eq!(FORMAT_VERSION, 1);
}

proptest! {
    #[test]
    fn any_declaration_and_content_round_trip(
        ring in any::<u32>(),
        min in any::<u32>(),
        span in any::<u32>(),
        version in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let d = Declaration {
            signer: signer().public_key(),
            ring,
            sensor_min: min,
            sensor_max: min.saturating_add(span),
            content_version: version,
        };
        let bytes = seal(&d, &body, &signer());
        let checked = Envelope::new_checked(&bytes).unwrap();
        prop_assert_eq!(checked.declaration(), d);
        prop_assert_eq!(checked.content(), &body[..]);
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic_and_accepted_ones_are_consistent(
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = envelope::MAGIC.to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(e) = Envelope::new_checked(&bytes) {
            prop_assert_eq!(e.content().len() + layout::OVERHEAD, bytes.len());
            prop_assert!(e.declaration().sensor_min <= e.declaration().sensor_max);
        }
    }
}
