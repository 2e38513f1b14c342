//! The binary content layout. Everything is little-endian; every table has
//! fixed-size entries; strings live in one pool of UTF-16LE code units and
//! are referenced by (offset, length) counted in units.
//!
//! ```text
//! header (24 bytes)
//! 0   magic            [u8; 4]  "RFCT"
//! 4   checksum         u32      low 32 bits of XXH64 (seed 0) of every byte from offset 8 on
//! 8   format_version   u16      FORMAT_VERSION
//! 10  schema_version   u16      the ringfence-wire schema the content was compiled against
//! 12  content_version  u32
//! 16  total_len        u32      the whole content, header included; equals the buffer length
//! 20  section_count    u16      exactly SECTION_COUNT
//! 22  reserved         u16      zero
//! 24  directory        section_count × 12 bytes: id u16, reserved u16, offset u32, len u32
//! ..  sections         contiguous, in directory order, the last one ending at total_len
//!
//! groups      (88 bytes each) one per (event kind, action), sorted by (kind, action)
//!   0 kind u16 · 2 action u8 · 3 max_field u8 (highest field an anchor uses, 0 if none)
//!   4 first_rule u32 · 8 anchored u32 · 12 unanchored u32
//!   16 anchor_mask u64 (bit field % 32 and bit 32 + class for every anchor in the group)
//!   24 prefix_lengths [u64; 4] · 56 suffix_lengths [u64; 4] (bit L - 1: an anchor
//!      `starts_with` / `ends_with` a pattern of L units)
//! rules       (24 bytes each) grouped; in a group the anchored rules sorted by (key, id),
//!             then the unanchored ones sorted by id
//!   0 id u32 (the rule's position in the source) · 4 first_condition u32
//!   8 name_offset u32 · 12 name_len u16 · 14 condition_count u8 · 15 anchor u8 (NO_ANCHOR)
//!   16 key u64 (the anchor condition's index key; 0 for a rule without an anchor)
//! conditions  (16 bytes each) each rule's conditions contiguous, in rule order
//!   0 field u8 · 1 field_type u8 · 2 operator u8 · 3 flags u8 · 4 reserved u32
//!   8 value u64: the integer, 0/1 for bool, or offset (low 32) | length (high 32) of a pattern
//! strings     UTF-16LE code units
//! ```

use ringfence_wire::FieldType;

pub const MAGIC: [u8; 4] = *b"RFCT";
pub const FORMAT_VERSION: u16 = 1;

/// Header field offsets.
pub mod header {
    pub const MAGIC: usize = 0;
    pub const CHECKSUM: usize = 4;
    pub const FORMAT_VERSION: usize = 8;
    pub const SCHEMA_VERSION: usize = 10;
    pub const CONTENT_VERSION: usize = 12;
    pub const TOTAL_LEN: usize = 16;
    pub const SECTION_COUNT: usize = 20;
    pub const RESERVED: usize = 22;
    pub const LEN: usize = 24;
}

/// Section directory entries and section ids.
pub mod section {
    pub const ID: usize = 0;
    pub const RESERVED: usize = 2;
    pub const OFFSET: usize = 4;
    pub const LEN: usize = 8;
    pub const ENTRY_LEN: usize = 12;

    pub const GROUPS: u16 = 1;
    pub const RULES: u16 = 2;
    pub const CONDITIONS: u16 = 3;
    pub const STRINGS: u16 = 4;
    /// Format 1 has exactly these four sections.
    pub const COUNT: usize = 4;
    /// Where the first section starts.
    pub const FIRST_OFFSET: usize = super::header::LEN + COUNT * ENTRY_LEN;
}

/// Group entries.
pub mod group {
    pub const KIND: usize = 0;
    pub const ACTION: usize = 2;
    pub const MAX_FIELD: usize = 3;
    pub const FIRST_RULE: usize = 4;
    pub const ANCHORED: usize = 8;
    pub const UNANCHORED: usize = 12;
    pub const ANCHOR_MASK: usize = 16;
    pub const PREFIX_LENGTHS: usize = 24;
    pub const SUFFIX_LENGTHS: usize = 56;
    pub const LEN: usize = 88;
}

