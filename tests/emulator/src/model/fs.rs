//! The file system the driver persists content in: directories and files by
//! (lower-case) NT path, each with the security descriptor it was created
//! with, opened through kernel handles by `ZwCreateFile` and read, written,
//! flushed, queried, renamed and deleted through them.
//!
//! Durability is modelled, because atomic replacement depends on it: a file's
//! `data` is what reads see; `durable` is what survives a crash. A write through
//! a `FILE_WRITE_THROUGH` handle, or a flush, makes data durable; a rename or a
//! delete is durable at once (metadata is journalled). A crash keeps only durable
//! state ([`Fs::durable_view`]); an orderly shutdown keeps everything.

use std::collections::BTreeMap;

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_END_OF_FILE, STATUS_FILE_IS_A_DIRECTORY, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, STATUS_NOT_A_DIRECTORY, STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::ob::{OBJ_KERNEL_HANDLE, ObjectKind};
use super::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use super::se::{self, SecurityDescriptor};
use super::{Call, PASSIVE_LEVEL, status};
use crate::books::Finding;
use crate::layout::Guest;
use crate::{rd, rd_ptr};

pub const FILE_READ_DATA: u32 = 0x1;
pub const FILE_WRITE_DATA: u32 = 0x2;
pub const DELETE: u32 = 0x1_0000;
pub const SYNCHRONIZE: u32 = 0x10_0000;
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const GENERIC_ALL: u32 = 0x1000_0000;
pub const FILE_SHARE_READ: u32 = 1;
pub const FILE_SHARE_WRITE: u32 = 2;
pub const FILE_SHARE_DELETE: u32 = 4;
const FILE_DIRECTORY_FILE: u32 = 0x01;
const FILE_WRITE_THROUGH: u32 = 0x02;
const FILE_SYNCHRONOUS_IO_ALERT: u32 = 0x10;
const FILE_SYNCHRONOUS_IO_NONALERT: u32 = 0x20;
const FILE_NON_DIRECTORY_FILE: u32 = 0x40;
const FILE_STANDARD_INFORMATION: u32 = 5;
const FILE_RENAME_INFORMATION: u32 = 10;
const FILE_DISPOSITION_INFORMATION: u32 = 13;

/// One node of the file system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub directory: bool,
    pub data: Vec<u8>,
    pub durable: Vec<u8>,
    pub security: Option<SecurityDescriptor>,
}

/// An open file: the handle's path (it follows renames), access and options.
#[derive(Debug, Clone)]
pub struct OpenNode {
    pub path: String,
    pub access: u32,
    pub share: u32,
    pub write_through: bool,
    pub synchronous: bool,
    pub delete_on_close: bool,
}

#[derive(Debug, Default)]
pub struct Fs {
    pub nodes: BTreeMap<String, Node>,
    /// File object address → what it has open.
    pub open: BTreeMap<u64, OpenNode>,
}

/// Durable files and directories, as another boot finds them.
pub type Files = BTreeMap<String, Node>;

fn parent(path: &str) -> Option<&str> {
    path.rfind('\\').map(|at| &path[..at]).filter(|p| !p.is_empty())
}

fn map_generic(access: u32) -> u32 {
    let mut mapped = access & 0x0FFF_FFFF;
    if access & (GENERIC_READ | GENERIC_ALL) != 0 {
        mapped |= FILE_READ_DATA | SYNCHRONIZE;
    }
    if access & (GENERIC_WRITE | GENERIC_ALL) != 0 {
        mapped |= FILE_WRITE_DATA | SYNCHRONIZE;
    }
    mapped
}

