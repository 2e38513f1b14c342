//! Trusted keys: built-in hex lists and registry blobs are taken whole or not
//! at all, each bad key named by its position and reason.

mod common;

use common::{signer, stranger};
use ringfence_trust::keys::{KeyErrorKind, parse_hex_key};
use ringfence_trust::{KeyListError, KeySource, MAX_TRUSTED_KEYS, SigningKey, TrustedKeys};

fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_hex_list_of_valid_keys_is_trusted_in_order_without_duplicates() {
    let (a, b) = (signer().public_key(), stranger().public_key());
    let mut keys = TrustedKeys::new();
    let list = format!(" {} ,{},{}", hex(&a), hex(&b).to_uppercase(), hex(&a));
    assert_eq!(keys.add_hex_list(&list, KeySource::BuiltIn), Ok(3));
    let got: Vec<_> = keys.iter().copied().collect();
    assert_eq!(got, vec![(a, KeySource::BuiltIn), (b, KeySource::BuiltIn)]);
    assert!(keys.contains(&a) && keys.contains(&b));
}

#[test]
fn one_bad_key_refuses_the_whole_list_and_names_it() {
    let a = hex(&signer().public_key());
    let mut keys = TrustedKeys::new();
    let mut not_hex = a.clone();
    not_hex.replace_range(10..11, "g");
    assert_eq!(
        keys.add_hex_list(&format!("{a},{not_hex}"), KeySource::BuiltIn),
        Err(KeyListError { index: 1, kind: KeyErrorKind::NotHex { at: 10 } })
    );
    assert!(keys.is_empty(), "nothing was taken");
    assert_eq!(parse_hex_key(&a[..62]), Err(KeyErrorKind::WrongLength { len: 31 }));
}

#[test]
fn keys_that_cannot_verify_are_refused() {
    // The identity point (y = 1) has small order; y = p (2^255 - 19) is not canonical.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut keys = TrustedKeys::new();
    assert_eq!(keys.add(identity, KeySource::Provisioned), Err(KeyErrorKind::WeakKey));
    let mut non_canonical = [0xFFu8; 32];
    non_canonical[0] = 0xED;
    non_canonical[31] = 0x7F;
    assert_eq!(keys.add(non_canonical, KeySource::Provisioned), Err(KeyErrorKind::NotAPoint));
}

#[test]
fn a_registry_blob_is_whole_keys_at_most_the_limit() {
    let mut blob = signer().public_key().to_vec();
    blob.extend_from_slice(&stranger().public_key());
    let mut keys = TrustedKeys::new();
    assert_eq!(keys.add_blob(&blob, KeySource::Provisioned), Ok(2));
    assert_eq!(
        TrustedKeys::new().add_blob(&blob[..33], KeySource::Provisioned),
        Err(KeyListError { index: 1, kind: KeyErrorKind::BlobLength { len: 33 } })
    );
    let mut many = Vec::new();
    for seed in 1..=u8::try_from(MAX_TRUSTED_KEYS + 1).unwrap() {
        many.extend_from_slice(&SigningKey::from_seed([seed; 32]).unwrap().public_key());
    }
    assert_eq!(
        TrustedKeys::new().add_blob(&many, KeySource::Provisioned),
        Err(KeyListError { index: MAX_TRUSTED_KEYS, kind: KeyErrorKind::TooMany })
    );
}
