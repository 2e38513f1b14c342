//! The one field table: each Sigma field name, per event kind, and where its
//! value comes from — a kernel record field of `ringfence-wire`'s schema
//! (possibly rendered the way Sysmon writes it), a companion field, or nothing
//! ringfence produces (with the reason).

use ringfence_wire::EventKind;

/// A Sigma field ringfence can match on. What it refers to depends on the
/// event kind: in `image_load`, `Image` is the loading process and
/// `ImageLoaded` the mapped file, as in Sysmon's event 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Image,
    CommandLine,
    ParentImage,
    ParentCommandLine,
    User,
    ParentUser,
    IntegrityLevel,
    LogonId,
    TerminalSessionId,
    ProcessId,
    ParentProcessId,
    ImageLoaded,
    OriginalFileName,
    FileVersion,
    Description,
    Product,
    Company,
    Hashes,
    Signed,
    SignatureStatus,
}

impl Field {
    /// Every field, in declaration order ([`Field::index`] is the position).
    pub const ALL: [Field; 20] = [
        Field::Image,
        Field::CommandLine,
        Field::ParentImage,
        Field::ParentCommandLine,
        Field::User,
        Field::ParentUser,
        Field::IntegrityLevel,
        Field::LogonId,
        Field::TerminalSessionId,
        Field::ProcessId,
        Field::ParentProcessId,
        Field::ImageLoaded,
        Field::OriginalFileName,
        Field::FileVersion,
        Field::Description,
        Field::Product,
        Field::Company,
        Field::Hashes,
        Field::Signed,
        Field::SignatureStatus,
    ];

    /// The position in [`Field::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The Sigma (Sysmon EventData) name.
    pub const fn sigma_name(self) -> &'static str {
        match self {
            Field::Image => "Image",
            Field::CommandLine => "CommandLine",
            Field::ParentImage => "ParentImage",
            Field::ParentCommandLine => "ParentCommandLine",
            Field::User => "User",
            Field::ParentUser => "ParentUser",
            Field::IntegrityLevel => "IntegrityLevel",
            Field::LogonId => "LogonId",
            Field::TerminalSessionId => "TerminalSessionId",
            Field::ProcessId => "ProcessId",
            Field::ParentProcessId => "ParentProcessId",
            Field::ImageLoaded => "ImageLoaded",
            Field::OriginalFileName => "OriginalFileName",
            Field::FileVersion => "FileVersion",
            Field::Description => "Description",
            Field::Product => "Product",
            Field::Company => "Company",
            Field::Hashes => "Hashes",
            Field::Signed => "Signed",
            Field::SignatureStatus => "SignatureStatus",
        }
    }

    /// Whether the value is an integer (otherwise text).
    pub const fn is_integer(self) -> bool {
        matches!(self, Field::TerminalSessionId | Field::ProcessId | Field::ParentProcessId)
    }

    /// Where this field's value comes from in events of `kind`.
    pub fn source(self, kind: EventKind) -> Source {
        table(kind)
            .iter()
            .find(|(field, _)| *field == self)
            .map_or(Source::Unsupported(NOT_IN_KIND), |(_, s)| *s)
    }
}

/// How a kernel field becomes the Sigma value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rendering {
    /// As the kernel reports it.
    Verbatim,
    /// An NT path, as a DOS path through the volume map (`\Device\HarddiskVolume3\x` → `C:\x`).
    DosPath,
    /// A SID, as `DOMAIN\user` through the SID names.
    AccountName,
    /// A mandatory label RID, as Sysmon's `IntegrityLevel` name (`Medium`, `High`, …).
    IntegrityName,
    /// A 64-bit id, as Sysmon's `0x…` hexadecimal.
    Hex,
}

