//! The format-2 validator: header, directory, then every table in dependency
//! order (automata, globs, predicates against the schema, rules and their
//! code), then the worst-case cost. Each count is checked against its
//! published limit before anything is sized or looped from it, and each
//! (first, count) range against the table it points into.

use super::content::{Content, PredicateEntry, RuleEntry, ScannerEntry, ix};
use super::cost;
use super::default;
use super::error::{ErrorKind, Limit, Table, ValidationError};
use super::expr::{Stack, Truth};
use super::format::{
    self, MAX_CLASSES, MAX_CODE_PER_RULE, MAX_GLOB_TOKENS, MAX_META_UNITS, MAX_NAME_UNITS, MAX_PATTERN_UNITS,
    MAX_PREDICATES_PER_RULE, MAX_STACK, NONE, Operator, Role, code, header, pattern, predicate, scanner,
    section, state, value,
};
use super::gate;
use super::listing;
use super::state_pass::Automaton;
use crate::checksum::content_checksum;
use ringfence_wire::bytes::{u16_at, u32_at};
use ringfence_wire::{FieldDef, Schema};

type Result<T> = core::result::Result<T, ValidationError>;

fn err<T>(offset: usize, kind: ErrorKind) -> Result<T> {
    Err(ValidationError::at(offset, kind))
}

fn small(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Validates `bytes` as format-2 content for a sensor that supplies `schema`.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn validate<'a>(bytes: &'a [u8], schema: &Schema) -> Result<Content<'a>> {
    check_header(bytes)?;
    let content = check_directory(bytes)?;
    let v = Validator { c: content, schema };
    v.scanners()?;
    v.globs()?;
    super::regex::check(content.table(section::REGEXES), |w| v.offset(section::REGEXES, w, 0))?;
    let gates = v.predicates()?;
    v.rules()?;
    super::gate::check_covered(&content, gates, |id, entry, field| v.offset(id, entry, field))?;
    cost::check(&content, schema)?;
    Ok(content)
}

fn check_header(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return err(0, ErrorKind::Empty);
    }
    let available = small(bytes.len());
    if bytes.len() < header::LEN {
        return err(bytes.len(), ErrorKind::Truncated { needed: small(header::LEN), available });
    }
    let magic = u32_at(bytes, header::MAGIC).unwrap_or(0);
    if magic != u32::from_le_bytes(format::MAGIC) {
        return err(header::MAGIC, ErrorKind::BadMagic { found: magic });
    }
    let version = u16_at(bytes, header::FORMAT_VERSION).unwrap_or(0);
    if version != format::FORMAT_VERSION {
        return err(header::FORMAT_VERSION, ErrorKind::UnsupportedFormat { found: version });
    }
    if u16_at(bytes, header::RESERVED) != Some(0) {
        return err(header::RESERVED, ErrorKind::NonZeroReserved);
    }
    let declared = u32_at(bytes, header::TOTAL_LEN).unwrap_or(0);
    let total = ix(declared);
    if total < section::FIRST_OFFSET {
        let minimum = small(section::FIRST_OFFSET);
        return err(header::TOTAL_LEN, ErrorKind::TotalLengthTooSmall { declared, minimum });
    }
    if total > format::MAX_CONTENT_BYTES {
        let limit = Limit::TotalBytes;
        let max = format::MAX_CONTENT_BYTES as u64;
        return err(header::TOTAL_LEN, ErrorKind::LimitExceeded { limit, found: declared.into(), max });
    }
    if bytes.len() < total {
        return err(bytes.len(), ErrorKind::Truncated { needed: declared, available });
    }
    if bytes.len() > total {
        return err(total, ErrorKind::TrailingBytes { declared, actual: available });
    }
    let stored = u32_at(bytes, header::CHECKSUM).unwrap_or(0);
    let computed = content_checksum(bytes);
    if stored != computed {
        return err(header::CHECKSUM, ErrorKind::BadChecksum { stored, computed });
    }
    if u16_at(bytes, header::SCHEMA_VERSION) == Some(0) {
        return err(header::SCHEMA_VERSION, ErrorKind::UnknownSchemaVersion { found: 0 });
    }
    Ok(())
}

fn check_directory(bytes: &[u8]) -> Result<Content<'_>> {
    let count = u16_at(bytes, header::SECTION_COUNT).unwrap_or(0);
    if usize::from(count) != section::COUNT {
        return err(header::SECTION_COUNT, ErrorKind::SectionCount { found: count });
    }
    let mut sections = [&[][..]; section::COUNT];
    let mut expected = section::FIRST_OFFSET;
    for (i, slot) in sections.iter_mut().enumerate() {
        let at = header::LEN.saturating_add(i.saturating_mul(section::ENTRY_LEN));
        let id = u16_at(bytes, at.saturating_add(section::ID)).unwrap_or(0);
        let want = u16::try_from(i.saturating_add(1)).unwrap_or(0);
        if id != want {
            let position = want.saturating_sub(1);
            return err(at, ErrorKind::UnexpectedSection { position, id });
        }
        if u16_at(bytes, at.saturating_add(section::RESERVED)) != Some(0) {
            return err(at.saturating_add(section::RESERVED), ErrorKind::NonZeroReserved);
        }
        let offset32 = u32_at(bytes, at.saturating_add(section::OFFSET)).unwrap_or(0);
        let len32 = u32_at(bytes, at.saturating_add(section::LEN)).unwrap_or(0);
        let Some(end32) = offset32.checked_add(len32) else {
            return err(at.saturating_add(section::OFFSET), ErrorKind::SectionLengthOverflow { id });
        };
        let total = small(bytes.len());
        if end32 > total {
            return err(
                at.saturating_add(section::LEN),
                ErrorKind::SectionOutOfBounds { id, end: end32, total },
            );
        }
        if ix(offset32) != expected {
            let expected = small(expected);
            return err(
                at.saturating_add(section::OFFSET),
                ErrorKind::SectionMisplaced { id, offset: offset32, expected },
            );
        }
        let entry = section::ENTRY.get(i).copied().unwrap_or(1);
        let max = format::SECTION_LIMITS.get(i).copied().unwrap_or(0);
        if ix(len32).checked_rem(entry) != Some(0) {
            let entry = small(entry);
            return err(at.saturating_add(section::LEN), ErrorKind::SectionLength { id, len: len32, entry });
        }
        let entries = ix(len32).checked_div(entry).unwrap_or(0);
        if entries > max {
            let limit = Limit::Entries(Table::of_section(id).unwrap_or(Table::Strings));
            let (found, max) = (entries as u64, max as u64);
            return err(at.saturating_add(section::LEN), ErrorKind::LimitExceeded { limit, found, max });
        }
        *slot = bytes.get(ix(offset32)..ix(end32)).unwrap_or(&[]);
        expected = ix(end32);
    }
    if expected != bytes.len() {
        return err(expected, ErrorKind::UnclaimedBytes { end: small(expected), total: small(bytes.len()) });
    }
    Ok(Content { bytes, sections, transitions: &[] })
}

