//! The object manager: objects with reference counts, handle tables (user and
//! kernel), event objects, and the registry keys the driver reads.

use std::collections::BTreeMap;

use windows_sys::Wdk::Foundation::{KEVENT, OBJECT_ATTRIBUTES};
use windows_sys::Wdk::System::SystemServices::KEY_VALUE_PARTIAL_INFORMATION;
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_TYPE_MISMATCH, STATUS_SUCCESS,
};

use super::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use super::{Call, DISPATCH_LEVEL, PASSIVE_LEVEL, Uc, status};
use crate::books::Finding;
use crate::layout::Guest;
use crate::{rd, rd_ptr, wr};

pub const OBJ_KERNEL_HANDLE: u32 = 0x200;
pub const EVENT_ALL_ACCESS: u32 = 0x1F_0003;
pub const EVENT_MODIFY_STATE: u32 = 0x2;
const KERNEL_HANDLE_BIT: u64 = 0xFFFF_FFFF_8000_0000;
const USER_MODE: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKind {
    Event,
    Key {
        path: String,
    },
    Device,
    Process,
    /// A file or directory opened with `ZwCreateFile` (see `fs`).
    File,
    Token,
}

impl ObjectKind {
    /// The `ObjectTypes` exported variable that names this kind.
    pub fn type_variable(&self) -> &'static str {
        match self {
            ObjectKind::Event => "ExEventObjectType",
            ObjectKind::Key { .. } => "CmKeyObjectType",
            ObjectKind::Device => "IoDeviceObjectType",
            ObjectKind::Process => "PsProcessType",
            ObjectKind::File => "IoFileObjectType",
            ObjectKind::Token => "SeTokenObjectType",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Object {
    pub kind: ObjectKind,
    /// References from anyone but the driver (creation, the I/O manager, ...).
    pub kernel_refs: i64,
    /// References the driver took and has not released.
    pub driver_refs: i64,
    pub handles: u64,
    /// Whether the model allocated it (and frees it with the last reference).
    pub pooled: bool,
    pub signals: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Handle {
    pub object: u64,
    pub access: u32,
}

#[derive(Debug, Default)]
pub struct Ob {
    pub objects: BTreeMap<u64, Object>,
    pub handles: BTreeMap<u64, Handle>,
    next_handle: u64,
    /// Keys (lower-case path) and their values (lower-case name → type, data).
    pub registry: BTreeMap<String, BTreeMap<String, (u32, Vec<u8>)>>,
    /// Object type object address → the kind's type variable name.
    pub types: BTreeMap<u64, &'static str>,
}

impl Ob {
    pub fn insert(&mut self, address: u64, kind: ObjectKind, pooled: bool) {
        let object = Object { kind, kernel_refs: 1, driver_refs: 0, handles: 0, pooled, signals: 0 };
        self.objects.insert(address, object);
    }

    pub fn open_handle(&mut self, object: u64, access: u32, kernel: bool) -> u64 {
        self.next_handle += 4;
        let value = if kernel { KERNEL_HANDLE_BIT | self.next_handle } else { self.next_handle };
        self.handles.insert(value, Handle { object, access });
        if let Some(o) = self.objects.get_mut(&object) {
            o.handles += 1;
        }
        value
    }

    pub fn is_kernel_handle(handle: u64) -> bool {
        handle & KERNEL_HANDLE_BIT == KERNEL_HANDLE_BIT
    }

    pub fn kernel_handles(&self) -> Vec<u64> {
        self.handles.keys().copied().filter(|&h| Ob::is_kernel_handle(h)).collect()
    }

    pub fn driver_references(&self) -> Vec<(u64, i64)> {
        self.objects.iter().filter(|(_, o)| o.driver_refs != 0).map(|(&a, o)| (a, o.driver_refs)).collect()
    }
}

/// Frees an object the model allocated once nothing refers to it any more.
pub fn release_if_unused(uc: &mut Uc<'_>, object: u64) {
    let ob = &mut uc.get_data_mut().ob;
    let Some(o) = ob.objects.get(&object) else { return };
    if o.kernel_refs + o.driver_refs <= 0 && o.handles == 0 {
        let pooled = o.pooled;
        ob.objects.remove(&object);
        if pooled {
            Pool::release(uc, object);
        }
    }
}

/// Creates an auto-reset event object and a user-mode handle with `access`, as CreateEvent does.
pub fn create_user_event(uc: &mut Uc<'_>, access: u32) -> u64 {
    let size = core::mem::size_of::<KEVENT>() as u64;
    let at = Pool::allocate(uc, size, *b"Even", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
    // SynchronizationEvent (auto-reset) is dispatcher type 1.
    uc.write_uint(at, 1, 1);
    let ob = &mut uc.get_data_mut().ob;
    ob.insert(at, ObjectKind::Event, true);
    // The creation reference belongs to the handle.
    if let Some(o) = ob.objects.get_mut(&at) {
        o.kernel_refs = 0;
    }
    ob.open_handle(at, access, false)
}

/// Closes a handle (user or kernel); `false` when it was not open.
pub fn close_handle(uc: &mut Uc<'_>, handle: u64) -> bool {
    let Some(h) = uc.get_data_mut().ob.handles.remove(&handle) else { return false };
    if let Some(o) = uc.get_data_mut().ob.objects.get_mut(&h.object) {
        o.handles = o.handles.saturating_sub(1);
        if o.handles == 0 && o.kind == ObjectKind::File {
            super::fs::closed(uc, h.object);
        }
    }
    release_if_unused(uc, h.object);
    true
}

/// Reads and resets the signal state of the event behind a user handle (auto-reset).
pub fn take_signal(uc: &mut Uc<'_>, handle: u64) -> Option<bool> {
    let object = uc.get_data().ob.handles.get(&handle)?.object;
    let state_at = object + core::mem::offset_of!(KEVENT, Header.SignalState) as u64;
    let signalled = uc.read_u32(state_at) != 0;
    uc.write_uint(state_at, 0, 4);
    Some(signalled)
}

/// `ObReferenceObjectByHandle(Handle, DesiredAccess, ObjectType, AccessMode, Object, HandleInformation)`.
pub fn reference_object_by_handle(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, desired, object_type, mode, out) = (c.arg(0), c.arg32(1), c.arg(2), c.arg(3), c.arg(4));
    if Ob::is_kernel_handle(handle) && mode == USER_MODE {
        return status(STATUS_INVALID_HANDLE);
    }
    if !Ob::is_kernel_handle(handle) && mode != USER_MODE {
        c.finding(Finding::BadArgument { api: c.api, what: "user handle referenced in KernelMode" });
    }
    let Some(h) = c.k().ob.handles.get(&handle).copied() else { return status(STATUS_INVALID_HANDLE) };
    let Some(kind) = c.k().ob.objects.get(&h.object).map(|o| o.kind.clone()) else {
        return status(STATUS_INVALID_HANDLE);
    };
    if object_type != 0 && c.k().ob.types.get(&object_type) != Some(&kind.type_variable()) {
        return status(STATUS_OBJECT_TYPE_MISMATCH);
    }
    if mode == USER_MODE && desired & !h.access != 0 {
        return status(STATUS_ACCESS_DENIED);
    }
    if !c.uc.write_uint(out, h.object, 8) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable Object" });
        return status(STATUS_INVALID_PARAMETER);
    }
    if let Some(o) = c.k().ob.objects.get_mut(&h.object) {
        o.driver_refs += 1;
    }
    status(STATUS_SUCCESS)
}

/// `ObfReferenceObject(Object) -> LONG_PTR`.
pub fn reference_object(c: &mut Call<'_, '_>) -> u64 {
    let object = c.arg(0);
    match c.k().ob.objects.get_mut(&object) {
        Some(o) => {
            o.driver_refs += 1;
            (o.driver_refs + o.kernel_refs) as u64
        }
        None => {
            c.finding(Finding::UnknownObject { api: c.api, address: object });
            0
        }
    }
}

/// `ObfDereferenceObject(Object) -> LONG_PTR`.
pub fn dereference_object(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let object = c.arg(0);
    let Some(o) = c.k().ob.objects.get_mut(&object) else {
        c.finding(Finding::UnknownObject { api: c.api, address: object });
        return 0;
    };
    if o.driver_refs <= 0 {
        c.finding(Finding::ReferenceUnderflow { object });
        return 0;
    }
    o.driver_refs -= 1;
    let left = o.driver_refs + o.kernel_refs;
    release_if_unused(c.uc, object);
    left as u64
}

/// `KeSetEvent(Event, Increment, Wait) -> LONG` (the previous state).
pub fn set_event(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let event = c.arg(0);
    let known = c.k().ob.objects.get(&event).map(|o| (o.kind.clone(), o.driver_refs));
    let in_driver_pool = c.k().pool.live.get(&event).is_some_and(|a| a.owner == Owner::Driver);
    match known {
        Some((ObjectKind::Event, refs)) if refs > 0 => {}
        _ if in_driver_pool => {}
        _ => {
            c.finding(Finding::UnknownObject { api: c.api, address: event });
            if !c.uc.readable(event, 8) {
                return c.bugcheck(0x50, [event, 1, 0, 0]);
            }
            return 0;
        }
    }
    let state_at = event + core::mem::offset_of!(KEVENT, Header.SignalState) as u64;
    let previous = c.uc.read_u32(state_at);
    c.uc.write_uint(state_at, 1, 4);
    if let Some(o) = c.k().ob.objects.get_mut(&event) {
        o.signals += 1;
    }
    u64::from(previous)
}

/// `KeInitializeEvent(Event, Type, State)`.
pub fn initialize_event(c: &mut Call<'_, '_>) -> u64 {
    let (event, kind, state) = (c.arg(0), c.arg32(1), c.arg(2) & 0xFF);
    c.uc.write_uint(event, u64::from(kind), 1);
    c.uc.write_uint(event + core::mem::offset_of!(KEVENT, Header.SignalState) as u64, state, 4);
    0
}

/// `ObOpenObjectByPointer(Object, HandleAttributes, AccessState, DesiredAccess, ObjectType, AccessMode, Handle)`.
pub fn open_object_by_pointer(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (object, attributes, desired, out) = (c.arg(0), c.arg32(1), c.arg32(3), c.arg(6));
    if attributes & OBJ_KERNEL_HANDLE == 0 {
        c.finding(Finding::HandleNotKernel { api: c.api });
    }
    let Some(kind) = c.k().ob.objects.get(&object).map(|o| o.kind.clone()) else {
        c.finding(Finding::UnknownObject { api: c.api, address: object });
        return status(STATUS_INVALID_PARAMETER);
    };
    let object_type = c.arg(4);
    if object_type != 0 && c.k().ob.types.get(&object_type) != Some(&kind.type_variable()) {
        return status(STATUS_OBJECT_TYPE_MISMATCH);
    }
    let handle = c.k().ob.open_handle(object, desired, true);
    c.uc.write_uint(out, handle, 8);
    status(STATUS_SUCCESS)
}

/// `ZwOpenKey(KeyHandle, DesiredAccess, ObjectAttributes)`.
pub fn zw_open_key(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (out, desired, attributes) = (c.arg(0), c.arg32(1), c.arg(2));
    let flags: u32 = rd!(c.uc, attributes, OBJECT_ATTRIBUTES, Attributes);
    if flags & OBJ_KERNEL_HANDLE == 0 {
        c.finding(Finding::HandleNotKernel { api: c.api });
    }
    let root = rd_ptr!(c.uc, attributes, OBJECT_ATTRIBUTES, RootDirectory);
    let name_at = rd_ptr!(c.uc, attributes, OBJECT_ATTRIBUTES, ObjectName);
    let Some(name) = c.uc.read_unicode_string(name_at) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable ObjectName" });
        return status(STATUS_INVALID_PARAMETER);
    };
    let mut path = String::from_utf16_lossy(&name).to_lowercase();
    if root != 0 {
        let ob = &c.k().ob;
        let parent = ob.handles.get(&root).and_then(|h| ob.objects.get(&h.object));
        match parent.map(|o| o.kind.clone()) {
            Some(ObjectKind::Key { path: p }) => path = format!("{p}\\{path}"),
            _ => return status(STATUS_INVALID_HANDLE),
        }
    }
    if !c.k().ob.registry.contains_key(&path) {
        return status(STATUS_OBJECT_NAME_NOT_FOUND);
    }
    let key = Pool::allocate(c.uc, 64, *b"Key ", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
    let ob = &mut c.k().ob;
    ob.insert(key, ObjectKind::Key { path }, true);
    if let Some(o) = ob.objects.get_mut(&key) {
        o.kernel_refs = 0;
    }
    let handle = ob.open_handle(key, desired, true);
    c.uc.write_uint(out, handle, 8);
    status(STATUS_SUCCESS)
}

/// `ZwQueryValueKey(KeyHandle, ValueName, KeyValueInformationClass, KeyValueInformation, Length, ResultLength)`.
pub fn zw_query_value_key(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, name_at, class, info, length, result) =
        (c.arg(0), c.arg(1), c.arg32(2), c.arg(3), c.arg32(4), c.arg(5));
    let ob = &c.k().ob;
    let key = ob.handles.get(&handle).and_then(|h| ob.objects.get(&h.object));
    let Some(ObjectKind::Key { path }) = key.map(|o| o.kind.clone()) else {
        c.finding(Finding::BadHandle { api: c.api, handle });
        return status(STATUS_INVALID_HANDLE);
    };
    // KeyValuePartialInformation is the one class the model answers.
    if class != 2 {
        c.finding(Finding::BadArgument { api: c.api, what: "information class other than partial" });
        return status(STATUS_INVALID_PARAMETER);
    }
    let Some(name) = c.uc.read_unicode_string(name_at) else { return status(STATUS_INVALID_PARAMETER) };
    let name = String::from_utf16_lossy(&name).to_lowercase();
    let value = c.k().ob.registry.get(&path).and_then(|values| values.get(&name)).cloned();
    let Some((kind, data)) = value else { return status(STATUS_OBJECT_NAME_NOT_FOUND) };
    let header = core::mem::offset_of!(KEY_VALUE_PARTIAL_INFORMATION, Data) as u32;
    let needed = header + data.len() as u32;
    c.uc.write_uint(result, u64::from(needed), 4);
    if length < header {
        return status(STATUS_BUFFER_TOO_SMALL);
    }
    wr!(c.uc, info, KEY_VALUE_PARTIAL_INFORMATION, TitleIndex = 0u32);
    wr!(c.uc, info, KEY_VALUE_PARTIAL_INFORMATION, Type = kind);
    wr!(c.uc, info, KEY_VALUE_PARTIAL_INFORMATION, DataLength = data.len() as u32);
    if length < needed {
        return status(STATUS_BUFFER_OVERFLOW);
    }
    c.uc.write_bytes(info + u64::from(header), &data);
    status(STATUS_SUCCESS)
}

/// `ZwClose(Handle)`.
pub fn zw_close(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let handle = c.arg(0);
    if !Ob::is_kernel_handle(handle) || !close_handle(c.uc, handle) {
        c.finding(Finding::BadHandle { api: c.api, handle });
        return status(STATUS_INVALID_HANDLE);
    }
    status(STATUS_SUCCESS)
}
