//! The active content: admitted bytes in pool memory, swapped whole.
//!
//! Concurrency is the sensor's business ([`crate::sensor`]): callbacks evaluate under the
//! content lock held shared, a load swaps under it held exclusive. Exclusive acquisition
//! waits for every shared holder, so once the swap returns no callback can still be
//! reading the old bytes, and they are freed right after, outside the lock.

use crate::admission::{Admitted, Format, Refused, TrustSettings, admit};
use alloc::vec::Vec;
use ringfence_content::{Content, Sections, v2};
use ringfence_trust::Level;

#[derive(Debug, Default)]
pub struct ContentSlot {
    active: Option<Accepted>,
    loads_accepted: u64,
    loads_rejected: u64,
}

/// Admitted content copied into pool memory, ready to be swapped in. It keeps every byte
/// that was offered (the envelope with its signature), so that it can be persisted and
/// checked again at the next start; the validated content is a range inside it.
#[derive(Debug)]
pub struct Accepted {
    bytes: Vec<u8>,
    content_offset: usize,
    content_len: usize,
    /// Format 1's section directory, read once here rather than at every event.
    sections: Sections,
    /// Format 1's key table ([`Content::build_key_table`]), built once here: an event's
    /// anchor keys are found in a probe or two instead of a binary search. Empty for format 2.
    key_table: Vec<u32>,
    /// Format 2's transition table ([`v2::Content::build_transitions`], at most 256 KiB of
    /// rows and 1 MiB of edge words), built once here: a scan steps from its shallowest
    /// states in one read, and along a pattern's tail one edge word a unit. Empty for
    /// format 1.
    transitions: Vec<u32>,
    version: u32,
    format: Format,
    /// What DriverEntry would load to get this content back: the trial file for a load,
    /// the level it was restored from at start.
    level: Level,
}

/// No pool for a copy of the content, its key table or its transition table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfPool {
    pub bytes: usize,
}

/// Admission with the default settings (unsigned content accepted, no pin): what a sensor
/// without trust parameters does with `bytes`.
pub fn judge(bytes: &[u8]) -> Result<Admitted<'_>, Refused> {
    admit(bytes, &TrustSettings::default(), 0).verdict
}

impl Admitted<'_> {
    /// [`Admitted::into_owned_at`] for a load: the content goes on trial.
    pub fn into_owned(self) -> Result<Accepted, OutOfPool> {
        self.into_owned_at(Level::Trial)
    }

    /// Copies the admitted bytes into pool memory, and builds format 1's key table (at most
    /// 66 KiB) or format 2's transition table (at most 256 KiB of rows and 1 MiB of edge
    /// words), each sized from the validated content: the allocations of a content load.
    /// The source is the I/O manager's kernel copy of the request (or the buffer a persisted
    /// file was read into), so it cannot change between admission and this copy.
    pub fn into_owned_at(self, level: Level) -> Result<Accepted, OutOfPool> {
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(self.bytes.len()).map_err(|_| OutOfPool { bytes: self.bytes.len() })?;
        bytes.extend_from_slice(self.bytes);
        let end = self.content_offset.saturating_add(self.content_len);
        let content = bytes.get(self.content_offset..end).unwrap_or(&[]);
        let (sections, key_table, transitions) = match self.format {
            Format::One => {
                let sections = Sections::read(content);
                (sections, key_table(Content::at(content, sections))?, Vec::new())
            }
            Format::Two => {
                (Sections::default(), Vec::new(), transitions(v2::Content::from_unvalidated(content))?)
            }
        };
        Ok(Accepted {
            bytes,
            content_offset: self.content_offset,
            content_len: self.content_len,
            sections,
            key_table,
            transitions,
            version: self.version,
            format: self.format,
            level,
        })
    }
}

/// Format 1's key table for `content`, in pool memory.
fn key_table(content: Content<'_>) -> Result<Vec<u32>, OutOfPool> {
    table_in_pool(content.key_table_words(), |table| content.build_key_table(table).is_ok())
}

/// Format 2's transition table for `content`, in pool memory.
fn transitions(content: v2::Content<'_>) -> Result<Vec<u32>, OutOfPool> {
    table_in_pool(content.transition_words(), |table| content.build_transitions(table).is_ok())
}

/// `words` words of pool memory, filled by `build` (false: it could not, counted as no pool).
fn table_in_pool(words: usize, build: impl FnOnce(&mut [u32]) -> bool) -> Result<Vec<u32>, OutOfPool> {
    let out_of_pool = OutOfPool { bytes: words.saturating_mul(core::mem::size_of::<u32>()) };
    let mut table = Vec::new();
    table.try_reserve_exact(words).map_err(|_| out_of_pool)?;
    table.resize(words, 0);
    // Sized by the content itself: the size is right, and the build succeeds.
    if build(&mut table) { Ok(table) } else { Err(out_of_pool) }
}

impl Accepted {
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Every byte that was offered: what the persisted file holds.
    pub fn persisted_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The validated content, in its format.
    pub fn content(&self) -> Active<'_> {
        let end = self.content_offset.saturating_add(self.content_len);
        let bytes = self.bytes.get(self.content_offset..end).unwrap_or(&[]);
        match self.format {
            Format::One => Active::One(Content::at(bytes, self.sections).with_key_table(&self.key_table)),
            // Validated at admission (the bytes have not changed since): the view's reads all
            // answer, and evaluation stays bounded even if they did not.
            Format::Two => {
                Active::Two(v2::Content::from_unvalidated(bytes).with_transitions(&self.transitions))
            }
        }
    }
}

