//! XEP-0136 §3.1 OTR negotiation: the user's OTR Mode decides the XEP-0155 `logging`
//! values offered (first table) and the value answered to an offer (second table).
use super::OtrMode;
use crate::config::Logging;

/// The `logging` values an initiator with OTR Mode `otr` offers, in preference order
/// (XEP-0136 §3.1, first table: require → mustnot; prefer, approve → mustnot, may;
/// concede, oppose → may, mustnot; forbid → may).
pub fn offer(otr: OtrMode) -> Vec<Logging> {
    use Logging::{May, MustNot};
    match otr {
        OtrMode::Require => vec![MustNot],
        OtrMode::Prefer | OtrMode::Approve => vec![MustNot, May],
        OtrMode::Concede | OtrMode::Oppose => vec![May, MustNot],
        OtrMode::Forbid => vec![May],
    }
}

/// The `logging` value a responder with OTR Mode `otr` answers to `offered` (in the
/// initiator's order), or `None` when the negotiation must fail (XEP-0136 §3.1, second
/// table). An offer is classified by its first value and whether it offers the other
/// one; an empty offer fails.
pub fn answer(otr: OtrMode, offered: &[Logging]) -> Option<Logging> {
    use Logging::{May, MustNot};
    let first = *offered.first()?;
    let both = offered.contains(&May) && offered.contains(&MustNot);
    // The four columns of the table: mustnot | mustnot,may | may,mustnot | may.
    let column = match (first, both) {
        (MustNot, false) => 0,
        (MustNot, true) => 1,
        (May, true) => 2,
        (May, false) => 3,
    };
    let row: [Option<Logging>; 4] = match otr {
        OtrMode::Require => [Some(MustNot), Some(MustNot), Some(MustNot), None],
        OtrMode::Prefer => [Some(MustNot), Some(MustNot), Some(MustNot), Some(May)],
        OtrMode::Approve | OtrMode::Concede => [Some(MustNot), Some(MustNot), Some(May), Some(May)],
        OtrMode::Oppose => [Some(MustNot), Some(May), Some(May), Some(May)],
        OtrMode::Forbid => [None, Some(May), Some(May), Some(May)],
    };
    // `column` is 0..=3 by the match above; `get` keeps the lookup panic-free.
    row.get(column).copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Logging::{May, MustNot};

    #[test]
    fn offers_follow_the_first_table() {
        assert_eq!(offer(OtrMode::Require), vec![MustNot]);
        assert_eq!(offer(OtrMode::Prefer), vec![MustNot, May]);
        assert_eq!(offer(OtrMode::Approve), vec![MustNot, May]);
        assert_eq!(offer(OtrMode::Concede), vec![May, MustNot]);
        assert_eq!(offer(OtrMode::Oppose), vec![May, MustNot]);
        assert_eq!(offer(OtrMode::Forbid), vec![May]);
    }

    #[test]
    fn answers_follow_the_second_table_cell_by_cell() {
        let offers: [&[Logging]; 4] = [&[MustNot], &[MustNot, May], &[May, MustNot], &[May]];
        let table = [
            (
                OtrMode::Require,
                [Some(MustNot), Some(MustNot), Some(MustNot), None],
            ),
            (
                OtrMode::Prefer,
                [Some(MustNot), Some(MustNot), Some(MustNot), Some(May)],
            ),
            (
                OtrMode::Approve,
                [Some(MustNot), Some(MustNot), Some(May), Some(May)],
            ),
            (
                OtrMode::Concede,
                [Some(MustNot), Some(MustNot), Some(May), Some(May)],
            ),
            (
                OtrMode::Oppose,
                [Some(MustNot), Some(May), Some(May), Some(May)],
            ),
            (OtrMode::Forbid, [None, Some(May), Some(May), Some(May)]),
        ];
        for (otr, row) in table {
            for (offered, want) in offers.iter().zip(row) {
                assert_eq!(answer(otr, offered), want, "{otr:?} answering {offered:?}");
                // The answer is always one of the offered values.
                if let Some(a) = want {
                    assert!(offered.contains(&a));
                }
            }
        }
        assert_eq!(answer(OtrMode::Concede, &[]), None);
        // Every pair of modes either agrees on an offered value or fails exactly where
        // the table says (require vs forbid).
        for a in OtrMode::ALL {
            for b in OtrMode::ALL {
                let got = answer(b, &offer(a));
                let impossible = matches!(
                    (a, b),
                    (OtrMode::Require, OtrMode::Forbid) | (OtrMode::Forbid, OtrMode::Require)
                );
                assert_eq!(got.is_none(), impossible, "{a:?} → {b:?}");
            }
        }
    }
}
