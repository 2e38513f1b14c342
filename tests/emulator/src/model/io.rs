//! The I/O manager: device objects, symbolic links, open files and IRP
//! completion. Building and sending IRPs is the harness's side (crate::driver).

use std::collections::BTreeMap;

use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT, IRP};
use windows_sys::Win32::Foundation::{
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
    STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS,
};

use super::ob::ObjectKind;
use super::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use super::se::SecurityDescriptor;
use super::{Call, DISPATCH_LEVEL, PASSIVE_LEVEL, Uc, status};
use crate::books::Finding;
use crate::layout::Guest;
use crate::{rd_ptr, wr, wr_ptr};

pub const DO_EXCLUSIVE: u32 = 0x8;
pub const DO_DEVICE_INITIALIZING: u32 = 0x80;

#[derive(Debug, Clone)]
pub struct Device {
    pub name: Option<String>,
    pub device_type: u32,
    pub exclusive: bool,
    pub extension_size: u32,
    pub security: Option<SecurityDescriptor>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct OpenFile {
    pub device: u64,
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Default)]
pub struct Io {
    pub driver_object: u64,
    pub devices: BTreeMap<u64, Device>,
    /// Lower-case link name → (link as created, target).
    pub links: BTreeMap<String, (String, String)>,
    pub files: BTreeMap<u64, OpenFile>,
    /// IRPs in flight and how often each was completed.
    pub irps: BTreeMap<u64, u32>,
    /// The service was stopped while a file was open: unload after the last close.
    pub unload_pending: bool,
}

impl Io {
    pub fn live_devices(&self) -> impl Iterator<Item = (&u64, &Device)> {
        self.devices.iter().filter(|(_, d)| !d.deleted)
    }

    pub fn device_named(&self, name: &str) -> Option<u64> {
        let name = name.to_lowercase();
        let target = self.links.get(&name).map_or(name, |(_, t)| t.to_lowercase());
        self.live_devices()
            .find(|(_, d)| d.name.as_deref().map(str::to_lowercase) == Some(target.clone()))
            .map(|(&a, _)| a)
    }
}

fn read_name(c: &mut Call<'_, '_>, at: u64) -> Option<String> {
    c.uc.read_unicode_string(at).map(|units| String::from_utf16_lossy(&units))
}

/// Frees a deleted device's memory once no file refers to it.
pub fn reap_device(uc: &mut Uc<'_>, device: u64) {
    let k = uc.get_data_mut();
    let deleted = k.io.devices.get(&device).is_some_and(|d| d.deleted);
    if deleted && !k.io.files.values().any(|f| f.device == device) {
        k.io.devices.remove(&device);
        k.ob.objects.remove(&device);
        Pool::release(uc, device);
    }
}

/// `IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics, Exclusive, DeviceObject)`.
pub fn create_device(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (driver, extension_size, name_at, device_type) = (c.arg(0), c.arg32(1), c.arg(2), c.arg32(3));
    let (characteristics, exclusive, out) = (c.arg32(4), c.arg(5) & 0xFF != 0, c.arg(6));
    if driver != c.k().io.driver_object {
        c.finding(Finding::UnknownObject { api: c.api, address: driver });
        return status(STATUS_INVALID_PARAMETER);
    }
    let name = if name_at == 0 { None } else { read_name(c, name_at) };
    if name.as_deref().is_some_and(|n| c.uc.get_data().io.device_named(n).is_some()) {
        return status(STATUS_OBJECT_NAME_COLLISION);
    }
    // The device object comes out of pool, so a low-resources run fails it too.
    let pool = &mut c.k().pool;
    pool.driver_attempts += 1;
    if pool.fail_attempt == Some(pool.driver_attempts) {
        pool.failed += 1;
        return status(STATUS_INSUFFICIENT_RESOURCES);
    }
    let object_size = core::mem::size_of::<DEVICE_OBJECT>() as u64;
    let total = object_size.next_multiple_of(16) + u64::from(extension_size);
    let Some(dev) = Pool::allocate(c.uc, total, *b"Devi", POOL_FLAG_NON_PAGED, Owner::Kernel, 16) else {
        return status(STATUS_INSUFFICIENT_RESOURCES);
    };
    let first = rd_ptr!(c.uc, driver, DRIVER_OBJECT, DeviceObject);
    wr!(c.uc, dev, DEVICE_OBJECT, Type = 3i16);
    wr!(c.uc, dev, DEVICE_OBJECT, Size = object_size as u16);
    wr_ptr!(c.uc, dev, DEVICE_OBJECT, DriverObject = driver);
    wr_ptr!(c.uc, dev, DEVICE_OBJECT, NextDevice = first);
    let flags = DO_DEVICE_INITIALIZING | if exclusive { DO_EXCLUSIVE } else { 0 };
    wr!(c.uc, dev, DEVICE_OBJECT, Flags = flags);
    wr!(c.uc, dev, DEVICE_OBJECT, Characteristics = characteristics);
    let extension = if extension_size == 0 { 0 } else { dev + object_size.next_multiple_of(16) };
    wr_ptr!(c.uc, dev, DEVICE_OBJECT, DeviceExtension = extension);
    wr!(c.uc, dev, DEVICE_OBJECT, DeviceType = device_type);
    wr!(c.uc, dev, DEVICE_OBJECT, StackSize = 1i8);
    wr_ptr!(c.uc, driver, DRIVER_OBJECT, DeviceObject = dev);
    c.uc.write_uint(out, dev, 8);
    let device = Device { name, device_type, exclusive, extension_size, security: None, deleted: false };
    c.k().io.devices.insert(dev, device);
    c.k().ob.insert(dev, ObjectKind::Device, false);
    status(STATUS_SUCCESS)
}

