//! The machine's own sources of enrichment on Windows: its DOS device map,
//! its account database and its MachineGuid. Each call stands alone with the
//! reason it is sound; what uses them is portable.

use std::ptr;

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_NONE_MAPPED, GetLastError};
use windows_sys::Win32::Security::{LookupAccountSidW, SID_NAME_USE};
use windows_sys::Win32::Storage::FileSystem::QueryDosDeviceW;
use windows_sys::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};
use windows_sys::Win32::System::SystemInformation::GetSystemWindowsDirectoryW;

use crate::enrich::account::{AccountLookup, AccountName, LookupFailure};
use crate::enrich::dos_path::{VolumeMap, VolumeMapError};
use crate::enrich::sid::Sid;

/// The longest DOS device target or directory read, in UTF-16 units.
const MAX_PATH_UNITS: usize = 1024;

/// This machine's volume map: `QueryDosDevice` for A: to Z:, and the Windows directory.
pub fn machine_volume_map() -> Result<VolumeMap, VolumeMapError> {
    let mut devices = Vec::new();
    for letter in 'A'..='Z' {
        let name: Vec<u16> = format!("{letter}:").encode_utf16().chain(Some(0)).collect();
        let mut target = vec![0u16; MAX_PATH_UNITS];
        let len = u32::try_from(target.len()).unwrap_or(u32::MAX);
        // SAFETY: `name` is NUL-terminated; `target` holds `len` units and outlives the call.
        let written = unsafe { QueryDosDeviceW(name.as_ptr(), target.as_mut_ptr(), len) };
        // The answer is a list of NUL-terminated strings; the first is the current mapping.
        let first: Vec<u16> =
            target.iter().take(written as usize).take_while(|u| **u != 0).copied().collect();
        if !first.is_empty() {
            devices.push((letter, String::from_utf16_lossy(&first)));
        }
    }
    VolumeMap::from_dos_devices(devices, &windows_directory().unwrap_or_default())
}

/// `C:\Windows`: `GetSystemWindowsDirectory` (the shared one, also under Terminal Services).
pub fn windows_directory() -> Option<String> {
    let mut buffer = vec![0u16; MAX_PATH_UNITS];
    let len = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
    // SAFETY: `buffer` holds `len` units and outlives the call.
    let written = unsafe { GetSystemWindowsDirectoryW(buffer.as_mut_ptr(), len) } as usize;
    (written > 0 && written < buffer.len())
        .then(|| String::from_utf16_lossy(buffer.get(..written).unwrap_or_default()))
}

/// `HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid`, the host identity of ProcessGuids.
pub fn machine_guid() -> Option<String> {
    let key: Vec<u16> = r"SOFTWARE\Microsoft\Cryptography".encode_utf16().chain(Some(0)).collect();
    let value: Vec<u16> = "MachineGuid".encode_utf16().chain(Some(0)).collect();
    let mut data = vec![0u16; 128];
    let mut bytes = u32::try_from(data.len() * 2).unwrap_or(u32::MAX);
    // SAFETY: the names are NUL-terminated; `data` holds `bytes` bytes; both outlive the call.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_SZ,
            ptr::null_mut(),
            data.as_mut_ptr().cast(),
            &mut bytes,
        )
    };
    if status != 0 {
        return None;
    }
    let units = (bytes as usize / 2).min(data.len());
    let text: Vec<u16> = data.iter().take(units).take_while(|u| **u != 0).copied().collect();
    Some(String::from_utf16_lossy(&text))
}

/// `LookupAccountSid` on the local machine (and, for domain SIDs, its domain).
#[derive(Clone, Copy, Debug, Default)]
pub struct WindowsAccounts;

impl AccountLookup for WindowsAccounts {
    fn lookup(&self, sid: &Sid) -> Result<AccountName, LookupFailure> {
        let mut binary = sid.to_bytes();
        let (mut name_len, mut domain_len) = (256u32, 256u32);
        loop {
            let mut name = vec![0u16; name_len as usize];
            let mut domain = vec![0u16; domain_len as usize];
            let mut kind: SID_NAME_USE = 0;
            // SAFETY: `binary` is a well-formed SID (Sid::to_bytes); the buffers hold the
            // lengths passed; every pointer outlives the call.
            let ok = unsafe {
                LookupAccountSidW(
                    ptr::null(),
                    binary.as_mut_ptr().cast(),
                    name.as_mut_ptr(),
                    &mut name_len,
                    domain.as_mut_ptr(),
                    &mut domain_len,
                    &mut kind,
                )
            };
            if ok != 0 {
                let text = |units: &[u16]| {
                    String::from_utf16_lossy(
                        &units.iter().take_while(|u| **u != 0).copied().collect::<Vec<_>>(),
                    )
                };
                return Ok(AccountName { domain: text(&domain), name: text(&name) });
            }
            // SAFETY: reads the calling thread's last error; no preconditions.
            let error = unsafe { GetLastError() };
            match error {
                // The lengths now hold what is needed; try once more with them.
                ERROR_INSUFFICIENT_BUFFER
                    if name_len as usize > name.len() || domain_len as usize > domain.len() => {}
                ERROR_NONE_MAPPED => return Err(LookupFailure::NotFound),
                code => return Err(LookupFailure::Failed { code }),
            }
        }
    }
}
