//! Why format-2 content was refused, and where: a byte offset and a reason
//! naming the entry, the index and the bound, never a string built on the spot.

use core::fmt;

/// A format-2 table, as named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Scanners,
    Classes,
    States,
    Gotos,
    Patterns,
    Globs,
    GlobUnits,
    Predicates,
    Values,
    Rules,
    Code,
    Strings,
    Refs,
    Always,
    Regexes,
    Gates,
}

impl Table {
    /// The table of section `id` (1-based, as in the directory).
    pub const fn of_section(id: u16) -> Option<Table> {
        Some(match id {
            1 => Table::Scanners,
            2 => Table::Classes,
            3 => Table::States,
            4 => Table::Gotos,
            5 => Table::Patterns,
            6 => Table::Globs,
            7 => Table::GlobUnits,
            8 => Table::Predicates,
            9 => Table::Values,
            10 => Table::Rules,
            11 => Table::Code,
            12 => Table::Strings,
            13 => Table::Refs,
            14 => Table::Always,
            15 => Table::Regexes,
            16 => Table::Gates,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Table::Scanners => "scanners",
            Table::Classes => "classes",
            Table::States => "states",
            Table::Gotos => "gotos",
            Table::Patterns => "patterns",
            Table::Globs => "globs",
            Table::GlobUnits => "glob units",
            Table::Predicates => "predicates",
            Table::Values => "values",
            Table::Rules => "rules",
            Table::Code => "code",
            Table::Strings => "strings",
            Table::Refs => "refs",
            Table::Always => "always",
            Table::Regexes => "regexes",
            Table::Gates => "gates",
        }
    }
}

/// A published limit of [`crate::v2::format`] that content exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    TotalBytes,
    /// Entries of a table (strings: units).
    Entries(Table),
    Classes,
    PatternUnits,
    GlobTokens,
    PredicatesPerRule,
    CodePerRule,
    Stack,
    NameUnits,
    MetaUnits,
    /// Worst-case work units of one event's evaluation.
    EvaluationCost,
    /// States of one regular expression's automaton (at least one).
    RegexStates,
    /// Byte classes of one regular expression's automaton (at least one).
    RegexClasses,
    /// Regular expressions' automata in the content.
    Regexes,
}

/// Content the validator turned down, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Byte offset, from the start of the content, of the item at fault.
    pub offset: usize,
    pub kind: ErrorKind,
}

impl ValidationError {
    pub(crate) const fn at(offset: usize, kind: ErrorKind) -> Self {
        ValidationError { offset, kind }
    }
}

