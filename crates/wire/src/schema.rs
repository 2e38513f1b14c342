//! The event schema: every event kind and its numbered, typed fields, declared
//! once below. The kind enum, the field tables, the typed [`Event`], the
//! field-by-index lookup and the typed decoding all expand from that one
//! declaration; nothing else in ringfence lists fields.
//!
//! Compatibility rule: a new schema version may add kinds and may append fields
//! to the end of a kind, never reorder, retype or remove. A field index
//! therefore means the same thing in every version that has it, and content
//! compiled against a newer schema is acceptable to an older sensor exactly when
//! every field it references is one the older sensor supplies.

use crate::text::{FromValue, Value};

/// The type of a field's value, as carried in a record and matched by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldType {
    U32 = 1,
    U64 = 2,
    Bool = 3,
    /// 100-ns intervals since 1601-01-01 UTC.
    Time = 4,
    /// UTF-16LE text.
    Str = 5,
}

impl FieldType {
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(FieldType::U32),
            2 => Some(FieldType::U64),
            3 => Some(FieldType::Bool),
            4 => Some(FieldType::Time),
            5 => Some(FieldType::Str),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            FieldType::U32 => "u32",
            FieldType::U64 => "u64",
            FieldType::Bool => "bool",
            FieldType::Time => "time",
            FieldType::Str => "string",
        }
    }
}

/// One field of one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The name used in rule files and JSON output.
    pub name: &'static str,
    pub ty: FieldType,
    /// The Elastic Common Schema name the companion renders it as.
    pub ecs: &'static str,
    pub doc: &'static str,
    /// Whether content may match on it. The sensor fills non-matchable fields
    /// from the verdict itself (the matching rule's name), after evaluation.
    pub matchable: bool,
}

/// One event kind: its code and its fields, in index order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindDef {
    pub kind: EventKind,
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    /// Whether the kind describes system activity (filterable by content)
    /// rather than the sensor's own bookkeeping.
    pub activity: bool,
}

impl KindDef {
    /// The field at `index`, or `None` when this kind does not supply it.
    pub fn field(&self, index: u8) -> Option<&'static FieldDef> {
        self.fields.get(usize::from(index))
    }

    /// The index of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<u8> {
        let at = self.fields.iter().position(|f| f.name == name)?;
        u8::try_from(at).ok()
    }

    /// How many fields this kind supplies.
    pub fn field_count(&self) -> u8 {
        u8::try_from(self.fields.len()).unwrap_or(u8::MAX)
    }
}

/// A schema version and its kinds. [`SCHEMA`] is the one the running code
/// supplies; tests build others to stand for older or newer sensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schema {
    pub version: u16,
    pub kinds: &'static [KindDef],
}

impl Schema {
    pub fn kind(&self, kind: EventKind) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    pub fn kind_by_code(&self, code: u16) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.kind.code() == code)
    }

    pub fn kind_by_name(&self, name: &str) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// The field `index` of `kind`, or `None` when this schema does not supply it.
    pub fn field(&self, kind: EventKind, index: u8) -> Option<&'static FieldDef> {
        self.kind(kind)?.field(index)
    }
}

/// Receives an event's fields in index order from [`Event::visit_values`]. A
/// trait rather than a closure so that an implementation can mark `visit`
/// `#[inline(always)]`: the encoder's per-field work then inlines at every
/// field of every kind, which a closure call does not.
pub trait ValueVisitor<'a> {
    type Error;
    fn visit(&mut self, index: u8, value: Value<'a>) -> Result<(), Self::Error>;
}

/// Anything that can hand out an event's fields by index: a typed [`Event`]
/// in the driver's callbacks, a decoded [`crate::Record`] in user mode.
pub trait Fields<'a> {
    fn kind(&self) -> EventKind;
    /// The value of field `index`, or `None` when the event does not supply it.
    fn field(&self, index: u8) -> Option<Value<'a>>;
}

