//! SIDs, account names, integrity levels and elevation types.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ringfence_companion::enrich::account::{
    Account, AccountLookup, AccountName, AccountTable, Accounts, LookupFailure, well_known,
};
use ringfence_companion::enrich::sid::{MAX_SUB_AUTHORITIES, Sid, SidError};
use ringfence_companion::enrich::token::{ElevationType, IntegrityLevel, UnknownElevationType};

fn sid(text: &str) -> Sid {
    text.parse().unwrap()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[test]
fn sid_text_and_binary_forms_round_trip() {
    let user = sid("S-1-5-21-3623811015-3361044348-30300820-1013");
    assert_eq!(user.to_string(), "S-1-5-21-3623811015-3361044348-30300820-1013");
    let bytes = user.to_bytes();
    assert_eq!(bytes.len(), 8 + 4 * 5);
    assert_eq!(&bytes[..8], &[1, 5, 0, 0, 0, 0, 0, 5]);
    assert_eq!(Sid::from_bytes(&bytes).unwrap(), user);
    assert_eq!(user.rid(), Some(1013));
}

#[test]
fn the_system_sid_in_binary_is_what_a_token_holds() {
    // S-1-5-18 as the kernel copies it out of TOKEN_USER.
    let bytes = [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
    assert_eq!(Sid::from_bytes(&bytes).unwrap(), sid("S-1-5-18"));
}

#[test]
fn large_authorities_are_written_in_hex() {
    let odd = Sid::new(0x1234_5678_9abc, &[1]).unwrap();
    assert_eq!(odd.to_string(), "S-1-0x123456789ABC-1");
    assert_eq!(odd.to_string().parse::<Sid>().unwrap(), odd);
}

#[test]
fn malformed_binary_sids_are_refused_precisely() {
    assert_eq!(Sid::from_bytes(&[1, 1, 0]), Err(SidError::Truncated { len: 3, needed: 8 }));
    assert_eq!(
        Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]),
        Err(SidError::Truncated { len: 12, needed: 16 })
    );
    assert_eq!(
        Sid::from_bytes(&[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0, 0]),
        Err(SidError::TrailingBytes { len: 13, expected: 12 })
    );
    assert_eq!(Sid::from_bytes(&[2, 0, 0, 0, 0, 0, 0, 5]), Err(SidError::UnknownRevision { revision: 2 }));
    assert_eq!(
        Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]),
        Err(SidError::TooManySubAuthorities { count: 16 })
    );
}

#[test]
fn malformed_sid_text_is_refused_precisely() {
    assert_eq!("X-1-5".parse::<Sid>(), Err(SidError::NotSidText));
    assert_eq!("S-2-5".parse::<Sid>(), Err(SidError::NotSidText));
    assert_eq!("S-1-5-".parse::<Sid>(), Err(SidError::BadComponent { index: 1 }));
    assert_eq!("S-1-5-+3".parse::<Sid>(), Err(SidError::BadComponent { index: 1 }));
    assert_eq!("S-1-5-4294967296".parse::<Sid>(), Err(SidError::BadComponent { index: 1 }));
    assert_eq!("S-1-281474976710656-1".parse::<Sid>(), Err(SidError::BadComponent { index: 0 }));
    let too_many = format!("S-1-5{}", "-1".repeat(MAX_SUB_AUTHORITIES + 1));
    assert_eq!(too_many.parse::<Sid>(), Err(SidError::TooManySubAuthorities { count: 16 }));
}

#[test]
fn well_known_sids_have_the_names_windows_gives_them() {
    let cases = [
        ("S-1-5-18", r"NT AUTHORITY\SYSTEM"),
        ("S-1-5-19", r"NT AUTHORITY\LOCAL SERVICE"),
        ("S-1-5-20", r"NT AUTHORITY\NETWORK SERVICE"),
        ("S-1-5-7", r"NT AUTHORITY\ANONYMOUS LOGON"),
        ("S-1-5-11", r"NT AUTHORITY\Authenticated Users"),
        ("S-1-5-32-544", r"BUILTIN\Administrators"),
        ("S-1-5-32-545", r"BUILTIN\Users"),
        ("S-1-5-32-555", r"BUILTIN\Remote Desktop Users"),
        ("S-1-1-0", "Everyone"),
        ("S-1-5-90-0-1", r"Window Manager\DWM-1"),
        ("S-1-5-96-0-0", r"Font Driver Host\UMFD-0"),
        ("S-1-5-80-0", r"NT SERVICE\ALL SERVICES"),
        ("S-1-16-12288", r"Mandatory Label\High Mandatory Level"),
        ("S-1-15-2-1", r"APPLICATION PACKAGE AUTHORITY\ALL APPLICATION PACKAGES"),
    ];
    for (text, name) in cases {
        assert_eq!(well_known(&sid(text)).map(|n| n.to_string()).as_deref(), Some(name), "{text}");
    }
    assert_eq!(well_known(&sid("S-1-5-21-1-2-3-500")), None);
    assert_eq!(well_known(&sid("S-1-5-32-999")), None);
}

