//! The companion library: the device interface, decoding and rendering of
//! event batches, and the watch loop, generic over [`device::Device`] and any
//! `io::Write` so that the emulator's demo runs the very same code.
// `deny`, not `forbid`: the Windows transport (device/windows.rs) is the one allowed exception.
#![deny(unsafe_code)]

pub mod device;

pub use device::{DEVICE_PATH, Device, DeviceError, IoctlOutcome};
pub mod render;
pub mod sequence;
pub mod stream;
pub mod text;
pub mod time;

pub use render::{Host, Renderer};
pub use stream::{EventStream, Format, Summary};
pub mod client;
pub mod watch;

pub use client::ClientError;
pub use watch::{Session, WatchError};
pub mod commands;
mod content_cmd;
pub mod exit;
pub mod stats_view;
