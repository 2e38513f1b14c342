//! Windows FILETIME (100-ns intervals since 1601-01-01 UTC) to RFC 3339.

/// FILETIME of 1970-01-01T00:00:00Z, in seconds.
const UNIX_EPOCH_SECONDS: u64 = 11_644_473_600;
const TICKS_PER_SECOND: u64 = 10_000_000;

/// `2024-07-19T04:09:00.1234567Z`: UTC, all seven fractional digits, so that no
/// precision is lost. `None` past 9999-12-31, which RFC 3339 cannot write.
pub fn rfc3339(filetime: u64) -> Option<String> {
    let seconds = filetime / TICKS_PER_SECOND;
    let ticks = filetime % TICKS_PER_SECOND;
    let days = i64::try_from(seconds / 86_400).ok()?;
    let of_day = seconds % 86_400;
    let unix_days = days.checked_sub(i64::try_from(UNIX_EPOCH_SECONDS / 86_400).ok()?)?;
    let (year, month, day) = civil_from_days(unix_days)?;
    if year > 9999 {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ticks:07}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    ))
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> Option<(i64, u32, u32)> {
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).ok()?;
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).ok()?;
    let year = yoe.checked_add(era.checked_mul(400)?)?.checked_add(i64::from(month <= 2))?;
    Some((year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filetime_epoch_is_1601() {
        assert_eq!(rfc3339(0).as_deref(), Some("1601-01-01T00:00:00.0000000Z"));
    }

    #[test]
    fn the_unix_epoch_and_a_known_instant_convert_exactly() {
        assert_eq!(rfc3339(116_444_736_000_000_000).as_deref(), Some("1970-01-01T00:00:00.0000000Z"));
        // 2024-07-19T04:09:00Z is Unix 1721362140.
        let ft = (1_721_362_140 + UNIX_EPOCH_SECONDS) * TICKS_PER_SECOND + 1_234_567;
        assert_eq!(rfc3339(ft).as_deref(), Some("2024-07-19T04:09:00.1234567Z"));
    }

    #[test]
    fn leap_days_are_dated_correctly() {
        // 2000-02-29T23:59:59Z is Unix 951868799.
        let ft = (951_868_799 + UNIX_EPOCH_SECONDS) * TICKS_PER_SECOND;
        assert_eq!(rfc3339(ft).as_deref(), Some("2000-02-29T23:59:59.0000000Z"));
    }

    #[test]
    fn times_past_year_9999_have_no_rfc3339_form() {
        assert_eq!(rfc3339(u64::MAX), None);
        // 9999-12-31T23:59:59Z is Unix 253402300799.
        let last = (253_402_300_799 + UNIX_EPOCH_SECONDS) * TICKS_PER_SECOND + 9_999_999;
        assert_eq!(rfc3339(last).as_deref(), Some("9999-12-31T23:59:59.9999999Z"));
        assert_eq!(rfc3339(last + 1), None);
    }
}
