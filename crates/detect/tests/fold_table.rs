//! Content format 2 folds UTF-16 units in the kernel with a generated table;
//! it must agree with this crate's `fold_case` on every BMP code point, so
//! that the kernel stage and the companion stage fold alike.

use ringfence_content::v2::fold::fold_unit;
use ringfence_detect::fold::fold_case;

#[test]
fn format_2_folds_every_bmp_code_point_as_fold_case_does() {
    let mut differing = 0;
    for unit in 0u16..=0xFFFF {
        let Some(c) = char::from_u32(u32::from(unit)) else {
            // A surrogate: format 2 leaves it as it is.
            assert_eq!(fold_unit(unit), unit);
            continue;
        };
        let expected = fold_case(c) as u32;
        assert_eq!(u32::from(fold_unit(unit)), expected, "U+{unit:04X}");
        differing += usize::from(expected != u32::from(unit));
    }
    assert!(differing > 1000, "{differing} folding code points");
}

#[test]
fn outside_the_bmp_detect_folds_and_format_2_compares_unfolded() {
    // DESERET CAPITAL LONG I: the companion folds it, the kernel's units stay as they are.
    assert_eq!(fold_case('\u{10400}'), '\u{10428}');
    let mut units = [0u16; 2];
    '\u{10400}'.encode_utf16(&mut units);
    assert_eq!(units.map(fold_unit), units);
}
