//! Format 2's binary layout, named once, and its published limits.
//!
//! The 24-byte header is format 1's (same magic, same field offsets, see
//! [`crate::format::header`]) with `format_version` 2: each validator reads
//! the version at the same offset and refuses the other's with a precise
//! "unsupported format" error. The directory (12-byte entries: id u16,
//! reserved u16, offset u32, len u32) lists [`section::COUNT`] sections,
//! contiguous and in id order, the last ending at `total_len`.
//!
//! ```text
//! scanners    (32) one automaton per (kind, field, case mode)
//!   0 kind u16 · 2 field u8 · 3 case u8 (0 exact, 1 folded) · 4 first_state u32
//!   8 state_count u32 · 12 first_class u32 · 16 class_entries u32 (128 ASCII + non-ASCII)
//!   20 class_count u32 · 24 first_pattern u32 · 28 pattern_count u32
//! classes     (4)  unit u16 · class u16; per scanner 128 ASCII entries in unit order,
//!                  then the non-ASCII units of its patterns, strictly ascending
//! states      (24) 0 depth u32 · 4 fail u32 · 8 dict u32 · 12 output u32 ·
//!                  16 first_goto u32 · 20 goto_count u32 (state indexes local to the scanner,
//!                  pattern indexes local too; NONE = u32::MAX); breadth-first order (see below)
//! gotos       (8)  0 class u16 · 2 reserved u16 · 4 target u32; the root's row is dense
//!                  (entry i is class i, target 0 = no edge), other rows sorted by class
//! patterns    (16) 0 state u32 (where the pattern ends) · 4 len u32 (its units) ·
//!                  8 first_ref u32 · 12 ref_count u32 (its rules in `refs`)
//! globs       (24) 0 star_mask u64 · 8 any_mask u64 · 16 first_unit u32 · 20 unit_count u8 ·
//!                  21 tokens u8 · 22 case u8 · 23 reserved u8
//! glob_units  (12) 0 unit u16 · 2 reserved u16 · 4 mask u64 (token positions holding unit)
//! predicates  (16) 0 field u8 · 1 operator u8 · 2 flags u8 · 3 reserved u8 · 4 scanner u32 ·
//!                  8 first_value u32 · 12 value_count u32 (a glob or regex predicate's
//!                  scanner: where its values' gates are, `NONE` when it has none)
//! values      (12) 0 value u64 (pattern, glob or regex index, or integer) · 8 flags u32;
//!                  a gated glob or regex value (flag GATED): index in bits 0..32, its first
//!                  gate (an entry of `gates`) in bits 32..56, its gate count in bits 56..64
//! rules       (40) 0 id u32 · 4 kind u16 · 6 role u8 · 7 default u8 · 8 first_predicate u32 ·
//!                  12 predicate_count u32 · 16 first_code u32 · 20 code_len u32 ·
//!                  24 name_offset u32 · 28 name_len u16 · 30 meta_len u16 · 32 meta_offset u32 ·
//!                  36 reserved u32; sorted by id, ids unique
//! code        (4)  0 opcode u8 · 1 reserved u8 · 2 arg u16
//! strings     UTF-16LE units: rule names and metadata
//! refs        (2)  rule index u16; per pattern, strictly ascending: the gated rules
//!                  it lists (each pattern's refs follow the previous one's; see below)
//! always      (2)  rule index u16, strictly ascending: the rules that are not gated
//! regexes     (2)  u16 words: the regular expressions' automata (layout in [`regex`])
//! gates       (4)  pattern u32 (local to the predicate's scanner); per gated value, strictly
//!                  ascending (GATES_ALL: the first, then the others strictly ascending and
//!                  none the first), each value's gates following the previous gated value's
//! ```
//!
//! **Breadth-first automata.** A scanner's states are numbered breadth-first,
//! children in class order: the root is 0, and walking the goto rows in state
//! order, every edge leads to the next state not yet reached (1, 2, 3, …).
//! So the states form a tree, depths never decrease along the table, and
//! each depth is one contiguous range: "a goto leads exactly one unit deeper"
//! and "a failure or dictionary link leads strictly shallower" (the link is
//! below the first state of the state's own depth) are checked by one
//! sequential pass, without looking the target up.
//!
//! **Candidate rules.** A rule is *gated* when its expression is false
//! whenever every literal predicate (equals, contains, starts with, ends
//! with) is false, whatever the other predicates are: it cannot hold, nor
//! be unknown, unless one of its patterns was found or one of its literal
//! fields is unknown. The rules that are not gated are listed in `always`.
//! A gated rule is listed (`refs`) by the patterns of *some* of its literal
//! predicates, enough to gate it: a predicate is *listed* when every one of
//! its values' patterns lists the rule, or, for an `all` predicate, every
//! pattern of one group of alternatives (that group then fails, so the
//! predicate does; alternatives before the first group belong to none); the
//! rule must be false whenever its listed predicates are, whatever the
//! others are. So `a and b` may be listed by `b`'s patterns alone, `a or b`
//! needs both's. Evaluation visits only the rules listed by the patterns
//! found (and by every pattern of a field the event answers unknown for),
//! and the `always` rules: for a rule none of whose listing patterns was
//! found, on known fields, every listed predicate is false, so the rule is.
//! The builder chooses the listed predicates: for `a and b`, the conjunct
//! whose patterns are fewer, longer and not part of common Windows paths
//! and command lines (a guess, `listing.rs`: it moves speed, never a
//! verdict); for `a or b`, both; a negation lists nothing; when the choice
//! would need a companion field (unknown on every kernel event) every
//! literal predicate is listed. The validator derives the listed predicates
//! from `refs`, recomputes from the rule's code that they gate it (else
//! `MissingReference`, naming the rule's first pattern that does not list
//! it), and takes them for the rule's kernel default (below). Include rules
//! are never gated (an include rule of the event's kind changes the filter
//! even when false).
//!
//! **Gated globs and regular expressions.** A glob or regex value may carry
//! *gates*: literals, folded (Unicode simple folding, [`super::fold`]), one
//! of which every text it matches contains, or (value flag `GATES_ALL`, two
//! gates or more) each of which it contains (then the first, the rarest,
//! alone lists the rule among the candidates). Each is stored as a pattern of
//! the folded scanner of the rule's kind and the predicate's field (the
//! predicate's `scanner`; `NONE` when none of its values is gated) and
//! listed in `gates` (1 to [`MAX_VALUE_GATES`] per value). A glob's gates
//! are its maximal runs of literal units between `*` and `?`, folded, all
//! required (the rarest eight by the builder's table of substrings common in
//! Windows command lines and paths, [`super::regex_gate::commonness`]). A
//! regular expression's are computed from its parsed form at build time:
//! either a set one of which every match contains (an alternation has the
//! union of its branches' sets, a concatenation the rarest of its factors'
//! sets: `\\(powershell|pwsh)\.exe` is gated by `\powershell.exe` or
//! `\pwsh.exe`, not by the `.exe` that most command lines hold), or the
//! literals each match contains (`net\s+config`: `net` and `config`),
//! whichever is rarer. When the field's text was scanned and none of a
//! value's gates was found (`GATES_ALL`: one of them was not), the value is
//! false without running the glob or the automaton. A glob or regex
//! predicate whose every value is gated (flag `GATED` of the predicate)
//! counts as a literal predicate for the candidate rules above (each of its
//! gates lists the rule, or of a `GATES_ALL` value its first). The validator
//! checks each gate's place (flags, the count, the range in `gates`, which
//! the gated values cover in order
//! and exactly, strictly ascending patterns of a scanner of the field, the
//! rule's kind and the folded mode), and that each of a glob's gates is the
//! folded units of one of its maximal literal runs (walked through the
//! scanner from its root; a glob of several gates has `GATES_ALL`); that a
//! regular expression's gates are in every match is the content compiler's
//! claim, under the content's signature, not rechecked here. A wrong gate in
//! content nobody validated can change a verdict, never the bounds: a gate
//! check reads at most [`MAX_VALUE_GATES`] bits, each after the first
//! charged one step.
//!
//! **Kernel defaults.** In the kernel, a rule is a candidate through a field
//! the event answers unknown for (a companion field) as well as through a
//! pattern found; most such rules come out the same on every event whose
//! sensor fields hold none of their patterns, e.g. `Image endswith X or
//! OriginalFileName is X` is unknown, and the same `and CommandLine contains
//! Y` is false. A gated rule's `default` byte records that value: false,
//! unknown, or none when the rule's expression can take more than one value
//! with every listed predicate (above) on a sensor field (index below
//! `COMPANION_BASE`) false and every listed predicate on a companion field
//! unknown, whatever its other predicates are (see [`super::default`]).
//! Evaluation uses it for a rule that no pattern found made a candidate, and
//! only when the event answers unknown for exactly the companion fields among
//! the fields of its kind's scanners; otherwise the rule runs. Rules in
//! `always` have none. The validator recomputes every rule's default from its
//! code and refuses any other byte.

