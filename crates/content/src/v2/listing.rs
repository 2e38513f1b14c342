//! Which predicates of a gated rule its candidate lists stand for (format.rs,
//! "Candidate rules"): a predicate is *listed* when, with its field known and
//! none of the patterns that list the rule found, it is false. One function,
//! [`listed`], decides it for the builder and the validator alike.

/// Whether a predicate whose values are `values` is listed, each value
/// given as whether it is listed (false unless a pattern that lists the rule
/// is found: a literal's pattern, or its gates, format.rs "Gated globs and
/// regular expressions"; never for an ungated glob or regex value) and
/// whether it is an alternative of the previous value
/// ([`super::format::value::ALT`]):
/// - a predicate over some value (`all` false) when every value is listed;
/// - a predicate over every group of alternatives (`all`) when every value
///   of one group is: that group is then false, so the predicate is.
///   Alternatives before the first group are read by no group (the
///   interpreter's `values`) and count for nothing.
///
/// A predicate with no value (or, under `all`, no group) is always false,
/// hence listed.
pub(crate) fn listed(values: impl Iterator<Item = (bool, bool)>, all: bool) -> bool {
    // Under `all`: whether the group being read is listed so far (`None` before the first).
    let mut group: Option<bool> = None;
    for (this, alternative) in values {
        if !all {
            if !this {
                return false;
            }
        } else if !alternative {
            if group == Some(true) {
                return true;
            }
            group = Some(this);
        } else if let Some(g) = group.as_mut() {
            *g &= this;
        }
    }
    group.is_none_or(|g| g)
}

#[cfg(feature = "compiler")]
pub(crate) use choose::{Listing, choose, pattern_cost};

/// The builder's choice of the predicates that list a gated rule.
#[cfg(feature = "compiler")]
mod choose {
    use crate::v2::build::ExprSpec;
    use std::vec::Vec;

    /// What one predicate offers the listing: `None` when it is no literal
    /// predicate (nor a glob or regex predicate gated on every value);
    /// otherwise the cheapest patterns whose absence makes it false (all of
    /// its values', or one group's under `all`) and their cost.
    #[derive(Clone, Debug)]
    pub(crate) struct Listing {
        pub cost: u64,
        pub patterns: Vec<u32>,
    }

    /// Text common in Windows process starts, lower-case: a pattern found
    /// inside one of these is taken to be found in most starts (a Windows
    /// directory, an extension, a switch's lead). Rarity is a guess made at
    /// build time: a wrong guess costs speed, never a verdict.
    const COMMON: [&str; 14] = [
        r"c:\windows\system32\",
        r"c:\windows\syswow64\",
        r"c:\program files (x86)\",
        r"c:\program files\",
        r"c:\programdata\",
        r"c:\users\",
        r"\appdata\local\temp\",
        r"\appdata\roaming\",
        ".exe\" ",
        ".dll,",
        " --",
        " -",
        " /",
        "\"",
    ];

    /// Extra cost of a pattern found in common text ([`COMMON`]).
    const COMMON_COST: u64 = 1 << 10;

    /// The estimated cost of listing a rule under a pattern (folded or exact
    /// units): the shorter, the likelier to be found; much more when it is
    /// part of common text.
    pub(crate) fn pattern_cost(units: &[u16]) -> u64 {
        let len = units.len().max(1) as u64;
        let base = 64u64.saturating_div(len.min(32)).saturating_add(1);
        let lower: Vec<u16> =
            units.iter().map(|&u| if (0x41..=0x5a).contains(&u) { u | 0x20 } else { u }).collect();
        let common = COMMON.iter().any(|text| {
            let text: Vec<u16> = text.encode_utf16().collect();
            !lower.is_empty() && text.windows(lower.len()).any(|w| w == lower.as_slice())
        });
        if common { base.saturating_add(COMMON_COST) } else { base }
    }

    /// The predicates to list a gated rule under: for `a and b`, the
    /// cheaper conjunct's; for `a or b`, both's; a negation lists nothing
    /// (`None`). `listing[i]` is predicate `i`'s offer. The set makes the
    /// rule false whenever every predicate in it is (checked again by the
    /// caller through [`super::listed`] and the rule's code).
    pub(crate) fn choose(e: &ExprSpec, listing: &[Option<Listing>]) -> Option<(u64, Vec<u32>)> {
        match e {
            ExprSpec::Predicate(i) => {
                listing.get(*i as usize).and_then(Option::as_ref).map(|l| (l.cost, std::vec![*i]))
            }
            ExprSpec::Not(_) => None,
            ExprSpec::All(items) => {
                items.iter().filter_map(|item| choose(item, listing)).min_by_key(|(cost, _)| *cost)
            }
            ExprSpec::Any(items) => {
                let mut out = (0u64, Vec::new());
                for item in items {
                    let (cost, preds) = choose(item, listing)?;
                    out.0 = out.0.saturating_add(cost);
                    out.1.extend(preds);
                }
                Some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::listed;

    fn run(values: &[(Option<u32>, bool)], all: bool, listing: &[u32]) -> bool {
        listed(values.iter().map(|&(p, alt)| (p.is_some_and(|p| listing.contains(&p)), alt)), all)
    }

    #[test]
    fn some_value_is_listed_when_every_value_is() {
        let v = [(Some(1), false), (Some(2), true), (Some(3), false)];
        assert!(run(&v, false, &[1, 2, 3]));
        assert!(!run(&v, false, &[1, 3]));
        assert!(!run(&[(Some(1), false), (None, false)], false, &[1]));
        assert!(run(&[], false, &[]));
    }

    #[test]
    fn every_value_is_listed_by_one_whole_group() {
        // Groups {1, 2} and {3}.
        let v = [(Some(1), false), (Some(2), true), (Some(3), false)];
        assert!(run(&v, true, &[3]));
        assert!(run(&v, true, &[1, 2]));
        assert!(!run(&v, true, &[1]));
        assert!(!run(&v, true, &[2]));
        assert!(!run(&v, true, &[]));
        // Alternatives before the first group belong to none.
        let lead = [(Some(7), true), (Some(1), false)];
        assert!(!run(&lead, true, &[7]));
        assert!(run(&lead, true, &[1]));
        // A group with an ungated value cannot be listed.
        assert!(!run(&[(Some(1), false), (None, true)], true, &[1]));
        // No group: always false.
        assert!(run(&[(Some(7), true)], true, &[]));
        assert!(run(&[], true, &[]));
    }
}