/// Where a Sigma field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The kernel record's field `wire` (a `ringfence-wire` schema name), rendered.
    Kernel { wire: &'static str, rendering: Rendering },
    /// The companion field `wire` (a `ringfence-wire` companion field name).
    Companion { wire: &'static str },
    /// Not produced by ringfence; the reason.
    Unsupported(&'static str),
}

impl Source {
    pub const fn is_kernel(self) -> bool {
        matches!(self, Source::Kernel { .. })
    }
}

const NOT_IN_KIND: &str = "Sysmon has no such field for this event kind";

use Rendering::{AccountName, DosPath, Hex, IntegrityName, Verbatim};

const fn kernel(wire: &'static str, rendering: Rendering) -> Source {
    Source::Kernel { wire, rendering }
}

const fn companion(wire: &'static str) -> Source {
    Source::Companion { wire }
}

/// A name Sigma rules use that ringfence does not produce.
#[derive(Clone, Copy, Debug)]
struct Unsupported {
    name: &'static str,
    reason: &'static str,
}

const CURRENT_DIRECTORY: Unsupported = Unsupported {
    name: "CurrentDirectory",
    reason: "it lives in the new process's PEB, user memory the kernel callback does not read",
};
const LOGON_GUID: Unsupported = Unsupported {
    name: "LogonGuid",
    reason: "it needs the logon session's start time, which ringfence does not collect",
};
const SIGNATURE: Unsupported = Unsupported {
    name: "Signature",
    reason: "the signer's name needs the file's Authenticode or catalog signature, which is not read",
};

/// Process creation: Sysmon event 1.
const PROCESS_START: &[(Field, Source)] = &[
    (Field::Image, kernel("image_path", DosPath)),
    (Field::CommandLine, kernel("command_line", Verbatim)),
    (Field::ParentImage, kernel("parent_image_path", DosPath)),
    (Field::ParentCommandLine, kernel("parent_command_line", Verbatim)),
    (Field::User, kernel("user_sid", AccountName)),
    (Field::ParentUser, kernel("parent_user_sid", AccountName)),
    (Field::IntegrityLevel, kernel("integrity_level", IntegrityName)),
    (Field::LogonId, kernel("logon_id", Hex)),
    (Field::TerminalSessionId, kernel("session_id", Verbatim)),
    (Field::ProcessId, kernel("pid", Verbatim)),
    (Field::ParentProcessId, kernel("parent_pid", Verbatim)),
    (Field::OriginalFileName, companion("original_file_name")),
    (Field::FileVersion, companion("file_version")),
    (Field::Description, companion("description")),
    (Field::Product, companion("product")),
    (Field::Company, companion("company")),
    (Field::Hashes, companion("hashes")),
];
const PROCESS_START_UNSUPPORTED: &[Unsupported] = &[CURRENT_DIRECTORY, LOGON_GUID];

/// Image load: Sysmon event 7.
const IMAGE_LOAD: &[(Field, Source)] = &[
    (Field::Image, kernel("process_image_path", DosPath)),
    (Field::ImageLoaded, kernel("image_path", DosPath)),
    (Field::User, kernel("user_sid", AccountName)),
    (Field::ProcessId, kernel("pid", Verbatim)),
    (Field::OriginalFileName, companion("original_file_name")),
    (Field::FileVersion, companion("file_version")),
    (Field::Description, companion("description")),
    (Field::Product, companion("product")),
    (Field::Company, companion("company")),
    (Field::Hashes, companion("hashes")),
    (Field::Signed, companion("signed")),
    (Field::SignatureStatus, companion("signature_status")),
];
const IMAGE_LOAD_UNSUPPORTED: &[Unsupported] = &[SIGNATURE];

/// Process termination: Sysmon event 5.
const PROCESS_EXIT: &[(Field, Source)] = &[
    (Field::Image, kernel("image_path", DosPath)),
    (Field::User, kernel("user_sid", AccountName)),
    (Field::ProcessId, kernel("pid", Verbatim)),
];

/// The table of `kind`: every matchable field with its source.
pub fn table(kind: EventKind) -> &'static [(Field, Source)] {
    match kind {
        EventKind::ProcessStart => PROCESS_START,
        EventKind::ImageLoad => IMAGE_LOAD,
        EventKind::ProcessExit => PROCESS_EXIT,
        _ => &[],
    }
}

fn unsupported(kind: EventKind) -> &'static [Unsupported] {
    match kind {
        EventKind::ProcessStart => PROCESS_START_UNSUPPORTED,
        EventKind::ImageLoad => IMAGE_LOAD_UNSUPPORTED,
        _ => &[],
    }
}

/// Resolves a Sigma field name (exactly as Sysmon spells it) for `kind`.
pub fn resolve(kind: EventKind, sigma_name: &str) -> Resolved {
    if let Some((field, _)) = table(kind).iter().find(|(field, _)| field.sigma_name() == sigma_name) {
        return Resolved::Field(*field);
    }
    if let Some(u) = unsupported(kind).iter().find(|u| u.name == sigma_name) {
        return Resolved::Unsupported(u.reason);
    }
    if Field::ALL.iter().any(|f| f.sigma_name() == sigma_name) {
        return Resolved::Unsupported(NOT_IN_KIND);
    }
    Resolved::Unknown
}

/// What a Sigma field name is in one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    Field(Field),
    /// Known to Sysmon, not produced by ringfence: why.
    Unsupported(&'static str),
    /// No field of that name.
    Unknown,
}