pub use crate::format::{MAGIC, header};

pub const FORMAT_VERSION: u16 = 2;
/// "No such state / pattern" in a state entry.
pub const NONE: u32 = u32::MAX;

/// Section directory entries and section ids.
pub mod section {
    pub use crate::format::section::{ENTRY_LEN, ID, LEN, OFFSET, RESERVED};
    pub const SCANNERS: u16 = 1;
    pub const CLASSES: u16 = 2;
    pub const STATES: u16 = 3;
    pub const GOTOS: u16 = 4;
    pub const PATTERNS: u16 = 5;
    pub const GLOBS: u16 = 6;
    pub const GLOB_UNITS: u16 = 7;
    pub const PREDICATES: u16 = 8;
    pub const VALUES: u16 = 9;
    pub const RULES: u16 = 10;
    pub const CODE: u16 = 11;
    pub const STRINGS: u16 = 12;
    pub const REFS: u16 = 13;
    pub const ALWAYS: u16 = 14;
    pub const REGEXES: u16 = 15;
    pub const GATES: u16 = 16;
    pub const COUNT: usize = 16;
    pub const FIRST_OFFSET: usize = super::header::LEN + COUNT * ENTRY_LEN;
    /// Entry size of each section, by id - 1 (strings: one UTF-16 unit).
    pub const ENTRY: [usize; COUNT] = [32, 4, 24, 8, 16, 24, 12, 16, 12, 40, 4, 2, 2, 2, 2, 4];
}

