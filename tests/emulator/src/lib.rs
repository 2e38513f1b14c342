//! The kernel model that runs ringfence.sys under Unicorn.
//!
//! [`pe`] lays the image out, [`machine`] binds its imports to [`model`] and
//! calls into it, [`driver`] is the harness (load, IRPs, callbacks, unload),
//! [`books`] what the model saw the driver do.

// Guest structure fields have fixed widths: narrowing a value to its field is
// what the kernel does too, so these casts are intended throughout.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

pub mod books;
pub mod layout;
pub mod machine;
pub mod model;
pub mod pe;

pub use books::{Entry, Finding, Report, Stop};
pub use machine::{Machine, SetupError};
pub mod boot;
pub mod device;
pub mod driver;
pub mod events;
pub mod irp;
pub mod kstring;
pub mod replay;
pub mod scenario;
pub mod system;
pub mod threads;

pub use boot::{CONTENT_DIRECTORY, DRIVERS_DIRECTORY, Disk};
pub use device::{Activity, EmulatedDevice};
pub use driver::{Caller, Emulator, IoctlLayout, IoctlResult, LoadFailure, RegValue, Unload};
pub use events::{ImageLoad, ProcessStart};
pub use irp::{CREATE_FILE_OPTIONS, FILE_DIRECTORY_FILE};
pub use kstring::KString;
pub use model::ps::{ImageNotify, Process, ProcessApi, ProcessNotify, Token};
pub use model::threads::LockMode;
pub use scenario::{Scenario, ScenarioError};
pub use system::{EmulatedHandle, EmulatedSystem, Ledger, Step};
pub use threads::{Done, Run, Schedule, ThreadsError, Waiting, Work};
