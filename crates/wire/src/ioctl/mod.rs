//! The control interface of `\Device\Ringfence`: I/O control codes, the
//! versioned request and response layouts, and the NTSTATUS each code answers.
//!
//! # The contract
//!
//! Every code is `METHOD_BUFFERED`; the I/O manager checks the access bits
//! against the handle before the driver runs, so a handle opened without
//! `GENERIC_READ` (and `GENERIC_WRITE` for the writing codes) never reaches it.
//! No code uses `FILE_ANY_ACCESS`.
//!
//! | Code           | Fn    | Access     | Input                         | Output                          |
//! |----------------|-------|------------|-------------------------------|---------------------------------|
//! | `HELLO`        | 0x800 | read       | [`HelloRequest`] (16 B)       | [`HelloResponse`] (32 B)        |
//! | `READ`         | 0x801 | read       | nothing (0 B)                 | a batch of whole records        |
//! | `LOAD_CONTENT` | 0x802 | read+write | the content file's bytes      | [`LoadContentResponse`] (48 B)  |
//! | `STATS`        | 0x803 | read       | nothing (0 B)                 | [`StatsResponse`]               |
//! | `SET_EVENT`    | 0x804 | read+write | [`SetEventRequest`] (16 B)    | nothing (0 B)                   |
//! | `SET_VOLUME_MAP` | 0x805 | read+write | a [volume map](crate::volume_map) (≤ 32 KiB) | nothing (0 B)      |
//! | `VOLUME_MAP`   | 0x806 | read       | nothing (0 B)                 | the volume map held (0 B: none) |
//! | `TRUST`        | 0x808 | read       | nothing (0 B)                 | [`TrustResponse`] (256 B)       |
//!
//! Statuses, per code (`Information` is the number of output bytes written):
//!
//! | Code           | Status                          | When                                                        |
//! |----------------|---------------------------------|-------------------------------------------------------------|
//! | any            | [`STATUS_INVALID_DEVICE_REQUEST`] | the code is not one of the above                          |
//! | any            | [`STATUS_INVALID_PARAMETER`]    | the input fails its parser (length, size field, reserved, value) |
//! | any            | [`STATUS_REVISION_MISMATCH`]    | the input's version (protocol, layout or schema) is not this build's |
//! | any            | [`STATUS_BUFFER_TOO_SMALL`]     | the output buffer is shorter than the response; nothing changed |
//! | `HELLO`        | [`STATUS_SUCCESS`]              | `Information` = 32                                          |
//! | `READ`         | [`STATUS_SUCCESS`]              | `Information` = bytes of whole records; 0 when the queue is empty |
//! | `READ`         | [`STATUS_BUFFER_TOO_SMALL`]     | the next record does not fit in the empty output buffer; `Information` = 0; nothing is dequeued |
//! | `LOAD_CONTENT` | [`STATUS_SUCCESS`]              | the content was judged: accepted or rejected, see the response |
//! | `LOAD_CONTENT` | [`STATUS_INSUFFICIENT_RESOURCES`] | no pool for a copy of the content; nothing changed        |
//! | `STATS`        | [`STATUS_SUCCESS`]              | `Information` = [`StatsResponse::LEN`]                      |
//! | `TRUST`        | [`STATUS_SUCCESS`]              | `Information` = [`TrustResponse::LEN`]                      |
//! | `SET_EVENT`    | [`STATUS_SUCCESS`]              | the event is registered (handle 0: unregistered)            |
//! | `SET_VOLUME_MAP` | [`STATUS_SUCCESS`]            | the map is validated and replaces the one held               |
//! | `SET_VOLUME_MAP` | [`STATUS_INVALID_PARAMETER`]  | the map is malformed (see [`VolumeMapError`](crate::volume_map::VolumeMapError)); the map held stays |
//! | `SET_VOLUME_MAP` | [`STATUS_REVISION_MISMATCH`]  | the map's format version is not this build's; the map held stays |
//! | `SET_VOLUME_MAP` | [`STATUS_INVALID_BUFFER_SIZE`] | the map is more than [`MAX_MAP_BYTES`](crate::volume_map::MAX_MAP_BYTES); nothing is allocated |
//! | `SET_VOLUME_MAP` | [`STATUS_INSUFFICIENT_RESOURCES`] | no pool for a copy of the map; the map held stays       |
//! | `VOLUME_MAP`   | [`STATUS_SUCCESS`]              | `Information` = the map's bytes (0: none set)               |
//! | `VOLUME_MAP`   | [`STATUS_BUFFER_TOO_SMALL`]     | the output is shorter than the map held; a buffer of [`MAX_MAP_BYTES`](crate::volume_map::MAX_MAP_BYTES) always fits |
//! | `SET_EVENT`    | [`STATUS_INVALID_HANDLE`], [`STATUS_OBJECT_TYPE_MISMATCH`], [`STATUS_ACCESS_DENIED`] | `ObReferenceObjectByHandle` refused the handle (user-mode access, `EVENT_MODIFY_STATE`); the previous registration stays |
//!
//! With an error status (`NT_ERROR`) the I/O manager copies no
//! `METHOD_BUFFERED` output back and does not pass `Information` on to the
//! caller, and Windows expects `Information` to be 0. Hence:
//! - a rejected `LOAD_CONTENT` answers `STATUS_SUCCESS` with `accepted = 0`,
//!   or the validator's reason would never reach the caller;
//! - every error status, `STATUS_BUFFER_TOO_SMALL` included, has
//!   `Information` = 0. A `READ` buffer of [`HelloResponse::max_record_bytes`]
//!   bytes always holds the next record, so a client sized from `HELLO` never
//!   meets `STATUS_BUFFER_TOO_SMALL`.
//!
//! No record is ever split across two `READ`s. The wake-up: the client creates
//! an event, registers it with `SET_EVENT`; the driver references the event
//! object and signals it whenever records become available (at once if records
//! already wait when it registers), and drops the
//! reference at `IRP_MJ_CLEANUP` of that handle, at a `SET_EVENT` with handle 0
//! or with another handle, and at unload. The device is exclusive: a second
//! open fails with [`STATUS_ACCESS_DENIED`].
//!
//! # Layouts
//!
//! Every fixed layout is little-endian; its first `u32` is its own size in
//! bytes, its second is its layout version ([`PROTOCOL_VERSION`] for `HELLO`).
//! Parsers check the version first (so a peer with another layout version is
//! told "revision mismatch" whatever size that version has), then the exact
//! length, the size field, reserved fields (zero) and every value's range.