fn table() -> AccountTable {
    AccountTable(vec![(sid("S-1-5-21-1-2-3-1001"), AccountName::new("WORKSTATION", "alice"))])
}

#[test]
fn accounts_resolve_well_known_sids_without_a_lookup() {
    let accounts = Accounts::new(AccountTable::default(), 16, 4).unwrap();
    assert_eq!(accounts.resolve(&sid("S-1-5-18"), soon()).to_string(), r"NT AUTHORITY\SYSTEM");
    assert_eq!(accounts.counters().well_known.load(Ordering::Relaxed), 1);
    assert_eq!(accounts.cached(), 0);
}

#[test]
fn accounts_look_up_other_sids_once_and_answer_later_ones_from_the_cache() {
    let accounts = Accounts::new(table(), 16, 4).unwrap();
    let alice = sid("S-1-5-21-1-2-3-1001");
    assert_eq!(accounts.resolve(&alice, soon()).to_string(), r"WORKSTATION\alice");
    assert_eq!(accounts.resolve(&alice, soon()).to_string(), r"WORKSTATION\alice");
    let counters = accounts.counters();
    assert_eq!((counters.looked_up.load(Ordering::Relaxed), counters.cached.load(Ordering::Relaxed)), (1, 1));
}

#[test]
fn an_unknown_sid_is_written_as_itself_with_the_reason() {
    let accounts = Accounts::new(table(), 16, 4).unwrap();
    let stranger = sid("S-1-5-21-9-9-9-1001");
    assert_eq!(
        accounts.resolve(&stranger, soon()),
        Account::Unnamed { sid: "S-1-5-21-9-9-9-1001".into(), why: LookupFailure::NotFound }
    );
    // The miss is cached too: the database is not asked again.
    accounts.resolve(&stranger, soon());
    assert_eq!(accounts.counters().cached.load(Ordering::Relaxed), 1);
}

/// A lookup that answers only when the test lets it.
struct Gated(Mutex<mpsc::Receiver<()>>, AccountTable);

impl AccountLookup for Gated {
    fn lookup(&self, sid: &Sid) -> Result<AccountName, LookupFailure> {
        let _ = self.0.lock().unwrap().recv();
        self.1.lookup(sid)
    }
}

#[test]
fn a_slow_lookup_times_out_at_the_deadline_and_its_answer_serves_the_next_event() {
    let (release, gate) = mpsc::channel();
    let accounts = Arc::new(Accounts::new(Gated(Mutex::new(gate), table()), 16, 4).unwrap());
    let alice = sid("S-1-5-21-1-2-3-1001");
    let timed_out = accounts.resolve(&alice, Instant::now() + Duration::from_millis(20));
    assert_eq!(timed_out, Account::Unnamed { sid: alice.to_string(), why: LookupFailure::TimedOut });
    assert_eq!(accounts.counters().timed_out.load(Ordering::Relaxed), 1);
    release.send(()).unwrap();
    let deadline = soon();
    while accounts.cached() == 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(accounts.resolve(&alice, soon()).to_string(), r"WORKSTATION\alice");
}

#[test]
fn integrity_levels_have_sysmons_names() {
    let cases = [
        (0x0000, "Untrusted"),
        (0x1000, "Low"),
        (0x2000, "Medium"),
        (0x2100, "Medium Plus"),
        (0x3000, "High"),
        (0x4000, "System"),
        (0x5000, "Protected Process"),
        (0x7000, "Secure Process"),
        (0x2500, "S-1-16-9472"),
    ];
    for (rid, name) in cases {
        assert_eq!(IntegrityLevel::from_rid(rid).sysmon_name(false), name, "{rid:#x}");
    }
    assert_eq!(IntegrityLevel::LOW.sysmon_name(true), "AppContainer");
}

#[test]
fn elevation_types_are_the_three_windows_defines() {
    assert_eq!(ElevationType::from_u32(1).map(ElevationType::as_str), Ok("default"));
    assert_eq!(ElevationType::from_u32(2).map(ElevationType::windows_name), Ok("TokenElevationTypeFull"));
    assert_eq!(ElevationType::from_u32(3), Ok(ElevationType::Limited));
    assert_eq!(ElevationType::from_u32(0), Err(UnknownElevationType(0)));
    assert_eq!(ElevationType::from_u32(4), Err(UnknownElevationType(4)));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_sid_round_trips_through_text_and_binary(
            authority in 0u64..(1 << 48),
            subs in proptest::collection::vec(any::<u32>(), 0..=MAX_SUB_AUTHORITIES),
        ) {
            let sid = Sid::new(authority, &subs).unwrap();
            prop_assert_eq!(sid.to_string().parse::<Sid>(), Ok(sid.clone()));
            prop_assert_eq!(Sid::from_bytes(&sid.to_bytes()), Ok(sid));
        }

        #[test]
        fn any_bytes_parse_to_a_sid_or_a_precise_error(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(sid) = Sid::from_bytes(&bytes) {
                prop_assert_eq!(sid.to_bytes(), bytes);
            }
        }
    }
}
