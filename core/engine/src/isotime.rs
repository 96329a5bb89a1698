//! ISO-8601 times in event `ts` fields, read as Python 3.11's `datetime.fromisoformat` reads
//! them (a time without an offset is UTC), in epoch milliseconds.

/// Epoch milliseconds of an ISO-8601 date or date-time, or None if it is not one.
pub fn parse_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let (days, rest) = date(b)?;
    let (micros, offset_s) = if rest.is_empty() {
        (0, 0)
    } else {
        // Any single character separates date and time (Python accepts any, not only `T`).
        let sep = text.get(b.len() - rest.len()..)?.chars().next()?;
        let time_text = &rest[sep.len_utf8()..];
        if time_text.is_empty() {
            return None;
        }
        time(time_text)?
    };
    let total_us = i128::from(days) * 86_400_000_000 + micros - i128::from(offset_s) * 1_000_000;
    // Python computes `timestamp()` as microseconds / 10**6 (a float) and then * 1000 in floats.
    let seconds = total_us as f64 / 1e6;
    Some((seconds * 1000.0).trunc() as i64)
}

fn digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() < n || !b[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        b[..n]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
    )
}

/// Days since 1970-01-01 of the leading date, and what follows it.
fn date(b: &[u8]) -> Option<(i64, &[u8])> {
    let year = digits(b, 4)?;
    if year == 0 {
        return None;
    }
    let extended = b.get(4) == Some(&b'-');
    let p = if extended { 5 } else { 4 };
    if b.get(p) == Some(&b'W') {
        return week_date(b, year, extended);
    }
    let month = digits(&b[p..], 2)?;
    let q = p + 2 + usize::from(extended);
    if extended && b.get(p + 2) != Some(&b'-') {
        return None;
    }
    let day = digits(b.get(q..)?, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day), &b[q + 2..]))
}

fn week_date(b: &[u8], year: u32, extended: bool) -> Option<(i64, &[u8])> {
    let p = if extended { 6 } else { 5 };
    let week = digits(b.get(p..)?, 2)?;
    let mut end = p + 2;
    let mut weekday = 1;
    let dash = b.get(end) == Some(&b'-');
    if dash != extended && b.get(end).is_some_and(|c| *c == b'-' || c.is_ascii_digit()) {
        return None;
    }
    let q = end + usize::from(extended);
    if let Some(d) = b.get(q..).and_then(|s| digits(s, 1)) {
        if extended && !dash {
            return None;
        }
        weekday = d;
        end = q + 1;
    }
    if !(1..=7).contains(&weekday) || week == 0 || week > weeks_in_year(year) {
        return None;
    }
    // ISO week 1 holds the year's first Thursday.
    let jan4 = days_from_civil(year, 1, 4);
    let monday_week1 = jan4 - (jan4 + 3).rem_euclid(7);
    let days = monday_week1 + i64::from(week - 1) * 7 + i64::from(weekday - 1);
    Some((days, &b[end..]))
}

fn weeks_in_year(year: u32) -> u32 {
    let jan1 = (days_from_civil(year, 1, 1) + 3).rem_euclid(7); // 0 = Monday
    if jan1 == 3 || (jan1 == 2 && is_leap(year)) {
        53
    } else {
        52
    }
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Microseconds since midnight and the UTC offset in seconds of a time with optional offset.
fn time(b: &[u8]) -> Option<(i128, i64)> {
    let tz_at = b.iter().position(|c| matches!(c, b'Z' | b'+' | b'-'));
    let (clock, tz) = match tz_at {
        Some(n) => (&b[..n], Some(&b[n..])),
        None => (b, None),
    };
    let (h, m, s, us) = clock_time(clock)?;
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let micros =
        ((i128::from(h) * 60 + i128::from(m)) * 60 + i128::from(s)) * 1_000_000 + i128::from(us);
    let offset = match tz {
        None => 0,
        Some(b"Z") => 0,
        Some(t) => {
            let sign = if t[0] == b'-' { -1 } else { 1 };
            let (oh, om, os, ous) = clock_time(&t[1..])?;
            if oh > 23 || om > 59 || os > 59 {
                return None;
            }
            if ous != 0 {
                // a sub-second offset: Python keeps it, but no event time needs one
                return None;
            }
            sign * (i64::from(oh) * 3600 + i64::from(om) * 60 + i64::from(os))
        }
    };
    Some((micros, offset))
}

/// HH[:MM[:SS[.f+]]] or HH[MM[SS[.f+]]].
fn clock_time(b: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let h = digits(b, 2)?;
    let mut p = 2;
    if p == b.len() {
        return Some((h, 0, 0, 0));
    }
    let extended = b[p] == b':';
    p += usize::from(extended);
    let m = digits(b.get(p..)?, 2)?;
    p += 2;
    if p == b.len() {
        return Some((h, m, 0, 0));
    }
    if extended {
        if b[p] != b':' {
            return None;
        }
        p += 1;
    }
    let s = digits(b.get(p..)?, 2)?;
    p += 2;
    if p == b.len() {
        return Some((h, m, s, 0));
    }
    if b[p] != b'.' && b[p] != b',' {
        return None;
    }
    let frac = &b[p + 1..];
    if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Microseconds: the first six digits, further digits dropped.
    let n = frac.len().min(6);
    let us = digits(frac, n)? * 10u32.pow((6 - n) as u32);
    Some((h, m, s, us))
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

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
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