mod content;
mod event;
mod hello;
mod stats;
mod trust;

pub use content::{LoadContentResponse, load_content_response};
pub use event::{EmptyRequest, SetEventRequest, set_event_request};
pub use hello::{Capabilities, HelloRequest, HelloResponse, driver_version, hello_request, hello_response};
pub use stats::{
    ContentCounters, KIND_COUNT, KindCounters, MAX_CONTENT_FORMAT, Notes, StatsResponse, TableCounters,
    VolumeMapCounters, stats_response,
};
pub use trust::{MAX_KEY_IDS, TrustResponse, trust_response};

use crate::bytes;

/// The version of this control interface; `HELLO` carries it both ways.
/// Version 2: event schema 2 (absent bitmap, string limits, the process table's
/// fields) and `STATS` layout 2 (the process table block).
pub const PROTOCOL_VERSION: u32 = 2;

/// The kernel device, its DOS link and the path user mode opens.
pub const DEVICE_NAME: &str = "\\Device\\Ringfence";
pub const DOS_DEVICE_NAME: &str = "\\??\\Ringfence";
pub const WIN32_PATH: &str = "\\\\.\\Ringfence";

/// The `Parameters` value that sizes the record queue (`REG_DWORD`, bytes).
pub const QUEUE_BYTES_VALUE_NAME: &str = "QueueBytes";
/// Queue size when the value is absent or unusable.
pub const QUEUE_BYTES_DEFAULT: u32 = 4 << 20;
/// The smallest queue: it must hold the largest record, so that any record
/// fits once the queue is empty.
pub const QUEUE_BYTES_MIN: u32 = 256 << 10;
pub const QUEUE_BYTES_MAX: u32 = 64 << 20;

/// The `Parameters` value that bounds the process table's memory (`REG_DWORD`, bytes).
pub const PROCESS_TABLE_BYTES_VALUE_NAME: &str = "ProcessTableBytes";
/// Process table budget when the value is absent or unusable: about 4,000
/// processes with their paths, command lines and users.
pub const PROCESS_TABLE_BYTES_DEFAULT: u32 = 4 << 20;
pub const PROCESS_TABLE_BYTES_MIN: u32 = 256 << 10;
pub const PROCESS_TABLE_BYTES_MAX: u32 = 64 << 20;

// The largest record fits in the smallest queue, and the default is a legal size.
const _: () = assert!(crate::record::MAX_RECORD_BYTES <= QUEUE_BYTES_MIN as usize);
const _: () = assert!(QUEUE_BYTES_MIN <= QUEUE_BYTES_DEFAULT && QUEUE_BYTES_DEFAULT <= QUEUE_BYTES_MAX);
const _: () = assert!(
    PROCESS_TABLE_BYTES_MIN <= PROCESS_TABLE_BYTES_DEFAULT
        && PROCESS_TABLE_BYTES_DEFAULT <= PROCESS_TABLE_BYTES_MAX
);

