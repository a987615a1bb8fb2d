//! `esession offline publish`: publish signed offline options (XEP-0187 §3.1, profile P11),
//! logged in without presence so that the server hands this session no stored message.
use crate::account::connect_without_presence;
use crate::args::{Global, OfflinePublishArgs};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use esession::{Config, Timestamp};
use std::time::Duration;

/// The longest validity `--expires` accepts (XEP-0187 §3.1: options SHOULD expire not too
/// long after we expect to be online again).
const MAX_EXPIRES: u64 = 365 * 24 * 3600;

pub(crate) async fn publish(
    global: &Global,
    args: &OfflinePublishArgs,
    out: Out,
) -> Result<(), Fail> {
    let validity = parse_duration(&args.expires)?;
    if args.timeout == 0 {
        return Err(Fail::usage("--timeout must be at least 1"));
    }
    // Profile P11: the sets are signed with the identity key (created on first use).
    let mut client = connect_without_presence(global, Config::default(), KeyUse::Create).await?;
    out.online(client.jid().as_str());
    let expires = Timestamp::now().plus(validity);
    let result = client
        .publish_offline(
            expires,
            args.match_resource.as_deref(),
            Duration::from_secs(args.timeout),
        )
        .await;
    let closed = client.shutdown(Duration::from_secs(3)).await;
    for (kind, how) in result? {
        out.offline_published(kind, expires, how);
    }
    closed?;
    Ok(())
}

/// `N` followed by a unit `s`, `m`, `h`, `d` or `w`, in seconds; at least 1 s and at most
/// [`MAX_EXPIRES`].
fn parse_duration(text: &str) -> Result<u64, Fail> {
    let bad = || {
        Fail::usage(format!(
            "--expires {text:?}: a number with a unit s, m, h, d or w expected (e.g. 7d), at most 365 days"
        ))
    };
    let text = text.trim();
    let unit_at = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = (text.get(..unit_at).ok_or_else(bad)?, text.get(unit_at..));
    let scale = match unit {
        Some("s") => 1,
        Some("m") => 60,
        Some("h") => 3600,
        Some("d") => 24 * 3600,
        Some("w") => 7 * 24 * 3600,
        _ => return Err(bad()),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    if secs == 0 || secs > MAX_EXPIRES {
        return Err(bad());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").unwrap(), 1);
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("52w").unwrap(), 52 * 604_800);
        for bad in [
            "",
            "s",
            "0s",
            "7",
            "7x",
            "-1d",
            "1.5h",
            "366d",
            "99999999999999999999d",
            "d7",
        ] {
            assert_eq!(parse_duration(bad).unwrap_err().code, 2, "{bad:?}");
        }
    }
}
