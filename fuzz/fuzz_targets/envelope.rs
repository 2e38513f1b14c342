//! The signed envelope on arbitrary bytes: parsing, and the signature stage under both
//! policies with a trusted key. Bytes that parse must say exactly what they hold; nothing
//! but a real signature by the trusted key over these very bytes may pass. A second pass
//! seals the input as content with the trusted key and flips one byte the fuzzer picks:
//! the intact envelope must pass, the flipped one must not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_trust::envelope::{self, Declaration, Envelope, layout};
use ringfence_trust::signature::sign_in_place;
use ringfence_trust::{KeySource, RING_GENERAL, SignaturePolicy, SigningKey, TrustedKeys, authenticate};

fn key() -> SigningKey {
    SigningKey::from_seed([0x42; 32]).expect("a non-zero seed")
}

fn trusted() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.add(key().public_key(), KeySource::Provisioned).expect("a valid key");
    keys
}

fuzz_target!(|data: &[u8]| {
    let keys = trusted();
    if let Ok(e) = Envelope::new_checked(data) {
        assert_eq!(e.content().len() + layout::OVERHEAD, data.len());
        assert_eq!(e.signed_bytes().len() + layout::SIGNATURE_LEN, data.len());
        let d = e.declaration();
        assert!(d.sensor_min <= d.sensor_max);
    }
    for policy in [SignaturePolicy::Required, SignaturePolicy::AcceptUnsigned] {
        match authenticate(data, &keys, policy) {
            Ok(a) if envelope::is_envelope(data) => {
                // Only the trusted key's signature over exactly these bytes gets here.
                let e = Envelope::new_checked(data).expect("authenticated envelopes parse");
                assert_eq!(e.declaration().signer, key().public_key());
                assert_eq!(a.content, e.content());
            }
            Ok(a) => {
                assert_eq!(policy, SignaturePolicy::AcceptUnsigned);
                assert_eq!(a.content, data);
            }
            Err(_) => {}
        }
    }

    // Seal the input, then flip one byte of the envelope.
    let Some((&pick, content)) = data.split_first() else { return };
    let declaration = Declaration {
        signer: key().public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: 1,
    };
    let mut sealed = vec![0u8; envelope::envelope_len(content.len()).expect("fits")];
    envelope::emit(&declaration, content, &mut sealed).expect("fits");
    assert!(sign_in_place(&mut sealed, &key()));
    let intact = authenticate(&sealed, &keys, SignaturePolicy::Required).map(|a| a.content.to_vec());
    assert_eq!(intact.as_deref(), Ok(content));
    let at = usize::from(pick) * sealed.len() / 256;
    sealed[at] ^= 0x01;
    assert!(authenticate(&sealed, &keys, SignaturePolicy::Required).is_err(), "a flip at {at} passed");
});
