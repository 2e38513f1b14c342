//! The companion library: the device interface, decoding and rendering of
//! event batches, and the watch loop, generic over [`device::Device`] and any
//! `io::Write` so that the emulator's demo runs the very same code.
//!
//! - [`device`]: the `Device` trait and the Windows transport.
//! - [`client`], [`watch`]: the control requests and the session over a device.
//! - [`stream`], [`render`], [`doc`], [`sequence`], [`text`], [`time`]: batches to ECS
//!   JSON or table rows, with lost events, gaps and damage accounted.
//! - [`commands`], [`exit`], [`stats_view`]: what each subcommand does.
//! - [`sysmon`]: enriched events in Sysmon's shape (EventID 1, 5, 6, 7 and their EventData).
//! - [`enriched`]: what enrichment added, as ECS fields, Sysmon's events and table words.
//! - [`enrich`]: DOS paths, accounts, file identity (hashes, PE version), caches and workers.
//! - [`windows`] (Windows only): the one layer over the Win32 and NT APIs, the only
//!   module allowed `unsafe_code`.
// `deny`, not `forbid`: the Windows layer (`windows/`) is the one allowed exception.
#![deny(unsafe_code)]

pub mod client;
pub mod clock;
pub mod commands;
pub mod config;
pub mod content2_cmd;
mod content_cmd;
pub mod content_filter;
pub mod detection;
pub mod device;
pub mod doc;
pub mod enrich;
pub mod enriched;
pub mod exit;
pub mod output;
pub mod render;
pub mod sequence;
pub mod service;
mod sigma_cmd;
pub mod stats_view;
pub mod stream;
pub mod sysmon;
pub mod text;
pub mod time;
pub mod trust_cmd;
pub mod watch;
#[cfg(windows)]
pub mod windows;

pub use client::ClientError;
pub use device::{DEVICE_PATH, Device, DeviceError, IoctlOutcome};
pub use render::{Host, Renderer};
pub use stream::{EventStream, Format, Summary};
pub use watch::{Session, WatchError};
