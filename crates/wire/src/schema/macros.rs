//! `schema!`: one declaration in, every table and type out. A kernel field is
//! `name: Type [marker]… => "ecs.name"`, its markers any of `[optional]`
//! (may be absent), `[max N]` (longest string in UTF-16 units, most ids of
//! an id list), `[verdict]` (filled from the verdict's member of the same
//! name, see [`super::Verdict`]; not matchable) and `[truncation]` (the kind's
//! truncation bitmap). A kind may end with `+ companion { … }`: fields
//! only user mode computes, indexed from [`super::COMPANION_BASE`].

#[doc(hidden)]
#[macro_export]
macro_rules! __field_rust_type {
    (U32) => { u32 };
    (U64) => { u64 };
    (Bool) => { bool };
    (Time) => { u64 };
    (Str) => { $crate::text::Text<'a> };
    (Ids) => { $crate::text::Ids<'a> };
}

/// The Rust type of a field in [`crate::Event`]: `T`, or `Option<T>` when optional.
#[doc(hidden)]
#[macro_export]
macro_rules! __field_type {
    ($ty:ident;) => { $crate::__field_rust_type!($ty) };
    ($ty:ident; [optional] $($rest:tt)*) => { ::core::option::Option<$crate::__field_rust_type!($ty)> };
    ($ty:ident; [$($m:tt)+] $($rest:tt)*) => { $crate::__field_type!($ty; $($rest)*) };
}

/// `{ then } { else } markers…`: `then` when the markers include `[optional]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_optional {
    ({$($t:tt)*} {$($e:tt)*}) => { $($e)* };
    ({$($t:tt)*} {$($e:tt)*} [optional] $($rest:tt)*) => { $($t)* };
    ({$($t:tt)*} {$($e:tt)*} [$($m:tt)+] $($rest:tt)*) => { $crate::__if_optional!({$($t)*} {$($e)*} $($rest)*) };
}

/// `{ then } { else } markers…`: `then` when the markers include `[verdict]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_verdict {
    ({$($t:tt)*} {$($e:tt)*}) => { $($e)* };
    ({$($t:tt)*} {$($e:tt)*} [verdict] $($rest:tt)*) => { $($t)* };
    ({$($t:tt)*} {$($e:tt)*} [$($m:tt)+] $($rest:tt)*) => { $crate::__if_verdict!({$($t)*} {$($e)*} $($rest)*) };
}

/// `{ then } { else } markers…`: `then` when the markers include `[truncation]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_truncation {
    ({$($t:tt)*} {$($e:tt)*}) => { $($e)* };
    ({$($t:tt)*} {$($e:tt)*} [truncation] $($rest:tt)*) => { $($t)* };
    ({$($t:tt)*} {$($e:tt)*} [$($m:tt)+] $($rest:tt)*) => { $crate::__if_truncation!({$($t)*} {$($e)*} $($rest)*) };
}

/// A field's `max_units`: its `[max N]`, else its type's default.
#[doc(hidden)]
#[macro_export]
macro_rules! __max_units {
    ($ty:ident;) => { $crate::schema::FieldType::$ty.default_max_units() };
    ($ty:ident; [max $n:expr] $($rest:tt)*) => { $n };
    ($ty:ident; [$($m:tt)+] $($rest:tt)*) => { $crate::__max_units!($ty; $($rest)*) };
}

/// A field's value as [`crate::schema::Lookup`].
#[doc(hidden)]
#[macro_export]
macro_rules! __lookup {
    ($ty:ident, $v:expr; $($markers:tt)*) => {
        $crate::__if_optional!(
            { match $v {
                ::core::option::Option::Some(v) => $crate::schema::Lookup::Value($crate::text::Value::$ty(v)),
                ::core::option::Option::None => $crate::schema::Lookup::Absent,
            } }
            { $crate::schema::Lookup::Value($crate::text::Value::$ty($v)) }
            $($markers)*
        )
    };
}

/// A field's value as the encoder visits it: `None` when absent.
#[doc(hidden)]
#[macro_export]
macro_rules! __present {
    ($ty:ident, $v:expr; $($markers:tt)*) => {
        $crate::__if_optional!(
            { $v.map($crate::text::Value::$ty) }
            { ::core::option::Option::Some($crate::text::Value::$ty($v)) }
            $($markers)*
        )
    };
}

/// A typed field from a lookup: `None` (the event cannot be built) when a
/// required field has no value, has the wrong type, or is unknown.
#[doc(hidden)]
#[macro_export]
macro_rules! __from_lookup {
    ($l:expr; $($markers:tt)*) => {
        $crate::__if_optional!(
            { match $l {
                $crate::schema::Lookup::Value(v) => $crate::text::FromValue::from_value(v).map(::core::option::Option::Some),
                $crate::schema::Lookup::Absent => ::core::option::Option::Some(::core::option::Option::None),
                $crate::schema::Lookup::Unknown => ::core::option::Option::None,
            } }
            { match $l {
                $crate::schema::Lookup::Value(v) => $crate::text::FromValue::from_value(v),
                _ => ::core::option::Option::None,
            } }
            $($markers)*
        )
    };
}