pub mod scanner {
    pub const KIND: usize = 0;
    pub const FIELD: usize = 2;
    pub const CASE: usize = 3;
    pub const FIRST_STATE: usize = 4;
    pub const STATE_COUNT: usize = 8;
    pub const FIRST_CLASS: usize = 12;
    pub const CLASS_ENTRIES: usize = 16;
    pub const CLASS_COUNT: usize = 20;
    pub const FIRST_PATTERN: usize = 24;
    pub const PATTERN_COUNT: usize = 28;
    pub const LEN: usize = 32;
    /// Entries of the ASCII part of a class table.
    pub const ASCII: usize = 128;
}

pub mod class {
    pub const UNIT: usize = 0;
    pub const CLASS: usize = 2;
    pub const LEN: usize = 4;
}

pub mod state {
    pub const DEPTH: usize = 0;
    pub const FAIL: usize = 4;
    pub const DICT: usize = 8;
    pub const OUTPUT: usize = 12;
    pub const FIRST_GOTO: usize = 16;
    pub const GOTO_COUNT: usize = 20;
    pub const LEN: usize = 24;
}

pub mod goto {
    pub const CLASS: usize = 0;
    pub const RESERVED: usize = 2;
    pub const TARGET: usize = 4;
    pub const LEN: usize = 8;
}

pub mod pattern {
    pub const STATE: usize = 0;
    pub const LEN_UNITS: usize = 4;
    pub const FIRST_REF: usize = 8;
    pub const REF_COUNT: usize = 12;
    pub const LEN: usize = 16;
}

pub mod glob {
    pub const STAR_MASK: usize = 0;
    pub const ANY_MASK: usize = 8;
    pub const FIRST_UNIT: usize = 16;
    pub const UNIT_COUNT: usize = 20;
    pub const TOKENS: usize = 21;
    pub const CASE: usize = 22;
    pub const RESERVED: usize = 23;
    pub const LEN: usize = 24;
}

pub mod glob_unit {
    pub const UNIT: usize = 0;
    pub const RESERVED: usize = 2;
    pub const MASK: usize = 4;
    pub const LEN: usize = 12;
}

