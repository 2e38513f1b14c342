//! Enrichment: what user mode adds to what the kernel reported.
//!
//! - [`dos_path`]: NT device paths to DOS paths, from the machine's volume map.
//! - [`sid`], [`account`], [`token`]: SIDs to `DOMAIN\\user`, integrity levels and
//!   elevation types to the names Sysmon and ECS use.
//! - [`hashes`], [`file`], [`files`]: a file's hashes (Sysmon's `HashAlgorithms`)
//!   and PE identity, read within bounds, cached by path and stamp, on workers.
//! - [`pe`]: IMPHASH (pefile's definition) and the version resource of a PE image.
//! - [`process_guid`]: ProcessGuid from the host identity and the process start key.
//! - [`stage`]: the stage the event stream runs: each record's paths, users and
//!   image file, from the machine's [`stage::Sources`], waited for within a bound.
//! - `windows` (Windows only): the machine's DOS device map, `LookupAccountSid`, MachineGuid.
//! - [`workers`], [`cache`]: blocking work off the READ loop, answers kept in
//!   bounded caches; a caller waits for an answer only up to its own deadline.

pub mod account;
pub mod cache;
pub mod dos_path;
pub mod file;
pub mod files;
pub mod hashes;
pub mod pe;
pub mod process_guid;
pub mod sid;
pub mod stage;
pub mod token;
#[cfg(windows)]
pub use crate::windows::sources as windows;
pub mod workers;
