//! Field values as borrowed views, the same type whether the value comes from
//! a kernel structure (`&[u16]`) or from a decoded record (UTF-16LE bytes).

use crate::schema::FieldType;

/// A UTF-16 string borrowed from its owner, never copied.
///
/// # Invariants
/// A `Le` view always holds an even number of bytes (checked by
/// [`Text::from_le_bytes`], the only way to build one).
#[derive(Clone, Copy, Debug)]
pub struct Text<'a>(Repr<'a>);

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    Wide(&'a [u16]),
    Le(&'a [u8]),
}

impl Default for Text<'_> {
    fn default() -> Self {
        Text(Repr::Wide(&[]))
    }
}

impl<'a> Text<'a> {
    /// A view of UTF-16 code units, as the kernel hands them over.
    pub const fn wide(units: &'a [u16]) -> Self {
        Text(Repr::Wide(units))
    }

    /// A view of UTF-16LE bytes; `None` when the byte count is odd.
    pub const fn from_le_bytes(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() % 2 == 0 { Some(Text(Repr::Le(bytes))) } else { None }
    }

    /// Length in UTF-16 code units.
    pub const fn len(&self) -> usize {
        match self.0 {
            Repr::Wide(u) => u.len(),
            Repr::Le(b) => b.len() / 2,
        }
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in bytes once encoded as UTF-16LE.
    pub const fn byte_len(&self) -> usize {
        match self.0 {
            Repr::Wide(u) => u.len().saturating_mul(2),
            Repr::Le(b) => b.len(),
        }
    }

    /// The code unit at `index`, or `None` past the end.
    #[inline]
    pub fn unit(&self, index: usize) -> Option<u16> {
        match self.0 {
            Repr::Wide(u) => u.get(index).copied(),
            Repr::Le(b) => {
                let at = index.checked_mul(2)?;
                crate::bytes::u16_at(b, at)
            }
        }
    }

    /// The code units, in order. Unpaired surrogates are passed through.
    pub fn units(&self) -> Units<'a> {
        Units { text: *self, next: 0 }
    }

    /// The code units as a slice when the view is already `&[u16]`.
    pub const fn as_wide(&self) -> Option<&'a [u16]> {
        match self.0 {
            Repr::Wide(u) => Some(u),
            Repr::Le(_) => None,
        }
    }

    /// The UTF-16LE bytes when the view is a byte view.
    pub const fn as_le_bytes(&self) -> Option<&'a [u8]> {
        match self.0 {
            Repr::Wide(_) => None,
            Repr::Le(b) => Some(b),
        }
    }

    /// Decodes to `char`s; an unpaired surrogate yields `Err(unit)`.
    pub fn chars(&self) -> impl Iterator<Item = Result<char, u16>> + 'a {
        core::char::decode_utf16(self.units()).map(|r| r.map_err(|e| e.unpaired_surrogate()))
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.units().eq(other.units())
    }
}

impl Eq for Text<'_> {}

/// Iterator over the code units of a [`Text`].
#[derive(Clone, Debug)]
pub struct Units<'a> {
    text: Text<'a>,
    next: usize,
}

impl Iterator for Units<'_> {
    type Item = u16;

    #[inline]
    fn next(&mut self) -> Option<u16> {
        let unit = self.text.unit(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(unit)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.text.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Units<'_> {}

/// A list of rule ids borrowed from its owner, never copied: the verdict's
/// matched and undecided detection rules.
///
/// # Invariants
/// A `Le` view always holds a multiple of 4 bytes (checked by
/// [`Ids::from_le_bytes`], the only way to build one).
#[derive(Clone, Copy, Debug)]
pub struct Ids<'a>(IdsRepr<'a>);

#[derive(Clone, Copy, Debug)]
enum IdsRepr<'a> {
    Native(&'a [u32]),
    Le(&'a [u8]),
}

/// The bytes one id takes in a record.
pub const ID_BYTES: usize = 4;

impl Default for Ids<'_> {
    fn default() -> Self {
        Ids::EMPTY
    }
}

impl<'a> Ids<'a> {
    /// No ids.
    pub const EMPTY: Ids<'static> = Ids(IdsRepr::Native(&[]));

    /// A view of ids as the driver holds them.
    pub const fn new(ids: &'a [u32]) -> Self {
        Ids(IdsRepr::Native(ids))
    }

    /// A view of little-endian `u32`s; `None` when the byte count is not a multiple of 4.
    pub const fn from_le_bytes(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() % ID_BYTES == 0 { Some(Ids(IdsRepr::Le(bytes))) } else { None }
    }

    /// How many ids.
    pub const fn len(&self) -> usize {
        match self.0 {
            IdsRepr::Native(ids) => ids.len(),
            IdsRepr::Le(b) => b.len() / ID_BYTES,
        }
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in bytes once encoded.
    pub const fn byte_len(&self) -> usize {
        self.len().saturating_mul(ID_BYTES)
    }

    /// The id at `index`, or `None` past the end.
    #[inline]
    pub fn get(&self, index: usize) -> Option<u32> {
        match self.0 {
            IdsRepr::Native(ids) => ids.get(index).copied(),
            IdsRepr::Le(b) => crate::bytes::u32_at(b, index.checked_mul(ID_BYTES)?),
        }
    }

    /// The ids, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let ids = *self;
        (0..ids.len()).filter_map(move |i| ids.get(i))
    }
}

impl PartialEq for Ids<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Ids<'_> {}

/// One field's value, typed as the schema declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    U32(u32),
    U64(u64),
    Bool(bool),
    /// 100-ns intervals since 1601-01-01 UTC (a Windows `FILETIME`).
    Time(u64),
    Str(Text<'a>),
    /// Rule ids, in the order the verdict lists them.
    Ids(Ids<'a>),
}

impl<'a> Value<'a> {
    pub const fn ty(&self) -> FieldType {
        match self {
            Value::U32(_) => FieldType::U32,
            Value::U64(_) => FieldType::U64,
            Value::Bool(_) => FieldType::Bool,
            Value::Time(_) => FieldType::Time,
            Value::Str(_) => FieldType::Str,
            Value::Ids(_) => FieldType::Ids,
        }
    }

    /// The value as an unsigned integer, for every scalar type.
    pub const fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U32(v) => Some(v as u64),
            Value::U64(v) | Value::Time(v) => Some(v),
            Value::Bool(v) => Some(v as u64),
            Value::Str(_) | Value::Ids(_) => None,
        }
    }

    pub const fn as_text(&self) -> Option<Text<'a>> {
        match *self {
            Value::Str(t) => Some(t),
            _ => None,
        }
    }
}

/// Conversion from a [`Value`] into the Rust type of a schema field.
pub trait FromValue<'a>: Sized + Default {
    fn from_value(value: Value<'a>) -> Option<Self>;
}

impl<'a> FromValue<'a> for u32 {
    fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::U32(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for u64 {
    fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::U64(v) | Value::Time(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for bool {
    fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for Text<'a> {
    fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::Str(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for Ids<'a> {
    fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::Ids(v) => Some(v),
            _ => None,
        }
    }
}