pub mod predicate {
    pub const FIELD: usize = 0;
    pub const OPERATOR: usize = 1;
    pub const FLAGS: usize = 2;
    pub const RESERVED: usize = 3;
    pub const SCANNER: usize = 4;
    pub const FIRST_VALUE: usize = 8;
    pub const VALUE_COUNT: usize = 12;
    pub const LEN: usize = 16;
    /// Every value group must match (else: some value).
    pub const ALL: u8 = 1;
    /// A glob or regex predicate whose every value is gated: it counts as a
    /// literal predicate for the candidate rules (see the module's notes).
    pub const GATED: u8 = 2;
    pub const KNOWN_FLAGS: u8 = ALL | GATED;
}

pub mod value {
    pub const VALUE: usize = 0;
    pub const FLAGS: usize = 8;
    pub const LEN: usize = 12;
    /// This value is an alternative of the previous one (a `windash` spelling):
    /// under `all`, a group of alternatives counts as one value.
    pub const ALT: u32 = 1;
    /// A glob or regex value with gates: bits 32..64 of the value say where
    /// they are in `gates` ([`gates`]); every match contains one of them.
    pub const GATED: u32 = 2;
    /// A gated value with two gates or more whose every gate (not only one)
    /// every match contains: it may hold only when all of them were found.
    pub const GATES_ALL: u32 = 4;
    pub const KNOWN_FLAGS: u32 = ALT | GATED | GATES_ALL;
    /// A gated value's index (bits 0..32) and gate word (bits 32..64).
    pub const fn split(value: u64) -> (u32, u32) {
        let [a, b, c, d, e, f, g, h] = value.to_le_bytes();
        (u32::from_le_bytes([a, b, c, d]), u32::from_le_bytes([e, f, g, h]))
    }
    /// A gate word's first entry of `gates` (bits 0..24) and count (bits 24..32).
    pub const fn gates(word: u32) -> (u32, u32) {
        (word & 0x00FF_FFFF, word.wrapping_shr(24))
    }
    /// The gate word of `count` gates from entry `first` (`first` below 2^24, `count` below 256).
    pub const fn gate_word(first: u32, count: u32) -> u32 {
        (first & 0x00FF_FFFF) | count.wrapping_shl(24)
    }
}

pub mod rule {
    pub const ID: usize = 0;
    pub const KIND: usize = 4;
    pub const ROLE: usize = 6;
    /// The rule's kernel default (see the module's notes).
    pub const DEFAULT: usize = 7;
    pub const FIRST_PREDICATE: usize = 8;
    pub const PREDICATE_COUNT: usize = 12;
    pub const FIRST_CODE: usize = 16;
    pub const CODE_LEN: usize = 20;
    pub const NAME_OFFSET: usize = 24;
    pub const NAME_LEN: usize = 28;
    pub const META_LEN: usize = 30;
    pub const META_OFFSET: usize = 32;
    pub const RESERVED2: usize = 36;
    pub const LEN: usize = 40;
    /// No kernel default: a rule in `always`, or one whose value the
    /// analysis cannot fix.
    pub const DEFAULT_NONE: u8 = 0;
    /// False under the kernel's assumptions.
    pub const DEFAULT_FALSE: u8 = 1;
    /// Unknown under the kernel's assumptions.
    pub const DEFAULT_UNKNOWN: u8 = 2;
}

pub mod code {
    pub const OPCODE: usize = 0;
    pub const RESERVED: usize = 1;
    pub const ARG: usize = 2;
    pub const LEN: usize = 4;
    /// Push predicate `arg` (an index in the rule's predicates).
    pub const PRED: u8 = 1;
    /// Pop `arg` results, push their Kleene conjunction (`arg` 0 pushes true).
    pub const AND: u8 = 2;
    /// Pop `arg` results, push their Kleene disjunction (`arg` 0 pushes false).
    pub const OR: u8 = 3;
    /// Negate the top result (unknown stays unknown).
    pub const NOT: u8 = 4;
}