impl Fs {
    /// Creates `path` and every directory above it (the harness's view of an installed system).
    pub fn make_directories(&mut self, path: &str) {
        let path = path.to_lowercase();
        let mut at = String::new();
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            at.push('\\');
            at.push_str(part);
            self.nodes.entry(at.clone()).or_insert(Node { directory: true, ..Node::default() });
        }
    }

    /// Every file as a crash leaves it: durable bytes only.
    pub fn durable_view(&self) -> Files {
        self.nodes.iter().map(|(p, n)| (p.clone(), Node { data: n.durable.clone(), ..n.clone() })).collect()
    }

    /// Every file as an orderly shutdown leaves it.
    pub fn flushed_view(&self) -> Files {
        self.nodes.iter().map(|(p, n)| (p.clone(), Node { durable: n.data.clone(), ..n.clone() })).collect()
    }

    /// Loads what a previous boot left.
    pub fn restore(&mut self, files: &Files) {
        for (path, node) in files {
            self.nodes.insert(path.clone(), Node { data: node.durable.clone(), ..node.clone() });
        }
    }

    /// Whether opening `path` for `access` with `share` conflicts with a handle open on it.
    fn sharing_conflict(&self, path: &str, access: u32, share: u32) -> bool {
        self.open.values().filter(|o| o.path == path).any(|o| {
            let theirs = o.access;
            let reads = |a: u32| a & FILE_READ_DATA != 0;
            let writes = |a: u32| a & FILE_WRITE_DATA != 0;
            let deletes = |a: u32| a & DELETE != 0;
            (reads(access) && o.share & FILE_SHARE_READ == 0)
                || (writes(access) && o.share & FILE_SHARE_WRITE == 0)
                || (deletes(access) && o.share & FILE_SHARE_DELETE == 0)
                || (reads(theirs) && share & FILE_SHARE_READ == 0)
                || (writes(theirs) && share & FILE_SHARE_WRITE == 0)
                || (deletes(theirs) && share & FILE_SHARE_DELETE == 0)
        })
    }
}

fn finish(c: &mut Call<'_, '_>, io_status: u64, result: i32, information: u64) -> u64 {
    if !c.uc.write_uint(io_status, u64::from(result as u32), 8)
        || !c.uc.write_uint(io_status + 8, information, 8)
    {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable IoStatusBlock" });
    }
    status(result)
}

/// The open file behind a kernel handle, with its file object's address.
fn open_node(c: &mut Call<'_, '_>, handle: u64) -> Option<(u64, OpenNode)> {
    let object = c.k().ob.handles.get(&handle).map(|h| h.object);
    let found = object.and_then(|o| c.k().fs.open.get(&o).cloned().map(|n| (o, n)));
    if found.is_none() {
        c.finding(Finding::BadHandle { api: c.api, handle });
    }
    found
}

