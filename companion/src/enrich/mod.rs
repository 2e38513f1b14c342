//! Enrichment: what user mode adds to what the kernel reported.
//!
//! - [`dos_path`]: NT device paths to DOS paths, from the machine's volume map.

pub mod dos_path;
