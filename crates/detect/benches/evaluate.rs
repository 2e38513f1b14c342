//! Evaluation of a SigmaHQ-shaped rule set (generated here: ~1,400 process-creation rules,
//! ~20,000 values, SigmaHQ's mix of endswith / contains / contains|all / windash / re /
//! OriginalFileName alternatives and filters) on a typical process start (120-character image
//! path, 400-character command line), beside the oracle rsigma-eval on the same rules and
//! event, measured in the same run; and the same with 10 rules. The unindexed scan (every rule
//! of the kind evaluated after the field scan, as before the candidate index) is the second
//! baseline.

use std::fmt::Write;

use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_detect::{EventFields, Field, FieldValue, RuleSet, Scratch, compile_yaml};
use ringfence_wire::EventKind;
use rsigma_eval::Engine;
use rsigma_eval::event::JsonEvent;

/// A deterministic word generator (an LCG), so that every run measures the same rules.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn word(&mut self) -> String {
        const SYLLABLES: [&str; 16] = [
            "ad", "bin", "cmd", "dll", "exe", "fo", "gr", "hta", "in", "js", "ke", "lo", "mo", "net", "ps",
            "reg",
        ];
        let n = 2 + self.next() % 3;
        (0..n).map(|_| SYLLABLES[(self.next() % 16) as usize]).collect()
    }
}

/// One rule in SigmaHQ's most common shapes.
fn rule(i: usize, words: &mut Words) -> String {
    let mut y = format!(
        "title: generated {i}\nid: gen-{i}\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n"
    );
    let list = |words: &mut Words, n: u64, prefix: &str, suffix: &str| -> String {
        (0..n).fold(String::new(), |mut out, _| {
            let _ = writeln!(out, "            - '{prefix}{}{suffix}'", words.word());
            out
        })
    };
    let shape = i % 6;
    let n = 6 + words.next() % 12;
    match shape {
        0 => {
            let _ =
                write!(y, "    selection_img:\n        - Image|endswith:\n{}", list(words, 3, "\\", ".exe"));
            let _ = write!(y, "        - OriginalFileName:\n{}", list(words, 3, "", ".exe"));
            let _ =
                write!(y, "    selection_cli:\n        CommandLine|contains:\n{}", list(words, n, " ", ""));
            y.push_str("    condition: all of selection_*\n");
        }
        1 => {
            let _ =
                write!(y, "    selection:\n        ParentImage|endswith:\n{}", list(words, 4, "\\", ".exe"));
            let _ = write!(y, "        Image|endswith:\n{}", list(words, n, "\\", ".exe"));
            let _ = write!(y, "    filter_main:\n        CommandLine|contains:\n{}", list(words, 3, "", ""));
            y.push_str("    condition: selection and not 1 of filter_*\n");
        }
        2 => {
            let _ =
                write!(y, "    selection:\n        CommandLine|contains|all:\n{}", list(words, 3, "", ""));
            let _ = write!(y, "        Image|endswith:\n{}", list(words, n, "\\", ".exe"));
            y.push_str("    condition: selection\n");
        }
        3 => {
            let _ = write!(
                y,
                "    selection:\n        CommandLine|windash|contains:\n{}",
                list(words, n, " -", " ")
            );
            y.push_str("    condition: selection\n");
        }
        4 if i % 12 == 4 => {
            let _ = write!(
                y,
                "    selection:\n        CommandLine|re: '{}\\s+-[a-z]{{2,8}}\\s+{}'\n",
                words.word(),
                words.word()
            );
            y.push_str("    condition: selection\n");
        }
        _ => {
            let _ = write!(y, "    selection:\n        CommandLine|contains:\n{}", list(words, n, "", ""));
            let _ = write!(y, "    filter:\n        Image|startswith:\n{}", list(words, 2, "C:\\", "\\"));
            y.push_str("    condition: selection and not filter\n");
        }
    }
    y.push_str("level: medium\n");
    y
}

fn rules(count: usize) -> String {
    let mut words = Words(0x5eed);
    (0..count).map(|i| rule(i, &mut words)).collect::<Vec<_>>().join("---\n")
}

struct ProcessStart {
    image: String,
    command_line: String,
    parent: String,
}

impl EventFields for ProcessStart {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match field {
            Field::Image => FieldValue::Text(&self.image),
            Field::CommandLine => FieldValue::Text(&self.command_line),
            Field::ParentImage => FieldValue::Text(&self.parent),
            Field::OriginalFileName => FieldValue::Text("svchelper.exe"),
            _ => FieldValue::Absent,
        }
    }
}

fn typical() -> ProcessStart {
    let image = format!("C:\\Program Files\\{}\\svchelper.exe", "Vendor Application Suite\\x".repeat(4));
    let image: String = image.chars().take(120).collect();
    let mut command_line = format!("\"{image}\" --service --config ");
    while command_line.len() < 400 {
        command_line.push_str("C:\\ProgramData\\Vendor\\config-file.json --verbose ");
    }
    command_line.truncate(400);
    ProcessStart { image, command_line, parent: "C:\\Windows\\System32\\services.exe".into() }
}

fn bench(c: &mut Criterion) {
    let event = typical();
    let json = serde_json::json!({
        "Image": event.image, "CommandLine": event.command_line,
        "ParentImage": event.parent, "OriginalFileName": "svchelper.exe",
    });
    let mut group = c.benchmark_group("sigma_process_start");
    for count in [10usize, 1400] {
        let yaml = rules(count);
        let compilation = compile_yaml(&yaml);
        assert!(compilation.refusals.is_empty(), "{:?}", compilation.refusals.first());
        let values: usize = compilation.rules.iter().map(|r| r.value_count()).sum();
        eprintln!("{count} rules, {values} values");
        let set = RuleSet::new(compilation.rules).unwrap();
        let mut engine = Engine::new();
        engine.add_collection(&rsigma_parser::parse_sigma_yaml(&yaml).unwrap()).unwrap();
        let ours = set.evaluate(&event);
        let theirs = engine.evaluate(&JsonEvent::borrow(&json)).len();
        assert_eq!(ours.matched.len(), theirs, "the same verdict");
        assert_eq!(ours, set.evaluate_unindexed(&event), "the index changes no verdict");
        let mut scratch = Scratch::default();
        group.bench_function(format!("ringfence_{count}_rules"), |b| {
            b.iter(|| set.evaluate_with(&mut scratch, &event))
        });
        group.bench_function(format!("ringfence_unindexed_{count}_rules"), |b| {
            b.iter(|| set.evaluate_unindexed(&event))
        });
        group.bench_function(format!("rsigma_eval_{count}_rules"), |b| {
            b.iter(|| engine.evaluate(&JsonEvent::borrow(&json)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
