//! The signed envelope: content bytes wrapped with what they declare about
//! themselves and an Ed25519 signature over all of it.
//!
//! ```text
//! 0    magic            [u8; 4]   "RFSG"
//! 4    format           u16       FORMAT_VERSION
//! 6    reserved         u16       zero
//! 8    signer           [u8; 32]  the Ed25519 public key that signed
//! 40   ring             u32       the last rollout ring the content is released to
//! 44   sensor_min       u32       the oldest driver version it supports (driver_version encoding)
//! 48   sensor_max       u32       the newest driver version it supports
//! 52   content_version  u32       must equal the version in the content's own header
//! 56   content_len      u32
//! 60   reserved         u32       zero
//! 64   content          content_len bytes, handed to the validator as they are
//! ..   signature        [u8; 64]  Ed25519 over every byte before it (header and content)
//! ```
//!
//! The declarations live here rather than in the content header so that trust
//! does not depend on the content format: the validator sees the same bytes
//! whether or not they came in an envelope. Everything is little-endian.

use ringfence_wire::bytes;

pub const MAGIC: [u8; 4] = *b"RFSG";
pub const FORMAT_VERSION: u16 = 1;

/// Field offsets, named once.
pub mod layout {
    pub const MAGIC: usize = 0;
    pub const FORMAT: usize = 4;
    pub const RESERVED_FORMAT: usize = 6;
    pub const SIGNER: usize = 8;
    pub const RING: usize = 40;
    pub const SENSOR_MIN: usize = 44;
    pub const SENSOR_MAX: usize = 48;
    pub const CONTENT_VERSION: usize = 52;
    pub const CONTENT_LEN: usize = 56;
    pub const RESERVED: usize = 60;
    /// The header's length: where the content starts.
    pub const HEADER_LEN: usize = 64;
    pub const SIGNATURE_LEN: usize = 64;
    /// Header and signature: an envelope is this many bytes longer than its content.
    pub const OVERHEAD: usize = HEADER_LEN + SIGNATURE_LEN;
}

pub const PUBLIC_KEY_LEN: usize = 32;

/// Whether `bytes` claim to be an envelope (anything else is offered as unsigned content).
pub fn is_envelope(bytes: &[u8]) -> bool {
    bytes.get(..MAGIC.len()) == Some(&MAGIC[..])
}

/// Why bytes that start with the envelope magic are not a well-formed envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    /// Byte offset, from the start of the envelope, of the item at fault.
    pub offset: usize,
    pub kind: EnvelopeErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeErrorKind {
    /// Fewer bytes than the header, or than header, content and signature need.
    Truncated {
        needed: u64,
        available: u64,
    },
    BadMagic,
    UnsupportedFormat {
        found: u16,
    },
    /// A reserved field is not zero.
    NonZeroReserved,
    /// Bytes follow the signature.
    TrailingBytes {
        expected: u64,
        actual: u64,
    },
    /// `sensor_min` is above `sensor_max`: no sensor could ever take it.
    EmptySensorRange {
        min: u32,
        max: u32,
    },
}

/// What the signer declares about the content: the inputs of the trust policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Declaration {
    pub signer: [u8; PUBLIC_KEY_LEN],
    pub ring: u32,
    pub sensor_min: u32,
    pub sensor_max: u32,
    pub content_version: u32,
}

/// A checked envelope over `bytes`: after [`Envelope::new_checked`] every
/// accessor is infallible (and panic-free: they use the offsets it checked).
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    bytes: &'a [u8],
    content_len: usize,
}

fn at(offset: usize, kind: EnvelopeErrorKind) -> EnvelopeError {
    EnvelopeError { offset, kind }
}

fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<'a> Envelope<'a> {
    /// Checks magic, format, reserved fields, the declared sensor range and
    /// that header, content and signature fill `bytes` exactly.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn new_checked(bytes: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        use EnvelopeErrorKind as E;
        if bytes.len() < layout::HEADER_LEN {
            let needed = wide(layout::HEADER_LEN);
            return Err(at(bytes.len(), E::Truncated { needed, available: wide(bytes.len()) }));
        }
        if !is_envelope(bytes) {
            return Err(at(layout::MAGIC, E::BadMagic));
        }
        let format = bytes::u16_at(bytes, layout::FORMAT).unwrap_or(0);
        if format != FORMAT_VERSION {
            return Err(at(layout::FORMAT, E::UnsupportedFormat { found: format }));
        }
        if bytes::u16_at(bytes, layout::RESERVED_FORMAT) != Some(0) {
            return Err(at(layout::RESERVED_FORMAT, E::NonZeroReserved));
        }
        if bytes::u32_at(bytes, layout::RESERVED) != Some(0) {
            return Err(at(layout::RESERVED, E::NonZeroReserved));
        }
        let min = bytes::u32_at(bytes, layout::SENSOR_MIN).unwrap_or(0);
        let max = bytes::u32_at(bytes, layout::SENSOR_MAX).unwrap_or(0);
        if min > max {
            return Err(at(layout::SENSOR_MIN, E::EmptySensorRange { min, max }));
        }
        let declared = bytes::u32_at(bytes, layout::CONTENT_LEN).unwrap_or(0);
        // u64 arithmetic: a u32 length plus the overhead cannot overflow it.
        let expected = u64::from(declared).saturating_add(wide(layout::OVERHEAD));
        let actual = wide(bytes.len());
        if actual < expected {
            return Err(at(bytes.len(), E::Truncated { needed: expected, available: actual }));
        }
        if actual > expected {
            let end = usize::try_from(expected).unwrap_or(usize::MAX);
            return Err(at(end, E::TrailingBytes { expected, actual }));
        }
        let content_len = usize::try_from(declared).unwrap_or(usize::MAX);
        Ok(Envelope { bytes, content_len })
    }

    pub fn declaration(&self) -> Declaration {
        Declaration {
            signer: bytes::array(self.bytes, layout::SIGNER).unwrap_or([0; PUBLIC_KEY_LEN]),
            ring: self.u32(layout::RING),
            sensor_min: self.u32(layout::SENSOR_MIN),
            sensor_max: self.u32(layout::SENSOR_MAX),
            content_version: self.u32(layout::CONTENT_VERSION),
        }
    }

    fn u32(&self, offset: usize) -> u32 {
        bytes::u32_at(self.bytes, offset).unwrap_or(0)
    }

    fn signature_offset(&self) -> usize {
        layout::HEADER_LEN.saturating_add(self.content_len)
    }

    /// The content bytes, as the validator will see them.
    pub fn content(&self) -> &'a [u8] {
        self.bytes.get(layout::HEADER_LEN..self.signature_offset()).unwrap_or(&[])
    }

    /// Every byte the signature covers: the header and the content.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.signature_offset()).unwrap_or(&[])
    }

    pub fn signature(&self) -> [u8; layout::SIGNATURE_LEN] {
        bytes::array(self.bytes, self.signature_offset()).unwrap_or([0; layout::SIGNATURE_LEN])
    }

    /// Where the signature starts (for errors that concern it).
    pub fn signature_at(&self) -> usize {
        self.signature_offset()
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Why an envelope could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The output buffer holds fewer bytes than the envelope needs.
    BufferTooSmall {
        needed: usize,
        available: usize,
    },
    /// The content is longer than a `u32` length can say.
    ContentTooLarge {
        len: usize,
    },
    EmptySensorRange {
        min: u32,
        max: u32,
    },
}

/// The envelope's length for `content_len` bytes of content.
pub fn envelope_len(content_len: usize) -> Option<usize> {
    content_len.checked_add(layout::OVERHEAD)
}

/// Writes header and content into `out` with a zeroed signature slot and
/// returns the envelope's length; [`crate::signature::sign_in_place`] fills the slot.
pub fn emit(declaration: &Declaration, content: &[u8], out: &mut [u8]) -> Result<usize, EmitError> {
    let len = u32::try_from(content.len()).map_err(|_| EmitError::ContentTooLarge { len: content.len() })?;
    if declaration.sensor_min > declaration.sensor_max {
        let (min, max) = (declaration.sensor_min, declaration.sensor_max);
        return Err(EmitError::EmptySensorRange { min, max });
    }
    let needed = envelope_len(content.len()).ok_or(EmitError::ContentTooLarge { len: content.len() })?;
    let available = out.len();
    let out = out.get_mut(..needed).ok_or(EmitError::BufferTooSmall { needed, available })?;
    out.fill(0);
    // Every write lands inside `out`, which is `needed` >= HEADER_LEN + content bytes long.
    let _ = bytes::put(out, layout::MAGIC, &MAGIC);
    let _ = bytes::put(out, layout::FORMAT, &FORMAT_VERSION.to_le_bytes());
    let _ = bytes::put(out, layout::SIGNER, &declaration.signer);
    let _ = bytes::put(out, layout::RING, &declaration.ring.to_le_bytes());
    let _ = bytes::put(out, layout::SENSOR_MIN, &declaration.sensor_min.to_le_bytes());
    let _ = bytes::put(out, layout::SENSOR_MAX, &declaration.sensor_max.to_le_bytes());
    let _ = bytes::put(out, layout::CONTENT_VERSION, &declaration.content_version.to_le_bytes());
    let _ = bytes::put(out, layout::CONTENT_LEN, &len.to_le_bytes());
    let _ = bytes::put(out, layout::HEADER_LEN, content);
    Ok(needed)
}