/// Why. `entry` is a position in the table the error names; state, pattern
/// and class indexes are local to their scanner, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Empty,
    Truncated {
        needed: u32,
        available: u32,
    },
    BadMagic {
        found: u32,
    },
    /// Not format 2 (format 1 content has version 1 here).
    UnsupportedFormat {
        found: u16,
    },
    NonZeroReserved,
    TotalLengthTooSmall {
        declared: u32,
        minimum: u32,
    },
    TrailingBytes {
        declared: u32,
        actual: u32,
    },
    LimitExceeded {
        limit: Limit,
        found: u64,
        max: u64,
    },
    BadChecksum {
        stored: u32,
        computed: u32,
    },
    UnknownSchemaVersion {
        found: u16,
    },
    /// The directory must list every section exactly once, in id order.
    SectionCount {
        found: u16,
    },
    UnexpectedSection {
        position: u16,
        id: u16,
    },
    SectionLengthOverflow {
        id: u16,
    },
    SectionOutOfBounds {
        id: u16,
        end: u32,
        total: u32,
    },
    SectionMisplaced {
        id: u16,
        offset: u32,
        expected: u32,
    },
    SectionLength {
        id: u16,
        len: u32,
        entry: u32,
    },
    UnclaimedBytes {
        end: u32,
        total: u32,
    },
    /// An entry's (first, count) range reaches past the table it refers to (`len`:
    /// the table's entries), or does not start where the previous entry's range
    /// ended, for the tables that are partitioned in order (`len`: that position).
    RangeOutOfBounds {
        table: Table,
        entry: u32,
        target: Table,
        first: u32,
        count: u32,
        len: u32,
    },
    UnknownKind {
        table: Table,
        entry: u32,
        code: u16,
    },
    /// A field the running schema does not supply for the kind (Channel File 291).
    FieldNotSupplied {
        table: Table,
        entry: u32,
        kind: u16,
        field: u8,
    },
    /// A field content may not match on (the sensor fills it from the verdict).
    FieldNotMatchable {
        table: Table,
        entry: u32,
        field: u8,
    },
    /// The operator does not apply to the field's type.
    OperatorTypeMismatch {
        entry: u32,
        operator: u8,
        field_type: u8,
    },
    UnknownOperator {
        entry: u32,
        code: u8,
    },
    UnknownFlags {
        table: Table,
        entry: u32,
        flags: u32,
    },
    BadCaseMode {
        table: Table,
        entry: u32,
        case: u8,
    },
    /// ASCII entry `unit` of a class table does not hold unit `unit`.
    AsciiClassMisplaced {
        scanner: u32,
        unit: u32,
    },
    /// Non-ASCII class entries must be above 127 and strictly ascending.
    ClassUnitsUnsorted {
        scanner: u32,
        entry: u32,
    },
    ClassOutOfRange {
        scanner: u32,
        class: u32,
        count: u32,
    },
    /// A scanner without states, or one whose root is not depth 0.
    BadRoot {
        scanner: u32,
    },
    /// The root's goto row must hold every class, in class order.
    RootRowNotDense {
        scanner: u32,
    },
    StateOutOfRange {
        scanner: u32,
        state: u32,
        target: u32,
    },
    PatternOutOfRange {
        scanner: u32,
        state: u32,
        pattern: u32,
    },
    /// Depths must rise level by level along the states, each level beginning
    /// where the previous level's children begin, the last level childless.
    BadDepth {
        scanner: u32,
        state: u32,
        depth: u32,
    },
    /// A state no goto leads to (every non-root state is some state's child).
    UnreachableState {
        scanner: u32,
        state: u32,
    },
    /// Goto lists must be sorted by class, without repeats.
    GotosUnsorted {
        scanner: u32,
        state: u32,
    },
    /// Failure and dictionary links must lead to a strictly shallower state.
    LinkNotShallower {
        scanner: u32,
        state: u32,
        target: u32,
    },
    /// A dictionary link must lead to a state with an output.
    DictionaryWithoutOutput {
        scanner: u32,
        state: u32,
        target: u32,
    },
    /// A pattern's state must name it as its output, at the pattern's length.
    PatternStateMismatch {
        scanner: u32,
        pattern: u32,
        state: u32,
    },
    /// A glob's masks name token positions it does not have, or its unit table is unsorted.
    BadGlob {
        glob: u32,
    },
    /// A literal predicate must use a scanner of its rule's kind, field and case mode.
    ScannerMismatch {
        predicate: u32,
        scanner: u32,
    },
    /// A value refers to a pattern or glob that does not exist.
    ValueOutOfRange {
        predicate: u32,
        value: u32,
        index: u64,
    },
    /// `exists` / `absent` take no values, every other operator at least one;
    /// the first value of a predicate cannot be an alternative.
    BadValues {
        predicate: u32,
    },
    UnknownRole {
        entry: u32,
        code: u8,
    },
    /// Rules must be sorted by id, ids unique.
    RulesUnsorted {
        entry: u32,
        id: u32,
    },
    KindNotFilterable {
        entry: u32,
        code: u16,
    },
    UnknownOpcode {
        rule: u32,
        at: u32,
        code: u8,
    },
    StackUnderflow {
        rule: u32,
        at: u32,
    },
    /// A rule's code must leave exactly one result.
    ResultCount {
        rule: u32,
        results: u32,
    },
    PredicateIndex {
        rule: u32,
        at: u32,
        index: u16,
        count: u32,
    },
    /// A goto must lead to the next state in breadth-first order (the states
    /// form a tree numbered level by level, children in class order).
    GotoNotBreadthFirst {
        scanner: u32,
        state: u32,
        target: u32,
    },
    /// A pattern's rule references must be in range and strictly ascending.
    BadReference {
        pattern: u32,
        rule: u32,
    },
    /// The `always` list must be strictly ascending rule indexes.
    BadAlwaysList {
        entry: u32,
        rule: u32,
    },
    /// A rule missing from `always` must be gated: false whenever its
    /// literal predicates are all false (and never an include rule).
    RuleNotGated {
        rule: u32,
    },
    /// A gated rule's listed predicates (format.rs, "Candidate rules") must
    /// gate it: `pattern` is the first of its patterns that does not list it.
    MissingReference {
        rule: u32,
        pattern: u32,
    },
    /// Regular expression `regex`'s automaton does not start at `expected`, the
    /// word after the offsets or after the previous automaton (`offset`: where
    /// the section's offsets say it starts).
    RegexMisplaced {
        regex: u32,
        offset: u32,
        expected: u32,
    },
    /// The offsets, or automaton `regex`'s tables, reach past the section
    /// (`end`, `len`: in words).
    RegexOutOfBounds {
        regex: u32,
        end: u32,
        len: u32,
    },
    /// A state number of automaton `regex` (at `word` of its tables: start,
    /// accept, dead or a cell) is not below its state count.
    RegexStateOutOfRange {
        regex: u32,
        word: u32,
        target: u32,
    },
    /// Byte `byte`'s class is not below the automaton's class count.
    RegexClassOutOfRange {
        regex: u32,
        byte: u32,
        class: u32,
    },
    /// The dead state's cell for `class` leaves it, or the dead state is the accepting one.
    RegexDeadNotDead {
        regex: u32,
        class: u32,
    },
    /// Value `value` of predicate `predicate` has a gate out of place: on an
    /// operator other than glob or regex, without the predicate's scanner,
    /// bits set without the flag, no gate or over [`super::format::MAX_VALUE_GATES`]
    /// (a glob: other than one), not starting where the previous gated value's
    /// end in `gates`, an entry beyond `gates` or beyond the scanner's
    /// patterns, patterns not strictly ascending, or (a glob) not the folded
    /// units of one of the glob's maximal literal runs.
    BadGate {
        predicate: u32,
        value: u32,
    },
    /// Rule `rule`'s kernel default byte is `found`; its code gives
    /// `expected` (format.rs, "Kernel defaults").
    WrongDefault {
        rule: u32,
        found: u8,
        expected: u8,
    },
    /// The gated values' gates end at entry `used` of `gates`, which has
    /// `entries`: every entry belongs to exactly one gated value.
    GatesUncovered {
        used: u32,
        entries: u32,
    },
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "content format 2 refused at byte {}: {:?}", self.offset, self.kind)
    }
}

/// Why an evaluation stopped before its verdict (the sensor then keeps the event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvaluationError {
    /// The caller's scratch buffer is smaller than [`crate::v2::Content::scratch_words`].
    ScratchTooSmall { needed: usize, given: usize },
    /// The work went past the meter's limit: in the kernel, the per-event
    /// [`crate::EVENT_WORK_LIMIT`] (an event the content cannot be decided on
    /// in time); with the content budget, only unvalidated content gets there.
    CostExceeded { limit: u64 },
    /// The meter's [`crate::Deadline`] passed (the kernel's [`crate::EVENT_DEADLINE`]),
    /// `used` units into the evaluation: decided as at the work limit.
    DeadlinePassed { used: u64 },
}
