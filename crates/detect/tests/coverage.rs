//! The coverage report over the rules written for the tests.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use ringfence_detect::coverage::{Counts, Coverage};

#[test]
fn the_report_counts_each_category_by_stage_and_each_refusal_by_reason() {
    let mut compilation = support::fixtures();
    compilation.add_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/refused.yml")).unwrap();
    let coverage = Coverage::of(&compilation);
    let reasons =
        |list: &[(&str, usize)]| list.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect::<BTreeMap<_, _>>();
    let expected = Coverage {
        categories: BTreeMap::from([
            (
                "process_creation",
                Counts {
                    kernel: 40,
                    companion: 5,
                    refused: reasons(&[
                        ("keyword detection", 1),
                        ("unknown field CommandLineX", 1),
                        ("field CurrentDirectory not produced", 1),
                        ("modifier fieldref", 1),
                        ("regular expression refused by the linear-time engine", 1),
                        ("`N of` with N > 1", 1),
                        ("undefined detection in condition", 1),
                        ("modifiers wide|contains together", 1),
                        ("no id", 1),
                        (
                            "value is not compared with a text field (gt, gte, lt and lte need a number field)",
                            1,
                        ),
                        ("selector matching no detection", 1),
                    ]),
                },
            ),
            (
                "image_load",
                Counts {
                    kernel: 3,
                    companion: 3,
                    refused: reasons(&[
                        ("field CommandLine not produced", 1),
                        ("field Signature not produced", 1),
                    ]),
                },
            ),
            ("process_termination", Counts { kernel: 1, companion: 0, refused: BTreeMap::new() }),
        ]),
        other_logsources: 1,
        unparsed: 0,
    };
    assert_eq!(coverage, expected);
    let table = coverage.to_string();
    assert!(table.contains("| process_creation | 56 | 45 (80.3%) | 40 (71.4%) | 5 | 11 |"), "{table}");
}
