//! The trust policy: which content a sensor takes, as pure functions of the
//! sensor's settings and what the content declares.
//!
//! Admission runs in this order, and the first refusal is the answer:
//! 1. [`authenticate`]: an envelope must be well-formed and signed by a
//!    trusted key; unsigned content passes only when the policy accepts it;
//! 2. validation (ringfence-content, outside this crate);
//! 3. [`decide`]: version agreement, ring, supported sensor versions, pin.
//!
//! Rings: content declares the last rollout ring it is released to; a sensor
//! in ring `S` takes content released to ring `S` or later (canary machines,
//! ring 0, take everything; [`RING_GENERAL`], the default, only content
//! released to everyone). Unsigned content declares nothing and is taken on
//! every ring and sensor version: a machine that accepts it has opted out of
//! rollout control (development only).

use crate::envelope::{Declaration, Envelope, EnvelopeError, is_envelope};
use crate::keys::TrustedKeys;
use crate::signature::{self, SignatureError};

/// The ring of content released to every machine, and of a sensor whose ring is not set.
pub const RING_GENERAL: u32 = u32::MAX;

/// Whether content must be signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignaturePolicy {
    /// Only envelopes signed by a trusted key are taken.
    Required,
    /// Unsigned content is taken too (a signed envelope must still verify).
    AcceptUnsigned,
}

/// Which content version the sensor takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pin {
    /// Any version (the newest pushed wins).
    Follow,
    /// Exactly this version.
    Version(u32),
    /// N−1: only a version older than the newest one the sensor has been
    /// offered, so the machine runs one release behind the newest.
    Previous,
}

/// The `Parameters\ContentPin` value that means [`Pin::Previous`]; 0 means [`Pin::Follow`].
pub const PIN_PREVIOUS: u32 = u32::MAX;

impl Pin {
    /// The pin a `ContentPin` DWORD stands for.
    pub const fn from_dword(value: u32) -> Pin {
        match value {
            0 => Pin::Follow,
            PIN_PREVIOUS => Pin::Previous,
            version => Pin::Version(version),
        }
    }

    pub const fn to_dword(self) -> u32 {
        match self {
            Pin::Follow => 0,
            Pin::Previous => PIN_PREVIOUS,
            Pin::Version(version) => version,
        }
    }
}

/// The sensor's settings, read from its service parameters when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    pub signatures: SignaturePolicy,
    pub ring: u32,
    pub pin: Pin,
    /// The running driver's version (`driver_version` encoding).
    pub sensor_version: u32,
}

/// Why the signature stage refused the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    Envelope(EnvelopeError),
    /// Signed content is required and these bytes are not an envelope.
    Unsigned,
    Signature(SignatureError),
}

/// Bytes that passed the signature stage: the content to validate and, when
/// it came in an envelope, what the signer declared.
#[derive(Clone, Copy, Debug)]
pub struct Authentic<'a> {
    pub content: &'a [u8],
    pub declaration: Option<Declaration>,
}

/// The signature stage. An envelope is checked and verified whatever the
/// policy; anything else is unsigned content, taken only under
/// [`SignaturePolicy::AcceptUnsigned`].
pub fn authenticate<'a>(
    bytes: &'a [u8],
    trusted: &TrustedKeys,
    signatures: SignaturePolicy,
) -> Result<Authentic<'a>, AuthError> {
    if !is_envelope(bytes) {
        return match signatures {
            SignaturePolicy::AcceptUnsigned => Ok(Authentic { content: bytes, declaration: None }),
            SignaturePolicy::Required => Err(AuthError::Unsigned),
        };
    }
    let envelope = Envelope::new_checked(bytes).map_err(AuthError::Envelope)?;
    let verified = signature::verify(&envelope, trusted).map_err(AuthError::Signature)?;
    Ok(Authentic { content: verified.content, declaration: Some(verified.declaration) })
}

/// Why the policy stage refused validated content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyRefusal {
    /// The envelope declares another content version than the content's own header.
    VersionMismatch { declared: u32, content: u32 },
    /// The content is not yet released to the sensor's ring.
    RingNotReleased { released_to: u32, sensor_ring: u32 },
    /// The content does not support this driver version.
    SensorVersion { sensor: u32, min: u32, max: u32 },
    /// The sensor is pinned to another version.
    Pinned { pinned: u32, offered: u32 },
    /// N−1: this is the newest version offered so far; an older one is taken.
    HeldBack { offered: u32, newest: u32 },
}

/// The policy's answer and the newest version offered once this offer is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Result<(), PolicyRefusal>,
    /// What the sensor should remember as the newest version it has been offered.
    pub newest_offered: u32,
}

/// The policy stage over validated content whose header says `content_version`.
/// An offer counts towards `newest_offered` once it is in the sensor's ring and
/// version range, whatever the pin then says.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn decide(
    policy: &Policy,
    declaration: Option<&Declaration>,
    content_version: u32,
    newest_offered: u32,
) -> Judgement {
    let refuse = |refusal| Judgement { verdict: Err(refusal), newest_offered };
    if let Some(d) = declaration {
        if d.content_version != content_version {
            return refuse(PolicyRefusal::VersionMismatch {
                declared: d.content_version,
                content: content_version,
            });
        }
        if d.ring < policy.ring {
            return refuse(PolicyRefusal::RingNotReleased { released_to: d.ring, sensor_ring: policy.ring });
        }
        if !(d.sensor_min..=d.sensor_max).contains(&policy.sensor_version) {
            let (min, max) = (d.sensor_min, d.sensor_max);
            return refuse(PolicyRefusal::SensorVersion { sensor: policy.sensor_version, min, max });
        }
    }
    let newest = newest_offered.max(content_version);
    let verdict = match policy.pin {
        Pin::Follow => Ok(()),
        Pin::Version(pinned) if pinned == content_version => Ok(()),
        Pin::Version(pinned) => Err(PolicyRefusal::Pinned { pinned, offered: content_version }),
        Pin::Previous if content_version < newest => Ok(()),
        Pin::Previous => Err(PolicyRefusal::HeldBack { offered: content_version, newest }),
    };
    Judgement { verdict, newest_offered: newest }
}
