//! `LOAD_CONTENT`: the input is the content file's bytes as they are
//! (ringfence-content validates them); the output says how they were judged.
//! The content crate maps its error to and from `(reason, offset, args)`;
//! this layout only carries them.

use super::{IoctlError, Message, bool_field, check_header, emit_header, put_u32, reserved_zero, u32_field};

/// Byte offsets of [`LoadContentResponse`].
pub mod load_content_response {
    pub const SIZE: usize = 0;
    pub const VERSION: usize = 4;
    /// `u32`: 1 accepted, 0 rejected.
    pub const ACCEPTED: usize = 8;
    pub const CONTENT_VERSION: usize = 12;
    pub const ACTIVE_VERSION: usize = 16;
    pub const REASON: usize = 20;
    pub const OFFSET: usize = 24;
    /// `[u32; 4]`.
    pub const ARGS: usize = 28;
    pub const RESERVED: usize = 44;
    pub const LEN: usize = 48;
    /// The layout version.
    pub const LAYOUT_VERSION: u32 = 1;
}

/// The verdict on offered content. Accepted content has reason 0; rejected
/// content has a non-zero reason, and the active content did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LoadContentResponse {
    pub accepted: bool,
    /// The version the offered content declares; 0 when its header was unreadable.
    pub content_version: u32,
    /// The content version active after the load (0: none).
    pub active_version: u32,
    /// The validator's reason code; 0 exactly when accepted.
    pub reason: u32,
    /// The byte offset in the content the reason refers to.
    pub offset: u32,
    /// The reason's numeric details (e.g. rule, field, supplied).
    pub args: [u32; 4],
}

impl LoadContentResponse {
    pub const LEN: usize = load_content_response::LEN;
    pub const LAYOUT_VERSION: u32 = load_content_response::LAYOUT_VERSION;

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        use load_content_response as at;
        check_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        let accepted = bool_field(buf, at::ACCEPTED)?;
        let reason = u32_field(buf, at::REASON);
        if accepted == (reason != 0) {
            return Err(IoctlError::Value { offset: at::REASON });
        }
        reserved_zero(buf, at::RESERVED)?;
        let mut args = [0u32; 4];
        let mut offset = at::ARGS;
        for arg in &mut args {
            *arg = u32_field(buf, offset);
            offset = offset.saturating_add(4);
        }
        Ok(LoadContentResponse {
            accepted,
            content_version: u32_field(buf, at::CONTENT_VERSION),
            active_version: u32_field(buf, at::ACTIVE_VERSION),
            reason,
            offset: u32_field(buf, at::OFFSET),
            args,
        })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        use load_content_response as at;
        let out = emit_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        put_u32(out, at::ACCEPTED, u32::from(self.accepted));
        put_u32(out, at::CONTENT_VERSION, self.content_version);
        put_u32(out, at::ACTIVE_VERSION, self.active_version);
        put_u32(out, at::REASON, self.reason);
        put_u32(out, at::OFFSET, self.offset);
        let mut offset = at::ARGS;
        for arg in self.args {
            put_u32(out, offset, arg);
            offset = offset.saturating_add(4);
        }
        Ok(Self::LEN)
    }
}

impl Message for LoadContentResponse {
    const LEN: usize = load_content_response::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        LoadContentResponse::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        LoadContentResponse::emit(self, buf)
    }
}
