//! A process's primary token: its user, logon session, integrity level and elevation,
//! through `PsReferencePrimaryToken` and `SeQueryInformationToken` at PASSIVE_LEVEL. The
//! token reference and every buffer the kernel allocates for a query are guards released
//! on every path. A query Windows refuses leaves that one value absent.

use super::ffi::{ExFreePool, ObfDereferenceObject, PsReferencePrimaryToken, SeQueryInformationToken};
use super::views;
use crate::activity::Token;
use core::ffi::c_void;
use core::ptr::NonNull;
use ringfence_wire::sid::{self, SidText};
use windows_sys::Wdk::Foundation::PEPROCESS;

// TOKEN_INFORMATION_CLASS values (ntifs.h).
const TOKEN_USER: i32 = 1;
const TOKEN_STATISTICS: i32 = 10;
const TOKEN_ELEVATION_TYPE: i32 = 18;
const TOKEN_INTEGRITY_LEVEL: i32 = 25;

/// What a token says, owned: read once in the process callback.
#[derive(Debug, Default)]
pub(crate) struct TokenFacts {
    pub(crate) user: Option<SidText>,
    pub(crate) logon_id: Option<u64>,
    pub(crate) integrity_level: Option<u32>,
    pub(crate) elevation_type: Option<u32>,
}

impl TokenFacts {
    /// Reads the primary token of `process`; every value the kernel does not give is absent.
    pub(crate) fn of(process: PEPROCESS) -> TokenFacts {
        let Some(token) = PrimaryToken::reference(process) else { return TokenFacts::default() };
        TokenFacts {
            user: token.query(TOKEN_USER).and_then(|info| {
                // SAFETY: a TokenUser buffer, alive while `info` is.
                let sid = unsafe { views::token_sid(info.as_ptr()) }?;
                SidText::parse(sid).ok()
            }),
            logon_id: token.query(TOKEN_STATISTICS).and_then(|info| {
                // SAFETY: a TokenStatistics buffer, alive while `info` is.
                unsafe { views::token_logon_id(info.as_ptr()) }
            }),
            integrity_level: token.query(TOKEN_INTEGRITY_LEVEL).and_then(|info| {
                // SAFETY: a TokenIntegrityLevel buffer, alive while `info` is.
                let label = unsafe { views::token_sid(info.as_ptr()) }?;
                sid::last_sub_authority(label).ok().flatten()
            }),
            elevation_type: token.query(TOKEN_ELEVATION_TYPE).and_then(|info| {
                // SAFETY: a TokenElevationType buffer, alive while `info` is.
                unsafe { views::token_elevation_type(info.as_ptr()) }
            }),
        }
    }

    /// Only the user: what the process table keeps of a process it fills lazily.
    pub(crate) fn user_of(process: PEPROCESS) -> Option<SidText> {
        let token = PrimaryToken::reference(process)?;
        let info = token.query(TOKEN_USER)?;
        // SAFETY: a TokenUser buffer, alive while `info` is.
        let sid = unsafe { views::token_sid(info.as_ptr()) }?;
        SidText::parse(sid).ok()
    }

    /// The borrowed view the sensor takes.
    pub(crate) fn view(&self) -> Token<'_> {
        Token {
            user_sid: self.user.as_ref().map(SidText::as_units),
            logon_id: self.logon_id,
            integrity_level: self.integrity_level,
            elevation_type: self.elevation_type,
        }
    }
}

/// A referenced primary token, dereferenced when dropped (`PsDereferencePrimaryToken` is
/// `ObDereferenceObject` in ntifs.h).
///
/// # Invariants
/// `token` is a token object on which this value holds one reference.
struct PrimaryToken {
    token: NonNull<c_void>,
}

impl PrimaryToken {
    fn reference(process: PEPROCESS) -> Option<PrimaryToken> {
        // SAFETY: `process` is referenced by the caller for the duration; IRQL <= APC_LEVEL.
        let token = unsafe { PsReferencePrimaryToken(process) };
        // INVARIANT: a non-null return is a referenced token.
        NonNull::new(token).map(|token| PrimaryToken { token })
    }

    /// One `SeQueryInformationToken` result, freed when dropped; `None` when refused.
    fn query(&self, class: i32) -> Option<KernelBuffer> {
        let mut information: *mut c_void = core::ptr::null_mut();
        // SAFETY: a referenced token (invariant) and a valid out pointer; PASSIVE_LEVEL.
        let status = unsafe { SeQueryInformationToken(self.token.as_ptr(), class, &mut information) };
        if status < 0 {
            return None;
        }
        KernelBuffer::adopt(information)
    }
}

impl Drop for PrimaryToken {
    fn drop(&mut self) {
        // SAFETY: releases the one reference this value holds (invariant).
        unsafe { ObfDereferenceObject(self.token.as_ptr().cast_const()) };
    }
}

/// A buffer the kernel allocated for the driver (`SeQueryInformationToken`,
/// `SeLocateProcessImageName`), freed with `ExFreePool` when dropped.
///
/// # Invariants
/// `buffer` came from one of those routines and is freed exactly once, by `drop`.
pub(crate) struct KernelBuffer {
    buffer: NonNull<c_void>,
}

impl KernelBuffer {
    /// Takes ownership of a buffer a routine returned; `None` for null.
    pub(crate) fn adopt(buffer: *mut c_void) -> Option<KernelBuffer> {
        // INVARIANT: the caller hands over a buffer it now owns.
        NonNull::new(buffer).map(|buffer| KernelBuffer { buffer })
    }

    pub(crate) fn as_ptr(&self) -> *const c_void {
        self.buffer.as_ptr().cast_const()
    }
}

impl Drop for KernelBuffer {
    fn drop(&mut self) {
        // SAFETY: the kernel allocated it for us and it is freed once (invariant).
        unsafe { ExFreePool(self.buffer.as_ptr()) };
    }
}
