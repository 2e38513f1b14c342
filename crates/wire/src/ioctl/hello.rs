//! `HELLO`: the version handshake. The client states the protocol and event
//! schema it speaks; the driver answers with its own, what it can do and how
//! large its queue and its records are.

use super::{
    IoctlError, Message, PROTOCOL_VERSION, QUEUE_BYTES_MAX, QUEUE_BYTES_MIN, check_header, emit_header,
    put_u32, reserved_zero, u32_field,
};
use crate::record::{MAX_RECORD_BYTES, layout as record_layout};
use crate::schema::SCHEMA_VERSION;

/// Byte offsets of [`HelloRequest`].
pub mod hello_request {
    pub const SIZE: usize = 0;
    pub const PROTOCOL_VERSION: usize = 4;
    pub const SCHEMA_VERSION: usize = 8;
    pub const RESERVED: usize = 12;
    pub const LEN: usize = 16;
}

/// Byte offsets of [`HelloResponse`].
pub mod hello_response {
    pub const SIZE: usize = 0;
    pub const PROTOCOL_VERSION: usize = 4;
    pub const SCHEMA_VERSION: usize = 8;
    pub const CAPABILITIES: usize = 12;
    pub const QUEUE_BYTES: usize = 16;
    pub const MAX_RECORD_BYTES: usize = 20;
    pub const DRIVER_VERSION: usize = 24;
    pub const RESERVED: usize = 28;
    pub const LEN: usize = 32;
}

/// What the client speaks. Parsing accepts only this build's protocol and
/// schema; `emit` writes whatever it holds, so a test can play an older client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloRequest {
    pub protocol_version: u32,
    pub schema_version: u16,
}

impl HelloRequest {
    pub const LEN: usize = hello_request::LEN;

    /// The request this build sends.
    pub const fn current() -> Self {
        HelloRequest { protocol_version: PROTOCOL_VERSION, schema_version: SCHEMA_VERSION }
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        check_header(buf, Self::LEN, PROTOCOL_VERSION)?;
        let schema_version = schema_field(buf, hello_request::SCHEMA_VERSION)?;
        reserved_zero(buf, hello_request::RESERVED)?;
        Ok(HelloRequest { protocol_version: PROTOCOL_VERSION, schema_version })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        let out = emit_header(buf, Self::LEN, self.protocol_version)?;
        put_u32(out, hello_request::SCHEMA_VERSION, u32::from(self.schema_version));
        Ok(Self::LEN)
    }
}

/// What the driver speaks and offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloResponse {
    pub protocol_version: u32,
    pub schema_version: u16,
    pub capabilities: Capabilities,
    /// The queue's capacity in bytes.
    pub queue_bytes: u32,
    /// The largest record the driver produces: a `READ` buffer this large
    /// never gets `STATUS_BUFFER_TOO_SMALL`.
    pub max_record_bytes: u32,
    /// See [`driver_version`].
    pub driver_version: u32,
}

impl HelloResponse {
    pub const LEN: usize = hello_response::LEN;

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        use hello_response as at;
        check_header(buf, Self::LEN, PROTOCOL_VERSION)?;
        let schema_version = schema_field(buf, at::SCHEMA_VERSION)?;
        let capabilities = Capabilities::from_bits(u32_field(buf, at::CAPABILITIES))
            .ok_or(IoctlError::Value { offset: at::CAPABILITIES })?;
        let queue_bytes = u32_field(buf, at::QUEUE_BYTES);
        if !(QUEUE_BYTES_MIN..=QUEUE_BYTES_MAX).contains(&queue_bytes) {
            return Err(IoctlError::Value { offset: at::QUEUE_BYTES });
        }
        let max_record_bytes = u32_field(buf, at::MAX_RECORD_BYTES);
        if !plausible_max_record(max_record_bytes, queue_bytes) {
            return Err(IoctlError::Value { offset: at::MAX_RECORD_BYTES });
        }
        let driver_version = u32_field(buf, at::DRIVER_VERSION);
        if driver_version > 0x00FF_FFFF {
            return Err(IoctlError::Value { offset: at::DRIVER_VERSION });
        }
        reserved_zero(buf, at::RESERVED)?;
        Ok(HelloResponse {
            protocol_version: PROTOCOL_VERSION,
            schema_version,
            capabilities,
            queue_bytes,
            max_record_bytes,
            driver_version,
        })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        use hello_response as at;
        let out = emit_header(buf, Self::LEN, self.protocol_version)?;
        put_u32(out, at::SCHEMA_VERSION, u32::from(self.schema_version));
        put_u32(out, at::CAPABILITIES, self.capabilities.bits());
        put_u32(out, at::QUEUE_BYTES, self.queue_bytes);
        put_u32(out, at::MAX_RECORD_BYTES, self.max_record_bytes);
        put_u32(out, at::DRIVER_VERSION, self.driver_version);
        Ok(Self::LEN)
    }
}

/// A record bound is 8-aligned, holds at least a header, is no more than the
/// schema allows and fits in the queue.
fn plausible_max_record(max: u32, queue_bytes: u32) -> bool {
    let max_usize = usize::try_from(max).unwrap_or(usize::MAX);
    max % 8 == 0 && (record_layout::HEADER_LEN..=MAX_RECORD_BYTES).contains(&max_usize) && max <= queue_bytes
}

/// A schema version carried in a `u32`: it must be this build's.
fn schema_field(buf: &[u8], offset: usize) -> Result<u16, IoctlError> {
    let found = u32_field(buf, offset);
    if found == u32::from(SCHEMA_VERSION) {
        Ok(SCHEMA_VERSION)
    } else {
        Err(IoctlError::SchemaVersion { found, expected: SCHEMA_VERSION })
    }
}

/// `(major << 16) | (minor << 8) | patch`, as [`HelloResponse::driver_version`] carries it.
pub const fn driver_version(major: u8, minor: u8, patch: u8) -> u32 {
    (major as u32).wrapping_shl(16) | (minor as u32).wrapping_shl(8) | patch as u32
}

/// What the driver can do, as bit flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// `LOAD_CONTENT` is served.
    pub const CONTENT: Self = Capabilities(1);
    /// `SET_EVENT` is served: the reader is woken by an event.
    pub const WAKE_EVENT: Self = Capabilities(1 << 1);
    /// An overflowing queue produces `LostEvents` records.
    pub const LOST_EVENTS: Self = Capabilities(1 << 2);
    pub const ALL: Self = Capabilities(0b111);
    pub const NONE: Self = Capabilities(0);

    /// The flags `bits` stands for; `None` when an unknown bit is set.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 { Some(Capabilities(bits)) } else { None }
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Capabilities(self.0 | other.0)
    }
}

impl core::ops::BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl Message for HelloRequest {
    const LEN: usize = hello_request::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        HelloRequest::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        HelloRequest::emit(self, buf)
    }
}

impl Message for HelloResponse {
    const LEN: usize = hello_response::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        HelloResponse::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        HelloResponse::emit(self, buf)
    }
}