/// Rule entries.
pub mod rule {
    pub const ID: usize = 0;
    pub const FIRST_CONDITION: usize = 4;
    pub const NAME_OFFSET: usize = 8;
    pub const NAME_LEN: usize = 12;
    pub const CONDITION_COUNT: usize = 14;
    pub const ANCHOR: usize = 15;
    pub const KEY: usize = 16;
    pub const LEN: usize = 24;
    /// `anchor` of a rule that is not in the index.
    pub const NO_ANCHOR: u8 = 0xFF;
}

/// Condition entries.
pub mod condition {
    pub const FIELD: usize = 0;
    pub const FIELD_TYPE: usize = 1;
    pub const OPERATOR: usize = 2;
    pub const FLAGS: usize = 3;
    pub const RESERVED: usize = 4;
    pub const VALUE: usize = 8;
    pub const LEN: usize = 16;

    /// The condition holds when the comparison does not.
    pub const NEGATE: u8 = 1;
    /// ASCII letters compare without case (strings only).
    pub const CASE_INSENSITIVE: u8 = 2;
    pub const KNOWN_FLAGS: u8 = NEGATE | CASE_INSENSITIVE;
}

/// The largest content accepted, in bytes.
pub const MAX_CONTENT_BYTES: usize = 1 << 20;
/// Groups: at most one exclude and one include group per event kind.
pub const MAX_GROUPS: usize = 32;
pub const MAX_RULES: usize = 4096;
/// Conditions in the whole content.
pub const MAX_CONDITIONS: usize = 16384;
pub const MAX_CONDITIONS_PER_RULE: usize = 16;
pub const MAX_STRING_POOL_BYTES: usize = 512 * 1024;
/// The longest pattern, in UTF-16 units: bounds the matcher's stack tables.
pub const MAX_PATTERN_UNITS: usize = 256;
pub const MAX_RULE_NAME_UNITS: usize = 64;
/// The most work one event's evaluation may cost, in work units (see
/// [`crate::cost`]): content whose worst case is higher is refused.
pub const MAX_EVALUATION_COST: u64 = 4_000_000;

/// How a condition compares a field with its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Operator {
    Equals = 1,
    StartsWith = 2,
    EndsWith = 3,
    Contains = 4,
    LessThan = 5,
    GreaterThan = 6,
}

impl Operator {
    pub const ALL: [Operator; 6] = [
        Operator::Equals,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Contains,
        Operator::LessThan,
        Operator::GreaterThan,
    ];

    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Operator::Equals),
            2 => Some(Operator::StartsWith),
            3 => Some(Operator::EndsWith),
            4 => Some(Operator::Contains),
            5 => Some(Operator::LessThan),
            6 => Some(Operator::GreaterThan),
            _ => None,
        }
    }

    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name used in rule files.
    pub const fn name(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::Contains => "contains",
            Operator::LessThan => "less_than",
            Operator::GreaterThan => "greater_than",
        }
    }

    /// Whether the operator applies to a field of type `ty`.
    pub const fn fits(self, ty: FieldType) -> bool {
        match self {
            Operator::Equals => true,
            Operator::StartsWith | Operator::EndsWith | Operator::Contains => {
                matches!(ty, FieldType::Str)
            }
            Operator::LessThan | Operator::GreaterThan => {
                matches!(ty, FieldType::U32 | FieldType::U64 | FieldType::Time)
            }
        }
    }
}

/// What a matching rule does to the event (Sysmon's `onmatch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Action {
    /// A match drops the event, whatever else matches.
    Exclude = 1,
    /// With include rules for a kind, only events matching one are kept.
    Include = 2,
}

impl Action {
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Action::Exclude),
            2 => Some(Action::Include),
            _ => None,
        }
    }

    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn name(self) -> &'static str {
        match self {
            Action::Exclude => "exclude",
            Action::Include => "include",
        }
    }
}
