//! The kernel API: the only `unsafe` in ringfence.
//!
//! - [`views`]: raw kernel structures → safe views (`&[u16]`, typed events, IRP buffers).
//!   Plain repr(C) windows-sys types, so it compiles on every target and runs under Miri
//!   with synthetic structures.
//! - On Windows: `entry` (DriverEntry, unload, dispatch, callbacks), `device` (device,
//!   link, DACL, callback registrations as guards that undo themselves when dropped),
//!   `sync` (push locks, the reader's event, the clock), `registry`, `token` (a process's
//!   primary token) and `process_query` (a process by id, its names and user, for the
//!   process table), written once against `ffi`, which is the binding backend:
//!   - windows-sys (default): `imports` (raw-dylib) plus `pool` (allocator, panic handler);
//!   - `wdk` feature: `wdk` forwards the same names to wdk-sys; wdk-alloc and wdk-panic
//!     supply allocator and panic handler. Built on Windows with the WDK only.

pub mod align;
pub mod views;

#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod imports;
#[cfg(all(target_os = "windows", not(feature = "wdk")))]
mod pool;
#[cfg(all(target_os = "windows", feature = "wdk"))]
mod wdk;

#[cfg(target_os = "windows")]
mod ffi {
    #[cfg(not(feature = "wdk"))]
    pub(crate) use super::imports::*;
    #[cfg(feature = "wdk")]
    pub(crate) use super::wdk::*;
}

#[cfg(target_os = "windows")]
mod device;
#[cfg(target_os = "windows")]
mod entry;
#[cfg(target_os = "windows")]
mod process_query;
#[cfg(target_os = "windows")]
mod registry;
#[cfg(target_os = "windows")]
mod security;
#[cfg(target_os = "windows")]
mod store;
#[cfg(target_os = "windows")]
mod sync;
#[cfg(target_os = "windows")]
mod token;
#[cfg(target_os = "windows")]
mod work;
