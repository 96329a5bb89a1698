//! ISO-8601 times in event `ts` fields, read exactly as CPython 3.11's `datetime.fromisoformat`
//! (its C implementation) reads them, then turned into epoch milliseconds as
//! `int(dt.timestamp() * 1000)` does (a time without an offset is UTC).
//!
//! The C parser is lenient in ways the documentation does not promise (any separator
//! character, a fraction after `HH` or `HH:MM`, a stray character before the offset, `:` before
//! the fraction, a NUL ending a field early): events are accepted or refused by the Python
//! worker on exactly those terms, so the same record must get the same answer here. The parser
//! below follows the C code step by step over the UTF-8 bytes, reading a NUL past the end as C
//! reads the string's terminator.

/// Epoch milliseconds of a string `datetime.fromisoformat` accepts, or None when it raises.
pub fn parse_ms(text: &str) -> Option<i64> {
    // Python counts characters here, the rest of the parser counts UTF-8 bytes.
    if text.chars().count() < 7 {
        return None;
    }
    let b = Bytes(text.as_bytes());
    let sep = separator(&b);
    let date_len = sep.unwrap_or(usize::MAX);
    let (year, month, day) = date(&b, date_len)?;
    let mut time = Time::default();
    if let Some(sep) = sep.filter(|&s| b.len() > s) {
        let lead = b.at(sep);
        let width = if lead & 0x80 == 0 {
            1
        } else {
            match lead & 0xf0 {
                0xe0 => 3,
                0xf0 => 4,
                _ => 2,
            }
        };
        time = parse_time(&Bytes(b.0.get(sep + width..)?))?;
    }
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if time.hour > 23 || time.minute > 59 || time.second > 59 {
        return None;
    }
    let offset_us = match time.offset {
        None => 0,
        // A zero offset in seconds is UTC, whatever its microseconds say.
        Some((0, _)) => 0,
        Some((seconds, micros)) => {
            let us = i128::from(seconds) * 1_000_000 + i128::from(micros);
            // `timezone()` takes offsets strictly between -24h and 24h.
            if us.abs() >= 86_400_000_000 {
                return None;
            }
            us
        }
    };
    let days = days_from_civil(year, month, day);
    let clock = ((i128::from(time.hour) * 60 + i128::from(time.minute)) * 60
        + i128::from(time.second))
        * 1_000_000
        + i128::from(time.micro);
    let total_us = i128::from(days) * 86_400_000_000 + clock - offset_us;
    // `timestamp()` is the exact microseconds / 10**6 rounded once to a float (Python's int
    // true division), then `* 1000` in floats and `int()` truncating toward zero.
    Some((micros_to_seconds(total_us) * 1000.0).trunc() as i64)
}

/// The string's bytes, with C's view of the end: reading past it gives the terminating NUL.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// `parse_digits`: `n` ASCII digits from `p`, or None at the first other byte.
    fn digits(&self, p: usize, n: usize) -> Option<i32> {
        (p..p + n).try_fold(0i32, |acc, i| {
            let c = self.at(i);
            c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0'))
        })
    }
}

/// Where the date ends (`_find_isoformat_datetime_separator`); None where C returns -1.
fn separator(b: &Bytes) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if b.at(4) == b'-' {
        if b.at(5) != b'W' {
            return Some(10);
        }
        if len < 8 {
            return None;
        }
        if len > 8 && b.at(8) == b'-' {
            if len == 9 {
                return None;
            }
            if len > 10 && b.at(10).is_ascii_digit() {
                return Some(8);
            }
            return Some(10);
        }
        return Some(8);
    }
    if b.at(4) != b'W' {
        return Some(8);
    }
    let idx = (7..len).find(|&i| !b.at(i).is_ascii_digit()).unwrap_or(len);
    Some(match idx {
        i if i < 9 => i,
        i if i % 2 == 0 => 7,
        _ => 8,
    })
}

