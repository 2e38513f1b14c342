//! Record decoding on arbitrary bytes. A record that passes `new_checked`
//! must answer every accessor (absent only where the absent bitmap says so,
//! for an optional field; unknown for every companion field), rebuild as a
//! typed event, and re-encode to the very same bytes (the decoder accepts only
//! the canonical encoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_wire::record::encode;
use ringfence_wire::schema::{COMPANION_BASE, Lookup};
use ringfence_wire::{Event, Fields, Record, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(record) = Record::new_checked(data) else {
        return;
    };
    let def = record.def();
    assert_eq!(record.kind(), def.kind);
    assert_eq!(record.size(), data.len());
    for (index, field) in (0u8..).zip(def.fields) {
        let absent = record.absent() >> index & 1 == 1;
        let value = match record.lookup(index) {
            Lookup::Value(value) => value,
            Lookup::Absent => {
                assert!(absent && field.optional, "absent only where marked, and only if optional");
                continue;
            }
            Lookup::Unknown => panic!("a record knows every kernel field"),
        };
        assert!(!absent);
        assert_eq!(value.ty(), field.ty);
        if let Value::Str(text) = value {
            assert!(text.len() <= usize::from(field.max_units));
            assert_eq!(text.units().count(), text.len());
            let _ = text.chars().count();
        }
        if let Value::Ids(ids) = value {
            assert!(ids.len() <= usize::from(field.max_units));
            assert_eq!(ids.iter().count(), ids.len());
        }
    }
    assert_eq!(record.lookup(def.field_count()), Lookup::Absent);
    for position in 0..def.companion_count() {
        assert_eq!(record.lookup(COMPANION_BASE + position), Lookup::Unknown);
    }
    let event = Event::from_fields(&record).expect("a checked record rebuilds as an event");
    assert_eq!(record.event(), event);
    let mut again = vec![0u8; data.len()];
    let written = encode(&event, record.sequence(), record.timestamp(), &mut again).expect("re-encodes");
    assert_eq!(written, data.len());
    assert_eq!(again, data);
    let (prefix, rest) = Record::parse_prefix(data).expect("new_checked implies parse_prefix");
    assert!(rest.is_empty());
    assert_eq!(prefix, record);
});
