//! SIDs to `DOMAIN\user`, as Sysmon's `User` shows them.
//!
//! Well-known SIDs are named here, on every platform, with the names an
//! English Windows gives them (`NT AUTHORITY\SYSTEM`, `BUILTIN\Administrators`,
//! `Window Manager\DWM-1`, …). Every other SID goes to an [`AccountLookup`]
//! (`LookupAccountSid` on Windows; a table given by the scenario in
//! emulation) on the worker threads, since a domain account may take a domain
//! controller's round trip; answers, found or not, are cached in a bounded
//! cache.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::cache::BoundedCache;
use super::sid::Sid;
use super::workers::Workers;

/// A resolved account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountName {
    pub domain: String,
    pub name: String,
}

impl AccountName {
    pub fn new(domain: &str, name: &str) -> Self {
        AccountName { domain: domain.to_owned(), name: name.to_owned() }
    }
}

impl fmt::Display for AccountName {
    /// `DOMAIN\name`; a name whose domain is empty (`Everyone`) alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}\\{}", self.domain, self.name)
        }
    }
}

/// Why a SID has no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFailure {
    /// The account database does not know the SID (`ERROR_NONE_MAPPED`).
    NotFound,
    /// The lookup failed with this Win32 error.
    Failed { code: u32 },
    /// The answer did not arrive before the event's deadline (it is cached when it does).
    TimedOut,
    /// The lookup queue was full.
    Busy,
}

impl fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupFailure::NotFound => f.write_str("not found"),
            LookupFailure::Failed { code } => write!(f, "lookup failed (error {code})"),
            LookupFailure::TimedOut => f.write_str("timed out"),
            LookupFailure::Busy => f.write_str("lookup queue full"),
        }
    }
}

/// The platform's account database.
pub trait AccountLookup: Send + Sync + 'static {
    fn lookup(&self, sid: &Sid) -> Result<AccountName, LookupFailure>;
}

impl<T: AccountLookup + ?Sized> AccountLookup for Box<T> {
    fn lookup(&self, sid: &Sid) -> Result<AccountName, LookupFailure> {
        (**self).lookup(sid)
    }
}

/// A fixed table of accounts: the scenario's users in emulation, and the
/// whole database where no other exists.
#[derive(Clone, Debug, Default)]
pub struct AccountTable(pub Vec<(Sid, AccountName)>);

impl AccountLookup for AccountTable {
    fn lookup(&self, sid: &Sid) -> Result<AccountName, LookupFailure> {
        self.0.iter().find(|(s, _)| s == sid).map(|(_, n)| n.clone()).ok_or(LookupFailure::NotFound)
    }
}

/// What a SID resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account {
    Named(Arc<AccountName>),
    /// No name: the SID string stands in (Sysmon writes the same), with the reason.
    Unnamed {
        sid: String,
        why: LookupFailure,
    },
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Named(name) => name.fmt(f),
            Account::Unnamed { sid, .. } => f.write_str(sid),
        }
    }
}

type Answer = Result<Arc<AccountName>, LookupFailure>;

/// Resolves SIDs: well-known names at once, the rest through the lookup on
/// worker threads, every answer cached.
#[derive(Debug)]
pub struct Accounts {
    cache: Arc<BoundedCache<Sid, Answer>>,
    workers: Workers<Sid, Answer>,
    counters: AccountCounters,
}

/// How SIDs were resolved since start.
#[derive(Debug, Default)]
pub struct AccountCounters {
    pub well_known: AtomicU64,
    pub cached: AtomicU64,
    pub looked_up: AtomicU64,
    pub timed_out: AtomicU64,
    pub busy: AtomicU64,
}

impl Accounts {
    /// `capacity` cached answers, one lookup thread, `queue` SIDs waiting at most.
    pub fn new(lookup: impl AccountLookup, capacity: usize, queue: usize) -> std::io::Result<Self> {
        let cache: Arc<BoundedCache<Sid, Answer>> = Arc::new(BoundedCache::new(capacity));
        let filled = Arc::clone(&cache);
        let workers = Workers::new("ringfence-accounts", 1, queue, move |sid: &Sid| {
            let answer = lookup.lookup(sid).map(Arc::new);
            filled.insert(sid.clone(), answer.clone());
            answer
        })?;
        Ok(Accounts { cache, workers, counters: AccountCounters::default() })
    }

    /// The account of `sid`, waiting for a lookup until `deadline` at the latest.
    pub fn resolve(&self, sid: &Sid, deadline: Instant) -> Account {
        let answer = if let Some(name) = well_known(sid) {
            self.counters.well_known.fetch_add(1, Ordering::Relaxed);
            Ok(Arc::new(name))
        } else if let Some(answer) = self.cache.get(sid) {
            self.counters.cached.fetch_add(1, Ordering::Relaxed);
            answer
        } else {
            match self.workers.submit(sid.clone()) {
                Ok(pending) => match pending.wait_until(deadline) {
                    Some(answer) => {
                        self.counters.looked_up.fetch_add(1, Ordering::Relaxed);
                        answer
                    }
                    None => {
                        self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                        Err(LookupFailure::TimedOut)
                    }
                },
                Err(_) => {
                    self.counters.busy.fetch_add(1, Ordering::Relaxed);
                    Err(LookupFailure::Busy)
                }
            }
        };
        match answer {
            Ok(name) => Account::Named(name),
            Err(why) => Account::Unnamed { sid: sid.to_string(), why },
        }
    }

