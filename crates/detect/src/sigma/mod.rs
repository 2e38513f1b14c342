//! The Sigma front end: YAML (parsed by rsigma-parser) to [`Rule`]s of the IR.
//!
//! Supported: logsource windows `process_creation`, `image_load`,
//! `process_termination`; conditions with `and`, `or`, `not`, parentheses,
//! `1 of x*` / `all of x*` / `1 of them` / `all of them`, and condition lists
//! (any of them); selections as maps (all of their items) and lists of maps
//! (any); the modifiers of [`values`]. Anything else is refused, naming the
//! rule and the construct; the other rules of the file still compile.

mod values;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use ringfence_wire::EventKind;
use rsigma_parser::{ConditionExpr, Detection, Quantifier, SigmaRule};

use crate::ir::{Expr, Limit, Predicate, Rule, RuleMeta, limits};
use crate::refusal::{Reason, Refusal};

/// The outcome of compiling Sigma documents: the rules that compiled and a
/// refusal for every rule or document that did not.
#[derive(Clone, Debug, Default)]
pub struct Compilation {
    pub rules: Vec<Rule>,
    pub refusals: Vec<Refusal>,
}

impl Compilation {
    /// Adds the documents of one YAML text (`file` names it in refusals and rules).
    pub fn add_yaml(&mut self, yaml: &str, file: Option<&Path>) {
        let file_buf = file.map(Path::to_path_buf);
        let refuse = |id: Option<String>, title: Option<String>, reason: Reason| Refusal {
            id,
            title,
            file: file_buf.clone(),
            category: None,
            reason,
        };
        let collection = match rsigma_parser::parse_sigma_yaml(yaml) {
            Ok(collection) => collection,
            Err(error) => {
                self.refusals.push(refuse(None, None, Reason::Parse { message: error.to_string() }));
                return;
            }
        };
        for message in collection.errors {
            self.refusals.push(refuse(None, None, Reason::Parse { message }));
        }
        for c in collection.correlations {
            let reason = Reason::NotADetectionRule { what: "correlation rule" };
            self.refusals.push(refuse(c.id, Some(c.title), reason));
        }
        for f in collection.filters {
            let reason = Reason::NotADetectionRule { what: "filter" };
            self.refusals.push(refuse(f.id, Some(f.title), reason));
        }
        for rule in &collection.rules {
            let outcome = compile_rule(rule, file).and_then(|compiled| {
                if self.rules.len() >= limits::MAX_RULES {
                    return Err(Reason::Limit {
                        limit: Limit::Rules,
                        value: self.rules.len().saturating_add(1),
                    });
                }
                if self.rules.iter().any(|r| r.meta.id == compiled.meta.id) {
                    return Err(Reason::DuplicateId);
                }
                Ok(compiled)
            });
            match outcome {
                Ok(compiled) => self.rules.push(compiled),
                Err(reason) => self.refusals.push(Refusal {
                    category: rule.logsource.category.clone(),
                    ..refuse(rule.id.clone(), Some(rule.title.clone()), reason)
                }),
            }
        }
    }

    /// Adds a file, or every `.yml`/`.yaml` file under a directory (sorted, recursively).
    pub fn add_path(&mut self, path: &Path) -> Result<(), ReadError> {
        let error = |e: io::Error| ReadError { path: path.to_path_buf(), error: e };
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(error)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(error)?;
            entries.sort();
            for entry in entries {
                let is_yaml = entry.extension().is_some_and(|e| e == "yml" || e == "yaml");
                if entry.is_dir() || is_yaml {
                    self.add_path(&entry)?;
                }
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(error)?;
        self.add_yaml(&text, Some(path));
        Ok(())
    }
}

/// Compiles one YAML text.
pub fn compile_yaml(yaml: &str) -> Compilation {
    let mut compilation = Compilation::default();
    compilation.add_yaml(yaml, None);
    compilation
}

/// A file or directory that could not be read.
#[derive(Debug)]
pub struct ReadError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for ReadError {}

/// The event kind of a Sigma logsource, or `None` when ringfence has no such events.
pub fn event_kind(product: Option<&str>, category: Option<&str>) -> Option<EventKind> {
    if product != Some("windows") {
        return None;
    }
    match category? {
        "process_creation" => Some(EventKind::ProcessStart),
        "image_load" => Some(EventKind::ImageLoad),
        "process_termination" => Some(EventKind::ProcessExit),
        _ => None,
    }
}

/// Compiles one parsed Sigma rule.
pub fn compile_rule(rule: &SigmaRule, file: Option<&Path>) -> Result<Rule, Reason> {
    let source = &rule.logsource;
    let kind = event_kind(source.product.as_deref(), source.category.as_deref()).ok_or_else(|| {
        Reason::LogSource {
            product: source.product.clone(),
            category: source.category.clone(),
            service: source.service.clone(),
        }
    })?;
    let id = rule.id.clone().ok_or(Reason::MissingId)?;
    if rule.detection.timeframe.is_some() {
        return Err(Reason::Timeframe);
    }
    let mut compiler =
        Compiler { kind, detections: &rule.detection.named, predicates: Vec::new(), done: HashMap::new() };
    let mut conditions =
        rule.detection.conditions.iter().map(|c| compiler.condition(c, 1)).collect::<Result<Vec<_>, _>>()?;
    let condition = if conditions.len() == 1 { conditions.remove(0) } else { Expr::Any(conditions) };
    let compiled = Rule {
        meta: RuleMeta {
            id,
            title: rule.title.clone(),
            level: rule.level.map(level),
            tags: rule.tags.clone(),
            file: file.map(Path::to_path_buf),
        },
        kind,
        predicates: compiler.predicates,
        condition,
    };
    match compiled.exceeded_limit() {
        Some((limit, value)) => Err(Reason::Limit { limit, value }),
        None => Ok(compiled),
    }
}

fn level(level: rsigma_parser::Level) -> crate::ir::Level {
    use crate::ir::Level as L;
    match level {
        rsigma_parser::Level::Informational => L::Informational,
        rsigma_parser::Level::Low => L::Low,
        rsigma_parser::Level::Medium => L::Medium,
        rsigma_parser::Level::High => L::High,
        rsigma_parser::Level::Critical => L::Critical,
    }
}

/// One rule's compilation state.
struct Compiler<'a> {
    kind: EventKind,
    detections: &'a HashMap<String, Detection>,
    predicates: Vec<Predicate>,
    /// Detections already compiled, by name: a second reference shares their predicates.
    done: HashMap<String, Expr>,
}