/// `ZwCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize,
/// FileAttributes, ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength)`.
pub fn zw_create_file(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (out, desired, attributes, io_status) = (c.arg(0), c.arg32(1), c.arg(2), c.arg(3));
    let (share, disposition, options) = (c.arg32(6), c.arg32(7), c.arg32(8));
    let flags: u32 = rd!(c.uc, attributes, OBJECT_ATTRIBUTES, Attributes);
    if flags & OBJ_KERNEL_HANDLE == 0 {
        c.finding(Finding::HandleNotKernel { api: c.api });
    }
    let access = map_generic(desired);
    let synchronous = options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT) != 0;
    if synchronous && access & SYNCHRONIZE == 0 {
        c.finding(Finding::BadArgument { api: c.api, what: "synchronous I/O without SYNCHRONIZE access" });
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    }
    let name_at = rd_ptr!(c.uc, attributes, OBJECT_ATTRIBUTES, ObjectName);
    let Some(name) = c.uc.read_unicode_string(name_at) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable ObjectName" });
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    };
    let path = String::from_utf16_lossy(&name).to_lowercase();
    if !path.starts_with('\\') || path.ends_with('\\') {
        return finish(c, io_status, STATUS_OBJECT_NAME_INVALID, 0);
    }
    let descriptor_at = rd_ptr!(c.uc, attributes, OBJECT_ATTRIBUTES, SecurityDescriptor);
    let security = if descriptor_at == 0 {
        None
    } else {
        match se::read_security_descriptor(c.uc, descriptor_at, se::DACL_SECURITY_INFORMATION) {
            Ok(sd) => Some(sd),
            Err(s) => return finish(c, io_status, s, 0),
        }
    };
    let parent_is_directory = parent(&path).and_then(|p| c.k().fs.nodes.get(p)).is_some_and(|n| n.directory);
    if !parent_is_directory {
        return finish(c, io_status, STATUS_OBJECT_PATH_NOT_FOUND, 0);
    }
    let want_directory = options & FILE_DIRECTORY_FILE != 0;
    let existing = c.k().fs.nodes.get(&path).map(|n| n.directory);
    match existing {
        Some(true) if options & FILE_NON_DIRECTORY_FILE != 0 => {
            return finish(c, io_status, STATUS_FILE_IS_A_DIRECTORY, 0);
        }
        Some(false) if want_directory => return finish(c, io_status, STATUS_NOT_A_DIRECTORY, 0),
        _ => {}
    }
    if existing.is_some() && c.k().fs.sharing_conflict(&path, access, share) {
        return finish(c, io_status, STATUS_SHARING_VIOLATION, 0);
    }
    // FILE_SUPERSEDE 0, FILE_OPEN 1, FILE_CREATE 2, FILE_OPEN_IF 3, FILE_OVERWRITE 4, FILE_OVERWRITE_IF 5.
    let information = match (disposition, existing.is_some()) {
        (1 | 4, false) => return finish(c, io_status, STATUS_OBJECT_NAME_NOT_FOUND, 0),
        (2, true) => return finish(c, io_status, STATUS_OBJECT_NAME_COLLISION, 0),
        (1 | 3, true) => 1,
        (0 | 4 | 5, true) => {
            if let Some(node) = c.k().fs.nodes.get_mut(&path) {
                node.data.clear();
                if options & FILE_WRITE_THROUGH != 0 {
                    node.durable.clear();
                }
            }
            if disposition == 0 { 0 } else { 3 }
        }
        (0 | 2 | 3 | 5, false) => {
            let node = Node { directory: want_directory, security, ..Node::default() };
            c.k().fs.nodes.insert(path.clone(), node);
            2
        }
        _ => {
            c.finding(Finding::BadArgument { api: c.api, what: "unknown CreateDisposition" });
            return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
        }
    };
    let Some(file) = Pool::allocate(c.uc, 0x100, *b"File", POOL_FLAG_NON_PAGED, Owner::Kernel, 16) else {
        return finish(c, io_status, windows_sys::Win32::Foundation::STATUS_INSUFFICIENT_RESOURCES, 0);
    };
    let open = OpenNode {
        path,
        access,
        share,
        write_through: options & FILE_WRITE_THROUGH != 0,
        synchronous,
        delete_on_close: false,
    };
    let k = c.k();
    k.fs.open.insert(file, open);
    k.ob.insert(file, ObjectKind::File, true);
    if let Some(o) = k.ob.objects.get_mut(&file) {
        o.kernel_refs = 0;
    }
    let handle = k.ob.open_handle(file, access, true);
    c.uc.write_uint(out, handle, 8);
    finish(c, io_status, STATUS_SUCCESS, information)
}

fn check_io(c: &mut Call<'_, '_>, open: &OpenNode, needs: u32) -> Option<i32> {
    if open.access & needs != needs {
        return Some(STATUS_ACCESS_DENIED);
    }
    if !open.synchronous {
        c.finding(Finding::BadArgument {
            api: c.api,
            what: "I/O on an asynchronous handle without an event",
        });
        return Some(STATUS_INVALID_PARAMETER);
    }
    None
}

fn byte_offset(c: &mut Call<'_, '_>, at: u64) -> Option<u64> {
    if at == 0 {
        c.finding(Finding::BadArgument {
            api: c.api,
            what: "ByteOffset omitted (the model keeps no file position)",
        });
        return None;
    }
    Some(c.uc.read_u64(at))
}

/// `ZwReadFile(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, Buffer, Length, ByteOffset, Key)`.
pub fn zw_read_file(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, io_status, buffer, length, offset_at) = (c.arg(0), c.arg(4), c.arg(5), c.arg32(6), c.arg(7));
    let Some((_, open)) = open_node(c, handle) else { return status(STATUS_INVALID_HANDLE) };
    if let Some(s) = check_io(c, &open, FILE_READ_DATA) {
        return finish(c, io_status, s, 0);
    }
    let Some(offset) = byte_offset(c, offset_at) else {
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    };
    let data = c.k().fs.nodes.get(&open.path).map(|n| n.data.clone()).unwrap_or_default();
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)).filter(|r| !r.is_empty())
    else {
        return finish(c, io_status, STATUS_END_OF_FILE, 0);
    };
    let n = rest.len().min(length as usize);
    if !c.uc.write_bytes(buffer, &rest[..n]) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable Buffer" });
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    }
    finish(c, io_status, STATUS_SUCCESS, n as u64)
}

