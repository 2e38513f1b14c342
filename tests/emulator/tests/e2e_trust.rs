//! Content trust on the real driver: signatures (wrong key, truncated signature, a bit
//! flipped anywhere, a signature over other bytes, unsigned content under each policy),
//! rings, supported sensor versions and pins refuse and accept exactly as documented, each
//! refusal with its own reason code in the answer, the `ContentChanged` record and TRUST.

mod common;

use common::boots::{Booted, boot, content, seal, sealed_for, signed, signer, stranger, trusting_signer};
use ringfence_emulator::{Disk, RegValue};
use ringfence_trust::envelope::layout;
use ringfence_trust::{
    AuthError, Declaration, EnvelopeError, EnvelopeErrorKind, KeyId, PolicyRefusal, RING_GENERAL, Reason,
    SignatureError,
};
use ringfence_wire::ioctl::LoadContentResponse;

fn reason(r: Reason) -> u32 {
    r.code()
}

fn refused_with(verdict: &LoadContentResponse, expected: Reason) {
    assert!(!verdict.accepted, "refused: {verdict:?}");
    assert_eq!(
        Reason::from_wire(verdict.reason, verdict.offset, verdict.args),
        Some(expected),
        "{verdict:?}"
    );
}

fn driver(parameters: &[(&str, RegValue)]) -> Booted {
    boot(&Disk::default(), parameters)
}

#[test]
fn a_provisioned_key_makes_the_sensor_take_signed_content_only_and_says_so() {
    let mut sensor = driver(&[trusting_signer()]);
    let trust = sensor.trust();
    assert!(trust.signatures_required && trust.persistent);
    assert_eq!(trust.keys(), &[KeyId::of(&signer().public_key()).0]);
    let verdict = sensor.load(&signed(7));
    assert!(verdict.accepted, "{verdict:?}");
    assert_eq!((verdict.content_version, verdict.active_version), (7, 7));
    refused_with(&sensor.load(&content(8)), Reason::Auth(AuthError::Unsigned));
    assert_eq!(sensor.stats().active_content_version, 7, "the refusal changed nothing");
    let records = sensor.content_records();
    assert_eq!(records, vec![(true, 7, 7, 0), (false, 8, 7, reason(Reason::Auth(AuthError::Unsigned)))]);
    assert_eq!(sensor.trust().refused_signature, 1);
    // A signed load (Ed25519 included) stays within 12 KiB of the caller's kernel stack.
    let dispatch = ringfence_emulator::books::Entry::Dispatch { major: 0x0e };
    let deepest = sensor.emu.report().max_stack_by_entry[&dispatch];
    assert!(deepest < 12 << 10, "IRP_MJ_DEVICE_CONTROL used {deepest} bytes of stack");
    sensor.shutdown();
}

#[test]
fn content_signed_by_a_key_the_sensor_does_not_trust_is_refused_and_the_key_named() {
    let mut sensor = driver(&[trusting_signer()]);
    let bytes = sealed_for(&content(7), 7, RING_GENERAL, &stranger());
    let key = KeyId::of(&stranger().public_key());
    refused_with(
        &sensor.load(&bytes),
        Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner { key, trusted: 1 })),
    );
    sensor.shutdown();
}

#[test]
fn a_truncated_signature_a_foreign_signature_and_one_over_other_bytes_are_refused() {
    let mut sensor = driver(&[trusting_signer()]);
    let good = signed(7);
    let short = &good[..good.len() - 1];
    let truncated = EnvelopeErrorKind::Truncated { needed: good.len() as u64, available: short.len() as u64 };
    refused_with(
        &sensor.load(short),
        Reason::Auth(AuthError::Envelope(EnvelopeError { offset: short.len(), kind: truncated })),
    );
    let declared_by_signer = Declaration {
        signer: signer().public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: 7,
    };
    let foreign = seal(&declared_by_signer, &content(7), &stranger());
    let mismatch = Reason::Auth(AuthError::Signature(SignatureError::Mismatch));
    refused_with(&sensor.load(&foreign), mismatch);
    let other = signed(8);
    let mut spliced = good.clone();
    let at = good.len() - layout::SIGNATURE_LEN;
    spliced[at..].copy_from_slice(&other[other.len() - layout::SIGNATURE_LEN..]);
    refused_with(&sensor.load(&spliced), mismatch);
    assert_eq!(sensor.stats().active_content_version, 0);
    assert_eq!(sensor.trust().refused_signature, 3);
    sensor.shutdown();
}

#[test]
fn a_bit_flipped_anywhere_in_a_signed_envelope_is_refused_and_nothing_changes() {
    let mut sensor = driver(&[trusting_signer()]);
    let good = signed(7);
    for byte in 0..good.len() {
        let mut bad = good.clone();
        bad[byte] ^= 1 << (byte % 8);
        let verdict = sensor.load(&bad);
        assert!(!verdict.accepted, "byte {byte} flipped was accepted");
    }
    assert_eq!(sensor.stats().active_content_version, 0);
    assert!(sensor.load(&good).accepted, "the intact envelope is still taken");
    sensor.shutdown();
}

