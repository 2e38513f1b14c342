//! Why a Sigma rule was not compiled: the rule (id, title, file) and the
//! construct, precisely enough to fix the rule or to count refusals by reason.

use std::fmt;
use std::path::PathBuf;

use crate::ir::Limit;

/// A rule, or a document of a file, that did not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's `id`, when the document got that far.
    pub id: Option<String>,
    pub title: Option<String>,
    pub file: Option<PathBuf>,
    /// The rule's logsource category, when the document got that far.
    pub category: Option<String>,
    pub reason: Reason,
}

/// What was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The YAML, or a document's Sigma structure, is malformed (the parser's message).
    Parse {
        message: String,
    },
    /// Correlation and filter documents are not detection rules.
    NotADetectionRule {
        what: &'static str,
    },
    /// The logsource is not one ringfence has events for.
    LogSource {
        product: Option<String>,
        category: Option<String>,
        service: Option<String>,
    },
    MissingId,
    /// Another rule of the set has this id.
    DuplicateId,
    /// No field of that name exists in ringfence's field table.
    UnknownField {
        field: String,
    },
    /// A field Sysmon has that ringfence does not produce.
    UnsupportedField {
        field: String,
        why: &'static str,
    },
    UnsupportedModifier {
        field: String,
        modifier: String,
    },
    /// Modifiers that contradict each other or cannot apply together.
    ModifierCombination {
        field: String,
        modifiers: String,
        why: &'static str,
    },
    /// A value of a type the modifier or field cannot take.
    ValueType {
        field: String,
        expected: &'static str,
    },
    /// A detection of values without a field.
    Keywords {
        detection: String,
    },
    /// A detection form with no meaning on ringfence's events (array scopes).
    DetectionForm {
        detection: String,
        form: &'static str,
    },
    /// The condition names a detection the rule does not define.
    UndefinedDetection {
        name: String,
    },
    /// `1 of x*` / `all of x*` matching no detection.
    EmptySelector {
        pattern: String,
    },
    /// `N of …` with N above 1.
    CountSelector {
        count: u64,
    },
    /// A regular expression the linear-time engine refuses (lookaround,
    /// back-references, too large…): the engine's message.
    Regex {
        field: String,
        message: String,
    },
    /// Over a published limit.
    Limit {
        limit: Limit,
        value: usize,
    },
    /// Aggregations (`timeframe`, `| count()`) are correlation, not detection.
    Timeframe,
}

impl Reason {
    /// A short stable name for counting refusals by reason.
    pub fn class(&self) -> String {
        match self {
            Reason::Parse { .. } => "malformed YAML or Sigma structure".into(),
            Reason::NotADetectionRule { what } => format!("{what} (not a detection rule)"),
            Reason::LogSource { .. } => "logsource without ringfence events".into(),
            Reason::MissingId => "no id".into(),
            Reason::DuplicateId => "duplicate id".into(),
            Reason::UnknownField { field } => format!("unknown field {field}"),
            Reason::UnsupportedField { field, .. } => format!("field {field} not produced"),
            Reason::UnsupportedModifier { modifier, .. } => format!("modifier {modifier}"),
            Reason::ModifierCombination { modifiers, .. } => format!("modifiers {modifiers} together"),
            Reason::ValueType { expected, .. } => format!("value is not {expected}"),
            Reason::Keywords { .. } => "keyword detection".into(),
            Reason::DetectionForm { form, .. } => format!("detection form {form}"),
            Reason::UndefinedDetection { .. } => "undefined detection in condition".into(),
            Reason::EmptySelector { .. } => "selector matching no detection".into(),
            Reason::CountSelector { .. } => "`N of` with N > 1".into(),
            Reason::Regex { .. } => "regular expression refused by the linear-time engine".into(),
            Reason::Limit { limit, .. } => format!("over the limit of {}", limit.name()),
            Reason::Timeframe => "timeframe (aggregation)".into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Parse { message } => write!(f, "not a valid Sigma document: {message}"),
            Reason::NotADetectionRule { what } => write!(f, "a {what} is not a detection rule"),
            Reason::LogSource { product, category, service } => write!(
                f,
                "logsource product {} category {} service {}: ringfence has events only for windows \
                 process_creation, image_load and process_termination",
                product.as_deref().unwrap_or("-"),
                category.as_deref().unwrap_or("-"),
                service.as_deref().unwrap_or("-")
            ),
            Reason::MissingId => f.write_str("the rule has no id (matches are reported by id)"),
            Reason::DuplicateId => f.write_str("another rule already has this id"),
            Reason::UnknownField { field } => write!(f, "field {field} is not in ringfence's field table"),
            Reason::UnsupportedField { field, why } => write!(f, "field {field} is not produced: {why}"),
            Reason::UnsupportedModifier { field, modifier } => {
                write!(f, "{field}: modifier `{modifier}` is not supported")
            }
            Reason::ModifierCombination { field, modifiers, why } => {
                write!(f, "{field}: modifiers {modifiers} cannot apply together: {why}")
            }
            Reason::ValueType { field, expected } => write!(f, "{field}: a value is not {expected}"),
            Reason::Keywords { detection } => write!(
                f,
                "detection {detection} lists values without a field (keywords): ringfence's events are \
                 fields, with no one text form to search"
            ),
            Reason::DetectionForm { detection, form } => {
                write!(f, "detection {detection} uses {form}, which has no meaning on ringfence's events")
            }
            Reason::UndefinedDetection { name } => {
                write!(f, "the condition names {name}, which is not defined")
            }
            Reason::EmptySelector { pattern } => {
                write!(f, "the condition's `of {pattern}` matches no detection")
            }
            Reason::CountSelector { count } => write!(f, "`{count} of …` is not supported (only 1 and all)"),
            Reason::Regex { field, message } => write!(f, "{field}: regular expression refused: {message}"),
            Reason::Limit { limit, value } => {
                write!(f, "{value} {} is over the limit of {}", limit.name(), limit.bound())
            }
            Reason::Timeframe => f.write_str("timeframe aggregations are correlations, not detections"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match (&self.id, &self.title) {
            (Some(id), Some(title)) => write!(f, "rule {id} ({title}): ")?,
            (None, Some(title)) => write!(f, "rule \"{title}\": ")?,
            (Some(id), None) => write!(f, "rule {id}: ")?,
            (None, None) => {}
        }
        self.reason.fmt(f)
    }
}

impl std::error::Error for Refusal {}
