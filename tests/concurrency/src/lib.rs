//! The driver's portable core under [loom](https://docs.rs/loom): a [`Platform`] whose
//! locks, clock and waker are loom's, so that every interleaving of callbacks with `READ`,
//! `LOAD_CONTENT`, `SET_EVENT`/CLEANUP and `STATS` (up to a preemption bound) is explored
//! by the models in `tests/`, and the ledger they check the driver's output against.
//!
//! Everything here is compiled only with `RUSTFLAGS="--cfg loom"` (`cargo xtask loom`);
//! the workspace's ordinary builds see an empty crate.

#[cfg(loom)]
mod ledger;
#[cfg(loom)]
mod platform;

#[cfg(loom)]
pub use ledger::{Delivered, Ledger, LedgerError};
#[cfg(loom)]
pub use platform::{EventObject, INVALID_HANDLE, Loom, LoomLock, LoomWaker, event};