impl Compiler<'_> {
    fn condition(&mut self, expr: &ConditionExpr, depth: usize) -> Result<Expr, Reason> {
        if depth > limits::MAX_DEPTH {
            return Err(Reason::Limit { limit: Limit::Depth, value: depth });
        }
        let next = depth.saturating_add(1);
        Ok(match expr {
            ConditionExpr::And(items) => {
                Expr::All(items.iter().map(|e| self.condition(e, next)).collect::<Result<_, _>>()?)
            }
            ConditionExpr::Or(items) => {
                Expr::Any(items.iter().map(|e| self.condition(e, next)).collect::<Result<_, _>>()?)
            }
            ConditionExpr::Not(inner) => Expr::Not(Box::new(self.condition(inner, next)?)),
            ConditionExpr::Identifier(name) => self.named(name, next)?,
            ConditionExpr::Selector { quantifier, pattern } => {
                let mut names: Vec<&String> =
                    self.detections.keys().filter(|name| pattern.matches_detection_name(name)).collect();
                names.sort();
                if names.is_empty() {
                    return Err(Reason::EmptySelector { pattern: pattern.to_string() });
                }
                let items =
                    names.into_iter().map(|name| self.named(name, next)).collect::<Result<Vec<_>, _>>()?;
                match quantifier {
                    Quantifier::Any | Quantifier::Count(1) => Expr::Any(items),
                    Quantifier::All => Expr::All(items),
                    Quantifier::Count(count) => return Err(Reason::CountSelector { count: *count }),
                }
            }
        })
    }

    fn named(&mut self, name: &str, depth: usize) -> Result<Expr, Reason> {
        if let Some(done) = self.done.get(name) {
            return Ok(done.clone());
        }
        let detection =
            self.detections.get(name).ok_or_else(|| Reason::UndefinedDetection { name: name.to_owned() })?;
        let expr = self.detection(name, detection, depth)?;
        self.done.insert(name.to_owned(), expr.clone());
        Ok(expr)
    }

    fn detection(&mut self, name: &str, detection: &Detection, depth: usize) -> Result<Expr, Reason> {
        if depth > limits::MAX_DEPTH {
            return Err(Reason::Limit { limit: Limit::Depth, value: depth });
        }
        let next = depth.saturating_add(1);
        Ok(match detection {
            Detection::AllOf(items) => {
                let mut exprs = Vec::with_capacity(items.len());
                for item in items {
                    exprs.push(self.item(name, item)?);
                }
                if exprs.len() == 1 { exprs.remove(0) } else { Expr::All(exprs) }
            }
            Detection::AnyOf(items) => {
                Expr::Any(items.iter().map(|d| self.detection(name, d, next)).collect::<Result<_, _>>()?)
            }
            Detection::And(items) => {
                Expr::All(items.iter().map(|d| self.detection(name, d, next)).collect::<Result<_, _>>()?)
            }
            Detection::Keywords(_) => return Err(Reason::Keywords { detection: name.to_owned() }),
            Detection::ArrayMatch { .. } => {
                return Err(Reason::DetectionForm {
                    detection: name.to_owned(),
                    form: "an array scope (`field[any]`/`field[all]`)",
                });
            }
            Detection::Conditional { .. } => {
                return Err(Reason::DetectionForm {
                    detection: name.to_owned(),
                    form: "an element-scoped condition",
                });
            }
        })
    }

    /// Adds a predicate and refers to it.
    fn push(&mut self, predicate: Predicate) -> Result<Expr, Reason> {
        if self.predicates.len() >= limits::MAX_PREDICATES {
            return Err(Reason::Limit {
                limit: Limit::Predicates,
                value: self.predicates.len().saturating_add(1),
            });
        }
        let id = u32::try_from(self.predicates.len())
            .map_err(|_| Reason::Limit { limit: Limit::Predicates, value: self.predicates.len() })?;
        self.predicates.push(predicate);
        Ok(Expr::Predicate(id))
    }
}
