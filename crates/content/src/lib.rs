//! ringfence-content: the content format, its validator, its interpreter and
//! (feature `compiler`) the TOML rule compiler.
//!
//! - [`format`]: the binary layout, named once, and the published limits.
//! - [`validate()`]: `&[u8]` → a validated [`Content`] view or a precise
//!   [`ValidationError`]; the driver and the companion run this same code.
//! - [`Content::evaluate`] / [`evaluate_raw`]: keep or drop an event. The
//!   interpreter never trusts the bytes it walks: a field the event lacks, an
//!   offset outside a table or an unknown operator is "no match", never a read.
//!   Its work is linear in the event's strings plus the content, counted on a
//!   [`Meter`] and bounded: the validator refuses content whose worst case
//!   ([`Content::worst_case_cost`], `cost` module) is over
//!   [`MAX_EVALUATION_COST`] (the content budget). In the kernel every
//!   evaluation, validated or not, also stops at [`EVENT_WORK_LIMIT`] (the
//!   per-event limit, about 5.1 M instructions: see [`Meter`]).
//! - [`compile`] (feature `compiler`): TOML rules → binary content.
//!
//! Field counts, ids and types all come from a [`ringfence_wire::Schema`]
//! passed in by the caller: `&SCHEMA` is what the running sensor supplies.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
// Unit tests may index and unwrap; the library build above is still held to the lints.
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]

#[cfg(any(test, feature = "compiler"))]
extern crate std;

mod anchor;
mod checksum;
mod cost;
mod error;
mod eval;
pub mod format;
mod key_table;
mod matching;
mod meter;
mod two_way;
mod validate;
mod view;

/// Content format 2: boolean rules, one automaton pass per field, three-valued evaluation.
pub mod v2;

#[cfg(feature = "compiler")]
mod compile;

pub use anchor::AnchorClass;
pub use checksum::{content_checksum, xxh64};
pub use error::{ErrorKind, Limit, ValidationError};
pub use eval::{Verdict, evaluate_event, evaluate_raw, evaluate_record};
pub use format::{
    Action, MAX_CONDITIONS, MAX_CONDITIONS_PER_RULE, MAX_CONTENT_BYTES, MAX_EVALUATION_COST, MAX_GROUPS,
    MAX_PATTERN_UNITS, MAX_RULE_NAME_UNITS, MAX_RULES, MAX_STRING_POOL_BYTES, Operator,
};
pub use key_table::KeyTableError;
pub use matching::contains_cost;
pub use meter::{
    CHECK_EVERY, Clock, Deadline, EVENT_DEADLINE, EVENT_WORK_LIMIT, FIRST_CHECK, INSTRUCTIONS_PER_UNIT, Meter,
};
pub use validate::validate;
pub use view::{Condition, ConditionValue, Content, Rule, Rules, Sections, Summary};

#[cfg(feature = "compiler")]
pub use compile::{
    CompileError, CompileErrorKind, ConditionSpec, RuleSpec, SpecValue, compile, compile_rules,
    compile_rules_unindexed,
};
