//! Owned events for tests: every kind built from the schema alone, so a new
//! kind or field is covered without touching the tests.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use proptest::prelude::*;
use ringfence_wire::record::MAX_STRING_BYTES;
use ringfence_wire::{Event, EventKind, FieldType, Fields, Text, Value};

/// One field's value, owning its string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Owned {
    U32(u32),
    U64(u64),
    Bool(bool),
    Time(u64),
    Str(Vec<u16>),
}

/// An event that owns its values; `view` lends them out as [`Fields`].
#[derive(Clone, Debug)]
pub(crate) struct OwnedEvent {
    pub kind: EventKind,
    pub values: Vec<Owned>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a>(&'a OwnedEvent);

impl<'a> Fields<'a> for View<'a> {
    fn kind(&self) -> EventKind {
        self.0.kind
    }

    fn field(&self, index: u8) -> Option<Value<'a>> {
        Some(match self.0.values.get(usize::from(index))? {
            Owned::U32(v) => Value::U32(*v),
            Owned::U64(v) => Value::U64(*v),
            Owned::Bool(v) => Value::Bool(*v),
            Owned::Time(v) => Value::Time(*v),
            Owned::Str(units) => Value::Str(Text::wide(units)),
        })
    }
}

impl OwnedEvent {
    /// The typed event borrowing these values.
    pub(crate) fn event(&self) -> Event<'_> {
        Event::from_fields(&View(self)).unwrap()
    }

    /// An event of `kind` whose every string is `text` and every scalar `n`.
    pub(crate) fn uniform(kind: EventKind, n: u32, text: &[u16]) -> Self {
        let values = kind
            .def()
            .fields
            .iter()
            .map(|f| match f.ty {
                FieldType::U32 => Owned::U32(n),
                FieldType::U64 => Owned::U64(u64::from(n) << 20),
                FieldType::Bool => Owned::Bool(n % 2 == 1),
                FieldType::Time => Owned::Time(u64::from(n) << 40),
                FieldType::Str => Owned::Str(text.to_vec()),
            })
            .collect();
        OwnedEvent { kind, values }
    }
}

/// Strings as a sensor sees them: empty, the longest a record carries, short
/// arbitrary units, and runs of lone surrogates.
pub(crate) fn units() -> impl Strategy<Value = Vec<u16>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => any::<u16>().prop_map(|u| vec![u; MAX_STRING_BYTES / 2]),
        6 => proptest::collection::vec(any::<u16>(), 0..80),
        2 => proptest::collection::vec(0xD800u16..0xE000, 0..8),
    ]
}

fn value(ty: FieldType) -> BoxedStrategy<Owned> {
    match ty {
        FieldType::U32 => any::<u32>().prop_map(Owned::U32).boxed(),
        FieldType::U64 => any::<u64>().prop_map(Owned::U64).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Owned::Bool).boxed(),
        FieldType::Time => any::<u64>().prop_map(Owned::Time).boxed(),
        FieldType::Str => units().prop_map(Owned::Str).boxed(),
    }
}

/// An arbitrary event of any kind.
pub(crate) fn event() -> impl Strategy<Value = OwnedEvent> {
    proptest::sample::select(EventKind::ALL).prop_flat_map(|kind| {
        let values: Vec<_> = kind.def().fields.iter().map(|f| value(f.ty)).collect();
        values.prop_map(move |values| OwnedEvent { kind, values })
    })
}

/// UTF-16 units of `s`.
pub(crate) fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// `event` encoded with `sequence` and `timestamp`.
pub(crate) fn encoded(event: &Event<'_>, sequence: u64, timestamp: u64) -> Vec<u8> {
    let mut buf = vec![0u8; ringfence_wire::record::encoded_len(event).unwrap()];
    let len = ringfence_wire::record::encode(event, sequence, timestamp, &mut buf).unwrap();
    assert_eq!(len, buf.len());
    buf
}
