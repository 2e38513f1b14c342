//! ringfence-wire: the contract between ringfence.sys and user mode.
//!
//! - [`schema`]: the one declaration of event kinds and their fields.
//! - [`text`]: UTF-16 string views and field values shared by every consumer.
//! - [`record`] / [`batch`]: the record format, encoded without allocation and
//!   decoded zero-copy after a single validating pass.
//! - [`ioctl`]: control codes and the versioned request/response layouts.
//! - [`sid`]: security identifiers as text, formatted from the kernel's bytes.
//! - [`volume_map`]: the NT → DOS path translation kernel and companion share.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

#[cfg(test)]
extern crate std;

pub mod batch;
pub mod bytes;
pub mod ioctl;
pub mod record;
pub mod schema;
pub mod sid;
pub mod text;
pub mod volume_map;

pub use batch::{Batch, BatchError};
pub use record::{DecodeError, DecodeErrorKind, EncodeError, Record};
pub use schema::{Event, EventKind, FieldDef, FieldType, Fields, KindDef, SCHEMA, SCHEMA_VERSION, Schema};
pub use text::{Text, Value};
