//! The companion's Windows layer: everything that calls the Win32 and NT APIs
//! (Windows only; compiled and checked by clippy for x86_64-pc-windows-msvc on
//! Linux, never run there). It is the companion's one exception to "no
//! `unsafe` outside `driver/kernel/`": every unsafe operation stands alone with
//! a `// SAFETY:` line, each function takes raw handles and buffers once and
//! hands safe values to the portable code. The crate root denies `unsafe_code`;
//! this module alone allows it, and `tests/unsafe_layer.rs` keeps it the only one.
//!
//! - [`device`]: `\\.\Ringfence` through `NtDeviceIoControlFile`, keeping the driver's NTSTATUS.
//! - [`sources`]: the enrichment sources: DOS device map, `LookupAccountSid`, MachineGuid.
//! - [`eventlog`]: the Application event log as an output, and its source's registration.
//! - [`service`]: the Service Control Manager's entry point and `service install | …`.

#![allow(unsafe_code)]

pub mod device;
pub mod eventlog;
pub mod service;
pub mod sources;
