//! A SID's bytes as the kernel hands them over (`TokenUser`, `TokenIntegrityLevel`):
//! formatting never reads past what the header declares, never exceeds the schema's
//! limit, and the text reads back to exactly the SID's parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_wire::schema::limits::SID_TEXT_UNITS;
use ringfence_wire::sid::{SidText, last_sub_authority, sid_len};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = SidText::parse(data) else {
        assert!(last_sub_authority(data).is_err());
        return;
    };
    let len = sid_len(data).expect("a formatted SID has a valid header");
    assert!(len <= data.len());
    // Only the declared bytes matter: the SID alone formats the same.
    assert_eq!(SidText::parse(&data[..len]), Ok(text));
    let units = text.as_units();
    assert!(units.len() <= usize::from(SID_TEXT_UNITS));
    let text = String::from_utf16(units).expect("ASCII");
    let parts: Vec<&str> = text.split('-').collect();
    assert_eq!(&parts[..2], ["S", "1"]);
    let count = usize::from(data[1]);
    assert_eq!(parts.len(), 3 + count);
    for (i, part) in parts[3..].iter().enumerate() {
        let at = 8 + 4 * i;
        let sub = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        assert_eq!(part.parse::<u32>(), Ok(sub));
    }
    let last = last_sub_authority(data).expect("valid");
    assert_eq!(last.map(|r| r.to_string()), (count > 0).then(|| parts[parts.len() - 1].to_owned()));
});