/// (year, month, day) of the date part (`parse_isoformat_date`); ranges are checked later,
/// as the datetime constructor does, except for what the ISO week conversion needs.
fn date(b: &Bytes, len: usize) -> Option<(i32, i32, i32)> {
    let year = b.digits(0, 4)?;
    let mut p = 4;
    let dashed = b.at(p) == b'-';
    p += usize::from(dashed);
    if b.at(p) != b'W' {
        let month = b.digits(p, 2)?;
        p += 2;
        if dashed {
            if b.at(p) != b'-' {
                return None;
            }
            p += 1;
        }
        return Some((year, month, b.digits(p, 2)?));
    }
    p += 1;
    let week = b.digits(p, 2)?;
    p += 2;
    let mut weekday = 1;
    if p < len {
        if dashed {
            if b.at(p) != b'-' {
                return None;
            }
            p += 1;
        }
        weekday = b.digits(p, 1)?;
    }
    week_date(year, week, weekday)
}

/// `iso_to_ymd`: an ISO week date as a calendar date (year 0 and past 9999 fail later).
fn week_date(year: i32, week: i32, weekday: i32) -> Option<(i32, i32, i32)> {
    if year == 0 {
        // C computes a date in year 0 or before, which the constructor refuses.
        return None;
    }
    let jan1 = days_from_civil(year, 1, 1);
    let jan1_weekday = (jan1 + 3).rem_euclid(7); // 0 = Monday
    let long_year = jan1_weekday == 3 || (jan1_weekday == 2 && is_leap(year));
    let valid_week = (1..=52).contains(&week) || (week == 53 && long_year);
    if !valid_week {
        return None;
    }
    if !(1..=7).contains(&weekday) {
        return None;
    }
    // Week 1 is the one holding the year's first Thursday.
    let monday = if jan1_weekday > 3 {
        jan1 - jan1_weekday + 7
    } else {
        jan1 - jan1_weekday
    };
    let days = monday + i64::from((week - 1) * 7 + weekday - 1);
    Some(civil_from_days(days))
}

#[derive(Debug, Default, Clone, Copy)]
struct Time {
    hour: i32,
    minute: i32,
    second: i32,
    micro: i32,
    /// The UTC offset as (seconds, microseconds), both carrying its sign; None for naive.
    offset: Option<(i32, i32)>,
}

/// The time part, offset included (`parse_isoformat_time`).
fn parse_time(b: &Bytes) -> Option<Time> {
    let len = b.len();
    if len == 0 {
        return None;
    }
    let tz = (0..len)
        .find(|&i| matches!(b.at(i), b'Z' | b'+' | b'-'))
        .unwrap_or(len);
    let (clock, more) = hh_mm_ss_ff(b, 0, tz)?;
    let mut time = Time {
        hour: clock[0],
        minute: clock[1],
        second: clock[2],
        micro: clock[3],
        offset: None,
    };
    if tz == len {
        // Without an offset, anything left over is an error.
        return (!more).then_some(time);
    }
    if b.at(tz) == b'Z' {
        time.offset = Some((0, 0));
        return (b.at(tz + 1) == 0).then_some(time);
    }
    let sign = if b.at(tz) == b'-' { -1 } else { 1 };
    let (off, more) = hh_mm_ss_ff(b, tz + 1, len)?;
    if more {
        return None;
    }
    time.offset = Some((sign * (off[0] * 3600 + off[1] * 60 + off[2]), sign * off[3]));
    Some(time)
}

/// `parse_hh_mm_ss_ff` over `b[start..end]` (it may read on past `end`, as C does):
/// [hour, minute, second, microsecond] and whether something is left before the string's end.
fn hh_mm_ss_ff(b: &Bytes, start: usize, end: usize) -> Option<([i32; 4], bool)> {
    let mut vals = [0i32; 4];
    let mut p = start;
    let mut colons = true;
    for (i, val) in vals.iter_mut().take(3).enumerate() {
        *val = b.digits(p, 2)?;
        p += 2;
        let c = b.at(p);
        p += 1;
        if i == 0 {
            colons = c == b':';
        }
        if p >= end {
            return Some((vals, c != 0));
        } else if colons && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !colons {
            p -= 1;
        } else {
            return None;
        }
    }
    // C reads a fraction here whether or not a `.` or `,` introduced it.
    let to_parse = (end - p).min(6);
    let micro = b.digits(p, to_parse)?;
    p += to_parse;
    vals[3] = micro * 10i32.pow(6 - to_parse as u32);
    while b.at(p).is_ascii_digit() {
        p += 1;
    }
    Some((vals, b.at(p) != 0))
}

