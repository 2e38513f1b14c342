//! The content-trust parameters of the service's `Parameters` key, read once at
//! DriverEntry, each checked: a value of the wrong type or out of range falls
//! back to its default and is noted (`Notes::TRUST_PARAM_INVALID`).
//!
//! | value                  | type       | default | meaning |
//! |------------------------|------------|---------|---------|
//! | `RequireSignedContent` | REG_DWORD  | 1 when any key is trusted, else 0 | 1: only signed content; 0: unsigned content too |
//! | `TrustedKeys`          | REG_BINARY | none    | Ed25519 public keys, 32 bytes each, at most 16 |
//! | `Ring`                 | REG_DWORD  | 0xFFFFFFFF (general) | the rollout ring this machine is in |
//! | `ContentPin`           | REG_DWORD  | 0 (follow) | a content version, or 0xFFFFFFFF for N−1 |
//! | `CrashLoopThreshold`   | REG_DWORD  | 2       | unhealthy starts in a row before the guard steps down (1–16) |
//! | `TrialEvents`          | REG_DWORD  | 1000    | events content must evaluate to be healthy |
//! | `TrialSeconds`         | REG_DWORD  | 300     | seconds content must run to be healthy |
//!
//! Keys built into the image come from `RINGFENCE_TRUSTED_KEYS` at build time
//! (hex, comma-separated); the build fails if it is not a list of 64-digit hex keys.

use crate::admission::TrustSettings;
use crate::guard::THRESHOLD_DEFAULT;
use crate::health::HealthCriteria;
use crate::params::{REG_DWORD, RegValue};
use ringfence_trust::{KeySource, Pin, SignaturePolicy};
use ringfence_wire::ioctl::Notes;

pub const REQUIRE_SIGNED_CONTENT: &str = "RequireSignedContent";
pub const TRUSTED_KEYS: &str = "TrustedKeys";
pub const RING: &str = "Ring";
pub const CONTENT_PIN: &str = "ContentPin";
pub const CRASH_LOOP_THRESHOLD: &str = "CrashLoopThreshold";
pub const TRIAL_EVENTS: &str = "TrialEvents";
pub const TRIAL_SECONDS: &str = "TrialSeconds";

/// Every value this module reads, for the kernel's registry reader.
pub const VALUE_NAMES: [&str; 7] = [
    REQUIRE_SIGNED_CONTENT,
    TRUSTED_KEYS,
    RING,
    CONTENT_PIN,
    CRASH_LOOP_THRESHOLD,
    TRIAL_EVENTS,
    TRIAL_SECONDS,
];

/// `REG_BINARY`.
pub const REG_BINARY: u32 = 3;
/// The largest `TrustedKeys` value read (16 keys).
pub const TRUSTED_KEYS_MAX_BYTES: usize = ringfence_trust::MAX_TRUSTED_KEYS * 32;
pub const THRESHOLD_MAX: u32 = 16;

/// The keys built into this image.
pub const BUILT_IN_KEYS: &str = match option_env!("RINGFENCE_TRUSTED_KEYS") {
    Some(keys) => keys,
    None => "",
};

/// Whether `list` is comma-separated 64-digit hex keys (spaces around commas allowed).
/// Evaluated at compile time for the built-in list (an out-of-range index would be a build
/// error, not a runtime panic), and in tests.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn hex_list_well_formed(list: &str) -> bool {
    let bytes = list.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => digits += 1,
            b',' => {
                if digits != 64 && digits != 0 {
                    return false;
                }
                digits = 0;
            }
            b' ' => {}
            _ => return false,
        }
        i += 1;
    }
    digits == 64 || digits == 0
}

const _: () = assert!(
    hex_list_well_formed(BUILT_IN_KEYS),
    "RINGFENCE_TRUSTED_KEYS: 64-digit hex keys, comma-separated"
);

/// Everything DriverEntry needs to start trusting content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustParameters {
    pub settings: TrustSettings,
    pub threshold: u32,
    pub health: HealthCriteria,
    pub notes: Notes,
}

fn dword(value: Option<RegValue<'_>>, notes: &mut Notes) -> Option<u32> {
    let value = value?;
    match (value.ty, <[u8; 4]>::try_from(value.data)) {
        (REG_DWORD, Ok(bytes)) => Some(u32::from_le_bytes(bytes)),
        _ => {
            *notes = notes.union(Notes::TRUST_PARAM_INVALID);
            None
        }
    }
}

