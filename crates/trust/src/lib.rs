//! ringfence-trust: what makes the sensor take content, shared by the driver
//! and the companion.
//!
//! - [`envelope`]: the signed envelope around content bytes (its own small
//!   format: the declarations live here, not in the content header, so trust
//!   does not depend on the content format);
//! - [`signature`]: Ed25519 verification (and signing, for the companion);
//! - [`keys`]: the trusted keys, built in and provisioned;
//! - [`policy`]: the signature stage and the policy decision (ring, sensor
//!   versions, pin), as pure functions;
//! - [`reason`]: every refusal and fallback as a stable code on the wire;
//! - [`guard_state`]: the crash-loop guard's state, as the driver keeps it in its service key.
//!
//! `no_std`, no allocation, `unsafe_code` forbidden; every parser and decision function
//! is in the link-time no-panic proof; signature verification is not (see
//! [`signature`] for the bounds checks `ed25519-compact` leaves and why none
//! can fail).
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(test, allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::arithmetic_side_effects))]

#[cfg(test)]
extern crate std;

pub mod envelope;
pub mod guard_state;
pub mod keys;
pub mod policy;
pub mod reason;
pub mod signature;

pub use envelope::{Declaration, EmitError, Envelope, EnvelopeError, EnvelopeErrorKind};
pub use guard_state::{GuardState, Level};
pub use keys::{KeyId, KeyListError, KeySource, MAX_TRUSTED_KEYS, TrustedKeys};
pub use policy::{
    AuthError, Authentic, Judgement, Pin, Policy, PolicyRefusal, RING_GENERAL, SignaturePolicy, authenticate,
    decide,
};
pub use reason::{PersistStep, REASON_BASE, Reason, Slot};
pub use signature::{SignatureError, SigningKey, Verified, verify};
