//! SOA serial numbers: the next serial after a change, compared in RFC 1982
//! serial-number arithmetic so that secondaries always see an increase.

use std::time::{SystemTime, UNIX_EPOCH};

/// Whether `a` is greater than `b` in RFC 1982 arithmetic (SERIAL_BITS 32).
pub(crate) fn serial_gt(a: u32, b: u32) -> bool {
    let diff = a.wrapping_sub(b);
    diff != 0 && diff < (1 << 31)
}

/// Whether `serial` reads as `YYYYMMDDnn` with a plausible date.
fn is_date_serial(serial: u32) -> bool {
    let date = serial / 100;
    let (year, month, day) = (date / 10_000, date / 100 % 100, date % 100);
    (1970..=2099).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// The serial after `old`, given today's date as `YYYYMMDD`.
///
/// A date-based serial moves to today's `YYYYMMDD00` when that is higher,
/// otherwise (a second change today, or a serial dated in the future) it
/// counts up by one. Any other serial counts up by one, wrapping at 2^32 as
/// RFC 1982 allows. The result is always greater than `old` in RFC 1982
/// arithmetic.
pub(crate) fn next_serial(old: u32, today: u32) -> u32 {
    if is_date_serial(old) {
        let candidate = today.saturating_mul(100);
        if candidate > old && serial_gt(candidate, old) {
            return candidate;
        }
    }
    old.wrapping_add(1)
}

/// The serial of a zone mailform creates: today's first date-based serial.
pub(crate) fn initial_serial(today: u32) -> u32 {
    today * 100 + 1
}

/// Today's UTC date as `YYYYMMDD`.
pub(crate) fn today_utc() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    (y as u32) * 10_000 + m * 100 + d
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`), to avoid a date-library dependency for
/// one conversion.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The SOA presentation text with its serial (third field) replaced.
pub(crate) fn with_serial(soa_text: &str, serial: u32) -> Option<String> {
    let mut fields: Vec<String> = soa_text.split_whitespace().map(str::to_string).collect();
    if fields.len() != 7 {
        return None;
    }
    fields[2] = serial.to_string();
    Some(fields.join(" "))
}

/// The serial of an SOA presentation text.
pub(crate) fn serial_of(soa_text: &str) -> Option<u32> {
    soa_text.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: u32 = 20240615;

    #[test]
    fn date_serials_move_to_today_then_count() {
        assert_eq!(next_serial(2024061003, TODAY), 2024061500);
        assert_eq!(next_serial(2024061500, TODAY), 2024061501);
        assert_eq!(next_serial(2024061541, TODAY), 2024061542);
        // Ninety-nine changes in a day spill into tomorrow's numbers, which
        // is still an increase.
        assert_eq!(next_serial(2024061599, TODAY), 2024061600);
        // A serial dated in the future is never moved back.
        assert_eq!(next_serial(2030010100, TODAY), 2030010101);
    }

    #[test]
    fn other_serials_count_up_and_wrap() {
        assert_eq!(next_serial(1, TODAY), 2);
        assert_eq!(next_serial(0, TODAY), 1);
        assert_eq!(next_serial(123456, TODAY), 123457);
        assert_eq!(next_serial(u32::MAX, TODAY), 0);
        assert_eq!(next_serial(2_147_483_647, TODAY), 2_147_483_648);
        // Ten digits but not a date (month 13): not date-based.
        assert_eq!(next_serial(2024131001, TODAY), 2024131002);
    }

    #[test]
    fn every_next_serial_is_greater_in_rfc1982_terms() {
        let samples = [
            0,
            1,
            2,
            1_970_010_100,
            2_024_061_499,
            2_024_061_500,
            2_024_061_599,
            2_099_123_199,
            2_147_483_646,
            2_147_483_647,
            2_147_483_648,
            4_000_000_000,
            u32::MAX - 1,
            u32::MAX,
        ];
        for old in samples {
            for today in [19700101, TODAY, 20991231] {
                let new = next_serial(old, today);
                assert!(serial_gt(new, old), "{new} is not after {old}");
                assert!(!serial_gt(old, new), "{old} is after {new}");
            }
        }
    }

    #[test]
    fn rfc1982_comparison() {
        assert!(serial_gt(1, 0));
        assert!(serial_gt(0, u32::MAX));
        assert!(!serial_gt(5, 5));
        assert!(serial_gt(1 << 31, 1));
        // Exactly 2^31 apart is undefined in RFC 1982; never call it greater.
        assert!(!serial_gt(1 << 31, 0));
        assert!(!serial_gt(0, 1 << 31));
    }

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_889), (2024, 6, 15));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let today = today_utc();
        assert!((20240101..21000101).contains(&today), "{today}");
        assert_eq!(initial_serial(TODAY), 2024061501);
    }

    #[test]
    fn soa_serial_field() {
        let soa = "ns1.example.net. hostmaster.example.com. 7 7200 3600 1209600 300";
        assert_eq!(serial_of(soa), Some(7));
        assert_eq!(
            with_serial(soa, 8).unwrap(),
            "ns1.example.net. hostmaster.example.com. 8 7200 3600 1209600 300"
        );
        assert_eq!(with_serial("too short", 8), None);
    }
}
