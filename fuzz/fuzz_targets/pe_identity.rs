//! Whatever bytes a file holds, PE enrichment answers without panicking, and
//! reading the file on demand through the read budget (as the companion reads
//! files) gives exactly what parsing the bytes in memory gives.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ringfence_companion::enrich::file::{PeUnavailable, hash, pe_identity};
use ringfence_companion::enrich::hashes::HashAlgorithms;
use ringfence_companion::enrich::pe::inspect;

fuzz_target!(|data: &[u8]| {
    let in_memory = inspect(data);
    let from_reader = pe_identity(Cursor::new(data), u64::MAX);
    assert_eq!(from_reader, in_memory.clone().map_err(PeUnavailable::NotPe));
    if let Ok(identity) = &in_memory {
        if let Ok(Some(version)) = &identity.version {
            // The strings came through UTF-16 decoding intact enough to print.
            let _ = format!("{version:?}");
        }
    }
    // A budget smaller than the file's headers is refused, never exceeded.
    if let Err(PeUnavailable::ReadBudgetExceeded { limit }) = pe_identity(Cursor::new(data), 64) {
        assert_eq!(limit, 64);
    }
    let hashes = hash(&mut &data[..], HashAlgorithms::ALL, u64::MAX).expect("a slice always reads");
    assert!(hashes.sha256.is_some() && hashes.sha1.is_some() && hashes.md5.is_some());
});