#[doc(hidden)]
#[macro_export]
macro_rules! __field_rust_type {
    (U32) => { u32 };
    (U64) => { u64 };
    (Bool) => { bool };
    (Time) => { u64 };
    (Str) => { $crate::text::Text<'a> };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __matchable {
    () => {
        true
    };
    (verdict) => {
        false
    };
}

macro_rules! schema {
    (
        version $version:literal;
        $(
            $(#[doc = $kdoc:literal])*
            $kind:ident = $code:literal, $kname:literal, activity $activity:literal {
                $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ident $([$from_verdict:ident])? => $ecs:literal ),* $(,)?
            }
        )*
    ) => {
        /// The version of the schema below; records and content carry it.
        pub const SCHEMA_VERSION: u16 = $version;

        /// Every event kind, with its code on the wire.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum EventKind {
            $( $(#[doc = $kdoc])* $kind = $code, )*
        }

        impl EventKind {
            /// Every kind, in code order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind),*];

            pub const fn from_code(code: u16) -> Option<Self> {
                match code {
                    $( $code => Some(EventKind::$kind), )*
                    _ => None,
                }
            }

            pub const fn code(self) -> u16 {
                self as u16
            }

            pub const fn name(self) -> &'static str {
                match self {
                    $( EventKind::$kind => $kname, )*
                }
            }

            /// This kind's definition in the running schema.
            pub const fn def(self) -> &'static KindDef {
                match self {
                    $( EventKind::$kind => &kinds::$kind, )*
                }
            }
        }

        /// Field indices by kind: `field::ProcessStart::image_path as u8`.
        pub mod field {
            $(
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                #[repr(u8)]
                pub enum $kind { $( $field, )* }
            )*
        }

        #[allow(non_upper_case_globals)]
        mod kinds {
            use super::*;
            $(
                pub(super) static $kind: KindDef = KindDef {
                    kind: EventKind::$kind,
                    name: $kname,
                    activity: $activity,
                    fields: &[ $( FieldDef {
                        name: stringify!($field),
                        ty: FieldType::$ty,
                        ecs: $ecs,
                        doc: concat!($($fdoc),*),
                        matchable: $crate::__matchable!($($from_verdict)?),
                    }, )* ],
                };
            )*
        }

        /// The schema this build of ringfence supplies.
        pub static SCHEMA: Schema = Schema {
            version: SCHEMA_VERSION,
            kinds: &[ $( kinds::$kind ),* ],
        };

        /// One event, typed: what the driver's callbacks build and what a
        /// decoded record turns back into.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event<'a> {
            $(
                $(#[doc = $kdoc])*
                $kind { $( $(#[doc = $fdoc])* $field: $crate::__field_rust_type!($ty), )* },
            )*
        }

        impl<'a> Fields<'a> for Event<'a> {
            fn kind(&self) -> EventKind {
                match self {
                    $( Event::$kind { .. } => EventKind::$kind, )*
                }
            }

            #[allow(unused_variables)]
            fn field(&self, index: u8) -> Option<Value<'a>> {
                match *self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $(
                                if index == field::$kind::$field as u8 {
                                    return Some(Value::$ty($field));
                                }
                            )*
                            None
                        }
                    )*
                }
            }
        }

        impl<'a> Event<'a> {
            /// Fills the fields the sensor derives from the verdict (those declared
            /// `[verdict]`: the name of the rule that kept the event).
            #[allow(unused_variables)]
            pub fn set_verdict(&mut self, rule: $crate::text::Text<'a>) {
                match self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $( $( let _ = stringify!($from_verdict); *$field = rule; )? )*
                        }
                    )*
                }
            }

            /// Hands every field's value to `visitor` in index order, stopping at
            /// the first error: one pass, no lookup by index (the encoder's path).
            #[inline]
            pub fn visit_values<V: ValueVisitor<'a>>(&self, visitor: &mut V) -> Result<(), V::Error> {
                match *self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $( visitor.visit(field::$kind::$field as u8, Value::$ty($field))?; )*
                        }
                    )*
                }
                Ok(())
            }

            /// Builds the typed event from any field source, or `None` when a
            /// field is missing or has the wrong type.
            pub fn from_fields<F: Fields<'a>>(src: &F) -> Option<Self> {
                Some(match src.kind() {
                    $(
                        EventKind::$kind => Event::$kind {
                            $( $field: FromValue::from_value(src.field(field::$kind::$field as u8)?)?, )*
                        },
                    )*
                })
            }
        }
    };
}

