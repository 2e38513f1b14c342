//! Content on the callback path: the event as format 2 reads it (paths in DOS form
//! through the volume map), the scratch memory of one evaluation, and the outcome.
//!
//! Every evaluation, either format, stops at [`EVENT_WORK_LIMIT`] work units (about 5.1 M
//! instructions whatever the content and the event: see the content crate's meter), or
//! once [`EVENT_DEADLINE`] (500 µs) has passed on the platform's clock, read after
//! 8,192 units and every 4,096 after (the work limit bounds instructions; a content of
//! megabytes can make each of them wait for memory). An event cut off
//! there is kept: format 1 untagged, format 2 with every detection rule of its kind
//! undecided, for the companion's stage to decide on the whole content; the sensor counts
//! it in STATS (`evaluation_errors`).
//!
//! Scratch memory is allocated per evaluation, from pool, and freed when it returns.
//! Callbacks run on several processors at once and may be preempted at PASSIVE_LEVEL, so
//! one buffer made at load time would need a lock around every evaluation (serialising
//! every process start and image load on the machine) or one buffer per processor (which a
//! preempted thread would share with the next one scheduled there). A buffer of its own
//! shares nothing. The process and image notify routines run at PASSIVE_LEVEL, where pool
//! may be allocated; the size is [`v2::Content::scratch_words`], at most 66 KiB under the
//! format's limits, so it never goes on the kernel stack. When pool is short the event is
//! kept with every detection rule of its kind undecided, and STATS counts it.

use crate::platform::Platform;
use alloc::vec::Vec;
use ringfence_content::v2::{self, EventInput, Input, Role, RuleIds};
use ringfence_content::{Clock, Content, Deadline, EVENT_DEADLINE, EVENT_WORK_LIMIT, Meter};
use ringfence_wire::schema::{Event, EventKind, Fields, Lookup, Verdict, field, limits};
use ringfence_wire::text::{self, Text, Value};
use ringfence_wire::volume_map::{Translation, VolumeMap};

/// Rule ids one record carries of each list (matched, undecided): the schema's bound.
pub const RECORD_IDS: usize = limits::RECORD_IDS as usize;

/// An event as the kernel stage supplies it to format 2: kernel fields as they are, path
/// fields in DOS form, companion fields unknown. Each path is translated once, when the
/// input is made: evaluation asks for a field once per scanner and once per predicate.
#[derive(Clone, Copy, Debug)]
pub struct KernelInput<'a> {
    event: Event<'a>,
    /// The kind's path fields and what each reads as.
    paths: [Option<(u8, Input<'a>)>; MAX_PATHS],
}

/// The most path fields one kind has.
const MAX_PATHS: usize = 2;

/// The fields of `kind` that hold an NT path (what Sigma writes as a DOS path).
pub fn path_fields(kind: EventKind) -> [Option<u8>; MAX_PATHS] {
    match kind {
        EventKind::ProcessStart => {
            [Some(field::ProcessStart::image_path as u8), Some(field::ProcessStart::parent_image_path as u8)]
        }
        EventKind::ProcessExit => [Some(field::ProcessExit::image_path as u8), None],
        EventKind::ImageLoad => {
            [Some(field::ImageLoad::image_path as u8), Some(field::ImageLoad::process_image_path as u8)]
        }
        _ => [None, None],
    }
}

impl<'a> KernelInput<'a> {
    /// `event` with its paths read through `map` (`None`: no volume map set yet, so no path
    /// can be read in DOS form).
    pub fn new(event: Event<'a>, map: Option<VolumeMap<'a>>) -> Self {
        let paths = path_fields(event.kind()).map(|index| {
            let index = index?;
            let input = match event.lookup(index) {
                Lookup::Value(Value::Str(nt)) => dos_path(map, nt),
                Lookup::Absent => Input::Absent,
                _ => Input::Unknown,
            };
            Some((index, input))
        });
        KernelInput { event, paths }
    }
}

/// A path in DOS form: the map's (or a fixed) volume prefix as `head`, the rest of the NT
/// path as `tail`; unknown when the volume is not in the map or no map is set.
fn dos_path<'a>(map: Option<VolumeMap<'a>>, nt: Text<'a>) -> Input<'a> {
    let (Some(map), Some(units)) = (map, nt.as_wide()) else { return Input::Unknown };
    match map.translate(units) {
        Translation::Dos { head, tail, .. } => Input::Text { head: Text::wide(head), tail: Text::wide(tail) },
        Translation::Unknown => Input::Unknown,
    }
}

impl<'a> EventInput<'a> for KernelInput<'a> {
    fn kind(&self) -> EventKind {
        self.event.kind()
    }

    fn input(&self, index: u8) -> Input<'a> {
        if let Some((_, input)) = self.paths.iter().flatten().find(|(at, _)| *at == index) {
            return *input;
        }
        match self.event.lookup(index) {
            Lookup::Value(Value::Str(text)) => Input::Text { head: text, tail: Text::default() },
            Lookup::Value(v) => v.as_u64().map_or(Input::Absent, Input::Integer),
            Lookup::Absent => Input::Absent,
            // Companion fields: the kernel cannot say.
            Lookup::Unknown => Input::Unknown,
        }
    }
}

/// Up to [`RECORD_IDS`] rule ids and how many more there were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    ids: [u32; RECORD_IDS],
    len: usize,
    pub rest: u32,
}

impl Ids {
    pub fn as_slice(&self) -> &[u32] {
        self.ids.get(..self.len).unwrap_or(&[])
    }

