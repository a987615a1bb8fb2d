//! Time as the engine sees it: injected by the caller, never read from a clock.

/// Seconds since the Unix epoch (UTC), as given by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time. Only for callers: the engine itself never calls this.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(secs)
    }

    /// This time plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (civil-from-days inverse).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of day `z` after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `n` ASCII digits from the front of `s` as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(i64, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, s.get(n..)?))
}

/// `s` must start with `c`; the rest.
fn expect(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

impl Timestamp {
    /// Reads an XEP-0082 §3.3 DateTime (`CCYY-MM-DDThh:mm:ss[.sss]TZD`, TZD = `Z` or
    /// `±hh:mm`), as profile P11 reads `expires`: fractions are accepted and dropped
    /// (rounded down), offsets applied. `None` for anything else or a time before 1970.
    pub fn parse_datetime(s: &str) -> Option<Timestamp> {
        u64::try_from(datetime_seconds(s)?).ok().map(Timestamp)
    }

    /// Whether `s` is an XEP-0082 §3.3 DateTime, any year from 0000 (XEP-0136 collection
    /// times, whose examples are in 1469).
    pub fn is_datetime(s: &str) -> bool {
        datetime_seconds(s).is_some()
    }

    /// Whether `a` and `b` are XEP-0082 DateTimes naming the same second, however each is
    /// written (offset, fractions): a server may normalize the text of a time it echoes.
    pub fn same_datetime(a: &str, b: &str) -> bool {
        matches!((datetime_seconds(a), datetime_seconds(b)), (Some(x), Some(y)) if x == y)
    }
}

/// Seconds from 1970-01-01T00:00:00Z to the XEP-0082 DateTime `s` (negative before).
fn datetime_seconds(s: &str) -> Option<i64> {
    {
        let (year, r) = digits(s, 4)?;
        let (month, r) = digits(expect(r, '-')?, 2)?;
        let (day, r) = digits(expect(r, '-')?, 2)?;
        let (hour, r) = digits(expect(r, 'T')?, 2)?;
        let (minute, r) = digits(expect(r, ':')?, 2)?;
        let (second, mut r) = digits(expect(r, ':')?, 2)?;
        if let Some(frac) = r.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            r = frac.get(n..)?;
        }
        let offset = match r {
            "Z" => 0,
            _ => {
                let sign = match r.get(..1)? {
                    "+" => 1,
                    "-" => -1,
                    _ => return None,
                };
                let (oh, rest) = digits(r.get(1..)?, 2)?;
                let (om, rest) = digits(expect(rest, ':')?, 2)?;
                if !rest.is_empty() || oh > 23 || om > 59 {
                    return None;
                }
                sign * (oh * 3600 + om * 60)
            }
        };
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        Some(
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
                - offset,
        )
    }
}

impl Timestamp {
    /// This time as an XEP-0082 §3.3 UTC DateTime without fractions
    /// (`2026-11-26T15:23:46Z`, profile P11).
    pub fn to_datetime(self) -> String {
        // Beyond year 9999 the format has no room; such times are clamped there.
        let secs = i64::try_from(self.0)
            .unwrap_or(i64::MAX)
            .min(253_402_300_799);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let t = secs.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            t / 3600,
            t / 60 % 60,
            t % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn xep0082_datetimes_read_and_written() {
        let t = Timestamp::parse_datetime("2026-11-26T15:23:46Z").unwrap();
        assert_eq!(t, Timestamp(1_795_706_626));
        assert_eq!(t.to_datetime(), "2026-11-26T15:23:46Z");
        assert_eq!(
            Timestamp::parse_datetime("2026-11-26T15:23:46.123Z"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_datetime("2026-11-26T17:23:46+02:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_datetime("2026-11-26T10:23:46.9-05:00"),
            Some(t)
        );
        assert_eq!(Timestamp(0).to_datetime(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse_datetime("2024-02-29T00:00:00Z").map(Timestamp::to_datetime),
            Some("2024-02-29T00:00:00Z".into())
        );
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T15:23:46",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T15:23:46.Z",
            "2026-11-26T15:23:46+2:00",
            "1969-12-31T23:59:59Z",
            "2026-11-26T15:23:46Zjunk",
            "+026-11-26T15:23:46Z",
        ] {
            assert_eq!(Timestamp::parse_datetime(bad), None, "{bad}");
            if bad != "1969-12-31T23:59:59Z" {
                assert!(!Timestamp::is_datetime(bad), "{bad}");
            }
        }
        // Before 1970: a DateTime (the XEP-0136 examples), but no Timestamp.
        assert!(Timestamp::is_datetime("1469-07-21T02:56:15Z"));
        assert!(Timestamp::is_datetime("1969-12-31T23:59:59Z"));
    }
}
