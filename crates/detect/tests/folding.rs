//! Case folding is Unicode simple case folding, the one the `regex` crate's `(?i)` uses:
//! checked for every code point against regex-syntax's own tables, so literal matching
//! (folded text) and glob / `re|i` matching (`(?i)`) agree on every character.

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
use ringfence_detect::fold::fold_case;

#[test]
fn two_characters_fold_alike_exactly_when_simple_case_folding_relates_them() {
    let class_of = |c: char| {
        let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
        class.case_fold_simple();
        class.iter().flat_map(|r| r.start()..=r.end()).collect::<Vec<char>>()
    };
    let mut checked = 0usize;
    let mut newer = Vec::new();
    for c in (0u32..=0x10FFFF).filter_map(char::from_u32) {
        let members = class_of(c);
        let folded = fold_case(c);
        if members.len() == 1 {
            if folded != c {
                // A case pair the standard library's Unicode tables know and regex-syntax's
                // (an older Unicode version) do not: both of its letters are uncased there.
                assert_eq!(
                    class_of(folded).len(),
                    1,
                    "U+{:04X} has no case partner but folds to U+{:04X}",
                    c as u32,
                    folded as u32
                );
                newer.push(c);
            }
            continue;
        }
        checked += 1;
        for m in &members {
            assert_eq!(fold_case(*m), folded, "U+{:04X} and U+{:04X} are case partners", c as u32, *m as u32);
        }
        assert!(members.contains(&folded), "U+{:04X} folds outside its class", c as u32);
    }
    assert!(checked > 2_000, "{checked} characters with case partners");
    assert!(newer.len() <= 64, "case pairs newer than regex-syntax's tables: {newer:?}");
}

#[test]
fn non_ascii_letters_fold_to_their_partners() {
    assert_eq!(fold_case('Ä'), 'ä');
    assert_eq!(fold_case('П'), 'п');
    assert_eq!(fold_case('Σ'), 'σ');
    assert_eq!(fold_case('ς'), 'σ');
    assert_eq!(fold_case('\u{212A}'), 'k'); // KELVIN SIGN
    assert_eq!(fold_case('ſ'), 's');
    // Simple folding only: İ has no one-character partner, ß does not become "ss".
    assert_eq!(fold_case('İ'), 'İ');
    assert_eq!(fold_case('ß'), 'ß');
}
