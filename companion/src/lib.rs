//! The companion library: the device interface, decoding and rendering of
//! event batches, and the watch loop, generic over [`device::Device`] and any
//! `io::Write` so that the emulator's demo runs the very same code.
//!
//! - [`device`]: the `Device` trait and the Windows transport.
//! - [`client`], [`watch`]: the control requests and the session over a device.
//! - [`stream`], [`render`], [`doc`], [`sequence`], [`text`], [`time`]: batches to ECS
//!   JSON or table rows, with lost events, gaps and damage accounted.
//! - [`commands`], [`exit`], [`stats_view`]: what each subcommand does.
// `deny`, not `forbid`: the Windows transport (device/windows.rs) is the one allowed exception.
#![deny(unsafe_code)]

pub mod client;
pub mod commands;
mod content_cmd;
pub mod device;
pub mod doc;
pub mod exit;
pub mod render;
pub mod sequence;
pub mod stats_view;
pub mod stream;
pub mod text;
pub mod time;
pub mod trust_cmd;
pub mod watch;

pub use client::ClientError;
pub use device::{DEVICE_PATH, Device, DeviceError, IoctlOutcome};
pub use render::{Host, Renderer};
pub use stream::{EventStream, Format, Summary};
pub use watch::{Session, WatchError};
