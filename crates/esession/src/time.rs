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

    /// XEP-0082 §3.3 DateTime in UTC, whole seconds: `1970-01-01T00:00:00Z`.
    pub fn to_datetime(self) -> String {
        let days = self.0 / 86_400;
        let rem = self.0 % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    /// Parses an XEP-0082 §3.3 DateTime (`CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm)`) at or
    /// after 1970, dropping fractions of a second; `None` for anything else.
    pub fn parse_datetime(s: &str) -> Option<Timestamp> {
        u64::try_from(datetime_seconds(s)?).ok().map(Timestamp)
    }

    /// Whether `s` is an XEP-0082 §3.3 DateTime (any year from 0000).
    pub fn is_datetime(s: &str) -> bool {
        datetime_seconds(s).is_some()
    }
}

/// Seconds from 1970-01-01T00:00:00Z to the XEP-0082 DateTime `s` (negative before).
fn datetime_seconds(s: &str) -> Option<i64> {
    {
        let b = s.as_bytes();
        if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            let t = s.get(from..to)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
            return None;
        }
        if sec > 60 {
            return None;
        }
        let mut rest = s.get(19..)?;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = frac.get(digits..)?;
        }
        let offset: i64 = match rest {
            "Z" => 0,
            _ => {
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let tz = rest.get(1..)?;
                if tz.len() != 5 || tz.as_bytes().get(2) != Some(&b':') {
                    return None;
                }
                let oh = tz.get(0..2)?.parse::<i64>().ok()?;
                let om = tz.get(3..5)?.parse::<i64>().ok()?;
                if oh > 23 || om > 59 {
                    return None;
                }
                sign * (oh * 3600 + om * 60)
            }
        };
        let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
        local.checked_sub(offset)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; years
/// 0–9999, so no overflow).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_and_refuse_junk() {
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            let s = Timestamp(t).to_datetime();
            assert_eq!(Timestamp::parse_datetime(&s), Some(Timestamp(t)), "{s}");
        }
        assert_eq!(Timestamp(951_782_400).to_datetime(), "2000-02-29T00:00:00Z");
        assert_eq!(
            Timestamp::parse_datetime("2006-06-09T02:56:15.123+02:00"),
            Timestamp::parse_datetime("2006-06-09T00:56:15Z")
        );
        for bad in [
            "",
            "2006-06-09",
            "2006-13-09T02:56:15Z",
            "2006-02-29T02:56:15Z",
            "2006-06-09T24:00:00Z",
            "2006-06-09T02:56:15",
            "2006-06-09T02:56:15.Z",
            "2006-06-09T02:56:15+2:00",
            "２006-06-09T02:56:15Z",
        ] {
            assert_eq!(Timestamp::parse_datetime(bad), None, "{bad}");
            assert!(!Timestamp::is_datetime(bad), "{bad}");
        }
        // Before 1970: a valid DateTime (the XEP-0136 examples), but no Timestamp.
        assert!(Timestamp::is_datetime("1469-07-21T02:56:15Z"));
        assert_eq!(Timestamp::parse_datetime("1469-07-21T02:56:15Z"), None);
        assert_eq!(Timestamp::parse_datetime("1969-12-31T23:59:59Z"), None);
        assert_eq!(
            Timestamp::parse_datetime("1970-01-01T01:00:00+01:00"),
            Some(Timestamp(0))
        );
    }
}