/// The largest content accepted, in bytes. SigmaHQ's process-creation set
/// (about 20,000 values) builds to a few MiB, mostly automaton states.
pub const MAX_CONTENT_BYTES: usize = 16 << 20;
pub const MAX_SCANNERS: usize = 256;
/// States of all automata together.
pub const MAX_STATES: usize = 1 << 20;
/// Alphabet classes of one automaton (class 0 is every unit no pattern holds).
pub const MAX_CLASSES: usize = 4096;
pub const MAX_CLASS_ENTRIES: usize = MAX_SCANNERS * 512;
pub const MAX_GOTOS: usize = MAX_STATES;
/// Distinct patterns of all automata together.
pub const MAX_PATTERNS: usize = 1 << 17;
/// The longest pattern, in UTF-16 units (an automaton's deepest state).
pub const MAX_PATTERN_UNITS: usize = 1024;
pub const MAX_GLOBS: usize = 4096;
/// Tokens of one glob (literal units, `?`, `*`): its positions fit one u64.
pub const MAX_GLOB_TOKENS: usize = 63;
pub const MAX_GLOB_UNITS: usize = MAX_GLOBS * MAX_GLOB_TOKENS;
pub const MAX_PREDICATES: usize = 1 << 16;
pub const MAX_VALUES: usize = 1 << 17;
pub const MAX_RULES: usize = 8192;
pub const MAX_CODE: usize = 1 << 17;
/// Instructions of one rule's expression.
pub const MAX_CODE_PER_RULE: usize = 4096;
/// Predicates of one rule (a `PRED` argument is a u16).
pub const MAX_PREDICATES_PER_RULE: usize = 1024;
/// Results on the expression stack at once: two u64 bit-stacks hold them.
pub const MAX_STACK: usize = 64;
pub const MAX_STRING_UNITS: usize = 256 * 1024;
pub const MAX_NAME_UNITS: usize = 256;
pub const MAX_META_UNITS: usize = 1024;
/// Pattern-to-rule references: at most one per literal value.
pub const MAX_REFS: usize = MAX_VALUES;
/// The most gates one glob or regex value has (format.rs, "Gated globs and regular expressions").
pub const MAX_VALUE_GATES: u32 = 8;
/// Entries of `gates` (below 2^24: a gate word's first entry has 24 bits).
pub const MAX_GATES: usize = MAX_VALUES;
/// The content budget: the most work the content may ask of one event, in meter units
/// ([`crate::v2::cost`]: steps of 2 units each). High
/// enough for SigmaHQ's process-creation and image-load rules lowered into one content
/// (about 95,400,000 with their regular expressions: their globs and regular expressions
/// are charged a scan of the whole field each). It bounds content, not time: in the
/// kernel every evaluation also stops at [`crate::EVENT_WORK_LIMIT`] (about 5.1 M instructions).
pub const MAX_EVALUATION_COST: u64 = 128_000_000;
/// The most section entries, by id - 1 (strings: units).
pub const SECTION_LIMITS: [usize; section::COUNT] = [
    MAX_SCANNERS,
    MAX_CLASS_ENTRIES,
    MAX_STATES,
    MAX_GOTOS,
    MAX_PATTERNS,
    MAX_GLOBS,
    MAX_GLOB_UNITS,
    MAX_PREDICATES,
    MAX_VALUES,
    MAX_RULES,
    MAX_CODE,
    MAX_STRING_UNITS,
    MAX_REFS,
    MAX_RULES,
    regex::MAX_WORDS,
    MAX_GATES,
];