/// The trust parameters from `read(name)` (a value of the `Parameters` key; `None`: absent).
pub fn trust_parameters<'a>(read: impl Fn(&str) -> Option<RegValue<'a>>) -> TrustParameters {
    let mut notes = Notes::NONE;
    let mut settings = TrustSettings::default();
    if settings.keys.add_hex_list(BUILT_IN_KEYS, KeySource::BuiltIn).is_err() {
        notes = notes.union(Notes::TRUSTED_KEYS_INVALID);
    }
    if let Some(value) = read(TRUSTED_KEYS) {
        let refused = value.ty != REG_BINARY
            || value.data.len() > TRUSTED_KEYS_MAX_BYTES
            || settings.keys.add_blob(value.data, KeySource::Provisioned).is_err();
        if refused {
            notes = notes.union(Notes::TRUSTED_KEYS_INVALID);
        }
    }
    let keys_trusted = !settings.keys.is_empty();
    settings.policy.signatures = match dword(read(REQUIRE_SIGNED_CONTENT), &mut notes) {
        Some(0) => SignaturePolicy::AcceptUnsigned,
        Some(1) => SignaturePolicy::Required,
        Some(_) => {
            notes = notes.union(Notes::TRUST_PARAM_INVALID);
            SignaturePolicy::Required
        }
        None if keys_trusted => SignaturePolicy::Required,
        None => SignaturePolicy::AcceptUnsigned,
    };
    if let Some(ring) = dword(read(RING), &mut notes) {
        settings.policy.ring = ring;
    }
    if let Some(pin) = dword(read(CONTENT_PIN), &mut notes) {
        settings.policy.pin = Pin::from_dword(pin);
    }
    let threshold = match dword(read(CRASH_LOOP_THRESHOLD), &mut notes) {
        Some(t @ 1..=THRESHOLD_MAX) => t,
        Some(_) => {
            notes = notes.union(Notes::TRUST_PARAM_INVALID);
            THRESHOLD_DEFAULT
        }
        None => THRESHOLD_DEFAULT,
    };
    let mut health = HealthCriteria::default();
    if let Some(events) = dword(read(TRIAL_EVENTS), &mut notes) {
        health.events = u64::from(events);
    }
    if let Some(seconds) = dword(read(TRIAL_SECONDS), &mut notes) {
        health.seconds = u64::from(seconds);
    }
    TrustParameters { settings, threshold, health, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringfence_trust::{RING_GENERAL, SigningKey};

    fn read_from<'a>(values: &'a [(&'a str, u32, &'a [u8])]) -> impl Fn(&str) -> Option<RegValue<'a>> {
        move |name| values.iter().find(|(n, _, _)| *n == name).map(|&(_, ty, data)| RegValue { ty, data })
    }

    #[test]
    fn no_parameters_accept_unsigned_content_on_the_general_ring_with_the_documented_defaults() {
        let p = trust_parameters(|_| None);
        assert_eq!(p.settings, TrustSettings::default());
        assert_eq!(p.settings.policy.signatures, SignaturePolicy::AcceptUnsigned);
        assert_eq!(p.settings.policy.ring, RING_GENERAL);
        assert_eq!(
            (p.threshold, p.health, p.notes),
            (2, HealthCriteria { events: 1000, seconds: 300 }, Notes::NONE)
        );
    }

    #[test]
    fn a_provisioned_key_makes_signatures_required_unless_explicitly_switched_off() {
        let key = SigningKey::from_seed([3; 32]).unwrap().public_key();
        let with_key = [(TRUSTED_KEYS, REG_BINARY, &key[..])];
        let p = trust_parameters(read_from(&with_key));
        assert_eq!((p.settings.policy.signatures, p.settings.keys.len()), (SignaturePolicy::Required, 1));
        let off = 0u32.to_le_bytes();
        let switched = [(TRUSTED_KEYS, REG_BINARY, &key[..]), (REQUIRE_SIGNED_CONTENT, REG_DWORD, &off[..])];
        assert_eq!(
            trust_parameters(read_from(&switched)).settings.policy.signatures,
            SignaturePolicy::AcceptUnsigned
        );
        let on = 1u32.to_le_bytes();
        let keyless = [(REQUIRE_SIGNED_CONTENT, REG_DWORD, &on[..])];
        assert_eq!(
            trust_parameters(read_from(&keyless)).settings.policy.signatures,
            SignaturePolicy::Required
        );
    }

    #[test]
    fn ring_pin_threshold_and_health_are_read_as_dwords() {
        let (ring, pin, threshold, events, seconds) = (
            2u32.to_le_bytes(),
            u32::MAX.to_le_bytes(),
            3u32.to_le_bytes(),
            10u32.to_le_bytes(),
            0u32.to_le_bytes(),
        );
        let values = [
            (RING, REG_DWORD, &ring[..]),
            (CONTENT_PIN, REG_DWORD, &pin[..]),
            (CRASH_LOOP_THRESHOLD, REG_DWORD, &threshold[..]),
            (TRIAL_EVENTS, REG_DWORD, &events[..]),
            (TRIAL_SECONDS, REG_DWORD, &seconds[..]),
        ];
        let p = trust_parameters(read_from(&values));
        assert_eq!((p.settings.policy.ring, p.settings.policy.pin), (2, Pin::Previous));
        assert_eq!(
            (p.threshold, p.health, p.notes),
            (3, HealthCriteria { events: 10, seconds: 0 }, Notes::NONE)
        );
    }

    #[test]
    fn bad_values_fall_back_to_their_defaults_and_are_noted() {
        let (zero, two, qword) = (0u32.to_le_bytes(), 2u32.to_le_bytes(), [0u8; 8]);
        let values = [
            (CRASH_LOOP_THRESHOLD, REG_DWORD, &zero[..]),
            (REQUIRE_SIGNED_CONTENT, REG_DWORD, &two[..]),
            (RING, REG_BINARY, &qword[..]),
        ];
        let p = trust_parameters(read_from(&values));
        assert_eq!(p.threshold, THRESHOLD_DEFAULT);
        assert_eq!(
            p.settings.policy.signatures,
            SignaturePolicy::Required,
            "an unknown value errs on the safe side"
        );
        assert_eq!(p.settings.policy.ring, RING_GENERAL);
        assert_eq!(p.notes, Notes::TRUST_PARAM_INVALID);
        let bad_keys = [(TRUSTED_KEYS, REG_BINARY, &qword[..])];
        let p = trust_parameters(read_from(&bad_keys));
        assert_eq!((p.settings.keys.len(), p.notes), (0, Notes::TRUSTED_KEYS_INVALID));
    }

    #[test]
    fn the_built_in_key_list_check_accepts_lists_and_refuses_anything_else() {
        let key = "ab".repeat(32);
        assert!(hex_list_well_formed(""));
        assert!(hex_list_well_formed(&key));
        assert!(hex_list_well_formed(&format!("{key}, {key}")));
        assert!(!hex_list_well_formed(&key[..62]));
        assert!(!hex_list_well_formed(&format!("{key};{key}")));
    }
}