struct Validator<'c, 's> {
    c: Content<'c>,
    schema: &'s Schema,
}

impl Validator<'_, '_> {
    /// Byte offset of entry `index` of section `id`.
    fn offset(&self, id: u16, index: usize, field: usize) -> usize {
        let start = self.c.table(id).as_ptr() as usize;
        let base = start.saturating_sub(self.c.bytes.as_ptr() as usize);
        let entry = section::ENTRY.get(usize::from(id).saturating_sub(1)).copied().unwrap_or(1);
        base.saturating_add(index.saturating_mul(entry)).saturating_add(field)
    }

    /// Checks that `first .. first + count` lies inside section `target`.
    #[allow(clippy::too_many_arguments)]
    fn range(
        &self,
        table: Table,
        id: u16,
        entry: usize,
        field: usize,
        target: u16,
        first: u32,
        count: u32,
    ) -> Result<()> {
        let len = self.c.count(target);
        let end = u64::from(first).saturating_add(u64::from(count));
        if end > len as u64 {
            let target_table = Table::of_section(target).unwrap_or(Table::Strings);
            let kind = ErrorKind::RangeOutOfBounds {
                table,
                entry: small(entry),
                target: target_table,
                first,
                count,
                len: small(len),
            };
            return err(self.offset(id, entry, field), kind);
        }
        Ok(())
    }