/// The `regexes` section: deterministic automata over a field's text as UTF-8
/// (each UTF-16 unit converted on the fly; an unpaired surrogate reads as
/// U+FFFD), built at compile time from a regular expression with Sigma's `re`
/// semantics (a match anywhere in the text). All of it is u16 words:
///
/// ```text
/// 0 count (u32, two words, low first; an empty section holds no automaton)
/// 2 offsets: count u32s (two words each), where each automaton starts, in
///   words from the section's start; the first right after the offsets, each
///   next where the previous one ends, the last ending at the section's end
/// per automaton:
///   0 state_count (1 ..= MAX_STATES)   1 class_count (byte classes, 1 ..= 256)
///   2 start   3 accept (a match was found: the search stops, true)
///   4 dead (every cell of its row leads back to it: the search stops, false;
///     NO_STATE when there is none)   5 reserved (0)
///   6 .. 262: the class of each byte 0 ..= 255 (below class_count)
///   262 ..: state_count rows of class_count + 1 cells, the next state (below
///     state_count); a row's last cell is taken at the end of the text
/// ```
///
/// The search reads each byte's class, then the cell of the current state's
/// row: one pass, two table reads per byte, no backtracking. An automaton is
/// at most `(HEADER + BYTES + MAX_STATES · (MAX_CLASSES + 1)) · 2` =
/// [`regex::MAX_AUTOMATON_BYTES`] bytes.
pub mod regex {
    pub const COUNT: usize = 0;
    pub const OFFSETS: usize = 2;
    /// Words of one offset (a u32).
    pub const OFFSET_WORDS: usize = 2;
    pub const STATE_COUNT: usize = 0;
    pub const CLASS_COUNT: usize = 1;
    pub const START: usize = 2;
    pub const ACCEPT: usize = 3;
    pub const DEAD: usize = 4;
    pub const RESERVED: usize = 5;
    pub const HEADER: usize = 6;
    /// Entries of the byte-class map.
    pub const BYTES: usize = 256;
    /// Where an automaton's rows begin.
    pub const ROWS: usize = HEADER + BYTES;
    /// `dead` when the automaton has no dead state.
    pub const NO_STATE: u16 = u16::MAX;
    /// States of one automaton.
    pub const MAX_STATES: usize = 1024;
    /// Byte classes of one automaton.
    pub const MAX_CLASSES: usize = 256;
    /// Automata in one content.
    pub const MAX_AUTOMATA: usize = 1024;
    /// Words of the whole section (8 MiB).
    pub const MAX_WORDS: usize = 1 << 22;
    pub const MAX_AUTOMATON_BYTES: usize = (ROWS + MAX_STATES * (MAX_CLASSES + 1)) * 2;
}

/// What a predicate checks of its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Operator {
    Equals = 1,
    Contains = 2,
    StartsWith = 3,
    EndsWith = 4,
    /// `*` and `?` over the whole text.
    Glob = 5,
    IntEquals = 6,
    Less = 7,
    LessOrEqual = 8,
    Greater = 9,
    GreaterOrEqual = 10,
    /// The field has a value (takes no values).
    Exists = 11,
    /// The field is known to have no value (takes no values).
    Absent = 12,
    /// A regular expression found anywhere in the text (values: automaton indexes, see [`regex`]).
    Regex = 13,
}

impl Operator {
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Operator::Equals,
            2 => Operator::Contains,
            3 => Operator::StartsWith,
            4 => Operator::EndsWith,
            5 => Operator::Glob,
            6 => Operator::IntEquals,
            7 => Operator::Less,
            8 => Operator::LessOrEqual,
            9 => Operator::Greater,
            10 => Operator::GreaterOrEqual,
            11 => Operator::Exists,
            12 => Operator::Absent,
            13 => Operator::Regex,
            _ => return None,
        })
    }

    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Found by a field's automaton: values are pattern indexes.
    pub const fn is_literal(self) -> bool {
        matches!(self, Operator::Equals | Operator::Contains | Operator::StartsWith | Operator::EndsWith)
    }

    pub const fn is_integer(self) -> bool {
        matches!(
            self,
            Operator::IntEquals
                | Operator::Less
                | Operator::LessOrEqual
                | Operator::Greater
                | Operator::GreaterOrEqual
        )
    }

    /// Whether the operator applies to a field of type `ty`.
    pub const fn fits(self, ty: ringfence_wire::FieldType) -> bool {
        use ringfence_wire::FieldType;
        match self {
            Operator::Exists | Operator::Absent => true,
            Operator::Equals
            | Operator::Contains
            | Operator::StartsWith
            | Operator::EndsWith
            | Operator::Glob
            | Operator::Regex => matches!(ty, FieldType::Str),
            _ => !matches!(ty, FieldType::Str),
        }
    }
}

/// What a rule is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Role {
    /// Reported by id when it matches (Sigma).
    Detection = 0,
    /// A match drops the event (Sysmon's exclude).
    Exclude = 1,
    /// With include rules for a kind, only events matching one are kept.
    Include = 2,
}

impl Role {
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Role::Detection),
            1 => Some(Role::Exclude),
            2 => Some(Role::Include),
            _ => None,
        }
    }
}