macro_rules! schema {
    (
        version $version:literal;
        $(
            $(#[doc = $kdoc:literal])*
            $kind:ident = $code:literal, $kname:literal, activity $activity:literal {
                $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ident $([$($marker:tt)+])* => $ecs:literal ),* $(,)?
            }
            $( + companion {
                $( $(#[doc = $cdoc:literal])* $cfield:ident : $cty:ident => $cecs:literal ),* $(,)?
            } )?
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

        /// Kernel field indices by kind: `field::ProcessStart::image_path as u8`.
        pub mod field {
            $(
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                #[repr(u8)]
                pub enum $kind { $( $field, )* }
            )*
        }

        /// Companion field indices by kind, from [`COMPANION_BASE`]:
        /// `companion::ProcessStart::hashes as u8`.
        pub mod companion {
            $(
                // `__Base` only positions the discriminants; it is not a marker of non-exhaustiveness.
                #[allow(non_camel_case_types, clippy::manual_non_exhaustive)]
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                #[repr(u8)]
                pub enum $kind {
                    /// Not a field: makes the first companion field [`super::COMPANION_BASE`].
                    #[doc(hidden)]
                    __Base = super::COMPANION_BASE.wrapping_sub(1),
                    $( $( $cfield, )* )?
                }
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
                        matchable: $crate::__if_verdict!({ false } { true } $([$($marker)+])*),
                        optional: $crate::__if_optional!({ true } { false } $([$($marker)+])*),
                        max_units: $crate::__max_units!($ty; $([$($marker)+])*),
                        truncation: $crate::__if_truncation!({ true } { false } $([$($marker)+])*),
                        origin: Origin::Kernel,
                    }, )* ],
                    companion: &[ $( $( FieldDef {
                        name: stringify!($cfield),
                        ty: FieldType::$cty,
                        ecs: $cecs,
                        doc: concat!($($cdoc),*),
                        matchable: true,
                        optional: true,
                        max_units: FieldType::$cty.default_max_units(),
                        truncation: false,
                        origin: Origin::Companion,
                    }, )* )? ],
                };
            )*
        }

        /// The schema this build of ringfence supplies.
        pub static SCHEMA: Schema = Schema {
            version: SCHEMA_VERSION,
            kinds: &[ $( kinds::$kind ),* ],
        };

        /// One event, typed: what the driver's callbacks build and what a
        /// decoded record turns back into. Optional fields are `Option`s.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event<'a> {
            $(
                $(#[doc = $kdoc])*
                $kind { $( $(#[doc = $fdoc])* $field: $crate::__field_type!($ty; $([$($marker)+])*), )* },
            )*
        }

        impl<'a> Fields<'a> for Event<'a> {
            fn kind(&self) -> EventKind {
                match self {
                    $( Event::$kind { .. } => EventKind::$kind, )*
                }
            }

            #[allow(unused_variables)]
            fn lookup(&self, index: u8) -> Lookup<'a> {
                match *self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $(
                                if index == field::$kind::$field as u8 {
                                    return $crate::__lookup!($ty, $field; $([$($marker)+])*);
                                }
                            )*
                        }
                    )*
                }
                self.kind().def().beyond_kernel(index)
            }
        }

        impl<'a> Event<'a> {
            /// Fills the fields the sensor derives from the verdict (those declared
            /// `[verdict]`), each from the [`Verdict`] member of its name.
            #[allow(unused_variables)]
            pub fn set_verdict(&mut self, verdict: &Verdict<'a>) {
                match self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $( $crate::__if_verdict!({ *$field = verdict.$field; } {} $([$($marker)+])*); )*
                        }
                    )*
                }
            }

            /// Hands every field's value to `visitor` in index order (`None` for an
            /// absent one), stopping at the first error: one pass, no lookup by
            /// index (the encoder's path).
            #[inline]
            pub fn visit_values<V: ValueVisitor<'a>>(&self, visitor: &mut V) -> Result<(), V::Error> {
                match *self {
                    $(
                        Event::$kind { $( $field, )* } => {
                            $( visitor.visit(
                                field::$kind::$field as u8,
                                $crate::__present!($ty, $field; $([$($marker)+])*),
                            )?; )*
                        }
                    )*
                }
                Ok(())
            }

            /// Builds the typed event from any field source, or `None` when a
            /// required field is missing, any field has the wrong type, or the
            /// source does not know a kernel field.
            pub fn from_fields<F: Fields<'a>>(src: &F) -> Option<Self> {
                Some(match src.kind() {
                    $(
                        EventKind::$kind => Event::$kind {
                            $( $field: $crate::__from_lookup!(
                                src.lookup(field::$kind::$field as u8); $([$($marker)+])*
                            )?, )*
                        },
                    )*
                })
            }
        }
    };
}