    /// The field `field` of kind `kind` in the running schema, or the 291 refusal.
    fn field(
        &self,
        table: Table,
        id: u16,
        entry: usize,
        at: usize,
        kind: u16,
        field: u8,
    ) -> Result<&'static FieldDef> {
        let Some(k) = self.schema.kind_by_code(kind) else {
            return err(
                self.offset(id, entry, at),
                ErrorKind::UnknownKind { table, entry: small(entry), code: kind },
            );
        };
        let Some(def) = k.resolve(field) else {
            let e = ErrorKind::FieldNotSupplied { table, entry: small(entry), kind, field };
            return err(self.offset(id, entry, at), e);
        };
        if !def.matchable {
            return err(
                self.offset(id, entry, at),
                ErrorKind::FieldNotMatchable { table, entry: small(entry), field },
            );
        }
        Ok(def)
    }

    fn scanners(&self) -> Result<()> {
        let (mut states, mut classes, mut patterns) = (0u32, 0u32, 0u32);
        let (mut gotos, mut refs) = (0u32, 0u32);
        for index in 0..self.c.count(section::SCANNERS) {
            let Some(s) = self.c.scanner(index) else { break };
            let id = section::SCANNERS;
            let def = self.field(Table::Scanners, id, index, scanner::KIND, s.kind, s.field)?;
            if !Operator::Contains.fits(def.ty) {
                let e = ErrorKind::OperatorTypeMismatch {
                    entry: small(index),
                    operator: 0,
                    field_type: def.ty as u8,
                };
                return err(self.offset(id, index, scanner::FIELD), e);
            }
            if s.case > 1 {
                let e = ErrorKind::BadCaseMode { table: Table::Scanners, entry: small(index), case: s.case };
                return err(self.offset(id, index, scanner::CASE), e);
            }
            // Each scanner's states, classes and patterns follow the previous one's.
            let checks = [
                (scanner::FIRST_STATE, section::STATES, s.first_state, s.state_count, states),
                (scanner::FIRST_CLASS, section::CLASSES, s.first_class, s.class_entries, classes),
                (scanner::FIRST_PATTERN, section::PATTERNS, s.first_pattern, s.pattern_count, patterns),
            ];
            for (at, target, first, count, expected) in checks {
                self.range(Table::Scanners, id, index, at, target, first, count)?;
                if first != expected {
                    let target_table = Table::of_section(target).unwrap_or(Table::Strings);
                    let kind = ErrorKind::RangeOutOfBounds {
                        table: Table::Scanners,
                        entry: small(index),
                        target: target_table,
                        first,
                        count,
                        len: expected,
                    };
                    return err(self.offset(id, index, at), kind);
                }
            }
            if s.class_count == 0 || ix(s.class_count) > MAX_CLASSES {
                let e = ErrorKind::LimitExceeded {
                    limit: Limit::Classes,
                    found: s.class_count.into(),
                    max: MAX_CLASSES as u64,
                };
                return err(self.offset(id, index, scanner::CLASS_COUNT), e);
            }
            if ix(s.class_entries) > scanner::ASCII.saturating_add(MAX_CLASSES) {
                let max = scanner::ASCII.saturating_add(MAX_CLASSES) as u64;
                let e =
                    ErrorKind::LimitExceeded { limit: Limit::Classes, found: s.class_entries.into(), max };
                return err(self.offset(id, index, scanner::CLASS_ENTRIES), e);
            }
            self.classes(index, &s)?;
            let claimed;
            (gotos, claimed) = self.states(index, &s, gotos)?;
            refs = self.patterns(index, &s, refs, claimed)?;
            states = states.saturating_add(s.state_count);
            classes = classes.saturating_add(s.class_entries);
            patterns = patterns.saturating_add(s.pattern_count);
        }
        // Every entry of the automaton tables belongs to exactly one scanner.
        let totals = [
            (section::STATES, states),
            (section::CLASSES, classes),
            (section::PATTERNS, patterns),
            (section::GOTOS, gotos),
            (section::REFS, refs),
        ];
        for (id, used) in totals {
            let len = self.c.count(id);
            if ix(used) != len {
                let end = small(self.offset(id, ix(used), 0));
                return err(
                    ix(end),
                    ErrorKind::UnclaimedBytes { end, total: small(self.offset(id, len, 0)) },
                );
            }
        }
        Ok(())
    }

    fn classes(&self, index: usize, s: &ScannerEntry) -> Result<()> {
        let sc = small(index);
        if ix(s.class_entries) < scanner::ASCII {
            let e = ErrorKind::AsciiClassMisplaced { scanner: sc, unit: s.class_entries };
            return err(self.offset(section::SCANNERS, index, scanner::CLASS_ENTRIES), e);
        }
        let mut previous = 0x7Fu16;
        for i in 0..s.class_entries {
            let global = s.first_class.saturating_add(i);
            let at = self.offset(section::CLASSES, ix(global), 0);
            let Some((unit, class)) = self.c.class_entry(global) else { break };
            if ix(i) < scanner::ASCII {
                if u32::from(unit) != i {
                    return err(at, ErrorKind::AsciiClassMisplaced { scanner: sc, unit: i });
                }
            } else {
                if unit <= previous {
                    return err(at, ErrorKind::ClassUnitsUnsorted { scanner: sc, entry: i });
                }
                previous = unit;
            }
            if u32::from(class) >= s.class_count {
                return err(
                    at,
                    ErrorKind::ClassOutOfRange { scanner: sc, class: class.into(), count: s.class_count },
                );
            }
        }
        Ok(())
    }

    /// Checks every state and goto of scanner `index` (see [`format`]'s
    /// breadth-first automata) with the passes of [`super::state_pass`], and
    /// on a refusal one check at a time; answers where the next scanner's
    /// gotos start, and whether every pattern was found claimed by its state
    /// at its length (then [`Self::patterns`] need not read the states).
    fn states(&self, index: usize, s: &ScannerEntry, gotos: u32) -> Result<(u32, bool)> {
        if let Some(used) = self.automaton(s, gotos).sound(gotos) {
            return Ok((gotos.saturating_add(used), true));
        }
        // Something is wrong: the checks one by one name the first fault.
        self.states_precise(index, s, gotos).map(|end| (end, false))
    }

    /// Scanner `s`'s tables, its gotos from entry `gotos` of the goto table on.
    fn automaton(&self, s: &ScannerEntry, gotos: u32) -> Automaton<'_> {
        let slice = |id: u16, len: usize, first: u32, count: u32| {
            let start = ix(first).saturating_mul(len);
            self.c.table(id).get(start..start.saturating_add(ix(count).saturating_mul(len))).unwrap_or(&[])
        };
        Automaton {
            states: slice(section::STATES, state::LEN, s.first_state, s.state_count),
            gotos: self
                .c
                .table(section::GOTOS)
                .get(ix(gotos).saturating_mul(format::goto::LEN)..)
                .unwrap_or(&[]),
            patterns: slice(section::PATTERNS, pattern::LEN, s.first_pattern, s.pattern_count),
            class_count: s.class_count,
        }
    }

    /// [`Self::states`] in one sequential pass, each check on its own with its precise error.
    fn states_precise(&self, index: usize, s: &ScannerEntry, mut gotos: u32) -> Result<u32> {
        let sc = small(index);
        let Some(root) = self.c.state(s, 0).filter(|r| r.depth == 0) else {
            return err(
                self.offset(section::SCANNERS, index, scanner::STATE_COUNT),
                ErrorKind::BadRoot { scanner: sc },
            );
        };
        let root_at = self.offset(section::STATES, ix(s.first_state), 0);
        if root.fail != 0 || root.dict != NONE {
            return err(root_at, ErrorKind::BadRoot { scanner: sc });
        }
        if root.goto_count != s.class_count {
            return err(root_at, ErrorKind::RootRowNotDense { scanner: sc });
        }
        // The next state a goto must lead to; the current depth, its first
        // state, and where its states' children begin.
        let mut next = 1u32;
        let (mut depth, mut level_start, mut children) = (0u32, 0u32, 1u32);
        let gotos_len = small(self.c.count(section::GOTOS));
        let goto_table = self.c.table(section::GOTOS);
        let first = ix(s.first_state).saturating_mul(state::LEN);
        let span = ix(s.state_count).saturating_mul(state::LEN);
        let states = self.c.table(section::STATES).get(first..first.saturating_add(span)).unwrap_or(&[]);
        let state_at = |local: u32| self.offset(section::STATES, ix(s.first_state.saturating_add(local)), 0);
        let goto_at = |global: u32| self.offset(section::GOTOS, ix(global), 0);
        for (local, e) in (0u32..).zip(states.chunks_exact(state::LEN)) {
            let field = |at: usize| u32_at(e, at).unwrap_or(0);
            let st_depth = field(state::DEPTH);
            let (fail, dict, output) = (field(state::FAIL), field(state::DICT), field(state::OUTPUT));
            let (first_goto, goto_count) = (field(state::FIRST_GOTO), field(state::GOTO_COUNT));
            if ix(st_depth) > MAX_PATTERN_UNITS {
                let (found, max) = (st_depth.into(), MAX_PATTERN_UNITS as u64);
                return err(
                    state_at(local),
                    ErrorKind::LimitExceeded { limit: Limit::PatternUnits, found, max },
                );
            }
            if local != 0 && st_depth == 0 {
                return err(state_at(local), ErrorKind::BadRoot { scanner: sc });
            }
            if st_depth != depth {
                // A new level: one deeper, exactly where the previous level's children begin.
                if Some(st_depth) != depth.checked_add(1) || local != children {
                    let e = ErrorKind::BadDepth { scanner: sc, state: local, depth: st_depth };
                    return err(state_at(local), e);
                }
                (depth, level_start, children) = (st_depth, local, next);
            }
            let end = u64::from(gotos).saturating_add(goto_count.into());
            if first_goto != gotos || goto_count > s.class_count || end > u64::from(gotos_len) {
                let e = ErrorKind::RangeOutOfBounds {
                    table: Table::States,
                    entry: local,
                    target: Table::Gotos,
                    first: first_goto,
                    count: goto_count,
                    len: if first_goto != gotos || goto_count > s.class_count { gotos } else { gotos_len },
                };
                return err(state_at(local), e);
            }
            gotos = gotos.saturating_add(goto_count);
            if local != 0 {
                // Strictly shallower: below the first state of this depth.
                for (target, is_dict) in [(fail, false), (dict, true)] {
                    if is_dict && target == NONE {
                        continue;
                    }
                    if target >= s.state_count {
                        let e = ErrorKind::StateOutOfRange { scanner: sc, state: local, target };
                        return err(state_at(local), e);
                    }
                    if target >= level_start {
                        let e = ErrorKind::LinkNotShallower { scanner: sc, state: local, target };
                        return err(state_at(local), e);
                    }
                    if is_dict && self.c.state(s, target).is_none_or(|t| t.output == NONE) {
                        let e = ErrorKind::DictionaryWithoutOutput { scanner: sc, state: local, target };
                        return err(state_at(local), e);
                    }
                }
            }
            if output != NONE {
                match self.c.pattern(s, output) {
                    Some((state, _)) if state == local => {}
                    Some(_) => {
                        let e =
                            ErrorKind::PatternStateMismatch { scanner: sc, pattern: output, state: local };
                        return err(state_at(local), e);
                    }
                    None => {
                        let e = ErrorKind::PatternOutOfRange { scanner: sc, state: local, pattern: output };
                        return err(state_at(local), e);
                    }
                }
            }
            let row_start = ix(first_goto).saturating_mul(format::goto::LEN);
            let row_len = ix(goto_count).saturating_mul(format::goto::LEN);
            let row = goto_table.get(row_start..row_start.saturating_add(row_len)).unwrap_or(&[]);
            let mut previous: Option<u16> = None;
            for (g, entry) in (0u32..).zip(row.chunks_exact(format::goto::LEN)) {
                let global = first_goto.saturating_add(g);
                let class = u16_at(entry, format::goto::CLASS).unwrap_or(0);
                let target = u32_at(entry, format::goto::TARGET).unwrap_or(0);
                if u16_at(entry, format::goto::RESERVED) != Some(0) {
                    return err(
                        goto_at(global).saturating_add(format::goto::RESERVED),
                        ErrorKind::NonZeroReserved,
                    );
                }
                let in_order =
                    if local == 0 { u32::from(class) == g } else { previous.is_none_or(|p| class > p) };
                if !in_order {
                    let kind = if local == 0 {
                        ErrorKind::RootRowNotDense { scanner: sc }
                    } else {
                        ErrorKind::GotosUnsorted { scanner: sc, state: local }
                    };
                    return err(goto_at(global), kind);
                }
                previous = Some(class);
                if u32::from(class) >= s.class_count {
                    return err(
                        goto_at(global),
                        ErrorKind::ClassOutOfRange { scanner: sc, class: class.into(), count: s.class_count },
                    );
                }
                if local == 0 && target == 0 {
                    continue;
                }
                if target >= s.state_count {
                    let e = ErrorKind::StateOutOfRange { scanner: sc, state: local, target };
                    return err(goto_at(global), e);
                }
                if target != next {
                    let e = ErrorKind::GotoNotBreadthFirst { scanner: sc, state: local, target };
                    return err(goto_at(global), e);
                }
                next = next.saturating_add(1);
            }
        }
        if next != s.state_count {
            let at = self.offset(section::STATES, ix(s.first_state.saturating_add(next)), 0);
            return err(at, ErrorKind::UnreachableState { scanner: sc, state: next });
        }
        if children != s.state_count {
            // The deepest level has children: they would be one level deeper than the table says.
            let at = self.offset(section::STATES, ix(s.first_state.saturating_add(children)), 0);
            return err(at, ErrorKind::BadDepth { scanner: sc, state: children, depth });
        }
        Ok(gotos)
    }

    /// Each pattern's state names it at its length (unless the state pass
    /// found every pattern `claimed`); its rule references are in range,
    /// strictly ascending, and follow the previous pattern's.
    fn patterns(&self, index: usize, s: &ScannerEntry, mut refs: u32, claimed: bool) -> Result<u32> {
        let rules = self.c.rule_count();
        for local in 0..s.pattern_count {
            let global = ix(s.first_pattern.saturating_add(local));
            let at = self.offset(section::PATTERNS, global, 0);
            let Some((state, len)) = self.c.pattern(s, local) else { break };
            let ok =
                claimed || self.c.state(s, state).is_some_and(|st| st.output == local && st.depth == len);
            if !ok {
                return err(
                    at,
                    ErrorKind::PatternStateMismatch { scanner: small(index), pattern: local, state },
                );
            }
            let (first, count) = self.c.pattern_refs(global).unwrap_or((0, 0));
            self.range(
                Table::Patterns,
                section::PATTERNS,
                global,
                pattern::FIRST_REF,
                section::REFS,
                first,
                count,
            )?;
            if first != refs {
                let e = ErrorKind::RangeOutOfBounds {
                    table: Table::Patterns,
                    entry: small(global),
                    target: Table::Refs,
                    first,
                    count,
                    len: refs,
                };
                return err(at.saturating_add(pattern::FIRST_REF), e);
            }
            let mut previous: Option<usize> = None;
            for k in 0..count {
                let entry = ix(first.saturating_add(k));
                let rule = self.c.rule_index(section::REFS, entry).unwrap_or(usize::MAX);
                if rule >= rules || previous.is_some_and(|p| rule <= p) {
                    let e = ErrorKind::BadReference { pattern: small(global), rule: small(rule) };
                    return err(self.offset(section::REFS, entry, 0), e);
                }
                previous = Some(rule);
            }
            refs = refs.saturating_add(count);
        }
        Ok(refs)
    }

    fn globs(&self) -> Result<()> {
        let mut units = 0u32;
        for index in 0..self.c.count(section::GLOBS) {
            let Some(g) = self.c.glob(index) else { break };
            let at = self.offset(section::GLOBS, index, 0);
            if usize::from(g.tokens) > MAX_GLOB_TOKENS {
                let (found, max) = (g.tokens.into(), MAX_GLOB_TOKENS as u64);
                return err(at, ErrorKind::LimitExceeded { limit: Limit::GlobTokens, found, max });
            }
            if g.case > 1 {
                return err(
                    at,
                    ErrorKind::BadCaseMode { table: Table::Globs, entry: small(index), case: g.case },
                );
            }
            if self.c.table(section::GLOBS).get(
                at.saturating_sub(self.offset(section::GLOBS, 0, 0)).saturating_add(format::glob::RESERVED),
            ) != Some(&0)
            {
                return err(at.saturating_add(format::glob::RESERVED), ErrorKind::NonZeroReserved);
            }
            self.range(
                Table::Globs,
                section::GLOBS,
                index,
                format::glob::FIRST_UNIT,
                section::GLOB_UNITS,
                g.first_unit,
                g.unit_count.into(),
            )?;
            let tokens = 1u64.checked_shl(g.tokens.into()).unwrap_or(0).wrapping_sub(1);
            let bad = g.first_unit != units
                || g.star_mask & !tokens != 0
                || g.any_mask & !tokens != 0
                || g.star_mask & (g.star_mask << 1) != 0
                || g.star_mask & g.any_mask != 0;
            let mut previous: Option<u16> = None;
            let mut unit_bad = false;
            for i in 0..u32::from(g.unit_count) {
                let Some((unit, mask)) = self.c.glob_unit(g.first_unit.saturating_add(i)) else { break };
                unit_bad |= previous.is_some_and(|p| unit <= p) || mask & !tokens != 0 || mask == 0;
                unit_bad |= mask & (g.star_mask | g.any_mask) != 0;
                previous = Some(unit);
            }
            if bad || unit_bad {
                return err(at, ErrorKind::BadGlob { glob: small(index) });
            }
            units = units.saturating_add(g.unit_count.into());
        }
        if ix(units) != self.c.count(section::GLOB_UNITS) {
            let end = small(self.offset(section::GLOB_UNITS, ix(units), 0));
            let total = small(self.offset(section::GLOB_UNITS, self.c.count(section::GLOB_UNITS), 0));
            return err(ix(end), ErrorKind::UnclaimedBytes { end, total });
        }
        Ok(())
    }

    /// Predicates: operator, flags, values. Fields are checked per rule, against the rule's kind.
    /// Returns where the gated values' gates end in `gates`.
    fn predicates(&self) -> Result<u32> {
        let id = section::PREDICATES;
        let mut next_gate = 0u32;
        for index in 0..self.c.count(id) {
            let Some(p) = self.c.predicate(index) else { break };
            let entry = small(index);
            let Some(op) = Operator::from_code(p.operator) else {
                return err(
                    self.offset(id, index, predicate::OPERATOR),
                    ErrorKind::UnknownOperator { entry, code: p.operator },
                );
            };
            if p.flags & !predicate::KNOWN_FLAGS != 0 {
                let e = ErrorKind::UnknownFlags { table: Table::Predicates, entry, flags: p.flags.into() };
                return err(self.offset(id, index, predicate::FLAGS), e);
            }
            if self.c.table(id).get(index.saturating_mul(predicate::LEN).saturating_add(predicate::RESERVED))
                != Some(&0)
            {
                return err(self.offset(id, index, predicate::RESERVED), ErrorKind::NonZeroReserved);
            }
            self.range(
                Table::Predicates,
                id,
                index,
                predicate::FIRST_VALUE,
                section::VALUES,
                p.first_value,
                p.value_count,
            )?;
            let takes_values = !matches!(op, Operator::Exists | Operator::Absent);
            if takes_values != (p.value_count > 0) {
                return err(
                    self.offset(id, index, predicate::VALUE_COUNT),
                    ErrorKind::BadValues { predicate: entry },
                );
            }
            let scanner = if op.is_literal() {
                match self.c.scanner(ix(p.scanner)) {
                    Some(s) if s.field == p.field => Some(s),
                    _ => {
                        let e = ErrorKind::ScannerMismatch { predicate: entry, scanner: p.scanner };
                        return err(self.offset(id, index, predicate::SCANNER), e);
                    }
                }
            } else {
                // A glob or regex predicate's scanner (its gates) is checked by `gate`.
                if p.scanner != NONE && !matches!(op, Operator::Glob | Operator::Regex) {
                    let e = ErrorKind::ScannerMismatch { predicate: entry, scanner: p.scanner };
                    return err(self.offset(id, index, predicate::SCANNER), e);
                }
                None
            };
            for i in 0..p.value_count {
                let global = ix(p.first_value.saturating_add(i));
                let at = self.offset(section::VALUES, global, 0);
                let Some((v, flags)) = self.c.value(global) else { break };
                if flags & !value::KNOWN_FLAGS != 0 {
                    return err(
                        at.saturating_add(value::FLAGS),
                        ErrorKind::UnknownFlags { table: Table::Values, entry: small(global), flags },
                    );
                }
                if i == 0 && flags & value::ALT != 0 || op.is_integer() && flags != 0 {
                    return err(at, ErrorKind::BadValues { predicate: entry });
                }
                // A gated value's index is its low 32 bits (its gate: `gate::check_predicate`).
                let v = if flags & value::GATED != 0 { u64::from(value::split(v).0) } else { v };
                let in_range = match (op, scanner) {
                    (_, Some(s)) => v < u64::from(s.pattern_count),
                    (Operator::Glob, None) => v < self.c.count(section::GLOBS) as u64,
                    (Operator::Regex, None) => {
                        v < u64::from(super::regex::automaton_count(self.c.table(section::REGEXES)))
                    }
                    _ => true,
                };
                if !in_range {
                    return err(at, ErrorKind::ValueOutOfRange { predicate: entry, value: i, index: v });
                }
            }
            gate::check_predicate(&self.c, index, &p, op, &mut next_gate, |id, entry, field| {
                self.offset(id, entry, field)
            })?;
        }
        Ok(next_gate)
    }

    /// The `always` list: strictly ascending rule indexes.
    fn always(&self) -> Result<()> {
        let rules = self.c.rule_count();
        let mut previous: Option<usize> = None;
        for entry in 0..self.c.count(section::ALWAYS) {
            let rule = self.c.rule_index(section::ALWAYS, entry).unwrap_or(usize::MAX);
            if rule >= rules || previous.is_some_and(|p| rule <= p) {
                let e = ErrorKind::BadAlwaysList { entry: small(entry), rule: small(rule) };
                return err(self.offset(section::ALWAYS, entry, 0), e);
            }
            previous = Some(rule);
        }
        Ok(())
    }

    /// A rule's value when every predicate `falsified` is false and every
    /// other one unknown (its code already checked).
    fn gate_truth(&self, r: &RuleEntry, falsified: impl Fn(&PredicateEntry) -> bool) -> Truth {
        let mut stack = Stack::new();
        for at in 0..r.code_len {
            let Some((op, arg)) = self.c.instruction(ix(r.first_code.saturating_add(at))) else {
                return Truth::Unknown;
            };
            let ok = match op {
                code::PRED => {
                    let p = self.c.predicate(ix(r.first_predicate.saturating_add(u32::from(arg))));
                    stack.push(if p.is_some_and(|p| falsified(&p)) { Truth::False } else { Truth::Unknown })
                }
                code::AND => stack.and(arg),
                code::OR => stack.or(arg),
                code::NOT => stack.not(),
                _ => false,
            };
            if !ok {
                return Truth::Unknown;
            }
        }
        stack.result().unwrap_or(Truth::Unknown)
    }

    /// A literal predicate, or a glob or regex predicate gated on every value.
    fn literal(p: &PredicateEntry) -> bool {
        Operator::from_code(p.operator).is_some_and(Operator::is_literal) || gate::gates_predicate(p)
    }

    /// Each value of literal predicate `p` as [`listing::listed`] reads it for
    /// gated rule `rule` (by position): whether it is listed, and whether it
    /// is an alternative. A literal value is listed when its pattern lists
    /// the rule; a gated glob or regex value when every gate does, or, its
    /// gates all required (`GATES_ALL`), when its first does (format.rs,
    /// "Gated globs and regular expressions").
    fn listing_entries(&self, p: PredicateEntry, rule: usize) -> impl Iterator<Item = (bool, bool)> + '_ {
        let s = self.c.scanner(ix(p.scanner)).unwrap_or_default();
        let gated = gate::gates_predicate(&p);
        let (first, count) = (p.first_value, p.value_count);
        let lists = move |local: u32| {
            local < s.pattern_count && self.lists(ix(s.first_pattern.saturating_add(local)), rule)
        };
        (0..count).map_while(move |i| {
            let (v, flags) = self.c.value(ix(first.saturating_add(i)))?;
            let alternative = flags & value::ALT != 0;
            if !gated {
                return Some((u32::try_from(v).is_ok_and(lists), alternative));
            }
            if flags & value::GATED == 0 {
                return Some((false, alternative));
            }
            // A value with no gate lists nothing.
            let (_, n) = value::gates(value::split(v).1);
            let this = n > 0 && gate::listing_gates(&self.c, v, flags).all(|g| g.is_some_and(lists));
            Some((this, alternative))
        })
    }

    /// The patterns (global) that list literal predicate `p`'s rule, as the
    /// builder lists them: each value's pattern, or its gates
    /// ([`gate::gate_patterns`]).
    fn listing_patterns(&self, p: PredicateEntry) -> impl Iterator<Item = u32> + '_ {
        let s = self.c.scanner(ix(p.scanner)).unwrap_or_default();
        let gated = gate::gates_predicate(&p);
        let literal = (0..if gated { 0 } else { p.value_count })
            .map_while(move |i| self.c.value(ix(p.first_value.saturating_add(i))))
            .filter_map(move |(v, _)| u32::try_from(v).ok().filter(|&l| l < s.pattern_count))
            .map(move |l| s.first_pattern.saturating_add(l));
        let gates = gated.then(|| gate::gate_patterns(&self.c, p)).into_iter().flatten();
        literal.chain(gates)
    }

    /// Whether gated rule `rule`'s (by position) lists stand for predicate
    /// `p` (format.rs, "Candidate rules").
    fn listed(&self, p: &PredicateEntry, rule: usize) -> bool {
        Self::literal(p) && listing::listed(self.listing_entries(*p, rule), p.flags & predicate::ALL != 0)
    }

    /// A gated rule's kernel default, from its code (already checked) and
    /// the predicates its lists stand for.
    fn default(&self, index: usize, r: &RuleEntry) -> u8 {
        let code = (0..r.code_len).map_while(|at| self.c.instruction(ix(r.first_code.saturating_add(at))));
        default::of_code(code, |arg| {
            let p = self.c.predicate(ix(r.first_predicate.saturating_add(u32::from(arg))));
            match p {
                Some(p) if self.listed(&p, index) => default::assume(true, p.field),
                _ => default::Assumed::Any,
            }
        })
    }

    /// Whether pattern `pattern` (global) lists rule `rule` (by position).
    fn lists(&self, pattern: usize, rule: usize) -> bool {
        let Some((first, count)) = self.c.pattern_refs(pattern) else { return false };
        let (mut lo, mut hi) = (0u32, count);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let Some(at) = self.c.rule_index(section::REFS, ix(first.saturating_add(mid))) else {
                return false;
            };
            match at.cmp(&rule) {
                core::cmp::Ordering::Equal => return true,
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }

    /// A rule missing from `always`: not an include rule, false whenever its
    /// literal predicates are, and false whenever the predicates its lists
    /// stand for are (else: the first of its patterns that does not list it).
    fn gate(&self, index: usize, r: &RuleEntry, role: Role) -> Result<()> {
        let at = self.offset(section::RULES, index, 0);
        let rule = r.id;
        if role == Role::Include || self.gate_truth(r, Self::literal) != Truth::False {
            return err(at, ErrorKind::RuleNotGated { rule });
        }
        if self.gate_truth(r, |p| self.listed(p, index)) == Truth::False {
            return Ok(());
        }
        let unlisted = (0..r.predicate_count)
            .map_while(|i| self.c.predicate(ix(r.first_predicate.saturating_add(i))))
            .filter(Self::literal)
            .flat_map(|p| self.listing_patterns(p))
            .find(|&g| !self.lists(ix(g), index));
        err(at, ErrorKind::MissingReference { rule, pattern: unlisted.unwrap_or(NONE) })
    }

    fn rules(&self) -> Result<()> {
        let id = section::RULES;
        self.always()?;
        let mut always_at = 0usize;
        let mut previous: Option<u32> = None;
        for index in 0..self.c.count(id) {
            let Some(r) = self.c.rule(index) else { break };
            let entry = small(index);
            if previous.is_some_and(|p| r.id <= p) {
                return err(
                    self.offset(id, index, format::rule::ID),
                    ErrorKind::RulesUnsorted { entry, id: r.id },
                );
            }
            previous = Some(r.id);
            let Some(role) = Role::from_code(r.role) else {
                return err(
                    self.offset(id, index, format::rule::ROLE),
                    ErrorKind::UnknownRole { entry, code: r.role },
                );
            };
            let e = self.c.entry(id, index).unwrap_or(&[]);
            if u32_at(e, format::rule::RESERVED2) != Some(0) {
                return err(self.offset(id, index, format::rule::RESERVED2), ErrorKind::NonZeroReserved);
            }
            let Some(kind) = self.schema.kind_by_code(r.kind) else {
                let e = ErrorKind::UnknownKind { table: Table::Rules, entry, code: r.kind };
                return err(self.offset(id, index, format::rule::KIND), e);
            };
            if !kind.activity && role != Role::Detection {
                return err(
                    self.offset(id, index, format::rule::KIND),
                    ErrorKind::KindNotFilterable { entry, code: r.kind },
                );
            }
            if ix(r.name_len.into()) > MAX_NAME_UNITS || ix(r.meta_len.into()) > MAX_META_UNITS {
                let (limit, found, max) = if ix(r.name_len.into()) > MAX_NAME_UNITS {
                    (Limit::NameUnits, r.name_len, MAX_NAME_UNITS)
                } else {
                    (Limit::MetaUnits, r.meta_len, MAX_META_UNITS)
                };
                let e = ErrorKind::LimitExceeded { limit, found: found.into(), max: max as u64 };
                return err(self.offset(id, index, format::rule::NAME_LEN), e);
            }
            self.range(
                Table::Rules,
                id,
                index,
                format::rule::NAME_OFFSET,
                section::STRINGS,
                r.name_offset,
                r.name_len.into(),
            )?;
            self.range(
                Table::Rules,
                id,
                index,
                format::rule::META_OFFSET,
                section::STRINGS,
                r.meta_offset,
                r.meta_len.into(),
            )?;
            if ix(r.predicate_count) > MAX_PREDICATES_PER_RULE {
                let (found, max) = (r.predicate_count.into(), MAX_PREDICATES_PER_RULE as u64);
                let e = ErrorKind::LimitExceeded { limit: Limit::PredicatesPerRule, found, max };
                return err(self.offset(id, index, format::rule::PREDICATE_COUNT), e);
            }
            if ix(r.code_len) > MAX_CODE_PER_RULE {
                let (found, max) = (r.code_len.into(), MAX_CODE_PER_RULE as u64);
                let e = ErrorKind::LimitExceeded { limit: Limit::CodePerRule, found, max };
                return err(self.offset(id, index, format::rule::CODE_LEN), e);
            }
            self.range(
                Table::Rules,
                id,
                index,
                format::rule::FIRST_PREDICATE,
                section::PREDICATES,
                r.first_predicate,
                r.predicate_count,
            )?;
            self.range(
                Table::Rules,
                id,
                index,
                format::rule::FIRST_CODE,
                section::CODE,
                r.first_code,
                r.code_len,
            )?;
            for i in 0..r.predicate_count {
                let pi = ix(r.first_predicate.saturating_add(i));
                let Some(p) = self.c.predicate(pi) else { break };
                let def = self.field(
                    Table::Predicates,
                    section::PREDICATES,
                    pi,
                    predicate::FIELD,
                    r.kind,
                    p.field,
                )?;
                let op = Operator::from_code(p.operator).unwrap_or(Operator::Exists);
                if !op.fits(def.ty) {
                    let e = ErrorKind::OperatorTypeMismatch {
                        entry: small(pi),
                        operator: p.operator,
                        field_type: def.ty as u8,
                    };
                    return err(self.offset(section::PREDICATES, pi, predicate::OPERATOR), e);
                }
                // A literal predicate's scanner, or a glob or regex predicate's (its gates).
                if (op.is_literal() || p.scanner != NONE)
                    && self.c.scanner(ix(p.scanner)).is_none_or(|s| s.kind != r.kind)
                {
                    let e = ErrorKind::ScannerMismatch { predicate: small(pi), scanner: p.scanner };
                    return err(self.offset(section::PREDICATES, pi, predicate::SCANNER), e);
                }
            }
            self.code(index, &r)?;
            let expected = if self.c.rule_index(section::ALWAYS, always_at) == Some(index) {
                always_at = always_at.saturating_add(1);
                format::rule::DEFAULT_NONE
            } else {
                self.gate(index, &r, role)?;
                self.default(index, &r)
            };
            if r.default != expected {
                let e = ErrorKind::WrongDefault { rule: r.id, found: r.default, expected };
                return err(self.offset(id, index, format::rule::DEFAULT), e);
            }
        }
        Ok(())
    }

    /// The expression code: known opcodes, predicate indexes in range, no
    /// underflow, at most [`MAX_STACK`] results at once, exactly one at the end.
    fn code(&self, index: usize, r: &RuleEntry) -> Result<()> {
        let rule = r.id;
        let mut depth = 0u32;
        for at in 0..r.code_len {
            let global = ix(r.first_code.saturating_add(at));
            let offset = self.offset(section::CODE, global, 0);
            let Some((op, arg)) = self.c.instruction(global) else { break };
            if self
                .c
                .table(section::CODE)
                .get(global.saturating_mul(code::LEN).saturating_add(code::RESERVED))
                != Some(&0)
            {
                return err(offset.saturating_add(code::RESERVED), ErrorKind::NonZeroReserved);
            }
            let (pops, pushes) = match op {
                code::PRED if u32::from(arg) < r.predicate_count => (0, 1),
                code::PRED => {
                    let e = ErrorKind::PredicateIndex { rule, at, index: arg, count: r.predicate_count };
                    return err(offset, e);
                }
                code::AND | code::OR => (u32::from(arg), 1),
                code::NOT => (1, 1),
                _ => return err(offset, ErrorKind::UnknownOpcode { rule, at, code: op }),
            };
            let Some(left) = depth.checked_sub(pops) else {
                return err(offset, ErrorKind::StackUnderflow { rule, at });
            };
            depth = left.saturating_add(pushes);
            if ix(depth) > MAX_STACK {
                let e = ErrorKind::LimitExceeded {
                    limit: Limit::Stack,
                    found: depth.into(),
                    max: MAX_STACK as u64,
                };
                return err(offset, e);
            }
        }
        if depth != 1 {
            return err(
                self.offset(section::RULES, index, format::rule::CODE_LEN),
                ErrorKind::ResultCount { rule, results: depth },
            );
        }
        Ok(())
    }
}

/// Each scanner's automaton in `bytes` (its directory sound) checked twice,
/// until the precise checks refuse one: (the state pass's end of gotos, the
/// precise checks' end of gotos), `None` for a refusal.
#[cfg(test)]
pub(super) fn automaton_answers(bytes: &[u8], schema: &Schema) -> std::vec::Vec<(Option<u32>, Option<u32>)> {
    let Ok(c) = check_directory(bytes) else { return std::vec::Vec::new() };
    let v = Validator { c, schema };
    let (mut gotos, mut refs) = (0u32, 0u32);
    let mut answers = std::vec::Vec::new();
    for index in 0..c.count(section::SCANNERS) {
        let Some(s) = c.scanner(index) else { break };
        let fast = v.automaton(&s, gotos).sound(gotos).map(|used| gotos.saturating_add(used));
        let precise =
            v.states_precise(index, &s, gotos).and_then(|end| Ok((end, v.patterns(index, &s, refs, false)?)));
        answers.push((fast, precise.as_ref().ok().map(|&(end, _)| end)));
        let Ok((end, next_refs)) = precise else { break };
        (gotos, refs) = (end, next_refs);
    }
    answers
}