    pub fn counters(&self) -> &AccountCounters {
        &self.counters
    }

    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

const NT_AUTHORITY: &str = "NT AUTHORITY";
const BUILTIN: &str = "BUILTIN";

/// The name Windows gives a well-known SID, on every machine alike.
pub fn well_known(sid: &Sid) -> Option<AccountName> {
    let subs = sid.sub_authorities();
    let named = |domain: &str, name: &str| Some(AccountName::new(domain, name));
    match (sid.authority(), subs) {
        (0, [0]) => named("", "NULL SID"),
        (1, [0]) => named("", "Everyone"),
        (2, [0]) => named("", "LOCAL"),
        (2, [1]) => named("", "CONSOLE LOGON"),
        (3, [0]) => named("", "CREATOR OWNER"),
        (3, [1]) => named("", "CREATOR GROUP"),
        (5, [rid]) => nt_authority(*rid).map(|name| AccountName::new(NT_AUTHORITY, name)),
        (5, [32, rid]) => builtin(*rid).map(|name| AccountName::new(BUILTIN, name)),
        (5, [64, 10]) => named(NT_AUTHORITY, "NTLM Authentication"),
        (5, [64, 14]) => named(NT_AUTHORITY, "SChannel Authentication"),
        (5, [64, 21]) => named(NT_AUTHORITY, "Digest Authentication"),
        (5, [80, 0]) => named("NT SERVICE", "ALL SERVICES"),
        (5, [83, 0]) => named("NT VIRTUAL MACHINE", "Virtual Machines"),
        (5, [90, 0]) => named("Window Manager", "Window Manager Group"),
        // The per-session accounts of dwm.exe and fontdrvhost.exe.
        (5, [90, 0, session]) => {
            Some(AccountName { domain: "Window Manager".into(), name: format!("DWM-{session}") })
        }
        (5, [96, 0, session]) => {
            Some(AccountName { domain: "Font Driver Host".into(), name: format!("UMFD-{session}") })
        }
        (15, [2, 1]) => named("APPLICATION PACKAGE AUTHORITY", "ALL APPLICATION PACKAGES"),
        (15, [2, 2]) => named("APPLICATION PACKAGE AUTHORITY", "ALL RESTRICTED APPLICATION PACKAGES"),
        (16, [rid]) => super::token::IntegrityLevel::from_rid(*rid)
            .label_name()
            .map(|name| AccountName::new("Mandatory Label", name)),
        _ => None,
    }
}

fn nt_authority(rid: u32) -> Option<&'static str> {
    Some(match rid {
        1 => "DIALUP",
        2 => "NETWORK",
        3 => "BATCH",
        4 => "INTERACTIVE",
        6 => "SERVICE",
        7 => "ANONYMOUS LOGON",
        8 => "PROXY",
        9 => "ENTERPRISE DOMAIN CONTROLLERS",
        10 => "SELF",
        11 => "Authenticated Users",
        12 => "RESTRICTED",
        13 => "TERMINAL SERVER USER",
        14 => "REMOTE INTERACTIVE LOGON",
        15 => "This Organization",
        17 => "IUSR",
        18 => "SYSTEM",
        19 => "LOCAL SERVICE",
        20 => "NETWORK SERVICE",
        33 => "WRITE RESTRICTED",
        113 => "Local account",
        114 => "Local account and member of Administrators group",
        _ => return None,
    })
}

fn builtin(rid: u32) -> Option<&'static str> {
    Some(match rid {
        544 => "Administrators",
        545 => "Users",
        546 => "Guests",
        547 => "Power Users",
        548 => "Account Operators",
        549 => "Server Operators",
        550 => "Print Operators",
        551 => "Backup Operators",
        552 => "Replicator",
        554 => "Pre-Windows 2000 Compatible Access",
        555 => "Remote Desktop Users",
        556 => "Network Configuration Operators",
        558 => "Performance Monitor Users",
        559 => "Performance Log Users",
        560 => "Windows Authorization Access Group",
        561 => "Terminal Server License Servers",
        562 => "Distributed COM Users",
        568 => "IIS_IUSRS",
        569 => "Cryptographic Operators",
        573 => "Event Log Readers",
        574 => "Certificate Service DCOM Access",
        575 => "RDS Remote Access Servers",
        576 => "RDS Endpoint Servers",
        577 => "RDS Management Servers",
        578 => "Hyper-V Administrators",
        579 => "Access Control Assistance Operators",
        580 => "Remote Management Users",
        _ => return None,
    })
}
