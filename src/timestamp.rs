//! UTC timestamps as the strings stored in D1 (no date crate needed for this much).

/// `2026-11-26T04:51:39Z` from Unix milliseconds.
pub fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `2026-11-26T04`: the usage table's hour bucket.
pub fn hour_bucket(unix_ms: u64) -> String {
    iso8601(unix_ms)[..13].to_string()
}

/// Unix milliseconds of an RFC 3339 UTC instant as upstreams write them
/// (`2026-12-07T00:00:00Z`, fractions and a `+00:00` offset allowed, other offsets
/// applied) or of a bare date (midnight UTC). None for anything else.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| num_in(s, r);
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m as u32, d as u32);
    let mut secs = days * 86_400;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &frac[digits..];
        }
        match rest {
            "Z" | "z" | "" => {}
            zone => {
                let sign = match zone.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return None,
                };
                if zone.len() != 6 || zone.as_bytes()[3] != b':' {
                    return None;
                }
                let (zh, zm) = (num_in(zone, 1..3)?, num_in(zone, 4..6)?);
                secs -= sign * (zh * 3600 + zm * 60);
            }
        }
    }
    u64::try_from(secs).ok().map(|s| s * 1000)
}

fn num_in(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(r)?;
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_668_699_123), "2026-11-26T04:51:39Z");
        assert_eq!(hour_bucket(1_795_668_699_123), "2026-11-26T04");
        assert_eq!(iso8601(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_upstreams_write() {
        for ms in [0, 951_782_400_000, 1_795_668_699_000, 4_102_444_799_000] {
            assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms));
        }
        assert_eq!(
            parse_iso8601("2026-11-26T04:51:39.123Z"),
            Some(1_795_668_699_000)
        );
        assert_eq!(
            parse_iso8601("2026-11-26T05:51:39+01:00"),
            Some(1_795_668_699_000)
        );
        assert_eq!(
            parse_iso8601("2026-11-26T04:51:39+00:00"),
            Some(1_795_668_699_000)
        );
        assert_eq!(
            parse_iso8601("2026-12-01"),
            parse_iso8601("2026-12-01T00:00:00Z")
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-11-26T25:00:00Z",
            "26-11-26",
            "2026-11-26T04:51",
            "2026-11-26T04:51:39+0100",
            "tomorrow",
            "1969-12-31T00:00:00Z",
            "2026-11-26T04:51:39.Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
