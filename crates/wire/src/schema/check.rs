//! The rules every schema declaration must keep, checked when the crate
//! compiles: a declaration that breaks one does not build.

use super::{COMPANION_BASE, EventKind, FieldDef, FieldType, KindDef, MAX_KERNEL_FIELDS, Origin, limits};

/// Why a kind's declaration is unusable; `None` when it is sound.
const fn kind_fault(def: &KindDef) -> Option<&'static str> {
    if def.fields.len() > MAX_KERNEL_FIELDS {
        return Some("more kernel fields than the absent and truncated bitmaps have bits");
    }
    if def.companion.len() > (u8::MAX - COMPANION_BASE) as usize {
        return Some("more companion fields than the companion index space holds");
    }
    let mut truncation_fields = 0usize;
    let mut fields = def.fields;
    while let Some((field, rest)) = fields.split_first() {
        if let Some(fault) = field_fault(field, Origin::Kernel) {
            return Some(fault);
        }
        if field.truncation {
            truncation_fields = truncation_fields.saturating_add(1);
        }
        if !unique_name(field.name, def.fields, def.companion) {
            return Some("two fields of one kind share a name");
        }
        if matches!(field.ty, FieldType::Ids) && !rest_follows(rest) {
            return Some("an id list is followed by its rest count, a verdict u32");
        }
        fields = rest;
    }
    let mut companion = def.companion;
    while let Some((field, rest)) = companion.split_first() {
        if let Some(fault) = field_fault(field, Origin::Companion) {
            return Some(fault);
        }
        if field.truncation || !field.optional {
            return Some("a companion field is always optional and never a truncation bitmap");
        }
        if !unique_name(field.name, def.fields, def.companion) {
            return Some("two fields of one kind share a name");
        }
        companion = rest;
    }
    match (def.activity, truncation_fields) {
        (true, 1) | (false, 0) => None,
        _ => Some("an activity kind has exactly one truncation field, any other kind none"),
    }
}

const fn field_fault(field: &FieldDef, origin: Origin) -> Option<&'static str> {
    if field.origin as u8 != origin as u8 {
        return Some("a field is declared in the other index space");
    }
    let is_str = matches!(field.ty, FieldType::Str);
    let is_ids = matches!(field.ty, FieldType::Ids);
    if is_str && (field.max_units == 0 || field.max_units > limits::UNICODE_STRING_UNITS) {
        return Some("a string's max is outside 1..=32767 units");
    }
    if is_ids && (field.max_units == 0 || field.max_units > limits::RECORD_IDS) {
        return Some("an id list's max is outside 1..=RECORD_IDS ids");
    }
    if is_ids && (field.origin as u8 != Origin::Kernel as u8 || field.matchable) {
        return Some("an id list is a kernel verdict field");
    }
    if !is_str && !is_ids && field.max_units != 0 {
        return Some("a scalar has a max length");
    }
    if field.truncation && (field.optional || !field.matchable || !matches!(field.ty, FieldType::U32)) {
        return Some("a truncation bitmap is a required, matchable u32");
    }
    if !field.matchable
        && (field.optional || !matches!(field.ty, FieldType::Str | FieldType::Ids | FieldType::U32))
    {
        return Some("a verdict field is a required string, id list or u32");
    }
    None
}

/// Whether the next field is a verdict u32: the count of ids beyond its list.
const fn rest_follows(after: &[FieldDef]) -> bool {
    match after.split_first() {
        Some((next, _)) => matches!(next.ty, FieldType::U32) && !next.matchable && !next.optional,
        None => false,
    }
}

/// Whether `name` appears exactly once among both lists.
const fn unique_name(name: &str, fields: &[FieldDef], companion: &[FieldDef]) -> bool {
    let mut seen = 0usize;
    let both = [fields, companion];
    let mut lists = both.as_slice();
    while let Some((list, rest)) = lists.split_first() {
        let mut list = *list;
        while let Some((field, more)) = list.split_first() {
            if same(field.name, name) {
                seen = seen.saturating_add(1);
            }
            list = more;
        }
        lists = rest;
    }
    seen == 1
}

const fn same(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    while let (Some((x, ra)), Some((y, rb))) = (a.split_first(), b.split_first()) {
        if *x != *y {
            return false;
        }
        a = ra;
        b = rb;
    }
    true
}

const fn schema_fault() -> Option<&'static str> {
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        if let Some(fault) = kind_fault(kind.def()) {
            return Some(fault);
        }
        kinds = rest;
    }
    None
}

const _: () = {
    if let Some(fault) = schema_fault() {
        panic!("{}", fault);
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_schema_keeps_every_declaration_rule() {
        assert_eq!(schema_fault(), None);
    }

    fn kind(fields: std::vec::Vec<FieldDef>, activity: bool) -> KindDef {
        let fields: &'static [FieldDef] = std::boxed::Box::leak(fields.into_boxed_slice());
        KindDef { kind: EventKind::LostEvents, name: "t", fields, companion: &[], activity }
    }

    #[test]
    fn a_kind_with_a_faulty_field_is_named_by_its_fault() {
        let plain = || FieldDef::kernel("a", FieldType::U32, "x.a", "");
        let scalar_with_max = FieldDef { max_units: 4, ..plain() };
        assert_eq!(kind_fault(&kind(std::vec![scalar_with_max], false)), Some("a scalar has a max length"));
        let twice = std::vec![plain(), FieldDef::kernel("a", FieldType::U64, "x.b", "")];
        assert_eq!(kind_fault(&kind(twice, false)), Some("two fields of one kind share a name"));
        assert_eq!(
            kind_fault(&kind(std::vec![plain()], true)),
            Some("an activity kind has exactly one truncation field, any other kind none")
        );
        let optional_verdict =
            FieldDef { matchable: false, optional: true, ..FieldDef::kernel("r", FieldType::Str, "x.r", "") };
        assert_eq!(
            kind_fault(&kind(std::vec![optional_verdict], false)),
            Some("a verdict field is a required string, id list or u32")
        );
        let matchable_ids = FieldDef { max_units: 8, ..FieldDef::kernel("i", FieldType::Ids, "x.i", "") };
        assert_eq!(
            kind_fault(&kind(std::vec![matchable_ids], false)),
            Some("an id list is a kernel verdict field")
        );
        let long_ids = FieldDef { matchable: false, max_units: 9, ..matchable_ids };
        assert_eq!(
            kind_fault(&kind(std::vec![long_ids], false)),
            Some("an id list's max is outside 1..=RECORD_IDS ids")
        );
        assert_eq!(kind_fault(&kind(std::vec![plain()], false)), None);
    }
}
