//! The policy decision: rings, supported sensor versions and pins refuse and
//! accept exactly as documented in `ringfence_trust::policy`.

use ringfence_trust::{
    Declaration, Judgement, Pin, Policy, PolicyRefusal, RING_GENERAL, SignaturePolicy, decide,
};

const SENSOR: u32 = 0x0001_0200; // 1.2.0

fn policy(ring: u32, pin: Pin) -> Policy {
    Policy { signatures: SignaturePolicy::Required, ring, pin, sensor_version: SENSOR }
}

fn declared(ring: u32, min: u32, max: u32, version: u32) -> Declaration {
    Declaration { signer: [0; 32], ring, sensor_min: min, sensor_max: max, content_version: version }
}

fn verdict(p: &Policy, d: Option<&Declaration>, version: u32, newest: u32) -> Result<(), PolicyRefusal> {
    decide(p, d, version, newest).verdict
}

#[test]
fn a_sensor_takes_content_released_to_its_ring_or_a_later_one_and_refuses_earlier_rings() {
    let cases = [
        (0, 0, true),
        (0, 2, true),
        (0, RING_GENERAL, true),
        (2, 1, false),
        (2, 2, true),
        (2, 3, true),
        (RING_GENERAL, 5, false),
        (RING_GENERAL, RING_GENERAL, true),
    ];
    for (sensor_ring, released_to, taken) in cases {
        let d = declared(released_to, 0, u32::MAX, 4);
        let got = verdict(&policy(sensor_ring, Pin::Follow), Some(&d), 4, 0);
        let expected =
            if taken { Ok(()) } else { Err(PolicyRefusal::RingNotReleased { released_to, sensor_ring }) };
        assert_eq!(got, expected, "sensor ring {sensor_ring}, content released to {released_to}");
    }
}

#[test]
fn content_outside_its_supported_sensor_versions_is_refused_with_the_range() {
    let p = policy(0, Pin::Follow);
    for (min, max, taken) in [(SENSOR, SENSOR, true), (0, SENSOR - 1, false), (SENSOR + 1, u32::MAX, false)] {
        let got = verdict(&p, Some(&declared(0, min, max, 4)), 4, 0);
        let expected =
            if taken { Ok(()) } else { Err(PolicyRefusal::SensorVersion { sensor: SENSOR, min, max }) };
        assert_eq!(got, expected, "{min:#x}..={max:#x}");
    }
}

#[test]
fn an_envelope_that_declares_another_version_than_its_content_is_refused_first() {
    let d = declared(0, SENSOR + 1, SENSOR + 1, 5);
    let got = verdict(&policy(7, Pin::Version(9)), Some(&d), 4, 0);
    assert_eq!(got, Err(PolicyRefusal::VersionMismatch { declared: 5, content: 4 }));
}

#[test]
fn a_pinned_sensor_takes_exactly_its_version() {
    let p = policy(0, Pin::Version(12));
    assert_eq!(verdict(&p, None, 12, 0), Ok(()));
    assert_eq!(verdict(&p, None, 13, 0), Err(PolicyRefusal::Pinned { pinned: 12, offered: 13 }));
    assert_eq!(verdict(&p, None, 11, 0), Err(PolicyRefusal::Pinned { pinned: 12, offered: 11 }));
}

#[test]
fn n_minus_one_holds_back_the_newest_offer_and_takes_an_older_one() {
    let p = policy(0, Pin::Previous);
    // Nothing offered before: version 12 is the newest, held back, and remembered.
    assert_eq!(
        decide(&p, None, 12, 0),
        Judgement { verdict: Err(PolicyRefusal::HeldBack { offered: 12, newest: 12 }), newest_offered: 12 }
    );
    assert_eq!(decide(&p, None, 11, 12), Judgement { verdict: Ok(()), newest_offered: 12 });
    assert_eq!(
        decide(&p, None, 12, 12),
        Judgement { verdict: Err(PolicyRefusal::HeldBack { offered: 12, newest: 12 }), newest_offered: 12 }
    );
    assert_eq!(
        decide(&p, None, 13, 12),
        Judgement { verdict: Err(PolicyRefusal::HeldBack { offered: 13, newest: 13 }), newest_offered: 13 }
    );
    assert_eq!(decide(&p, None, 12, 13), Judgement { verdict: Ok(()), newest_offered: 13 });
}

#[test]
fn an_offer_outside_ring_or_range_does_not_count_as_offered() {
    let p = policy(3, Pin::Previous);
    let early = declared(1, 0, u32::MAX, 20);
    assert_eq!(decide(&p, Some(&early), 20, 12).newest_offered, 12);
    let follow = policy(0, Pin::Follow);
    assert_eq!(decide(&follow, None, 20, 12), Judgement { verdict: Ok(()), newest_offered: 20 });
}

#[test]
fn unsigned_content_is_taken_on_every_ring_but_still_obeys_the_pin() {
    assert_eq!(verdict(&policy(RING_GENERAL, Pin::Follow), None, 3, 0), Ok(()));
    assert_eq!(
        verdict(&policy(RING_GENERAL, Pin::Version(4)), None, 3, 0),
        Err(PolicyRefusal::Pinned { pinned: 4, offered: 3 })
    );
}

#[test]
fn the_pin_dword_means_follow_previous_or_a_version() {
    assert_eq!(Pin::from_dword(0), Pin::Follow);
    assert_eq!(Pin::from_dword(u32::MAX), Pin::Previous);
    assert_eq!(Pin::from_dword(12), Pin::Version(12));
    for pin in [Pin::Follow, Pin::Previous, Pin::Version(1), Pin::Version(u32::MAX - 1)] {
        assert_eq!(Pin::from_dword(pin.to_dword()), pin);
    }
}
