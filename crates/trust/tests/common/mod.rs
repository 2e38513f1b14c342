//! Keys, content and envelopes the trust tests build.
#![allow(dead_code, unreachable_pub)]

use ringfence_content::compile;
use ringfence_trust::envelope::{self, Declaration};
use ringfence_trust::signature::{SigningKey, sign_in_place};
use ringfence_trust::{KeySource, RING_GENERAL, TrustedKeys};
use ringfence_wire::SCHEMA;

pub const RULES: &str = "version = 7\n[[rule]]\nname = \"enc\"\nkind = \"process_start\"\naction = \"include\"\nmatch = [{ field = \"command_line\", contains = \" -enc\" }]\n";

pub fn content() -> Vec<u8> {
    compile(RULES, &SCHEMA).expect("the rules compile")
}

/// The test signer and a second, untrusted one.
pub fn signer() -> SigningKey {
    SigningKey::from_seed([7; 32]).expect("a non-zero seed")
}

pub fn stranger() -> SigningKey {
    SigningKey::from_seed([9; 32]).expect("a non-zero seed")
}

pub fn trusted() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.add(signer().public_key(), KeySource::Provisioned).expect("a valid key");
    keys
}

pub fn declaration(key: &SigningKey, content_version: u32) -> Declaration {
    Declaration {
        signer: key.public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version,
    }
}

/// `content` in an envelope declaring `declaration`, signed by `key`.
pub fn seal(declaration: &Declaration, content: &[u8], key: &SigningKey) -> Vec<u8> {
    let mut out = vec![0u8; envelope::envelope_len(content.len()).expect("fits")];
    let len = envelope::emit(declaration, content, &mut out).expect("the envelope fits");
    assert_eq!(len, out.len());
    assert!(sign_in_place(&mut out, key));
    out
}

/// The test content, sealed by the trusted signer for every ring and sensor.
pub fn sealed() -> Vec<u8> {
    let content = content();
    seal(&declaration(&signer(), 7), &content, &signer())
}
