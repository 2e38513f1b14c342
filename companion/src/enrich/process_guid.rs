//! ProcessGuid: a GUID-shaped process identifier, unique across pid reuse,
//! reboots and hosts, that a SIEM can join process start, image loads and exit on.
//!
//! Derivation (16 bytes, written `{8-4-4-4-12}` in lower-case hex, in byte order):
//! - bytes 0–7: the first 8 bytes of SHA-256(`"ringfence host identity\0"` ‖ host
//!   identity), where the host identity is the machine's `MachineGuid`
//!   (HKLM\SOFTWARE\Microsoft\Cryptography) on Windows and the scenario's in
//!   emulation;
//! - bytes 8–15: the process start key, big-endian (`PsGetProcessStartKey`:
//!   unique per boot, and it embeds the boot id, so unique across boots).
//!
//! So the last 16 hex digits are the start key itself: the GUID of a parent,
//! of an exiting process or of the process an image loads into follows from
//! its start key alone, and the same process has the same GUID in every event.
//! The layout differs from Sysmon's own (which mixes in the creation time); a
//! ringfence ProcessGuid never equals a Sysmon one.

use std::fmt;

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"ringfence host identity\0";

/// The host part of every ProcessGuid this machine's events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostIdentity([u8; 8]);

impl HostIdentity {
    /// From the machine's stable identity (`MachineGuid` on Windows).
    pub fn new(identity: &str) -> Self {
        let digest = Sha256::new().chain_update(DOMAIN).chain_update(identity.as_bytes()).finalize();
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&digest[..8]);
        HostIdentity(prefix)
    }

    /// For a machine whose identity is not known: its host name, in lower case.
    pub fn from_host_name(name: &str) -> Self {
        HostIdentity::new(&name.to_lowercase())
    }

    pub fn process_guid(self, start_key: u64) -> ProcessGuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.0);
        bytes[8..].copy_from_slice(&start_key.to_be_bytes());
        ProcessGuid(bytes)
    }
}

/// A process's GUID; see the module documentation for its derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessGuid(pub [u8; 16]);

impl ProcessGuid {
    /// All zeros: what Sysmon writes when it has no GUID for a process.
    pub const NONE: ProcessGuid = ProcessGuid([0; 16]);

    /// The 32 hex digits without braces or dashes: ECS's `process.entity_id`.
    pub fn hex(self) -> String {
        self.0.iter().fold(String::with_capacity(32), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// The start key it was made from.
    pub fn start_key(self) -> u64 {
        let mut key = [0u8; 8];
        key.copy_from_slice(&self.0[8..]);
        u64::from_be_bytes(key)
    }
}

impl fmt::Display for ProcessGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{{{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guid_ends_with_the_start_key_and_starts_with_the_host() {
        let host = HostIdentity::new("4c4c4544-0042-3510-8052-b4c04f4b4d32");
        let guid = host.process_guid(0x0003_0000_0000_1a2b);
        let text = guid.to_string();
        assert!(text.ends_with("-0003-000000001a2b}"), "{text}");
        assert_eq!(text.len(), 38);
        assert_eq!(guid.start_key(), 0x0003_0000_0000_1a2b);
        assert_eq!(host.process_guid(7).to_string()[..20], text[..20]);
    }

    #[test]
    fn different_hosts_give_different_guids_for_the_same_start_key() {
        let a = HostIdentity::new("machine-a").process_guid(42);
        let b = HostIdentity::new("machine-b").process_guid(42);
        assert_ne!(a, b);
        assert_eq!(a.start_key(), b.start_key());
    }

    #[test]
    fn the_host_part_is_the_documented_hash() {
        let digest = Sha256::digest(b"ringfence host identity\0machine-a");
        assert_eq!(HostIdentity::new("machine-a").process_guid(0).0[..8], digest[..8]);
        assert_eq!(ProcessGuid::NONE.to_string(), "{00000000-0000-0000-0000-000000000000}");
    }
}
