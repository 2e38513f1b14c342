//! The persisted-file loader: what DriverEntry does with files and a state value it finds
//! on disk. Arbitrary bytes become the trial file, the last-known-good file and the
//! `GuardState` value (the first byte is the state's length, the next two the trial
//! file's, little-endian); the guard starts over them under
//! either signature policy, three times over what each start left. Whatever a start
//! restores must be one of the files, byte for byte, and content that admission accepts on
//! its own; no start panics, whatever the files and the state hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence::admission::{TrustSettings, admit};
use ringfence::guard::{Guard, THRESHOLD_DEFAULT};
use ringfence::host::{MemoryStore, file_name};
use ringfence_trust::{SignaturePolicy, Slot};

fn start(store: &MemoryStore, settings: &TrustSettings) -> Option<Vec<u8>> {
    store.disk().reboot();
    let (_guard, restored) = Guard::start(Some(store.clone()), settings, THRESHOLD_DEFAULT);
    restored.content.map(|c| c.persisted_bytes().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&[state_len, t0, t1], rest)) = data.split_first_chunk::<3>() else { return };
    let (state, rest) = rest.split_at(usize::from(state_len).min(rest.len()).min(32));
    let (trial, lkg) = rest.split_at(usize::from(u16::from_le_bytes([t0, t1])).min(rest.len()));
    for signatures in [SignaturePolicy::Required, SignaturePolicy::AcceptUnsigned] {
        let mut settings = TrustSettings::default();
        settings.policy.signatures = signatures;
        let store = MemoryStore::default();
        {
            let mut disk = store.disk();
            disk.state = Some(state.to_vec());
            disk.files.insert(file_name(Slot::Trial), trial.to_vec());
            disk.files.insert(file_name(Slot::LastKnownGood), lkg.to_vec());
        }
        for _ in 0..3 {
            if let Some(bytes) = start(&store, &settings) {
                assert!(bytes == trial || bytes == lkg, "restored bytes come from a file");
                assert!(admit(&bytes, &settings, 0).verdict.is_ok(), "restored content is admissible");
            }
        }
    }
});