    /// The ids as a record's id list carries them.
    pub fn as_wire(&self) -> text::Ids<'_> {
        text::Ids::new(self.as_slice())
    }

    pub(crate) fn push(&mut self, id: u32) {
        match self.ids.get_mut(self.len) {
            Some(slot) => {
                *slot = id;
                self.len = self.len.saturating_add(1);
            }
            None => self.rest = self.rest.saturating_add(1),
        }
    }
}

/// What the sensor keeps an event with: the include rule's name and, with format-2
/// content, the detection rules that matched and those left undecided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept<'c> {
    pub rule_name: Text<'c>,
    pub matched: Ids,
    pub undecided: Ids,
}

impl<'c> Kept<'c> {
    /// Kept by an include rule alone (format 1), or by no content (`rule_name` empty).
    pub fn by_rule(rule_name: Text<'c>) -> Self {
        Kept { rule_name, ..Kept::default() }
    }

    /// The record's verdict fields, borrowing the ids from `self`.
    pub fn verdict(&self) -> Verdict<'_> {
        Verdict {
            rule_name: self.rule_name,
            matched_ids: self.matched.as_wire(),
            matched_rest: self.matched.rest,
            undecided_ids: self.undecided.as_wire(),
            undecided_rest: self.undecided.rest,
        }
    }
}

/// What a format-2 evaluation decided for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'c> {
    /// The filter drops it and no detection rule matched or could match.
    Drop,
    Keep {
        /// The include rule that kept it, empty when none did.
        rule_name: Text<'c>,
        matched: Ids,
        undecided: Ids,
    },
    /// No decision: every detection rule of the event's kind is undecided.
    Undecided { undecided: Ids, cause: Cause },
}

impl<'c> Outcome<'c> {
    /// What the event is kept with, or `None` to drop it. Without a decision the record
    /// carries every undecided id the evaluation has (no include rule, nothing matched).
    pub fn kept(self) -> Option<Kept<'c>> {
        match self {
            Outcome::Drop => None,
            Outcome::Keep { rule_name, matched, undecided } => Some(Kept { rule_name, matched, undecided }),
            Outcome::Undecided { undecided, .. } => Some(Kept { undecided, ..Kept::default() }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// No pool for the scratch memory.
    NoScratch,
    /// The evaluation stopped with an error: `CostExceeded` at [`EVENT_WORK_LIMIT`], or
    /// `DeadlinePassed` at [`EVENT_DEADLINE`].
    Error(v2::EvaluationError),
}

/// Platform `P`'s monotonic clock ([`Platform::ticks`], 100-ns units) as a [`Clock`].
pub extern "C" fn clock<P: Platform>() -> u64 {
    P::ticks()
}

/// The kernel's meter for one evaluation: [`EVENT_WORK_LIMIT`], and [`EVENT_DEADLINE`]
/// from now on `now` (100-ns units).
fn kernel_meter(now: Clock) -> Meter {
    Meter::with_deadline(EVENT_WORK_LIMIT, Deadline::after(now, EVENT_DEADLINE))
}

/// Format 1's verdict on `event`, and whether the evaluation was cut off at
/// [`EVENT_WORK_LIMIT`] or [`EVENT_DEADLINE`] on `now` (the event is then kept untagged).
pub fn evaluate_format1<'c>(
    content: &Content<'c>,
    event: &Event<'_>,
    now: Clock,
) -> (ringfence_content::Verdict<'c>, bool) {
    let mut meter = kernel_meter(now);
    let verdict = content.evaluate_metered(event, &mut meter);
    (verdict, meter.exhausted())
}

/// Evaluates `input` against `content` with scratch memory of its own (see the module),
/// within [`EVENT_WORK_LIMIT`] and [`EVENT_DEADLINE`] on `now`.
pub fn evaluate<'c>(content: &v2::Content<'c>, input: &KernelInput<'_>, now: Clock) -> Outcome<'c> {
    let words = content.scratch_words();
    let mut scratch: Vec<u64> = Vec::new();
    if scratch.try_reserve_exact(words).is_err() {
        return undecided(content, input.kind(), Cause::NoScratch);
    }
    scratch.resize(words, 0);
    let (mut matched, mut undecided_ids) = ([0u32; RECORD_IDS], [0u32; RECORD_IDS]);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided_ids };
    let verdict = match content.evaluate_metered(input, &mut scratch, ids, &mut kernel_meter(now)) {
        Ok(verdict) => verdict,
        Err(error) => return undecided(content, input.kind(), Cause::Error(error)),
    };
    if verdict.droppable() {
        return Outcome::Drop;
    }
    let take = |ids: &[u32; RECORD_IDS], len: usize, rest: u32| {
        let mut out = Ids { rest, ..Ids::default() };
        for id in ids.iter().take(len) {
            out.push(*id);
        }
        out
    };
    let rule_name = verdict
        .include_rule
        .and_then(|id| content.rule_position(id))
        .and_then(|at| content.rule_info(at))
        .map_or_else(Text::default, |info| info.name);
    Outcome::Keep {
        rule_name,
        matched: take(&matched, verdict.matched, verdict.matched_rest),
        undecided: take(&undecided_ids, verdict.undecided, verdict.undecided_rest),
    }
}

/// Every detection rule of `kind`, as undecided.
fn undecided<'c>(content: &v2::Content<'c>, kind: EventKind, cause: Cause) -> Outcome<'c> {
    let mut undecided = Ids::default();
    for at in 0..content.rule_count() {
        let Some(info) = content.rule_info(at) else { break };
        if info.kind == kind.code() && info.role == Role::Detection {
            undecided.push(info.id);
        }
    }
    Outcome::Undecided { undecided, cause }
}
