//! Shared by the tests: events as the evaluator and the oracle (rsigma-eval) read them,
//! and the fixture rules written for these tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ringfence_detect::fields::{self, Field};
use ringfence_detect::{Compilation, EventFields, FieldValue, RuleSet};
use ringfence_wire::EventKind;
use rsigma_eval::Engine;
use rsigma_eval::event::JsonEvent;

/// A field's value in a test event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Text(String),
    Int(u64),
}

/// An event with Sigma's field names; a field not listed is absent.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    pub fields: Vec<(Field, Val)>,
}

impl Event {
    pub fn new(kind: EventKind) -> Self {
        Event { kind, fields: Vec::new() }
    }

    pub fn text(mut self, field: Field, value: &str) -> Self {
        self.fields.push((field, Val::Text(value.to_owned())));
        self
    }

    pub fn int(mut self, field: Field, value: u64) -> Self {
        self.fields.push((field, Val::Int(value)));
        self
    }

    /// The event as the oracle reads it: a flat JSON object, absent fields left out.
    pub fn json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (field, value) in &self.fields {
            let value = match value {
                Val::Text(s) => serde_json::Value::String(s.clone()),
                Val::Int(n) => serde_json::Value::from(*n),
            };
            map.insert(field.sigma_name().to_owned(), value);
        }
        serde_json::Value::Object(map)
    }
}

impl EventFields for Event {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match self.fields.iter().find(|(f, _)| *f == field) {
            Some((_, Val::Text(s))) => FieldValue::Text(s),
            Some((_, Val::Int(n))) => FieldValue::Integer(*n),
            None => FieldValue::Absent,
        }
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

/// The fixture rules, compiled.
pub fn fixtures() -> Compilation {
    let mut compilation = Compilation::default();
    compilation.add_path(&fixtures_dir()).expect("fixtures are readable");
    compilation
}

/// rsigma-eval over the same YAML, answering with rule ids.
pub struct Oracle {
    engine: Engine,
    kinds: HashMap<String, EventKind>,
}

impl Oracle {
    /// Loads every YAML file under `dir`; `kinds` gives each rule id's event kind
    /// (the oracle does not filter by logsource).
    pub fn new(dir: &Path, rules: &RuleSet) -> Self {
        let mut engine = Engine::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let collection = rsigma_parser::parse_sigma_yaml(&text).unwrap();
            engine.add_collection(&collection).unwrap();
        }
        let kinds = rules.rules().iter().map(|r| (r.meta.id.clone(), r.kind)).collect();
        Oracle { engine, kinds }
    }

    pub fn matched(&self, event: &Event) -> BTreeSet<String> {
        let json = event.json();
        self.engine
            .evaluate(&JsonEvent::borrow(&json))
            .into_iter()
            .filter_map(|r| r.header.rule_id)
            .filter(|id| self.kinds.get(id) == Some(&event.kind))
            .collect()
    }
}

/// The ids of `indices` in `set`.
pub fn ids(set: &RuleSet, indices: &[usize]) -> BTreeSet<String> {
    indices.iter().map(|&i| set.rules()[i].meta.id.clone()).collect()
}

/// Every field of `kind`, for generators.
pub fn kind_fields(kind: EventKind) -> Vec<Field> {
    fields::table(kind).iter().map(|(f, _)| *f).collect()
}
