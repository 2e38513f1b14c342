//! Sysmon's `IntegrityLevel` as a function of the token's mandatory label RID,
//! and its inverse: which RIDs a Sigma comparison on the name can match.
//!
//! The companion writes a level Windows names by that name without
//! ` Mandatory Level` (`Low`, `Medium`, `High`, `System`, …) and any other RID as
//! its label SID, `S-1-16-N` (decimal). That rendering is one-to-one, so an
//! equality on the name is an equality on the RID; a `contains`, `startswith`
//! or `endswith` is one when its value cannot occur in an `S-1-16-N` text (the
//! named levels being finitely many). Anything else stays on the name.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::fold::View;
use crate::ir::Operator;

/// The levels Windows names (`SECURITY_MANDATORY_*_RID`), by Sysmon's name.
pub const NAMED: [(u32, &str); 8] = [
    (0x0000, "Untrusted"),
    (0x1000, "Low"),
    (0x2000, "Medium"),
    (0x2100, "Medium Plus"),
    (0x3000, "High"),
    (0x4000, "System"),
    (0x5000, "Protected Process"),
    (0x7000, "Secure Process"),
];

/// The label SID's prefix, before the RID in decimal.
const SID_PREFIX: &str = "S-1-16-";

/// Sysmon's name of `rid`: the level's name, or `S-1-16-N` for a level Windows does not name.
pub fn sysmon_name(rid: u32) -> Cow<'static, str> {
    match NAMED.iter().find(|(r, _)| *r == rid) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(format!("{SID_PREFIX}{rid}")),
    }
}

/// The RID whose [`sysmon_name`] is exactly `name`.
pub fn rid_of_name(name: &str) -> Option<u32> {
    if let Some((rid, _)) = NAMED.iter().find(|(_, n)| *n == name) {
        return Some(*rid);
    }
    let digits = name.strip_prefix(SID_PREFIX)?;
    let rid: u32 = digits.parse().ok()?;
    // Only the canonical decimal spelling is a rendering, and only of a level without a name.
    (sysmon_name(rid) == name).then_some(rid)
}

/// Why a comparison on the name does not become one on the RID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inexact {
    /// Not equality, `contains`, `startswith` or `endswith` on text.
    Operator,
    /// A value that could occur in an `S-1-16-N` rendering under this operator: the RIDs it
    /// matches are not a short list.
    Unbounded,
}

/// The RIDs whose name `operator` with `value` matches in `view` (case folding, `windash`),
/// as the evaluator compares them; `Err` when that set is not exactly determined.
pub fn rids_matching(operator: Operator, value: &str, view: View) -> Result<BTreeSet<u32>, Inexact> {
    let value = view.apply(value);
    let test = |name: &str| -> Result<bool, Inexact> {
        let name = view.apply(name);
        Ok(match operator {
            Operator::Equals => name == value,
            Operator::Contains => name.contains(value.as_str()),
            Operator::StartsWith => name.starts_with(value.as_str()),
            Operator::EndsWith => name.ends_with(value.as_str()),
            _ => return Err(Inexact::Operator),
        })
    };
    let mut rids = BTreeSet::new();
    for (rid, name) in NAMED {
        if test(name)? {
            rids.insert(rid);
        }
    }
    if operator == Operator::Equals {
        // At most one unnamed RID renders as this value: read it back and check.
        let sid_prefix = view.apply(SID_PREFIX);
        if let Some(rid) = value.strip_prefix(sid_prefix.as_str()).and_then(|d| d.parse::<u32>().ok())
            && NAMED.iter().all(|(r, _)| *r != rid)
            && view.apply(&sysmon_name(rid)) == value
        {
            rids.insert(rid);
        }
        return Ok(rids);
    }
    // A value with a character no `S-1-16-N` text has (in this view) matches none of them.
    let sid_chars: BTreeSet<char> = "Ss-0123456789".chars().map(|c| view.char(c)).collect();
    if value.chars().any(|c| !sid_chars.contains(&c)) { Ok(rids) } else { Err(Inexact::Unbounded) }
}
