//! The two kinds of quantity the configuration writes as text: durations
//! (`250ms`, `30s`, `5m`, `1h`, `1d`) and byte sizes (`512 KiB`, `64 MiB`,
//! `1 GiB`, `10 MB`, `4096 B`). Anything else is refused, never guessed.

use std::time::Duration;

/// `"30s"` → 30 seconds. A number then a unit (`ms`, `s`, `m`, `h`, `d`),
/// optionally separated by one space. `None` when malformed or overflowing.
pub fn duration(text: &str) -> Option<Duration> {
    let (number, unit) = split(text)?;
    let millis: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(millis).map(Duration::from_millis)
}

/// `"64 MiB"` → 67,108,864. Binary units `KiB`, `MiB`, `GiB`, decimal `KB`,
/// `MB`, `GB`, or `B`. `None` when malformed or overflowing.
pub fn size(text: &str) -> Option<u64> {
    let (number, unit) = split(text)?;
    let factor: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// Digits, at most one space, then the unit.
fn split(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at_checked(digits)?;
    let unit = rest.strip_prefix(' ').unwrap_or(rest);
    if number.is_empty() || unit.is_empty() || unit.starts_with(' ') {
        return None;
    }
    Some((number.parse().ok()?, unit))
}

/// How a duration is written back in messages and records (`1h`, `250ms`).
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_number_and_one_unit() {
        let ms = |t| duration(t).map(|d| d.as_millis());
        assert_eq!(
            ["250ms", "30s", "5m", "5 min", "1h", "2d", "0s"].map(ms),
            [
                Some(250),
                Some(30_000),
                Some(300_000),
                Some(300_000),
                Some(3_600_000),
                Some(172_800_000),
                Some(0)
            ]
        );
        assert_eq!(
            ["30", "s", "1.5h", "1 h ", "1  h", "-1s", "1w", "", "99999999999999999999s"].map(ms),
            [None; 9]
        );
    }

    #[test]
    fn sizes_take_binary_or_decimal_units() {
        assert_eq!(
            ["4096 B", "512 KiB", "64MiB", "1 GiB", "10 MB", "2 KB", "3 GB"].map(size),
            [
                Some(4096),
                Some(524_288),
                Some(67_108_864),
                Some(1_073_741_824),
                Some(10_000_000),
                Some(2000),
                Some(3_000_000_000)
            ]
        );
        assert_eq!(["64", "64 mib", "1.5 GiB", "MiB", "18446744073709551615 KiB"].map(size), [None; 5]);
    }

    #[test]
    fn durations_are_shown_in_their_largest_whole_unit() {
        let show = |ms| show_duration(Duration::from_millis(ms));
        assert_eq!(
            [0, 250, 1000, 90_000, 3_600_000, 86_400_000].map(show),
            ["0s", "250ms", "1s", "90s", "1h", "1d"]
        );
    }
}