/// `IoDeleteDevice(DeviceObject)`.
pub fn delete_device(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let dev = c.arg(0);
    match c.k().io.devices.get_mut(&dev) {
        Some(d) if !d.deleted => d.deleted = true,
        _ => {
            c.finding(Finding::UnknownObject { api: c.api, address: dev });
            return c.bugcheck(0x50, [dev, 0, 0, 0]);
        }
    }
    // Unlink it from the driver object's device list.
    let driver = c.k().io.driver_object;
    let next = rd_ptr!(c.uc, dev, DEVICE_OBJECT, NextDevice);
    let mut link_at = driver + core::mem::offset_of!(DRIVER_OBJECT, DeviceObject) as u64;
    loop {
        let current = c.uc.read_u64(link_at);
        if current == 0 {
            break;
        }
        if current == dev {
            c.uc.write_uint(link_at, next, 8);
            break;
        }
        link_at = current + core::mem::offset_of!(DEVICE_OBJECT, NextDevice) as u64;
    }
    reap_device(c.uc, dev);
    0
}

/// `IoCreateSymbolicLink(SymbolicLinkName, DeviceName)`.
pub fn create_symbolic_link(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (link_at, target_at) = (c.arg(0), c.arg(1));
    let (Some(link), Some(target)) = (read_name(c, link_at), read_name(c, target_at)) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable name" });
        return status(STATUS_INVALID_PARAMETER);
    };
    let key = link.to_lowercase();
    if c.k().io.links.contains_key(&key) {
        return status(STATUS_OBJECT_NAME_COLLISION);
    }
    c.k().io.links.insert(key, (link, target));
    status(STATUS_SUCCESS)
}

/// `IoDeleteSymbolicLink(SymbolicLinkName)`.
pub fn delete_symbolic_link(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let link_at = c.arg(0);
    let Some(link) = read_name(c, link_at) else { return status(STATUS_INVALID_PARAMETER) };
    match c.k().io.links.remove(&link.to_lowercase()) {
        Some(_) => status(STATUS_SUCCESS),
        None => status(STATUS_OBJECT_NAME_NOT_FOUND),
    }
}

/// `IofCompleteRequest(Irp, PriorityBoost)`.
pub fn complete_request(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let irp = c.arg(0);
    match c.k().io.irps.get_mut(&irp) {
        Some(count) => {
            *count += 1;
            if *count > 1 {
                c.finding(Finding::IrpCompletedTwice { irp });
                // MULTIPLE_IRP_COMPLETE_REQUESTS.
                return c.bugcheck(0x44, [irp, 0, 0, 0]);
            }
        }
        None => {
            c.finding(Finding::UnknownObject { api: c.api, address: irp });
            return c.bugcheck(0x44, [irp, 0, 0, 0]);
        }
    }
    0
}

/// What the I/O manager puts in every MajorFunction slot the driver leaves alone.
pub fn invalid_device_request(c: &mut Call<'_, '_>) -> u64 {
    let irp = c.arg(1);
    wr!(c.uc, irp, IRP, IoStatus.Anonymous.Status = STATUS_INVALID_DEVICE_REQUEST);
    wr!(c.uc, irp, IRP, IoStatus.Information = 0usize);
    if let Some(count) = c.k().io.irps.get_mut(&irp) {
        *count += 1;
    }
    status(STATUS_INVALID_DEVICE_REQUEST)
}
