//! Admission: whether offered bytes become the active content. One path for a
//! `LOAD_CONTENT` and for a persisted file at DriverEntry, in this order:
//! signature (ringfence-trust) → validation (ringfence-content, the very
//! validator the companion runs) → policy (ring, sensor versions, pin). The
//! first refusal is the answer, with its own reason code.
//!
//! Validation dispatches on the content header's format version (offset 8): format 1's
//! validator for 1, format 2's for 2. Any other version goes to format 1's validator, whose
//! "unsupported format" reason names it (so does a header too short to say).

use crate::control::DRIVER_VERSION;
use ringfence_content::{ValidationError, format, v2, validate};
use ringfence_trust::envelope::{is_envelope, layout};
use ringfence_trust::{
    AuthError, Pin, Policy, RING_GENERAL, Reason, SignaturePolicy, TrustedKeys, authenticate, decide,
};
use ringfence_wire::schema::SCHEMA;

/// What the sensor trusts, read from its service parameters at DriverEntry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustSettings {
    pub policy: Policy,
    pub keys: TrustedKeys,
}

impl Default for TrustSettings {
    /// No keys and no parameters: unsigned content accepted, general ring, no pin.
    fn default() -> Self {
        TrustSettings {
            policy: Policy {
                signatures: SignaturePolicy::AcceptUnsigned,
                ring: RING_GENERAL,
                pin: Pin::Follow,
                sensor_version: DRIVER_VERSION,
            },
            keys: TrustedKeys::new(),
        }
    }
}

/// Why offered bytes were refused: the validator's reason or a trust reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Validation(ValidationError),
    /// Format 2's validator refused the content (reason codes from `v2::wire::REASON_BASE`).
    Validation2(v2::ValidationError),
    Trust(Reason),
}

impl Refusal {
    /// The reason code: the validator's codes lie below `ringfence_trust::REASON_BASE`.
    pub fn code(&self) -> u32 {
        match self {
            Refusal::Validation(e) => e.code(),
            Refusal::Validation2(e) => e.code(),
            Refusal::Trust(r) => r.code(),
        }
    }

    /// Byte offset: in the content for the validator, in the envelope for envelope errors.
    pub fn offset(&self) -> u32 {
        match self {
            Refusal::Validation(e) => u32::try_from(e.offset).unwrap_or(u32::MAX),
            Refusal::Validation2(e) => u32::try_from(e.offset).unwrap_or(u32::MAX),
            Refusal::Trust(r) => r.offset(),
        }
    }

    pub fn args(&self) -> [u32; 4] {
        match self {
            Refusal::Validation(e) => e.args(),
            Refusal::Validation2(e) => e.args(),
            Refusal::Trust(r) => r.args(),
        }
    }
}

impl From<Reason> for Refusal {
    fn from(reason: Reason) -> Self {
        Refusal::Trust(reason)
    }
}

/// Bytes that passed all three stages, still where they were offered.
#[derive(Clone, Copy, Debug)]
pub struct Admitted<'a> {
    /// Everything offered (the envelope, or unsigned content): what is persisted.
    pub bytes: &'a [u8],
    /// Where the validated content starts in `bytes`.
    pub content_offset: usize,
    pub content_len: usize,
    pub version: u32,
    pub format: Format,
}

/// The content format admitted bytes are in (the header's format version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Format {
    One = 1,
    Two = 2,
}

/// The format version a content header declares (offset 8), 0 when too short to say.
pub fn header_format(bytes: &[u8]) -> u16 {
    let at = format::header::FORMAT_VERSION;
    at.checked_add(2)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map_or(0, u16::from_le_bytes)
}

/// Runs the validator of the content's format: its version and format, or the refusal.
fn validate_any(content: &[u8]) -> Result<(u32, Format), Refusal> {
    if header_format(content) == v2::format::FORMAT_VERSION {
        let valid = v2::validate(content, &SCHEMA).map_err(Refusal::Validation2)?;
        Ok((valid.content_version(), Format::Two))
    } else {
        let valid = validate(content, &SCHEMA).map_err(Refusal::Validation)?;
        Ok((valid.version(), Format::One))
    }
}

/// Offered bytes that were refused, what they declared, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The content version the envelope or content header declares; 0 when unreadable.
    pub declared_version: u32,
    pub refusal: Refusal,
}

/// The verdict and the newest version offered once this offer is counted (N−1).
#[derive(Clone, Copy, Debug)]
pub struct Admission<'a> {
    pub verdict: Result<Admitted<'a>, Refused>,
    pub newest_offered: u32,
}

/// Runs the three stages over `bytes`, in place: nothing is allocated.
pub fn admit<'a>(bytes: &'a [u8], settings: &TrustSettings, newest_offered: u32) -> Admission<'a> {
    let refuse = |declared_version, refusal| Admission {
        verdict: Err(Refused { declared_version, refusal }),
        newest_offered,
    };
    let authentic = match authenticate(bytes, &settings.keys, settings.policy.signatures) {
        Ok(authentic) => authentic,
        Err(error) => return refuse(refused_version(bytes, error), Refusal::Trust(Reason::Auth(error))),
    };
    let declared = authentic.declaration.map(|d| d.content_version);
    let (version, content_format) = match validate_any(authentic.content) {
        Ok(valid) => valid,
        Err(refusal) => {
            let version = declared.unwrap_or_else(|| header_version(authentic.content));
            return refuse(version, refusal);
        }
    };
    let judgement = decide(&settings.policy, authentic.declaration.as_ref(), version, newest_offered);
    if let Err(refusal) = judgement.verdict {
        return Admission {
            verdict: Err(Refused { declared_version: version, refusal: Refusal::Trust(refusal.into()) }),
            newest_offered: judgement.newest_offered,
        };
    }
    // The content is the envelope's body, or all of the bytes.
    let content_offset = if is_envelope(bytes) { layout::HEADER_LEN } else { 0 };
    Admission {
        verdict: Ok(Admitted {
            bytes,
            content_offset,
            content_len: authentic.content.len(),
            version,
            format: content_format,
        }),
        newest_offered: judgement.newest_offered,
    }
}

/// What refused bytes declare: the envelope's version when it parsed, else the content header's.
fn refused_version(bytes: &[u8], error: AuthError) -> u32 {
    match error {
        AuthError::Signature(_) => {
            ringfence_trust::Envelope::new_checked(bytes).map_or(0, |e| e.declaration().content_version)
        }
        AuthError::Envelope(_) => 0,
        AuthError::Unsigned => header_version(bytes),
    }
}

/// The content version offered bytes declare without checking them: the envelope's, or the
/// content header's; 0 when neither can say.
pub fn declared_version(bytes: &[u8]) -> u32 {
    if is_envelope(bytes) {
        ringfence_trust::Envelope::new_checked(bytes).map_or(0, |e| e.declaration().content_version)
    } else {
        header_version(bytes)
    }
}

/// The content version a content header declares, or 0 when the header is too short to say.
pub fn header_version(bytes: &[u8]) -> u32 {
    let at = format::header::CONTENT_VERSION;
    at.checked_add(4)
        .and_then(|end| bytes.get(at..end))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}
