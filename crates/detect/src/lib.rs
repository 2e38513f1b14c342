//! ringfence-detect: detection rules between the sensor and its output.
//!
//! The middle of the two-stage pipeline of content format 2:
//! - [`sigma`]: Sigma YAML (parsed by rsigma-parser) compiled into the rule IR,
//!   each refused rule with its id, title, file and the construct;
//! - [`ir`]: the rule IR — boolean expressions over predicates, bounded by
//!   [`ir::limits`] — which format 2 will lower into kernel tables;
//! - [`fields`]: the one table of Sigma field names and where each value comes
//!   from (kernel record, companion enrichment, or not produced), which places
//!   each rule in the kernel or the companion stage ([`ir::Stage`]);
//! - [`eval`]: the companion-stage evaluator, three-valued so that a stage that
//!   lacks a field leaves rules undecided rather than false;
//! - [`lower`]: the IR lowered into one content format 2 for both stages;
//! - [`integrity`]: Sysmon's integrity level names, a function of the label RID;
//! - [`fold`]: case folding (Unicode simple case folding) and `windash`;
//! - [`coverage`]: how many rules of a directory compile, to which stage, and
//!   why the others were refused.
#![forbid(unsafe_code)]

pub mod coverage;
pub mod eval;
pub mod fields;
pub mod fold;
pub mod integrity;
pub mod ir;
pub mod lower;
pub mod refusal;
pub mod sigma;

pub use eval::{EventFields, FieldValue, KernelStage, Matches, RuleSet, Scratch, Truth};
pub use fields::Field;
pub use ir::{Rule, RuleMeta, Stage};
pub use refusal::{Reason, Refusal};
pub use sigma::{Compilation, compile_yaml};
