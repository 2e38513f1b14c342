//! The link-time no-panic proof. Built by `cargo xtask proofs` in the `proofs`
//! profile with the `no-panic` feature, every parser entry point below carries
//! `#[no_panic]`: if the optimiser cannot remove every panic path from one of
//! them, the link fails and names it. Inputs come from stdin so that nothing
//! is constant-folded away; running the binary is optional, linking is the proof.

use std::io::Read;

use ringfence_content::{Content, evaluate_event, evaluate_record, v2, validate};
use ringfence_trust::{Envelope, GuardState, KeySource, Pin, Policy, SignaturePolicy, TrustedKeys, decide};
use ringfence_wire::ioctl::{
    EmptyRequest, HelloRequest, HelloResponse, LoadContentResponse, SetEventRequest, StatsResponse,
    TrustResponse,
};
use ringfence_wire::sid::{SidText, last_sub_authority, sid_len};
use ringfence_wire::volume_map::{MAX_MAP_BYTES, VolumeMap, units_from_le_bytes};
use ringfence_wire::{Batch, Record, SCHEMA};

fn main() {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return;
    }
    let (content_bytes, record_bytes) = input.split_at(input.len() / 2);

    let mut outcomes = 0usize;
    outcomes += usize::from(Record::new_checked(record_bytes).is_ok());
    outcomes += usize::from(Record::parse_prefix(record_bytes).is_ok());
    outcomes += usize::from(Batch::new_checked(record_bytes).is_ok());
    outcomes += usize::from(HelloRequest::parse(record_bytes).is_ok());
    outcomes += usize::from(HelloResponse::parse(record_bytes).is_ok());
    outcomes += usize::from(LoadContentResponse::parse(record_bytes).is_ok());
    outcomes += usize::from(StatsResponse::parse(record_bytes).is_ok());
    outcomes += usize::from(SetEventRequest::parse(record_bytes).is_ok());
    outcomes += usize::from(EmptyRequest::parse(record_bytes).is_ok());
    outcomes += usize::from(TrustResponse::parse(record_bytes).is_ok());

    // Content trust: the envelope, the guard's persisted state, the trusted-key blob (with
    // each key's point decoding) and the policy decision. Signature verification stays
    // outside: ringfence_trust::signature names the bounds checks left and why they hold.
    outcomes += usize::from(GuardState::parse(record_bytes).is_ok());
    outcomes += usize::from(TrustedKeys::new().add_blob(record_bytes, KeySource::Provisioned).is_ok());
    if let Ok(envelope) = Envelope::new_checked(content_bytes) {
        let declaration = envelope.declaration();
        outcomes += envelope.content().len() + usize::from(envelope.signature()[0]);
        let policy = Policy {
            signatures: SignaturePolicy::Required,
            ring: u32::from(input.first().copied().unwrap_or(0)),
            pin: Pin::from_dword(u32::from(input.last().copied().unwrap_or(0))),
            sensor_version: 0x100,
        };
        outcomes +=
            usize::from(decide(&policy, Some(&declaration), declaration.content_version, 7).verdict.is_ok());
    }
    outcomes += usize::from(sid_len(record_bytes).is_ok());
    outcomes += SidText::parse(record_bytes).map_or(0, |t| t.as_units().len());
    outcomes += usize::from(last_sub_authority(record_bytes).is_ok_and(|rid| rid.is_some()));

    // The volume map: bytes to units, validation, and translation of a path over a validated
    // map and over units nobody validated.
    let mut units = [0u16; MAX_MAP_BYTES / 2];
    let path: Vec<u16> = record_bytes.iter().map(|b| u16::from(*b)).collect();
    if let Ok(n) = units_from_le_bytes(content_bytes, &mut units) {
        let units = units.get(..n).unwrap_or_default();
        if let Ok(map) = VolumeMap::new_checked(units) {
            outcomes += map.translate(&path).len();
        }
        outcomes += VolumeMap::from_validated(units).translate(&path).len();
    }

    let trusted = Content::from_validated(content_bytes);
    if let Ok(record) = Record::new_checked(record_bytes) {
        let event = record.event();
        outcomes += usize::from(evaluate_event(&trusted, &event) != ringfence_content::Verdict::Drop);
        outcomes += usize::from(evaluate_record(&trusted, &record) != ringfence_content::Verdict::Drop);
        if let Ok(content) = validate(content_bytes, &SCHEMA) {
            outcomes += usize::from(evaluate_event(&content, &event) != ringfence_content::Verdict::Drop);
            // Format 1's key table: built for the validated content, and words nobody built.
            let mut words = vec![0u32; content.key_table_words()];
            if content.build_key_table(&mut words).is_ok() {
                let tabled = content.with_key_table(&words);
                outcomes += usize::from(evaluate_event(&tabled, &event) != ringfence_content::Verdict::Drop);
            }
            let arbitrary: Vec<u32> = record_bytes.iter().map(|b| u32::from(*b)).collect();
            let lying = content.with_key_table(&arbitrary);
            outcomes += usize::from(evaluate_event(&lying, &event) != ringfence_content::Verdict::Drop);
        }
        // Content format 2: the unvalidated entry point, then validation and the validated one.
        let mut scratch = [0u64; 64];
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
        outcomes += v2::evaluate_event_raw(content_bytes, &event, &mut scratch, ids).map_or(0, |v| v.matched);
        if let Ok(content) = v2::validate(content_bytes, &SCHEMA) {
            let ids = v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
            outcomes += v2::evaluate_event(&content, &event, &mut scratch, ids).map_or(0, |v| v.undecided);
            // Format 2's transition table: built for the validated content, and words nobody built.
            let mut words = vec![0u32; content.transition_words()];
            if content.build_transitions(&mut words).is_ok() {
                let ids = v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
                let rowed = content.with_transitions(&words);
                outcomes += v2::evaluate_event(&rowed, &event, &mut scratch, ids).map_or(0, |v| v.matched);
            }
            let arbitrary: Vec<u32> = record_bytes.iter().map(|b| u32::from(*b)).collect();
            let ids = v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
            let lying = content.with_transitions(&arbitrary);
            outcomes += v2::evaluate_event(&lying, &event, &mut scratch, ids).map_or(0, |v| v.matched);
        }
    }
    #[cfg(feature = "canary")]
    {
        outcomes += canary::index_past_the_end(&input);
    }
    println!("{outcomes}");
}

#[cfg(feature = "canary")]
mod canary {
    /// Indexes without a bound check: the panic path `no-panic` must catch.
    #[no_panic::no_panic]
    pub(crate) fn index_past_the_end(bytes: &[u8]) -> usize {
        #[allow(clippy::indexing_slicing)]
        usize::from(bytes[bytes.len() / 2 + 1])
    }
}
