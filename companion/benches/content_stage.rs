//! The companion's stage of a content format 2 (`detection::ContentStage::evaluate`: the
//! enriched event put in the schema's fields, then format 2's interpreter over the whole
//! content) beside the YAML path on the same rules and event (`RuleSet::evaluate_with`,
//! ringfence-detect's evaluator, the baseline), measured in the same run: a SigmaHQ-shaped
//! rule set generated here (1,400 process-creation rules of `Image|endswith` lists with
//! `OriginalFileName` alternatives, `CommandLine|contains` lists and `contains|all`,
//! `windash`, filters) and its first 10 rules, on a typical process start (120-character
//! image path, 400-character command line).

use std::fmt::Write;

use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_companion::content2_cmd::{Sources, compile2};
use ringfence_companion::detection::ContentStage;
use ringfence_detect::{Compilation, EventFields, Field, FieldValue, RuleSet, Scratch};
use ringfence_wire::EventKind;

/// A deterministic word generator (an LCG), so that every run measures the same rules.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn word(&mut self) -> String {
        const SYLLABLES: [&str; 12] =
            ["ad", "bin", "cmd", "dll", "exe", "fo", "hta", "js", "lo", "net", "ps", "reg"];
        (0..2 + self.next() % 3).map(|_| SYLLABLES[(self.next() % 12) as usize]).collect()
    }

    fn list(&mut self, n: u64, prefix: &str, suffix: &str) -> String {
        (0..n).fold(String::new(), |mut out, _| {
            let _ = writeln!(out, "            - '{prefix}{}{suffix}'", self.word());
            out
        })
    }
}

fn rules(count: usize) -> String {
    let mut words = Words(7);
    let mut yaml = String::new();
    for i in 0..count {
        let _ = write!(
            yaml,
            "---\ntitle: generated {i}\nid: gen-{i}\nlogsource: {{product: windows, category: process_creation}}\n\
             detection:\n"
        );
        let n = 6 + words.next() % 12;
        match i % 4 {
            0 => {
                let _ = write!(
                    yaml,
                    "    selection_img:\n        - Image|endswith:\n{}",
                    words.list(3, "\\\\", ".exe")
                );
                let _ = write!(yaml, "        - OriginalFileName:\n{}", words.list(3, "", ".exe"));
                let _ = write!(
                    yaml,
                    "    selection_cli:\n        CommandLine|contains:\n{}",
                    words.list(n, " ", "")
                );
                yaml.push_str("    condition: all of selection_*\n");
            }
            1 => {
                let _ = write!(
                    yaml,
                    "    selection:\n        CommandLine|contains|all:\n{}",
                    words.list(3, "", "")
                );
                let _ = write!(
                    yaml,
                    "    filter:\n        ParentImage|endswith:\n{}",
                    words.list(2, "\\\\", ".exe")
                );
                yaml.push_str("    condition: selection and not filter\n");
            }
            2 => {
                let _ = write!(
                    yaml,
                    "    selection:\n        CommandLine|windash|contains:\n{}",
                    words.list(n, "-", " ")
                );
                yaml.push_str("    condition: selection\n");
            }
            _ => {
                let _ = write!(
                    yaml,
                    "    selection:\n        Image|endswith:\n{}",
                    words.list(n, "\\\\", ".exe")
                );
                yaml.push_str("        User|startswith: 'NT AUTHORITY\\'\n    condition: selection\n");
            }
        }
    }
    yaml
}

struct Start {
    image: String,
    command_line: String,
}

impl EventFields for Start {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match field {
            Field::Image => FieldValue::Text(&self.image),
            Field::CommandLine => FieldValue::Text(&self.command_line),
            Field::ParentImage => FieldValue::Text("C:\\Windows\\explorer.exe"),
            Field::User => FieldValue::Text("FINANCE\\ana.silva"),
            Field::OriginalFileName => FieldValue::Text("PowerShell.EXE"),
            Field::ProcessId | Field::ParentProcessId => FieldValue::Integer(4242),
            _ => FieldValue::Absent,
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ringfence-bench-stage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut image = String::from("C:\\Program Files\\Contoso\\Line of Business\\Tools\\Reporting\\");
    while image.len() < 104 {
        image.push_str("sub\\");
    }
    image.push_str("powershell.exe");
    let image: String = image.chars().take(120).collect();
    let mut command_line = String::from("powershell.exe -NoProfile -ExecutionPolicy Bypass -File ");
    while command_line.len() < 400 {
        command_line.push_str("C:\\ProgramData\\Contoso\\scripts\\nightly-report.ps1 -Verbose ");
    }
    let command_line: String = command_line.chars().take(400).collect();
    let event = Start { image, command_line };
    for count in [10usize, 1400] {
        let file = dir.join(format!("rules-{count}.yml"));
        std::fs::write(&file, rules(count)).unwrap();
        let sigma = [file];
        let (bytes, placement) =
            compile2(&Sources { toml: None, sigma: &sigma, version: None }, &mut std::io::sink()).unwrap();
        assert_eq!(placement.kernel + placement.companion, count, "{placement:?}");
        let mut stage = ContentStage::new(bytes).unwrap();
        let mut compilation = Compilation::default();
        compilation.add_path(&sigma[0]).unwrap();
        let set = RuleSet::new(compilation.rules).unwrap();
        let mut scratch = Scratch::default();
        let mine = stage.evaluate(&event, None).matched.len();
        assert_eq!(mine, set.evaluate(&event).matched.len(), "both paths match the same rules");
        c.bench_function(&format!("content_stage_{count}_rules"), |b| {
            b.iter(|| stage.evaluate(&event, None))
        });
        c.bench_function(&format!("yaml_evaluate_with_{count}_rules_baseline"), |b| {
            b.iter(|| set.evaluate_with(&mut scratch, &event))
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
