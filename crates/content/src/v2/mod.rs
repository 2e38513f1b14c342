//! Content format 2: boolean rules over predicates, one automaton pass per
//! field, three-valued evaluation for the two stages (kernel, companion).
//!
//! - [`format`]: the layout and the published limits. The header is format
//!   1's with version 2, so each format's validator refuses the other's bytes
//!   with "unsupported format".
//! - [`validate()`]: `&[u8]` → a validated [`Content`] or a precise
//!   [`ValidationError`]: every index, every automaton table (breadth-first:
//!   gotos one unit deeper, failure and dictionary links strictly shallower,
//!   sorted rows, all checked by sequential passes), the candidate-rule
//!   index (each rule's gate recomputed from its code),
//!   every expression (no underflow, one result, stack ≤ 64), every field
//!   against the running schema (the Channel File 291 class), and the
//!   worst-case cost ([`cost`]) against [`MAX_EVALUATION_COST`].
//! - [`Content::evaluate`]: scans each field of the event's kind once
//!   (`automaton`: Aho-Corasick for equals / contains / starts with / ends
//!   with, a bit-parallel NFA for globs), then runs the postfix code of the
//!   candidate rules (those a found pattern or an unknown field may make true
//!   or unknown, and the ungated ones; see [`format`]) in Kleene logic. A
//!   glob or regex value whose gates (literals it requires, one of them or
//!   all, patterns of the field's folded automaton) were not found is false
//!   without running. No allocation: scratch words and rule-id arrays come
//!   from the caller. [`evaluate_raw`] runs bytes nobody validated, memory-safe
//!   and cut off at the same budget.
//! - [`build`] (feature `compiler`): rules as Rust values → validated bytes.
//!
//! Regular expressions are deterministic automata over the text's UTF-8,
//! built at compile time ([`regex_build`]) and checked like every other table
//! (`regex`): one pass, linear in the text. An expression without such an
//! automaton (look-around, a Unicode word boundary, over the state limit)
//! keeps its rule in the companion stage. Case-insensitive matching is Unicode simple case
//! folding on the BMP ([`fold`]); units outside the BMP compare unfolded.
//!
//! **In the driver**: LOAD_CONTENT dispatches on the header's version
//! (offset 8) to [`crate::validate`] or [`validate()`], and for format 2
//! builds the content's transition table ([`Content::build_transitions`](crate::v2::Content::build_transitions),
//! at most [`MAX_TRANSITION_WORDS`](crate::v2::MAX_TRANSITION_WORDS) words of rows and
//! [`MAX_EDGE_WORDS`](crate::v2::MAX_EDGE_WORDS) edge words) beside it; the callbacks implement
//! [`EventInput`] over the callback's data (a path field as a translated DOS
//! volume prefix in `head` and the NT remainder in `tail`, or
//! [`Input::Unknown`] when the volume is not in the map), evaluate with a
//! scratch buffer of [`Content::scratch_words`] words of their own (not on
//! the kernel stack) and two small id arrays, put the matched and undecided
//! ids in the record, and drop only when [`Verdict::droppable`].

mod automaton;
mod content;
pub mod cost;
mod default;
pub mod error;
mod eval;
pub mod expr;
pub mod fold;
pub mod format;
mod gate;
mod listing;
mod regex;
mod state_pass;
mod transitions;
mod validate;
pub mod wire;

#[cfg(feature = "compiler")]
pub mod build;
#[cfg(feature = "compiler")]
pub mod regex_build;
#[cfg(feature = "compiler")]
pub mod regex_gate;

pub use crate::meter::EVENT_WORK_LIMIT;
pub use content::{Content, RuleInfo};
pub use error::{ErrorKind, EvaluationError, Limit, Table, ValidationError};
pub use eval::{
    EventInput, Filter, FromFields, Input, RuleIds, Verdict, evaluate_event, evaluate_event_raw, evaluate_raw,
};
pub use expr::Truth;
pub use format::{MAX_EVALUATION_COST, Operator, Role};
pub use transitions::{MAX_EDGE_WORDS, MAX_TRANSITION_WORDS, ROW_DEPTH, TransitionTableError};
pub use validate::validate;