/// `DeviceType` of every code: in the vendor range (0x8000-0xFFFF).
pub const FILE_DEVICE_RINGFENCE: u32 = 0x8A52;
/// The first `Function` number; 0x800 and up are for vendors.
pub const FUNCTION_BASE: u32 = 0x800;

pub const METHOD_BUFFERED: u32 = 0;
pub const FILE_ANY_ACCESS: u32 = 0;
pub const FILE_READ_ACCESS: u32 = 1;
pub const FILE_WRITE_ACCESS: u32 = 2;

/// `CTL_CODE` of `devioctl.h`: `(DeviceType << 16) | (Access << 14) | (Function << 2) | Method`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    device_type.wrapping_shl(16) | access.wrapping_shl(14) | function.wrapping_shl(2) | method
}

/// The control codes of `\Device\Ringfence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Code {
    Hello = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE, METHOD_BUFFERED, FILE_READ_ACCESS),
    Read = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE | 1, METHOD_BUFFERED, FILE_READ_ACCESS),
    LoadContent = ctl_code(
        FILE_DEVICE_RINGFENCE,
        FUNCTION_BASE | 2,
        METHOD_BUFFERED,
        FILE_READ_ACCESS | FILE_WRITE_ACCESS,
    ),
    Stats = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE | 3, METHOD_BUFFERED, FILE_READ_ACCESS),
    SetEvent = ctl_code(
        FILE_DEVICE_RINGFENCE,
        FUNCTION_BASE | 4,
        METHOD_BUFFERED,
        FILE_READ_ACCESS | FILE_WRITE_ACCESS,
    ),
    /// Input: a volume map, validated whole before it replaces the one held.
    SetVolumeMap = ctl_code(
        FILE_DEVICE_RINGFENCE,
        FUNCTION_BASE | 5,
        METHOD_BUFFERED,
        FILE_READ_ACCESS | FILE_WRITE_ACCESS,
    ),
    /// Output: the volume map held, byte for byte as it was set.
    VolumeMap = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE | 6, METHOD_BUFFERED, FILE_READ_ACCESS),
    /// The content-trust codes start at function 0x808.
    Trust = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE | 8, METHOD_BUFFERED, FILE_READ_ACCESS),
}

impl Code {
    pub const ALL: [Code; 8] = [
        Code::Hello,
        Code::Read,
        Code::LoadContent,
        Code::Stats,
        Code::SetEvent,
        Code::SetVolumeMap,
        Code::VolumeMap,
        Code::Trust,
    ];

    /// The code `value` stands for, or `None` for any other value.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            v if v == Code::Hello as u32 => Some(Code::Hello),
            v if v == Code::Read as u32 => Some(Code::Read),
            v if v == Code::LoadContent as u32 => Some(Code::LoadContent),
            v if v == Code::Stats as u32 => Some(Code::Stats),
            v if v == Code::SetEvent as u32 => Some(Code::SetEvent),
            v if v == Code::SetVolumeMap as u32 => Some(Code::SetVolumeMap),
            v if v == Code::VolumeMap as u32 => Some(Code::VolumeMap),
            v if v == Code::Trust as u32 => Some(Code::Trust),
            _ => None,
        }
    }

    pub const fn value(self) -> u32 {
        self as u32
    }

    pub const fn device_type(self) -> u32 {
        self.value() >> 16
    }

    pub const fn access(self) -> u32 {
        (self.value() >> 14) & 3
    }

    pub const fn function(self) -> u32 {
        (self.value() >> 2) & 0xFFF
    }

    pub const fn method(self) -> u32 {
        self.value() & 3
    }

    pub const fn name(self) -> &'static str {
        match self {
            Code::Hello => "HELLO",
            Code::Read => "READ",
            Code::LoadContent => "LOAD_CONTENT",
            Code::Stats => "STATS",
            Code::SetEvent => "SET_EVENT",
            Code::SetVolumeMap => "SET_VOLUME_MAP",
            Code::VolumeMap => "VOLUME_MAP",
            Code::Trust => "TRUST",
        }
    }
}

// NTSTATUS values the contract answers with (ntstatus.h).
pub const STATUS_SUCCESS: i32 = 0;
pub const STATUS_INVALID_HANDLE: i32 = 0xC000_0008_u32 as i32;
pub const STATUS_INVALID_PARAMETER: i32 = 0xC000_000D_u32 as i32;
pub const STATUS_INVALID_DEVICE_REQUEST: i32 = 0xC000_0010_u32 as i32;
pub const STATUS_ACCESS_DENIED: i32 = 0xC000_0022_u32 as i32;
pub const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
pub const STATUS_OBJECT_TYPE_MISMATCH: i32 = 0xC000_0024_u32 as i32;
pub const STATUS_REVISION_MISMATCH: i32 = 0xC000_0059_u32 as i32;
pub const STATUS_INSUFFICIENT_RESOURCES: i32 = 0xC000_009A_u32 as i32;
pub const STATUS_INVALID_BUFFER_SIZE: i32 = 0xC000_0206_u32 as i32;

