//! Signatures: only an envelope signed by a trusted key over exactly its bytes
//! passes, and every way of breaking one is refused with its own reason.

mod common;

use common::{content, declaration, seal, sealed, signer, stranger, trusted};
use ringfence_content::validate;
use ringfence_trust::envelope::{self, EnvelopeErrorKind, layout};
use ringfence_trust::{
    AuthError, EnvelopeError, KeyId, SignatureError, SignaturePolicy, TrustedKeys, authenticate, verify,
};
use ringfence_wire::SCHEMA;

fn auth(bytes: &[u8], policy: SignaturePolicy) -> Result<Vec<u8>, AuthError> {
    authenticate(bytes, &trusted(), policy).map(|a| a.content.to_vec())
}

#[test]
fn an_envelope_signed_by_a_trusted_key_yields_exactly_its_content_and_declaration() {
    let bytes = sealed();
    let checked = envelope::Envelope::new_checked(&bytes).expect("well-formed");
    let verified = verify(&checked, &trusted()).expect("verifies");
    assert_eq!(verified.content, &content()[..]);
    assert_eq!(verified.declaration, declaration(&signer(), 7));
    for policy in [SignaturePolicy::Required, SignaturePolicy::AcceptUnsigned] {
        assert_eq!(auth(&bytes, policy), Ok(content()));
    }
}

#[test]
fn a_key_the_sensor_does_not_trust_is_refused_and_named() {
    let bytes = seal(&declaration(&stranger(), 7), &content(), &stranger());
    let expected = SignatureError::UntrustedSigner { key: KeyId::of(&stranger().public_key()), trusted: 1 };
    for policy in [SignaturePolicy::Required, SignaturePolicy::AcceptUnsigned] {
        assert_eq!(auth(&bytes, policy), Err(AuthError::Signature(expected)));
    }
    let none = authenticate(&sealed(), &TrustedKeys::new(), SignaturePolicy::AcceptUnsigned).map(|_| ());
    let key = KeyId::of(&signer().public_key());
    assert_eq!(none, Err(AuthError::Signature(SignatureError::UntrustedSigner { key, trusted: 0 })));
}

#[test]
fn a_trusted_key_named_in_the_header_but_signed_by_another_key_is_a_mismatch() {
    let bytes = seal(&declaration(&signer(), 7), &content(), &stranger());
    assert_eq!(auth(&bytes, SignaturePolicy::Required), Err(AuthError::Signature(SignatureError::Mismatch)));
}

#[test]
fn a_signature_over_other_bytes_is_a_mismatch() {
    let good = sealed();
    let other = seal(&declaration(&signer(), 8), &content(), &signer());
    let mut spliced = good.clone();
    let at = spliced.len() - layout::SIGNATURE_LEN;
    spliced[at..].copy_from_slice(&other[at..]);
    assert_eq!(
        auth(&spliced, SignaturePolicy::Required),
        Err(AuthError::Signature(SignatureError::Mismatch))
    );
}

#[test]
fn every_single_bit_flipped_anywhere_is_refused_under_either_policy() {
    let good = sealed();
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            assert!(auth(&bad, SignaturePolicy::Required).is_err(), "byte {byte} bit {bit}: required");
            // Accepting unsigned content, a flip in the magic turns the envelope into
            // "unsigned content", which the validator then refuses: it is not content.
            let unsigned = auth(&bad, SignaturePolicy::AcceptUnsigned);
            let valid = unsigned.as_ref().is_ok_and(|c| validate(c, &SCHEMA).is_ok());
            assert!(!valid, "byte {byte} bit {bit} flipped was accepted");
        }
    }
}

#[test]
fn a_flipped_bit_in_the_content_or_the_signature_is_refused_as_a_bad_signature() {
    let good = sealed();
    let content_at = layout::HEADER_LEN + 5;
    let r_at = good.len() - layout::SIGNATURE_LEN;
    for at in [content_at, r_at, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let refused = auth(&bad, SignaturePolicy::Required);
        assert!(
            matches!(
                refused,
                Err(AuthError::Signature(SignatureError::Mismatch | SignatureError::Malformed))
            ),
            "byte {at}: {refused:?}"
        );
    }
}

#[test]
fn a_non_canonical_signature_scalar_is_malformed() {
    let mut bad = sealed();
    let s_at = bad.len() - 32;
    // S = 2^256 - 1 is far above the group order L.
    bad[s_at..].fill(0xFF);
    assert_eq!(auth(&bad, SignaturePolicy::Required), Err(AuthError::Signature(SignatureError::Malformed)));
}

#[test]
fn a_truncated_signature_is_refused_with_the_missing_length() {
    let good = sealed();
    for cut in 1..=layout::SIGNATURE_LEN {
        let short = &good[..good.len() - cut];
        let needed = good.len() as u64;
        let expected = EnvelopeError {
            offset: short.len(),
            kind: EnvelopeErrorKind::Truncated { needed, available: short.len() as u64 },
        };
        assert_eq!(auth(short, SignaturePolicy::Required), Err(AuthError::Envelope(expected)), "cut {cut}");
    }
}

#[test]
fn unsigned_content_is_refused_when_signatures_are_required_and_taken_verbatim_otherwise() {
    let raw = content();
    assert_eq!(auth(&raw, SignaturePolicy::Required), Err(AuthError::Unsigned));
    assert_eq!(auth(&raw, SignaturePolicy::AcceptUnsigned), Ok(raw.clone()));
    let empty = authenticate(&[], &trusted(), SignaturePolicy::AcceptUnsigned).map(|a| a.content.len());
    assert_eq!(empty, Ok(0), "the validator, not the signature stage, refuses empty content");
}

#[test]
fn signing_is_deterministic_and_the_public_key_round_trips_through_the_seed() {
    let a = sealed();
    let b = sealed();
    assert_eq!(a, b);
    let again = ringfence_trust::SigningKey::from_seed(signer().seed()).unwrap();
    assert_eq!(again.public_key(), signer().public_key());
    assert!(ringfence_trust::SigningKey::from_seed([0; 32]).is_err(), "the all-zero seed is refused");
}