/// `ZwWriteFile(...)`, same arguments as `ZwReadFile`. `partial`: a crash cuts the write
/// after half its bytes (what is written by then follows the handle's durability).
pub fn write_file(c: &mut Call<'_, '_>, partial: bool) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, io_status, buffer, length, offset_at) = (c.arg(0), c.arg(4), c.arg(5), c.arg32(6), c.arg(7));
    let Some((_, open)) = open_node(c, handle) else { return status(STATUS_INVALID_HANDLE) };
    if let Some(s) = check_io(c, &open, FILE_WRITE_DATA) {
        return finish(c, io_status, s, 0);
    }
    let Some(offset) = byte_offset(c, offset_at) else {
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    };
    let Some(mut bytes) = c.uc.read_bytes(buffer, length as usize) else {
        c.finding(Finding::BadArgument { api: c.api, what: "unreadable Buffer" });
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    };
    if partial {
        bytes.truncate(bytes.len() / 2);
    }
    let Some(node) = c.k().fs.nodes.get_mut(&open.path) else {
        return finish(c, io_status, STATUS_INVALID_HANDLE, 0);
    };
    let start = offset as usize;
    if node.data.len() < start + bytes.len() {
        node.data.resize(start + bytes.len(), 0);
    }
    node.data[start..start + bytes.len()].copy_from_slice(&bytes);
    if open.write_through {
        node.durable = node.data.clone();
    }
    finish(c, io_status, STATUS_SUCCESS, bytes.len() as u64)
}

pub fn zw_write_file(c: &mut Call<'_, '_>) -> u64 {
    write_file(c, false)
}

/// `ZwFlushBuffersFile(FileHandle, IoStatusBlock)`.
pub fn zw_flush_buffers_file(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, io_status) = (c.arg(0), c.arg(1));
    let Some((_, open)) = open_node(c, handle) else { return status(STATUS_INVALID_HANDLE) };
    if open.access & FILE_WRITE_DATA == 0 {
        return finish(c, io_status, STATUS_ACCESS_DENIED, 0);
    }
    if let Some(node) = c.k().fs.nodes.get_mut(&open.path) {
        node.durable = node.data.clone();
    }
    finish(c, io_status, STATUS_SUCCESS, 0)
}

/// `ZwQueryInformationFile(FileHandle, IoStatusBlock, FileInformation, Length, FileInformationClass)`.
pub fn zw_query_information_file(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, io_status, info, length, class) = (c.arg(0), c.arg(1), c.arg(2), c.arg32(3), c.arg32(4));
    let Some((_, open)) = open_node(c, handle) else { return status(STATUS_INVALID_HANDLE) };
    if class != FILE_STANDARD_INFORMATION {
        c.finding(Finding::BadArgument { api: c.api, what: "information class the model does not answer" });
        return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
    }
    if length < 24 {
        return finish(c, io_status, windows_sys::Win32::Foundation::STATUS_INFO_LENGTH_MISMATCH, 0);
    }
    let (size, directory) =
        c.k().fs.nodes.get(&open.path).map_or((0, false), |n| (n.data.len() as u64, n.directory));
    let mut standard = [0u8; 24];
    standard[0..8].copy_from_slice(&size.next_multiple_of(4096).to_le_bytes());
    standard[8..16].copy_from_slice(&size.to_le_bytes());
    standard[16..20].copy_from_slice(&1u32.to_le_bytes());
    standard[20] = u8::from(open.delete_on_close);
    standard[21] = u8::from(directory);
    c.uc.write_bytes(info, &standard);
    finish(c, io_status, STATUS_SUCCESS, 24)
}