schema! {
    version 1;

    /// A process was created (Sysmon event 1).
    ProcessStart = 1, "process_start", activity true {
        /// The new process's id.
        pid: U32 => "process.pid",
        /// The parent named by the kernel (`ParentProcessId`).
        parent_pid: U32 => "process.parent.pid",
        /// The process that actually issued the create (`CreatingThreadId.UniqueProcess`).
        creating_pid: U32 => "ringfence.creator.pid",
        /// The thread that issued the create (`CreatingThreadId.UniqueThread`).
        creating_tid: U32 => "ringfence.creator.thread_id",
        /// Terminal-services session of the new process.
        session_id: U32 => "process.session_id",
        /// Full NT path of the image (`ImageFileName`); empty when absent.
        image_path: Str => "process.executable",
        /// The command line; empty when absent.
        command_line: Str => "process.command_line",
        /// A per-boot unique key for the process (`PsGetProcessStartKey`).
        start_key: U64 => "ringfence.process.start_key",
        /// When the process was created.
        create_time: Time => "process.start",
        /// `FileOpenNameAvailable`: the path is the name the file was opened by.
        image_name_available: Bool => "ringfence.process.image_name_available",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] => "rule.name",
    }

    /// A process exited (Sysmon event 5).
    ProcessExit = 2, "process_exit", activity true {
        pid: U32 => "process.pid",
        /// The process's exit status (an NTSTATUS).
        exit_status: U32 => "process.exit_code",
        /// When the exit was observed.
        time: Time => "process.end",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] => "rule.name",
    }

    /// An image (EXE, DLL or driver) was mapped (Sysmon event 7).
    ImageLoad = 3, "image_load", activity true {
        /// The process the image was mapped into; 0 for kernel images.
        pid: U32 => "process.pid",
        image_path: Str => "dll.path",
        image_base: U64 => "ringfence.image.base",
        image_size: U64 => "ringfence.image.size",
        /// `IMAGE_INFO.ImageSignatureLevel` (SE_SIGNING_LEVEL_*).
        signature_level: U32 => "ringfence.image.signature_level",
        /// `IMAGE_INFO.ImageSignatureType` (SE_IMAGE_SIGNATURE_TYPE).
        signature_type: U32 => "ringfence.image.signature_type",
        /// `IMAGE_INFO.SystemModeImage`: a kernel-mode image.
        kernel_image: Bool => "ringfence.image.kernel",
        time: Time => "event.created",
        /// The name of the include rule that kept the event; empty when none did.
        rule_name: Str [verdict] => "rule.name",
    }

    /// The queue was full: events were dropped. Sent as soon as space allows.
    LostEvents = 4, "lost_events", activity false {
        /// How many records were dropped.
        count: U64 => "ringfence.lost.count",
        /// Sequence number of the first dropped record.
        first_sequence: U64 => "ringfence.lost.first_sequence",
        /// Sequence number of the last dropped record.
        last_sequence: U64 => "ringfence.lost.last_sequence",
        process_start: U64 => "ringfence.lost.process_start",
        process_exit: U64 => "ringfence.lost.process_exit",
        image_load: U64 => "ringfence.lost.image_load",
        content_changed: U64 => "ringfence.lost.content_changed",
    }

    /// Content was offered to the driver and accepted or rejected.
    ContentChanged = 5, "content_changed", activity false {
        accepted: Bool => "ringfence.content.accepted",
        /// The version the offered content declares (0 when its header was unreadable).
        content_version: U32 => "ringfence.content.version",
        /// The content version active after the load.
        active_version: U32 => "ringfence.content.active_version",
        /// The validator's reason code (0 when accepted).
        reason: U32 => "ringfence.content.reason",
        /// The byte offset the reason refers to.
        offset: U32 => "ringfence.content.offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Text;

    #[test]
    fn every_kind_resolves_to_its_own_definition() {
        for kind in EventKind::ALL {
            assert_eq!(kind.def().kind, *kind);
            assert_eq!(SCHEMA.kind(*kind), Some(kind.def()));
            assert_eq!(EventKind::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(EventKind::from_code(0), None);
        assert_eq!(EventKind::from_code(6), None);
    }

    #[test]
    fn field_indices_follow_declaration_order() {
        let def = EventKind::ProcessStart.def();
        assert_eq!(def.field_count(), 11);
        assert_eq!(def.field_index("image_path"), Some(field::ProcessStart::image_path as u8));
        assert_eq!(def.field(5).map(|f| f.ty), Some(FieldType::Str));
        assert_eq!(def.field(11), None);
        assert!(!def.field(10).is_some_and(|f| f.matchable));
    }

    #[test]
    fn an_event_supplies_exactly_the_fields_its_kind_declares() {
        let event =
            Event::ProcessExit { pid: 4, exit_status: 0xC000_0005, time: 7, rule_name: Text::default() };
        assert_eq!(event.field(0), Some(Value::U32(4)));
        assert_eq!(event.field(1), Some(Value::U32(0xC000_0005)));
        assert_eq!(event.field(2), Some(Value::Time(7)));
        assert_eq!(event.field(3), Some(Value::Str(Text::default())));
        assert_eq!(event.field(4), None);
        for kind in EventKind::ALL {
            for (i, f) in kind.def().fields.iter().enumerate() {
                assert!(!f.ecs.is_empty(), "{}.{} has no ECS name", kind.name(), f.name);
                let _ = i;
            }
        }
    }

    #[test]
    fn the_verdict_fills_exactly_the_fields_declared_from_it() {
        let name: [u16; 2] = [0x72, 0x31];
        let mut exit = Event::ProcessExit { pid: 4, exit_status: 1, time: 2, rule_name: Text::default() };
        exit.set_verdict(Text::wide(&name));
        assert_eq!(
            exit,
            Event::ProcessExit { pid: 4, exit_status: 1, time: 2, rule_name: Text::wide(&name) }
        );
        for kind in EventKind::ALL {
            let verdict_fields = kind.def().fields.iter().filter(|f| !f.matchable).count();
            assert_eq!(verdict_fields, usize::from(kind.def().activity), "{}", kind.name());
        }
        let mut lost = Event::LostEvents {
            count: 1,
            first_sequence: 2,
            last_sequence: 2,
            process_start: 1,
            process_exit: 0,
            image_load: 0,
            content_changed: 0,
        };
        let before = lost;
        lost.set_verdict(Text::wide(&name));
        assert_eq!(lost, before);
    }

    #[test]
    fn a_typed_event_rebuilds_from_its_own_fields() {
        let path: [u16; 3] = [0x43, 0x3a, 0x5c];
        let event = Event::ImageLoad {
            pid: 0,
            image_path: Text::wide(&path),
            image_base: 0xffff_f800_0000_0000,
            image_size: 0x1000,
            signature_level: 12,
            signature_type: 1,
            kernel_image: true,
            time: 1,
            rule_name: Text::default(),
        };
        assert_eq!(Event::from_fields(&event), Some(event));
    }
}
