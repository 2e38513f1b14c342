//! Every trust reason round-trips through (code, offset, args), has a code of
//! its own in the trust range, and reads as a sentence.

use ringfence_trust::envelope::EnvelopeErrorKind as E;
use ringfence_trust::reason::is_trust_reason;
use ringfence_trust::{
    AuthError, EnvelopeError, KeyId, PersistStep, PolicyRefusal, REASON_BASE, Reason, SignatureError, Slot,
};

fn every_reason() -> Vec<Reason> {
    let envelope = |offset, kind| Reason::Auth(AuthError::Envelope(EnvelopeError { offset, kind }));
    vec![
        envelope(3, E::Truncated { needed: 64, available: 3 }),
        envelope(0, E::BadMagic),
        envelope(4, E::UnsupportedFormat { found: 9 }),
        envelope(60, E::NonZeroReserved),
        envelope(200, E::TrailingBytes { expected: 200, actual: 201 }),
        envelope(44, E::EmptySensorRange { min: 5, max: 4 }),
        Reason::Auth(AuthError::Unsigned),
        Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner {
            key: KeyId([1, 2, 3, 4, 5, 6, 7, 8]),
            trusted: 2,
        })),
        Reason::Auth(AuthError::Signature(SignatureError::Malformed)),
        Reason::Auth(AuthError::Signature(SignatureError::Mismatch)),
        Reason::Policy(PolicyRefusal::VersionMismatch { declared: 4, content: 5 }),
        Reason::Policy(PolicyRefusal::RingNotReleased { released_to: 1, sensor_ring: 2 }),
        Reason::Policy(PolicyRefusal::SensorVersion { sensor: 0x10200, min: 0x20000, max: 0x30000 }),
        Reason::Policy(PolicyRefusal::Pinned { pinned: 3, offered: 4 }),
        Reason::Policy(PolicyRefusal::HeldBack { offered: 4, newest: 4 }),
        Reason::NotPersisted { step: PersistStep::Flush, status: 0xC000_00B5_u32 as i32 },
        Reason::CrashLoop { slot: Slot::Trial, starts: 2, threshold: 2 },
        Reason::PersistedMissing { slot: Slot::LastKnownGood },
        Reason::PersistedUnreadable { slot: Slot::Trial, status: 0xC000_0185_u32 as i32 },
        Reason::PersistedTooLarge { slot: Slot::LastKnownGood, size: 1 << 30, max: 1 << 24 },
        Reason::Restored { slot: Slot::Trial },
        Reason::Promoted,
    ]
}

#[test]
fn every_reason_round_trips_through_its_wire_form() {
    for reason in every_reason() {
        assert_eq!(
            Reason::from_wire(reason.code(), reason.offset(), reason.args()),
            Some(reason),
            "{reason:?}"
        );
    }
}

#[test]
fn every_reason_has_its_own_code_in_the_trust_range() {
    let mut codes: Vec<u32> = every_reason().iter().map(Reason::code).collect();
    assert!(codes.iter().all(|&c| is_trust_reason(c) && c >= REASON_BASE), "{codes:x?}");
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), every_reason().len());
    assert!(!is_trust_reason(46), "validator codes are below the trust range");
}

#[test]
fn unknown_codes_and_out_of_range_arguments_do_not_rebuild() {
    assert_eq!(Reason::from_wire(0x1FFF, 0, [0; 4]), None);
    assert_eq!(Reason::from_wire(0x1040, 0, [3, 2, 2, 0]), None, "slot 3 does not exist");
    assert_eq!(Reason::from_wire(0x1030, 0, [0, 0, 0, 0]), None, "step 0 does not exist");
    assert_eq!(Reason::from_wire(0x1003, 4, [70_000, 0, 0, 0]), None, "a format number wider than u16");
}

#[test]
fn reasons_read_as_sentences_with_their_numbers() {
    let text = |r: Reason| r.to_string();
    assert_eq!(
        text(Reason::Policy(PolicyRefusal::RingNotReleased { released_to: 0, sensor_ring: u32::MAX })),
        "the content is released up to ring 0, and this sensor is in ring general"
    );
    assert_eq!(
        text(Reason::Policy(PolicyRefusal::SensorVersion { sensor: 0x10200, min: 0x20000, max: 0x2FFFF })),
        "the content supports driver versions 2.0.0 to 2.255.255, and this driver is 1.2.0"
    );
    assert_eq!(
        text(Reason::CrashLoop { slot: Slot::Trial, starts: 2, threshold: 2 }),
        "the content on trial was loaded at 2 starts in a row that did not run healthily (threshold 2): the \
         crash-loop guard stepped past it"
    );
    assert!(
        text(Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner {
            key: KeyId([0xab, 0xcd, 0, 0, 0, 0, 0, 1]),
            trusted: 1
        })))
        .contains("abcd000000000001")
    );
}
