//! Every trust reason as it travels: a stable code, a byte offset and four
//! `u32` arguments, in the same `LOAD_CONTENT` answer and `ContentChanged`
//! record fields that carry the validator's reasons. Codes below
//! [`REASON_BASE`] are the validator's; codes from it on are this crate's,
//! so one number names one reason whichever stage gave it.

use crate::envelope::{EnvelopeError, EnvelopeErrorKind};
use crate::keys::KeyId;
use crate::policy::{AuthError, PolicyRefusal};
use crate::signature::SignatureError;

/// The first trust reason code; every validator code is below it.
pub const REASON_BASE: u32 = 0x1000;
/// One past the last code this crate may use.
pub const REASON_END: u32 = 0x2000;

/// Whether `code` is a trust reason (rather than the validator's).
pub const fn is_trust_reason(code: u32) -> bool {
    code >= REASON_BASE && code < REASON_END
}

/// A persisted content file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The last accepted load, on trial until it has run healthily.
    Trial = 1,
    /// The last content that passed its trial.
    LastKnownGood = 2,
}

impl Slot {
    pub const fn from_u32(value: u32) -> Option<Slot> {
        match value {
            1 => Some(Slot::Trial),
            2 => Some(Slot::LastKnownGood),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Slot::Trial => "the content on trial",
            Slot::LastKnownGood => "the last-known-good content",
        }
    }
}

/// Which step of persisting accepted content failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersistStep {
    /// Creating the directory or the temporary file.
    Create = 1,
    Write = 2,
    Flush = 3,
    /// Renaming the temporary file over the persisted one.
    Rename = 4,
    /// Recording the new state in the service key.
    Registry = 5,
    /// No memory for a copy of the content.
    Memory = 6,
}

impl PersistStep {
    pub const fn from_u32(value: u32) -> Option<PersistStep> {
        Some(match value {
            1 => PersistStep::Create,
            2 => PersistStep::Write,
            3 => PersistStep::Flush,
            4 => PersistStep::Rename,
            5 => PersistStep::Registry,
            6 => PersistStep::Memory,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            PersistStep::Create => "creating the file",
            PersistStep::Write => "writing it",
            PersistStep::Flush => "flushing it to disk",
            PersistStep::Rename => "renaming it into place",
            PersistStep::Registry => "recording it in the service key",
            PersistStep::Memory => "allocating memory for it",
        }
    }
}

/// A trust reason: why content was refused, or (for [`Reason::Restored`]) where
/// the content a start loaded came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Auth(AuthError),
    Policy(PolicyRefusal),
    /// Accepted content could not be persisted; nothing changed.
    NotPersisted {
        step: PersistStep,
        status: i32,
    },
    /// At start: `starts` starts in a row with this content did not run
    /// healthily (at or past `threshold`), so the guard stepped down.
    CrashLoop {
        slot: Slot,
        starts: u32,
        threshold: u32,
    },
    /// At start: the state names a persisted file that is not there.
    PersistedMissing {
        slot: Slot,
    },
    /// At start: the persisted file could not be read.
    PersistedUnreadable {
        slot: Slot,
        status: i32,
    },
    /// At start: the persisted file is larger than any content can be.
    PersistedTooLarge {
        slot: Slot,
        size: u32,
        max: u32,
    },
    /// At start: this persisted content was loaded (an accepted record).
    Restored {
        slot: Slot,
    },
    /// The content on trial ran healthily and is now the last-known-good (an accepted record).
    Promoted,
}

mod code {
    pub(super) const ENVELOPE_TRUNCATED: u32 = 0x1001;
    pub(super) const ENVELOPE_BAD_MAGIC: u32 = 0x1002;
    pub(super) const ENVELOPE_FORMAT: u32 = 0x1003;
    pub(super) const ENVELOPE_RESERVED: u32 = 0x1004;
    pub(super) const ENVELOPE_TRAILING: u32 = 0x1005;
    pub(super) const ENVELOPE_SENSOR_RANGE: u32 = 0x1006;
    pub(super) const UNSIGNED: u32 = 0x1010;
    pub(super) const UNTRUSTED_SIGNER: u32 = 0x1011;
    pub(super) const SIGNATURE_MALFORMED: u32 = 0x1012;
    pub(super) const SIGNATURE_MISMATCH: u32 = 0x1013;
    pub(super) const VERSION_MISMATCH: u32 = 0x1020;
    pub(super) const RING: u32 = 0x1021;
    pub(super) const SENSOR_VERSION: u32 = 0x1022;
    pub(super) const PINNED: u32 = 0x1023;
    pub(super) const HELD_BACK: u32 = 0x1024;
    pub(super) const NOT_PERSISTED: u32 = 0x1030;
    pub(super) const CRASH_LOOP: u32 = 0x1040;
    pub(super) const PERSISTED_MISSING: u32 = 0x1041;
    pub(super) const PERSISTED_UNREADABLE: u32 = 0x1042;
    pub(super) const PERSISTED_TOO_LARGE: u32 = 0x1043;
    pub(super) const RESTORED: u32 = 0x1050;
    pub(super) const PROMOTED: u32 = 0x1051;
}

fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn status_bits(status: i32) -> u32 {
    u32::from_ne_bytes(status.to_ne_bytes())
}

fn status_of(bits: u32) -> i32 {
    i32::from_ne_bytes(bits.to_ne_bytes())
}

impl Reason {
    /// The stable number sent over the wire.
    pub fn code(&self) -> u32 {
        use EnvelopeErrorKind as E;
        match self {
            Reason::Auth(AuthError::Envelope(e)) => match e.kind {
                E::Truncated { .. } => code::ENVELOPE_TRUNCATED,
                E::BadMagic => code::ENVELOPE_BAD_MAGIC,
                E::UnsupportedFormat { .. } => code::ENVELOPE_FORMAT,
                E::NonZeroReserved => code::ENVELOPE_RESERVED,
                E::TrailingBytes { .. } => code::ENVELOPE_TRAILING,
                E::EmptySensorRange { .. } => code::ENVELOPE_SENSOR_RANGE,
            },
            Reason::Auth(AuthError::Unsigned) => code::UNSIGNED,
            Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner { .. })) => {
                code::UNTRUSTED_SIGNER
            }
            Reason::Auth(AuthError::Signature(SignatureError::Malformed)) => code::SIGNATURE_MALFORMED,
            Reason::Auth(AuthError::Signature(SignatureError::Mismatch)) => code::SIGNATURE_MISMATCH,
            Reason::Policy(PolicyRefusal::VersionMismatch { .. }) => code::VERSION_MISMATCH,
            Reason::Policy(PolicyRefusal::RingNotReleased { .. }) => code::RING,
            Reason::Policy(PolicyRefusal::SensorVersion { .. }) => code::SENSOR_VERSION,
            Reason::Policy(PolicyRefusal::Pinned { .. }) => code::PINNED,
            Reason::Policy(PolicyRefusal::HeldBack { .. }) => code::HELD_BACK,
            Reason::NotPersisted { .. } => code::NOT_PERSISTED,
            Reason::CrashLoop { .. } => code::CRASH_LOOP,
            Reason::PersistedMissing { .. } => code::PERSISTED_MISSING,
            Reason::PersistedUnreadable { .. } => code::PERSISTED_UNREADABLE,
            Reason::PersistedTooLarge { .. } => code::PERSISTED_TOO_LARGE,
            Reason::Restored { .. } => code::RESTORED,
            Reason::Promoted => code::PROMOTED,
        }
    }

    /// The byte offset the reason refers to (envelope errors only; 0 otherwise).
    pub fn offset(&self) -> u32 {
        match self {
            Reason::Auth(AuthError::Envelope(e)) => u32::try_from(e.offset).unwrap_or(u32::MAX),
            _ => 0,
        }
    }

    /// The reason's values, in declaration order, zero-filled.
    pub fn args(&self) -> [u32; 4] {
        use EnvelopeErrorKind as E;
        match *self {
            Reason::Auth(AuthError::Envelope(e)) => match e.kind {
                E::Truncated { needed, available } => [narrow(needed), narrow(available), 0, 0],
                E::BadMagic | E::NonZeroReserved => [0; 4],
                E::UnsupportedFormat { found } => [found.into(), 0, 0, 0],
                E::TrailingBytes { expected, actual } => [narrow(expected), narrow(actual), 0, 0],
                E::EmptySensorRange { min, max } => [min, max, 0, 0],
            },
            Reason::Auth(AuthError::Unsigned)
            | Reason::Promoted
            | Reason::Auth(AuthError::Signature(SignatureError::Malformed | SignatureError::Mismatch)) => {
                [0; 4]
            }
            Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner { key, trusted })) => {
                let [a, b] = key.words();
                [a, b, trusted, 0]
            }
            Reason::Policy(PolicyRefusal::VersionMismatch { declared, content }) => [declared, content, 0, 0],
            Reason::Policy(PolicyRefusal::RingNotReleased { released_to, sensor_ring }) => {
                [released_to, sensor_ring, 0, 0]
            }
            Reason::Policy(PolicyRefusal::SensorVersion { sensor, min, max }) => [sensor, min, max, 0],
            Reason::Policy(PolicyRefusal::Pinned { pinned, offered }) => [pinned, offered, 0, 0],
            Reason::Policy(PolicyRefusal::HeldBack { offered, newest }) => [offered, newest, 0, 0],
            Reason::NotPersisted { step, status } => [step as u32, status_bits(status), 0, 0],
            Reason::CrashLoop { slot, starts, threshold } => [slot as u32, starts, threshold, 0],
            Reason::PersistedMissing { slot } | Reason::Restored { slot } => [slot as u32, 0, 0, 0],
            Reason::PersistedUnreadable { slot, status } => [slot as u32, status_bits(status), 0, 0],
            Reason::PersistedTooLarge { slot, size, max } => [slot as u32, size, max, 0],
        }
    }

    /// Rebuilds a reason from what [`code`](Self::code), [`offset`](Self::offset)
    /// and [`args`](Self::args) produced; `None` for anything no sensor sends.
    pub fn from_wire(code: u32, offset: u32, args: [u32; 4]) -> Option<Reason> {
        use EnvelopeErrorKind as E;
        let [a, b, c, _] = args;
        let envelope = |kind| {
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            Some(Reason::Auth(AuthError::Envelope(EnvelopeError { offset, kind })))
        };
        let slot = || Slot::from_u32(a);
        match code {
            code::ENVELOPE_TRUNCATED => envelope(E::Truncated { needed: a.into(), available: b.into() }),
            code::ENVELOPE_BAD_MAGIC => envelope(E::BadMagic),
            code::ENVELOPE_FORMAT => envelope(E::UnsupportedFormat { found: u16::try_from(a).ok()? }),
            code::ENVELOPE_RESERVED => envelope(E::NonZeroReserved),
            code::ENVELOPE_TRAILING => envelope(E::TrailingBytes { expected: a.into(), actual: b.into() }),
            code::ENVELOPE_SENSOR_RANGE => envelope(E::EmptySensorRange { min: a, max: b }),
            code::UNSIGNED => Some(Reason::Auth(AuthError::Unsigned)),
            code::UNTRUSTED_SIGNER => {
                Some(Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner {
                    key: KeyId::from_words([a, b]),
                    trusted: c,
                })))
            }
            code::SIGNATURE_MALFORMED => Some(Reason::Auth(AuthError::Signature(SignatureError::Malformed))),
            code::SIGNATURE_MISMATCH => Some(Reason::Auth(AuthError::Signature(SignatureError::Mismatch))),
            code::VERSION_MISMATCH => {
                Some(Reason::Policy(PolicyRefusal::VersionMismatch { declared: a, content: b }))
            }
            code::RING => {
                Some(Reason::Policy(PolicyRefusal::RingNotReleased { released_to: a, sensor_ring: b }))
            }
            code::SENSOR_VERSION => {
                Some(Reason::Policy(PolicyRefusal::SensorVersion { sensor: a, min: b, max: c }))
            }
            code::PINNED => Some(Reason::Policy(PolicyRefusal::Pinned { pinned: a, offered: b })),
            code::HELD_BACK => Some(Reason::Policy(PolicyRefusal::HeldBack { offered: a, newest: b })),
            code::NOT_PERSISTED => {
                Some(Reason::NotPersisted { step: PersistStep::from_u32(a)?, status: status_of(b) })
            }
            code::CRASH_LOOP => Some(Reason::CrashLoop { slot: slot()?, starts: b, threshold: c }),
            code::PERSISTED_MISSING => Some(Reason::PersistedMissing { slot: slot()? }),
            code::PERSISTED_UNREADABLE => {
                Some(Reason::PersistedUnreadable { slot: slot()?, status: status_of(b) })
            }
            code::PERSISTED_TOO_LARGE => Some(Reason::PersistedTooLarge { slot: slot()?, size: b, max: c }),
            code::RESTORED => Some(Reason::Restored { slot: slot()? }),
            code::PROMOTED => Some(Reason::Promoted),
            _ => None,
        }
    }
}