/// Exact microseconds / 10**6 rounded once to the nearest float (ties to even), as Python's
/// int true division rounds.
fn micros_to_seconds(us: i128) -> f64 {
    let a = us.unsigned_abs();
    if a == 0 {
        return 0.0;
    }
    const D: u128 = 1_000_000;
    // Scale so that the quotient has 55 or more bits: 53 kept, a rounding bit, and the rest
    // (with the remainder) as the sticky bit.
    let bits = 128 - a.leading_zeros() as i32;
    let shift = (55 + 20 - bits).max(0);
    let scaled = a << shift;
    let (q, r) = (scaled / D, scaled % D);
    let qbits = 128 - q.leading_zeros() as i32;
    let extra = (qbits - 53).max(0);
    let mut m = q >> extra;
    if extra > 0 {
        let half = 1u128 << (extra - 1);
        let low = q & ((1u128 << extra) - 1);
        let sticky = r != 0;
        if low > half || (low == half && (sticky || m & 1 == 1)) {
            m += 1;
        }
    }
    // m has at most 54 bits and the power of two is in range: both steps are exact.
    let magnitude = m as f64 * 2f64.powi(extra - shift);
    if us < 0 {
        -magnitude
    } else {
        magnitude
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: i32) -> i32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i32, m: i32, d: i32) -> i64 {
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number since 1970-01-01.
fn civil_from_days(days: i64) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Week dates stay within a year of their ISO year, so these fit.
    (y as i32, m as i32, d as i32)
}

#[cfg(test)]
mod tests {
    use super::{micros_to_seconds, parse_ms};

    #[test]
    fn common_forms() {
        assert_eq!(parse_ms("1970-01-01"), Some(0));
        assert_eq!(parse_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_ms("1970-01-01 00:00:01.5"), Some(1500));
        assert_eq!(parse_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_ms("19700101T000001"), Some(1000));
        assert_eq!(
            parse_ms("2026-12-03T20:00:00.123456789Z"),
            Some(1_796_328_000_123)
        );
        assert_eq!(parse_ms("1970-W01-4"), Some(0));
        for bad in [
            "",
            "1970-13-01",
            "1970-02-30",
            "yesterday",
            "1970-01-01T",
            "1970-01-01T25:00",
            "9999-W52-6",
            "1970-01-01T00:00+24:00",
            "1970-01-01T00:00:00.",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn what_cpython_also_accepts() {
        // A stray character before the offset, a fraction after hours or after a colon, an
        // offset minute past 59, a sub-second offset, a NUL ending the text early.
        for (text, ms) in [
            ("1970-01-01T003+00:00", 0),
            ("1970-01-01T00.5", 500),
            ("1970-01-01T00:00:01:5", 1500),
            ("1970-01-01T00000150", 1500),
            ("1970-01-01T01:39+00:99", 0),
            ("1970-01-01T00:00+00:00:00.5", 0),
            ("1970-01-01T0000\u{0}", 0),
            ("1970-01-01\u{e9}00:00:01", 1000),
        ] {
            assert_eq!(parse_ms(text), Some(ms), "{text:?}");
        }
    }

    #[test]
    fn seconds_are_rounded_once() {
        for us in [
            1i128,
            -1,
            999_999,
            9_007_199_254_740_993,
            253_402_300_799_999_999,
            -62_135_596_800_000_000,
            100_000_000_000_000_001,
        ] {
            let want = (us as f64) / 1e6;
            let got = micros_to_seconds(us);
            assert!((got - want).abs() <= want.abs() * 1e-15, "{us}");
        }
        // 2**53 + 1 microseconds: dividing the rounded float would lose the last one.
        assert_eq!(
            micros_to_seconds(9_007_199_254_740_993),
            9_007_199_254.740_993
        );
    }
}
