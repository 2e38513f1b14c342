//! `SET_EVENT` (the reader's wake-up) and the empty input of `READ` and `STATS`.

use super::{IoctlError, Message, check_header, emit_header, put_u64, u64_field};

/// Byte offsets of [`SetEventRequest`].
pub mod set_event_request {
    pub const SIZE: usize = 0;
    pub const VERSION: usize = 4;
    /// `u64`: a user-mode event handle, zero-extended; 0 unregisters.
    pub const HANDLE: usize = 8;
    pub const LEN: usize = 16;
    pub const LAYOUT_VERSION: u32 = 1;
}

/// Registers the event the driver signals when records become available, and at
/// once when records already wait.
/// The driver references the event object (user-mode access,
/// `EVENT_MODIFY_STATE`) and drops the reference at `IRP_MJ_CLEANUP`, at the
/// next `SET_EVENT` and at unload. Handle 0 unregisters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SetEventRequest {
    pub handle: u64,
}

impl SetEventRequest {
    pub const LEN: usize = set_event_request::LEN;
    pub const LAYOUT_VERSION: u32 = set_event_request::LAYOUT_VERSION;

    /// Whether this request removes the registration instead of making one.
    pub const fn unregisters(&self) -> bool {
        self.handle == 0
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        check_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        Ok(SetEventRequest { handle: u64_field(buf, set_event_request::HANDLE) })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        let out = emit_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        put_u64(out, set_event_request::HANDLE, self.handle);
        Ok(Self::LEN)
    }
}

/// The input of `READ` and `STATS`: nothing. Any input byte is an error, so
/// that a future version can give these codes an input without ambiguity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EmptyRequest;

impl EmptyRequest {
    pub const LEN: usize = 0;

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        if buf.is_empty() {
            Ok(EmptyRequest)
        } else {
            Err(IoctlError::Length { expected: 0, found: buf.len() })
        }
    }

    pub fn emit(&self, _buf: &mut [u8]) -> Result<usize, IoctlError> {
        Ok(0)
    }
}

impl Message for SetEventRequest {
    const LEN: usize = set_event_request::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        SetEventRequest::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        SetEventRequest::emit(self, buf)
    }
}

impl Message for EmptyRequest {
    const LEN: usize = 0;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        EmptyRequest::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        EmptyRequest::emit(self, buf)
    }
}