/// The active content, read in its format.
#[derive(Clone, Copy, Debug)]
pub enum Active<'a> {
    One(Content<'a>),
    Two(v2::Content<'a>),
}

impl ContentSlot {
    /// The active content version, 0 when none is loaded.
    pub fn version(&self) -> u32 {
        self.active.as_ref().map_or(0, Accepted::version)
    }

    /// The active content, if any.
    pub fn active(&self) -> Option<&Accepted> {
        self.active.as_ref()
    }

    /// Content loads accepted and rejected since the driver started.
    pub fn loads(&self) -> (u64, u64) {
        (self.loads_accepted, self.loads_rejected)
    }

    /// The active content's format, `None` when none is loaded.
    pub fn format(&self) -> Option<Format> {
        self.active.as_ref().map(Accepted::format)
    }

    /// Installs `accepted` and hands back the previous content, to be freed outside the lock.
    pub fn replace(&mut self, accepted: Accepted) -> Option<Accepted> {
        self.loads_accepted = self.loads_accepted.saturating_add(1);
        self.active.replace(accepted)
    }

    /// The active content now passed its trial: it is what DriverEntry loads as last-known-good.
    pub fn mark_last_known_good(&mut self) {
        if let Some(active) = &mut self.active {
            active.level = Level::LastKnownGood;
        }
    }

    pub fn count_rejected(&mut self) {
        self.loads_rejected = self.loads_rejected.saturating_add(1);
    }
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests {
    use super::*;
    use crate::sensor::tests::start;
    use ringfence_content::Verdict;
    use ringfence_wire::Text;
    use ringfence_wire::schema::SCHEMA;

    const RULES: &str = r#"
version = 5

[[rule]]
name = "updater"
kind = "process_start"
action = "exclude"
match = [{ field = "image_path", ends_with = "\\updater.exe" }]

[[rule]]
name = "shells"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

    #[test]
    fn format_one_content_is_held_with_its_key_table_and_judges_through_it() {
        let bytes = ringfence_content::compile(RULES, &SCHEMA).unwrap();
        let accepted = judge(&bytes).unwrap().into_owned().unwrap();
        // Two groups: 4 header words, then 2 slots for each group's one anchored rule.
        assert_eq!(accepted.key_table.len(), 8);
        assert_eq!(accepted.key_table.iter().filter(|&&w| w != u32::MAX).count(), 4 + 2);
        let Active::One(content) = accepted.content() else { panic!("format 1") };
        let verdict = |path: &str| content.evaluate(&start(&path.encode_utf16().collect::<Vec<_>>()));
        let shells = "shells".encode_utf16().collect::<Vec<_>>();
        assert_eq!(verdict(r"C:\Windows\System32\CMD.EXE"), Verdict::Keep { rule_name: Text::wide(&shells) });
        assert_eq!(verdict(r"C:\Program Files\App\updater.exe"), Verdict::Drop);
        assert_eq!(verdict(r"C:\x.exe"), Verdict::Drop, "no include rule matched");
    }

    #[test]
    fn format_two_content_is_held_with_its_transition_table() {
        use ringfence_content::v2::build::{
            ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build,
        };
        use ringfence_wire::EventKind;
        use ringfence_wire::schema::field::ProcessStart;
        let rule = RuleSpec {
            id: 3,
            kind: EventKind::ProcessStart,
            role: v2::Role::Detection,
            name: "cmd".into(),
            meta: String::new(),
            predicates: vec![PredicateSpec {
                field: ProcessStart::command_line as u8,
                operator: OperatorSpec::Contains,
                values: vec![ValueSpec::Text("cmd".into())],
                all: false,
                case_insensitive: true,
                windash: false,
            }],
            condition: ExprSpec::Predicate(0),
        };
        let bytes = build(&[rule], &SCHEMA, 7).unwrap();
        let accepted = judge(&bytes).unwrap().into_owned().unwrap();
        assert!(accepted.key_table.is_empty());
        let Active::Two(content) = accepted.content() else { panic!("format 2") };
        // One folded scanner over the command line: the root and `c`, `cm`, `cmd` get a row.
        assert_eq!(accepted.transitions.len(), content.transition_words());
        let (header, rows) = accepted.transitions.split_at(133);
        assert_eq!(header[..3], [133, 4, 4], "rows at word 133, four of them, four classes wide");
        // No state is past the rows: no edge words, after the rows' 16.
        assert_eq!(header[131..], [149, 0]);
        // The unit map: each ASCII unit's class, upper case folded to lower.
        let map = |unit: u8| header[3 + usize::from(unit)];
        assert_eq!([b'c', b'C', b'd', b'D', b'm', b'M', b'x', b' '].map(map), [1, 1, 2, 2, 3, 3, 0, 0]);
        // Classes: 0 any other unit, then c, d, m in unit order. From every state `c` starts
        // `c` again (the failure links resolved); `m` goes on from `c`, `d` from `cm` to
        // `cmd`. An entry names a state with nothing to mark by where its row starts (state
        // × 4); `cmd`, where a pattern ends, by its number, flagged (bit 30: a number; bit 31:
        // something to mark).
        const NUMBER: u32 = 1 << 30;
        const MARKS: u32 = 1 << 31;
        #[rustfmt::skip]
        assert_eq!(rows, [
            0, 4, 0, 0, // the root
            0, 4, 0, 8, // c
            0, 4, 3 | NUMBER | MARKS, 0, // cm
            0, 4, 0, 0, // cmd
        ]);
    }
}