/// `NT_SUCCESS`: success and informational statuses.
pub const fn nt_success(status: i32) -> bool {
    status >= 0
}

/// Why bytes are not a valid request or response, or why one cannot be emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoctlError {
    /// The buffer is not exactly the layout's length.
    Length { expected: usize, found: usize },
    /// The size field (the first `u32`) is not the layout's length.
    SizeField { found: u32, expected: u32 },
    /// The layout (or, for `HELLO`, protocol) version is not this build's.
    Version { found: u32, expected: u32 },
    /// The event schema named by `HELLO` is not this build's.
    SchemaVersion { found: u32, expected: u16 },
    /// A reserved field at `offset` is not zero.
    Reserved { offset: usize },
    /// The field at `offset` holds a value out of its range.
    Value { offset: usize },
    /// The output buffer holds fewer bytes than the layout needs.
    BufferTooSmall { needed: usize, available: usize },
}

impl IoctlError {
    /// The NTSTATUS the driver answers a request failing with this error.
    pub const fn status(&self) -> i32 {
        match self {
            IoctlError::Version { .. } | IoctlError::SchemaVersion { .. } => STATUS_REVISION_MISMATCH,
            IoctlError::BufferTooSmall { .. } => STATUS_BUFFER_TOO_SMALL,
            IoctlError::Length { .. }
            | IoctlError::SizeField { .. }
            | IoctlError::Reserved { .. }
            | IoctlError::Value { .. } => STATUS_INVALID_PARAMETER,
        }
    }
}

/// The header every fixed layout starts with.
pub mod header {
    /// `u32`: the layout's size in bytes.
    pub const SIZE: usize = 0;
    /// `u32`: the layout version (protocol version for `HELLO`).
    pub const VERSION: usize = 4;
    pub const LEN: usize = 8;
}

/// A fixed-size request or response: what tests and fuzzers treat alike.
pub trait Message: Sized {
    /// The exact length in bytes.
    const LEN: usize;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError>;
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError>;
}

/// Checks version, length and size field of a fixed layout, in that order.
fn check_header(buf: &[u8], len: usize, version: u32) -> Result<(), IoctlError> {
    let found =
        bytes::u32_at(buf, header::VERSION).ok_or(IoctlError::Length { expected: len, found: buf.len() })?;
    if found != version {
        return Err(IoctlError::Version { found, expected: version });
    }
    if buf.len() != len {
        return Err(IoctlError::Length { expected: len, found: buf.len() });
    }
    let size = u32_field(buf, header::SIZE);
    let expected = u32::try_from(len).unwrap_or(u32::MAX);
    if size != expected {
        return Err(IoctlError::SizeField { found: size, expected });
    }
    Ok(())
}

/// The `u32` at `offset` of a buffer whose length was checked; 0 otherwise.
fn u32_field(buf: &[u8], offset: usize) -> u32 {
    bytes::u32_at(buf, offset).unwrap_or(0)
}

fn u64_field(buf: &[u8], offset: usize) -> u64 {
    bytes::u64_at(buf, offset).unwrap_or(0)
}

fn reserved_zero(buf: &[u8], offset: usize) -> Result<(), IoctlError> {
    if u32_field(buf, offset) == 0 { Ok(()) } else { Err(IoctlError::Reserved { offset }) }
}

/// A `u32` field that must be 0 or 1.
fn bool_field(buf: &[u8], offset: usize) -> Result<bool, IoctlError> {
    match u32_field(buf, offset) {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(IoctlError::Value { offset }),
    }
}

/// The first `len` bytes of `buf`, zeroed, with the header written.
fn emit_header(buf: &mut [u8], len: usize, version: u32) -> Result<&mut [u8], IoctlError> {
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(IoctlError::BufferTooSmall { needed: len, available })?;
    out.fill(0);
    put_u32(out, header::SIZE, u32::try_from(len).unwrap_or(u32::MAX));
    put_u32(out, header::VERSION, version);
    Ok(out)
}

// Emitters write at named offsets inside a buffer `emit_header` sized to the
// layout, so these writes always land; the round-trip tests prove the offsets.
fn put_u32(out: &mut [u8], offset: usize, value: u32) {
    let _ = bytes::put_u32(out, offset, value);
}

fn put_u64(out: &mut [u8], offset: usize, value: u64) {
    let _ = bytes::put_u64(out, offset, value);
}

#[cfg(test)]
mod tests;
