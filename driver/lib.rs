//! ringfence.sys: the WDM sensor driver.
//!
//! Everything outside `kernel/` is ordinary safe, portable Rust: the record queue
//! ([`queue`], [`channel`]), the sensor that ties content, queue and waker together
//! ([`sensor`]), the volume map paths are read with ([`volume_slot`]), the IOCTL handlers ([`control`]), who may open the device ([`open`]) and the
//! service parameters ([`params`]).
//! It is compiled and tested on the development host. `kernel/` is the one module exempt from
//! `deny(unsafe_code)`: safe views over kernel structures (compiled everywhere, exercised under Miri) and, on
//! Windows, the binding backend (windows-sys by default, wdk-sys with the `wdk` feature).
#![cfg_attr(target_os = "windows", no_std)]
#![deny(unsafe_code)]
// A panic in the kernel is a bugcheck: the portable core is written without panic paths.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]
// Tests build exact cases with literal sizes and struct updates; the casts are checked there.
#![cfg_attr(test, allow(clippy::cast_possible_truncation, clippy::field_reassign_with_default))]

extern crate alloc;

pub mod activity;
pub mod admission;
pub mod channel;
pub mod content_slot;
pub mod control;
pub mod evaluation;
pub mod guard;
pub mod health;
pub mod open;
pub mod params;
pub mod platform;
pub mod processes;
pub mod queue;
pub mod sensor;
pub mod trust_params;
pub mod volume_slot;

#[allow(unsafe_code)]
pub mod kernel;

#[cfg(not(target_os = "windows"))]
pub mod host;
