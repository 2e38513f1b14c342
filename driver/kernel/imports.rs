//! The windows-sys backend's kernel imports: the `ringfence-ntoskrnl` crate beside this
//! file (a separate crate only to fix the link order; see its Cargo.toml).
pub(crate) use ringfence_ntoskrnl::*;