impl From<AuthError> for Reason {
    fn from(e: AuthError) -> Self {
        Reason::Auth(e)
    }
}

impl From<PolicyRefusal> for Reason {
    fn from(e: PolicyRefusal) -> Self {
        Reason::Policy(e)
    }
}

/// A driver version (`major << 16 | minor << 8 | patch`) as `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorVersion(pub u32);

impl core::fmt::Display for SensorVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        write!(f, "{}.{}.{}", v >> 16, (v >> 8) & 0xFF, v & 0xFF)
    }
}

/// A ring in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingName(pub u32);

impl core::fmt::Display for RingName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == crate::policy::RING_GENERAL { f.write_str("general") } else { write!(f, "{}", self.0) }
    }
}

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use EnvelopeErrorKind as E;
        match *self {
            Reason::Auth(AuthError::Envelope(e)) => {
                write!(f, "signed envelope, byte {}: ", e.offset)?;
                match e.kind {
                    E::Truncated { needed, available } => {
                        write!(f, "truncated: {needed} bytes needed, {available} present")
                    }
                    E::BadMagic => f.write_str("not an envelope (bad magic)"),
                    E::UnsupportedFormat { found } => write!(f, "envelope format {found} is not supported"),
                    E::NonZeroReserved => f.write_str("a reserved field is not zero"),
                    E::TrailingBytes { expected, actual } => {
                        write!(f, "{actual} bytes where header, content and signature make {expected}")
                    }
                    E::EmptySensorRange { min, max } => write!(
                        f,
                        "declares sensor versions {} to {}, an empty range",
                        SensorVersion(min),
                        SensorVersion(max)
                    ),
                }
            }
            Reason::Auth(AuthError::Unsigned) => {
                f.write_str("the content is not signed, and this sensor takes signed content only")
            }
            Reason::Auth(AuthError::Signature(SignatureError::UntrustedSigner { key, trusted })) => write!(
                f,
                "the content is signed by key {key}, which is not among the {trusted} keys this sensor trusts"
            ),
            Reason::Auth(AuthError::Signature(SignatureError::Malformed)) => {
                f.write_str("the signature is malformed (not a canonical Ed25519 signature)")
            }
            Reason::Auth(AuthError::Signature(SignatureError::Mismatch)) => f.write_str(
                "the signature does not match the content: it was altered after signing, or signed by another key",
            ),
            Reason::Policy(PolicyRefusal::VersionMismatch { declared, content }) => write!(
                f,
                "the envelope declares content version {declared} but the content says {content}"
            ),
            Reason::Policy(PolicyRefusal::RingNotReleased { released_to, sensor_ring }) => write!(
                f,
                "the content is released up to ring {}, and this sensor is in ring {}",
                RingName(released_to),
                RingName(sensor_ring)
            ),
            Reason::Policy(PolicyRefusal::SensorVersion { sensor, min, max }) => write!(
                f,
                "the content supports driver versions {} to {}, and this driver is {}",
                SensorVersion(min),
                SensorVersion(max),
                SensorVersion(sensor)
            ),
            Reason::Policy(PolicyRefusal::Pinned { pinned, offered }) => write!(
                f,
                "this sensor is pinned to content version {pinned}; version {offered} is not taken"
            ),
            Reason::Policy(PolicyRefusal::HeldBack { offered, newest }) => write!(
                f,
                "this sensor runs one version behind (N-1): version {offered} is not older than {newest}, the \
                 newest it has been offered"
            ),
            Reason::NotPersisted { step, status } => write!(
                f,
                "the content could not be saved for the next start ({} failed with NTSTATUS {:#010x})",
                step.name(),
                status_bits(status)
            ),
            Reason::CrashLoop { slot, starts, threshold } => write!(
                f,
                "{} was loaded at {starts} starts in a row that did not run healthily (threshold {threshold}): \
                 the crash-loop guard stepped past it",
                slot.name()
            ),
            Reason::PersistedMissing { slot } => write!(f, "{} is missing from the driver's directory", slot.name()),
            Reason::PersistedUnreadable { slot, status } => {
                write!(f, "{} could not be read (NTSTATUS {:#010x})", slot.name(), status_bits(status))
            }
            Reason::PersistedTooLarge { slot, size, max } => {
                write!(f, "{} is {size} bytes, more than the {max} any content can be", slot.name())
            }
            Reason::Restored { slot } => write!(f, "restored {} when the driver started", slot.name()),
            Reason::Promoted => f.write_str("the content passed its trial and is now the last-known-good"),
        }
    }
}
