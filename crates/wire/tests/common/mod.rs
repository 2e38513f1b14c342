//! Owned events for tests: every kind built from the schema alone, so a new
//! kind or field is covered without touching the tests.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use proptest::prelude::*;
use ringfence_wire::schema::{FieldDef, Lookup};
use ringfence_wire::text::Ids;
use ringfence_wire::{Event, EventKind, FieldType, Fields, Text, Value};

/// One field's value, owning its string; `Absent` for an optional field without one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Owned {
    U32(u32),
    U64(u64),
    Bool(bool),
    Time(u64),
    Str(Vec<u16>),
    Ids(Vec<u32>),
    Absent,
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

    fn lookup(&self, index: u8) -> Lookup<'a> {
        let Some(value) = self.0.values.get(usize::from(index)) else {
            return self.0.kind.def().beyond_kernel(index);
        };
        Lookup::Value(match value {
            Owned::U32(v) => Value::U32(*v),
            Owned::U64(v) => Value::U64(*v),
            Owned::Bool(v) => Value::Bool(*v),
            Owned::Time(v) => Value::Time(*v),
            Owned::Str(units) => Value::Str(Text::wide(units)),
            Owned::Ids(ids) => Value::Ids(Ids::new(ids)),
            Owned::Absent => return Lookup::Absent,
        })
    }
}

impl OwnedEvent {
    /// The typed event borrowing these values.
    pub(crate) fn event(&self) -> Event<'_> {
        Event::from_fields(&View(self)).unwrap()
    }

    /// An event of `kind` whose every string is `text` (cut to its field's
    /// maximum, and then marked truncated) and every scalar `n`; nothing absent.
    pub(crate) fn uniform(kind: EventKind, n: u32, text: &[u16]) -> Self {
        let def = kind.def();
        let mut truncated = 0u32;
        let mut values: Vec<Owned> = def
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| match f.ty {
                FieldType::U32 => Owned::U32(n),
                FieldType::U64 => Owned::U64(u64::from(n) << 20),
                FieldType::Bool => Owned::Bool(n % 2 == 1),
                FieldType::Time => Owned::Time(u64::from(n) << 40),
                FieldType::Str => {
                    let max = usize::from(f.max_units);
                    if text.len() >= max {
                        truncated |= 1 << i;
                    }
                    Owned::Str(text[..text.len().min(max)].to_vec())
                }
                FieldType::Ids => {
                    Owned::Ids((0..u32::from(f.max_units)).map(|i| n.wrapping_add(i)).collect())
                }
            })
            .collect();
        if let Some(t) = def.truncation_index() {
            values[usize::from(t)] = Owned::U32(truncated);
        }
        OwnedEvent { kind, values }
    }
}

/// Strings as a sensor sees them for a field of `max` units: empty, exactly
/// the longest the field carries, short arbitrary units, and runs of lone
/// surrogates.
pub(crate) fn units(max: u16) -> impl Strategy<Value = Vec<u16>> {
    let max = usize::from(max);
    prop_oneof![
        2 => Just(Vec::new()),
        1 => any::<u16>().prop_map(move |u| vec![u; max]),
        6 => proptest::collection::vec(any::<u16>(), 0..80.min(max + 1)),
        2 => proptest::collection::vec(0xD800u16..0xE000, 0..8.min(max + 1)),
    ]
}

/// Id lists of every length up to `max`, ids anywhere in `u32`.
pub(crate) fn ids(max: u16) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(any::<u32>(), 0..=usize::from(max))
}

fn value(field: &FieldDef) -> BoxedStrategy<Owned> {
    let present = match field.ty {
        FieldType::U32 => any::<u32>().prop_map(Owned::U32).boxed(),
        FieldType::U64 => any::<u64>().prop_map(Owned::U64).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Owned::Bool).boxed(),
        FieldType::Time => any::<u64>().prop_map(Owned::Time).boxed(),
        FieldType::Str => units(field.max_units).prop_map(Owned::Str).boxed(),
        FieldType::Ids => ids(field.max_units).prop_map(Owned::Ids).boxed(),
    };
    if field.optional { prop_oneof![3 => present, 1 => Just(Owned::Absent)].boxed() } else { present }
}

/// An arbitrary event of any kind: optional fields sometimes absent, a
/// `truncated` field naming an arbitrary subset of the strings at their
/// maximum, and a rest count above zero only after a full id list.
pub(crate) fn event() -> impl Strategy<Value = OwnedEvent> {
    proptest::sample::select(EventKind::ALL).prop_flat_map(|kind| {
        let values: Vec<_> = kind.def().fields.iter().map(value).collect();
        (values, any::<u32>()).prop_map(move |(mut values, cut)| {
            let def = kind.def();
            for (i, field) in def.fields.iter().enumerate() {
                if matches!(&values[i], Owned::Ids(ids) if ids.len() < usize::from(field.max_units)) {
                    values[i + 1] = Owned::U32(0);
                }
            }
            if let Some(t) = def.truncation_index() {
                let at_max =
                    def.fields.iter().zip(&values).enumerate().fold(0u32, |m, (i, (f, v))| match v {
                        Owned::Str(s) if s.len() == usize::from(f.max_units) => m | 1 << i,
                        _ => m,
                    });
                values[usize::from(t)] = Owned::U32(cut & at_max);
            }
            OwnedEvent { kind, values }
        })
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