#[test]
fn unsigned_content_is_taken_without_keys_or_when_switched_on_and_refused_when_required() {
    let accept = RegValue::Dword(0);
    let require = RegValue::Dword(1);
    let cases: [(&[(&str, RegValue)], bool); 4] = [
        (&[], true),
        (&[trusting_signer(), ("RequireSignedContent", accept)], true),
        (&[trusting_signer()], false),
        (&[("RequireSignedContent", require)], false),
    ];
    for (parameters, taken) in cases {
        let mut sensor = driver(parameters);
        let verdict = sensor.load(&content(7));
        assert_eq!(verdict.accepted, taken, "{parameters:?}");
        if !taken {
            refused_with(&verdict, Reason::Auth(AuthError::Unsigned));
        }
        // A signed envelope is verified whatever the policy: with no key it is refused.
        let signed_verdict = sensor.load(&signed(9));
        assert_eq!(signed_verdict.accepted, sensor.trust().key_count == 1, "{parameters:?}");
        sensor.shutdown();
    }
}

#[test]
fn a_sensor_takes_content_released_to_its_ring_or_later_and_refuses_earlier_rings() {
    let mut sensor = driver(&[trusting_signer(), ("Ring", RegValue::Dword(2))]);
    assert_eq!(sensor.trust().ring, 2);
    let early = sealed_for(&content(7), 7, 1, &signer());
    refused_with(
        &sensor.load(&early),
        Reason::Policy(PolicyRefusal::RingNotReleased { released_to: 1, sensor_ring: 2 }),
    );
    for ring in [2, 3, RING_GENERAL] {
        assert!(sensor.load(&sealed_for(&content(7), 7, ring, &signer())).accepted, "released to {ring}");
    }
    assert_eq!(sensor.trust().refused_policy, 1);
    sensor.shutdown();
}

#[test]
fn content_for_other_driver_versions_is_refused_with_the_range() {
    let mut sensor = driver(&[trusting_signer()]);
    let version = sensor.trust().sensor_version;
    let newer_only = Declaration {
        signer: signer().public_key(),
        ring: RING_GENERAL,
        sensor_min: version + 1,
        sensor_max: u32::MAX,
        content_version: 7,
    };
    refused_with(
        &sensor.load(&seal(&newer_only, &content(7), &signer())),
        Reason::Policy(PolicyRefusal::SensorVersion { sensor: version, min: version + 1, max: u32::MAX }),
    );
    let this_one = Declaration { sensor_min: version, sensor_max: version, ..newer_only };
    assert!(sensor.load(&seal(&this_one, &content(7), &signer())).accepted);
    sensor.shutdown();
}

#[test]
fn a_pinned_sensor_takes_exactly_its_version() {
    let mut sensor = driver(&[trusting_signer(), ("ContentPin", RegValue::Dword(7))]);
    refused_with(&sensor.load(&signed(8)), Reason::Policy(PolicyRefusal::Pinned { pinned: 7, offered: 8 }));
    assert!(sensor.load(&signed(7)).accepted);
    sensor.shutdown();
}

#[test]
fn n_minus_one_holds_back_the_newest_version_across_restarts_and_takes_the_one_before() {
    let parameters = [trusting_signer(), ("ContentPin", RegValue::Dword(u32::MAX))];
    let mut sensor = driver(&parameters);
    refused_with(&sensor.load(&signed(8)), Reason::Policy(PolicyRefusal::HeldBack { offered: 8, newest: 8 }));
    assert!(sensor.load(&signed(7)).accepted);
    assert_eq!(sensor.trust().newest_offered, 8);
    let disk = sensor.shutdown();
    let mut again = boot(&disk, &parameters);
    assert_eq!(again.stats().active_content_version, 7, "restored");
    refused_with(&again.load(&signed(8)), Reason::Policy(PolicyRefusal::HeldBack { offered: 8, newest: 8 }));
    refused_with(&again.load(&signed(9)), Reason::Policy(PolicyRefusal::HeldBack { offered: 9, newest: 9 }));
    assert!(again.load(&signed(8)).accepted, "once 9 is known, 8 is the one before");
    again.shutdown();
}

#[test]
fn an_envelope_declaring_another_version_than_its_content_is_refused() {
    let mut sensor = driver(&[trusting_signer()]);
    let lying = sealed_for(&content(7), 9, RING_GENERAL, &signer());
    refused_with(
        &sensor.load(&lying),
        Reason::Policy(PolicyRefusal::VersionMismatch { declared: 9, content: 7 }),
    );
    sensor.shutdown();
}