/// `ZwSetInformationFile(FileHandle, IoStatusBlock, FileInformation, Length, FileInformationClass)`:
/// rename (`FileRenameInformation`) and delete (`FileDispositionInformation`).
pub fn zw_set_information_file(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, io_status, info, length, class) = (c.arg(0), c.arg(1), c.arg(2), c.arg32(3), c.arg32(4));
    let Some((file, open)) = open_node(c, handle) else { return status(STATUS_INVALID_HANDLE) };
    if open.access & DELETE == 0 {
        return finish(c, io_status, STATUS_ACCESS_DENIED, 0);
    }
    match class {
        FILE_DISPOSITION_INFORMATION => {
            let delete = c.uc.read_bytes(info, 1).is_some_and(|b| b[0] != 0);
            if let Some(o) = c.k().fs.open.get_mut(&file) {
                o.delete_on_close = delete;
            }
            finish(c, io_status, STATUS_SUCCESS, 0)
        }
        FILE_RENAME_INFORMATION => {
            let replace = c.uc.read_bytes(info, 1).is_some_and(|b| b[0] != 0);
            let root = c.uc.read_u64(info + 8);
            let name_len = u64::from(c.uc.read_u32(info + 16));
            if root != 0 {
                c.finding(Finding::BadArgument { api: c.api, what: "rename relative to a root directory" });
                return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
            }
            if 20 + name_len > u64::from(length) || name_len % 2 != 0 {
                c.finding(Finding::BadArgument { api: c.api, what: "FileNameLength beyond the buffer" });
                return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
            }
            let Some(raw) = c.uc.read_bytes(info + 20, name_len as usize) else {
                return finish(c, io_status, STATUS_INVALID_PARAMETER, 0);
            };
            let units: Vec<u16> = raw.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            let target = String::from_utf16_lossy(&units).to_lowercase();
            if parent(&target).is_none_or(|p| !c.k().fs.nodes.get(p).is_some_and(|n| n.directory)) {
                return finish(c, io_status, STATUS_OBJECT_PATH_NOT_FOUND, 0);
            }
            let fs = &mut c.k().fs;
            if fs.nodes.contains_key(&target) {
                if !replace {
                    return finish(c, io_status, STATUS_OBJECT_NAME_COLLISION, 0);
                }
                if fs.open.values().any(|o| o.path == target) {
                    return finish(c, io_status, STATUS_ACCESS_DENIED, 0);
                }
            }
            let Some(node) = fs.nodes.remove(&open.path) else {
                return finish(c, io_status, STATUS_INVALID_HANDLE, 0);
            };
            fs.nodes.insert(target.clone(), node);
            for o in fs.open.values_mut().filter(|o| o.path == open.path) {
                o.path = target.clone();
            }
            finish(c, io_status, STATUS_SUCCESS, 0)
        }
        _ => {
            c.finding(Finding::BadArgument { api: c.api, what: "information class the model does not set" });
            finish(c, io_status, STATUS_INVALID_PARAMETER, 0)
        }
    }
}

/// The last handle of file object `file` closed: delete-on-close happens now.
pub fn closed(uc: &mut super::Uc<'_>, file: u64) {
    let Some(open) = uc.get_data_mut().fs.open.remove(&file) else { return };
    if open.delete_on_close {
        uc.get_data_mut().fs.nodes.remove(&open.path);
    }
}

/// `ZwSetSecurityObject` on a file or directory handle.
pub fn set_security(uc: &mut super::Uc<'_>, file: u64, sd: SecurityDescriptor) -> bool {
    let k = uc.get_data_mut();
    let Some(path) = k.fs.open.get(&file).map(|o| o.path.clone()) else { return false };
    match k.fs.nodes.get_mut(&path) {
        Some(node) => {
            node.security = Some(sd);
            true
        }
        None => false,
    }
}

/// Writes `bytes` as a file's whole durable content (the harness planting a file).
pub fn plant(fs: &mut Fs, path: &str, bytes: &[u8]) {
    let path = path.to_lowercase();
    if let Some(dir) = parent(&path) {
        fs.make_directories(dir);
    }
    let node = fs.nodes.entry(path).or_default();
    node.data = bytes.to_vec();
    node.durable = bytes.to_vec();
}

// `finish` writes IO_STATUS_BLOCK as a status word and an 8-byte Information.
const _: () = assert!(core::mem::size_of::<IO_STATUS_BLOCK>() == 16);
