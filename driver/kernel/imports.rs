//! The windows-sys backend's kernel imports: the `ringfence-ntoskrnl` crate beside this
//! file (a separate crate only to fix the link order; see its Cargo.toml).

pub(crate) use ringfence_ntoskrnl::*;
use windows_sys::Wdk::Foundation::POBJECT_TYPE;

/// The kernel's event object type.
pub(crate) fn event_object_type() -> POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads; read-only.
    unsafe { ExEventObjectType }
}

/// The kernel's process object type.
pub(crate) fn process_object_type() -> POBJECT_TYPE {
    // SAFETY: a data export the kernel initialises before any driver loads; read-only.
    unsafe { PsProcessType }
}
