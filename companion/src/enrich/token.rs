//! What a process token says beyond its user: integrity level and elevation type.

use std::borrow::Cow;
use std::fmt;

/// A mandatory integrity level: the RID of the token's `S-1-16-N` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntegrityLevel(u32);

/// The levels Windows names (`SECURITY_MANDATORY_*_RID`), with the account
/// name of their label SID.
const LEVELS: [(u32, &str); 8] = [
    (0x0000, "Untrusted Mandatory Level"),
    (0x1000, "Low Mandatory Level"),
    (0x2000, "Medium Mandatory Level"),
    (0x2100, "Medium Plus Mandatory Level"),
    (0x3000, "High Mandatory Level"),
    (0x4000, "System Mandatory Level"),
    (0x5000, "Protected Process Mandatory Level"),
    (0x7000, "Secure Process Mandatory Level"),
];

impl IntegrityLevel {
    pub const UNTRUSTED: Self = IntegrityLevel(0x0000);
    pub const LOW: Self = IntegrityLevel(0x1000);
    pub const MEDIUM: Self = IntegrityLevel(0x2000);
    pub const MEDIUM_PLUS: Self = IntegrityLevel(0x2100);
    pub const HIGH: Self = IntegrityLevel(0x3000);
    pub const SYSTEM: Self = IntegrityLevel(0x4000);
    pub const PROTECTED_PROCESS: Self = IntegrityLevel(0x5000);

    pub fn from_rid(rid: u32) -> Self {
        IntegrityLevel(rid)
    }

    pub fn rid(self) -> u32 {
        self.0
    }

    /// `Medium Mandatory Level`: the account name of the label SID, for the levels Windows names.
    pub fn label_name(self) -> Option<&'static str> {
        LEVELS.iter().find(|(rid, _)| *rid == self.0).map(|(_, name)| *name)
    }

    /// Sysmon's `IntegrityLevel`: `AppContainer` for an AppContainer token,
    /// otherwise the label's name without ` Mandatory Level` (`Low`, `Medium`,
    /// `High`, `System`, `Untrusted`, …); a level Windows does not name is
    /// written as its label SID, `S-1-16-N`.
    pub fn sysmon_name(self, app_container: bool) -> Cow<'static, str> {
        if app_container {
            return Cow::Borrowed("AppContainer");
        }
        // One rendering for output and for Sigma, which the kernel-stage lowering inverts.
        ringfence_detect::integrity::sysmon_name(self.0)
    }
}

/// `TOKEN_ELEVATION_TYPE`: whether UAC split the user's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElevationType {
    /// `TokenElevationTypeDefault` (1): no split token (UAC off, a service, the built-in Administrator).
    Default,
    /// `TokenElevationTypeFull` (2): the elevated half of a split token.
    Full,
    /// `TokenElevationTypeLimited` (3): the filtered half of a split token.
    Limited,
}

/// A value that is not a `TOKEN_ELEVATION_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownElevationType(pub u32);

impl fmt::Display for UnknownElevationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a token elevation type (1 to 3)", self.0)
    }
}

impl std::error::Error for UnknownElevationType {}

impl ElevationType {
    pub fn from_u32(value: u32) -> Result<Self, UnknownElevationType> {
        match value {
            1 => Ok(ElevationType::Default),
            2 => Ok(ElevationType::Full),
            3 => Ok(ElevationType::Limited),
            other => Err(UnknownElevationType(other)),
        }
    }

    /// `default`, `full`, `limited`: the words Elastic's endpoint uses for
    /// `process.Ext.token.elevation_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ElevationType::Default => "default",
            ElevationType::Full => "full",
            ElevationType::Limited => "limited",
        }
    }

    /// `TokenElevationTypeFull`, the Windows SDK's name.
    pub fn windows_name(self) -> &'static str {
        match self {
            ElevationType::Default => "TokenElevationTypeDefault",
            ElevationType::Full => "TokenElevationTypeFull",
            ElevationType::Limited => "TokenElevationTypeLimited",
        }
    }
}
