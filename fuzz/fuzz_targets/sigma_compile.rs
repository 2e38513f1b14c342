//! The Sigma compiler on arbitrary text: every document compiles or is refused
//! with a reason (never a panic), every rule it compiles stays within the
//! published limits and indexes into a rule set, and that set evaluates an event
//! built from the same input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_detect::ir::limits;
use ringfence_detect::{EventFields, Field, FieldValue, RuleSet, compile_yaml};
use ringfence_wire::EventKind;

struct Event<'a>(&'a str);

impl EventFields for Event<'_> {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match field {
            Field::ProcessId => FieldValue::Integer(4),
            Field::OriginalFileName => FieldValue::Unknown,
            Field::Hashes => FieldValue::Absent,
            _ => FieldValue::Text(self.0),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let compilation = compile_yaml(source);
    for refusal in &compilation.refusals {
        let _ = refusal.to_string();
    }
    for rule in &compilation.rules {
        assert!(rule.exceeded_limit().is_none(), "a compiled rule is over a limit");
        assert!(rule.condition.depth() <= limits::MAX_DEPTH);
    }
    let count = compilation.rules.len();
    let set = match RuleSet::new(compilation.rules) {
        Ok(set) => set,
        Err(e) => panic!("compiled rules do not index: {e}"),
    };
    let matches = set.evaluate(&Event(source));
    assert!(matches.matched.iter().chain(&matches.undecided).all(|&i| i < count));
});
