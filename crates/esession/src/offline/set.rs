//! A published set of offline options and what Alice keeps of it (XEP-0187 §3.1, profile
//! P11 "Stored secrets"): N_A, every x_i, the expiry, the offered choices, and the d and
//! N_B values already accepted.
use crate::crypto::{ct_eq, mpi, sha256};
use crate::time::Timestamp;
use std::fmt;
use zeroize::Zeroizing;

/// Which of the two published sets (profile P11 "Nodes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfflineSetKind {
    /// For presence subscribers: PEP node of XEP-0187, access model `presence`; withdrawn
    /// at login.
    Subscriber,
    /// For anyone: PEP node of XEP-0116, access model `open`; kept until it expires or is
    /// republished.
    Open,
}

impl OfflineSetKind {
    /// Both sets, in the order Bob tries them (profile P11: subscriber node first).
    pub const ALL: [OfflineSetKind; 2] = [OfflineSetKind::Subscriber, OfflineSetKind::Open];

    /// The PEP node the set is published to (profile P11).
    pub fn node(self) -> &'static str {
        match self {
            OfflineSetKind::Subscriber => "http://www.xmpp.org/extensions/xep-0187.html#ns",
            OfflineSetKind::Open => "http://www.xmpp.org/extensions/xep-0116.html#ns",
        }
    }

    /// The XEP-0060 access model of the node (profile P11).
    pub fn access_model(self) -> &'static str {
        match self {
            OfflineSetKind::Subscriber => "presence",
            OfflineSetKind::Open => "open",
        }
    }

    /// `subscriber` or `open` (the stored name).
    pub fn name(self) -> &'static str {
        match self {
            OfflineSetKind::Subscriber => "subscriber",
            OfflineSetKind::Open => "open",
        }
    }

    /// The kind named `name` ([`OfflineSetKind::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The replay record of one accepted offline init (profile P11 "Replay storage"):
/// SHA-256 of mpi(d) and of N_B, so that a record has a fixed size whatever the peer sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcceptedInit {
    /// SHA-256(mpi(d)).
    pub d: [u8; 32],
    /// SHA-256(N_B).
    pub n_b: [u8; 32],
}

impl AcceptedInit {
    /// The record of Bob's `d` (any leading zeros) and `n_b`.
    pub fn of(d: &[u8], n_b: &[u8]) -> Self {
        AcceptedInit {
            d: sha256(&[mpi(d)]),
            n_b: sha256(&[n_b]),
        }
    }

    /// Whether `other` repeats this d or this N_B (either is a replay, profile P11).
    pub fn replayed_by(&self, other: &AcceptedInit) -> bool {
        ct_eq(&self.d, &other.d) || ct_eq(&self.n_b, &other.n_b)
    }
}

/// One published option set as Alice stores it (profile P11 "Stored secrets").
#[derive(Clone, PartialEq, Eq)]
pub struct OfflineSet {
    /// Which set.
    pub kind: OfflineSetKind,
    /// N_A (`my_nonce`).
    pub nonce: Zeroizing<Vec<u8>>,
    /// Every offered group with its secret exponent x_i (mpi octets), in `modp` order.
    pub exponents: Vec<(u32, Zeroizing<Vec<u8>>)>,
    /// The `expires` value.
    pub expires: Timestamp,
    /// The published `<x/>`, serialized: the offered choices.
    pub options: String,
    /// The inits accepted so far for this set.
    pub accepted: Vec<AcceptedInit>,
}

impl fmt::Debug for OfflineSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<u32> = self.exponents.iter().map(|(g, _)| *g).collect();
        f.debug_struct("OfflineSet")
            .field("kind", &self.kind)
            .field("nonce", &"<redacted>")
            .field("groups", &groups)
            .field("exponents", &"<redacted>")
            .field("expires", &self.expires)
            .field("accepted", &self.accepted.len())
            .finish_non_exhaustive()
    }
}

/// Version octet of [`OfflineSet::secret_bytes`].
const FORMAT: u8 = 1;
/// Bounds on what [`OfflineSet::from_secret_bytes`] accepts (the bytes come from a file).
const MAX_GROUPS: usize = 16;
const MAX_OPTIONS: usize = 1 << 20;

impl OfflineSet {
    /// Whether the set has expired at `now` (profile P11 "Expiry": Alice discards every
    /// init for a set whose stored expiry has passed, and the set then has no use).
    pub fn expired(&self, now: Timestamp) -> bool {
        now >= self.expires
    }

    /// Whether `nonce` is this set's N_A, compared in constant time (it is a secret until
    /// published, and the comparison picks the set a received init answers, profile P11).
    pub fn has_nonce(&self, nonce: &[u8]) -> bool {
        ct_eq(&self.nonce, nonce)
    }

    /// The secret part (N_A, the exponents and the offered options) as one octet string,
    /// for a store that encrypts it at rest: a version octet, then length-prefixed values
    /// (big-endian u16 for N_A and each exponent, u32 for the options text).
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![FORMAT]);
        push_u16(&mut out, &self.nonce);
        out.push(u8::try_from(self.exponents.len()).unwrap_or(u8::MAX));
        for (group, x) in &self.exponents {
            out.extend_from_slice(&group.to_be_bytes());
            push_u16(&mut out, x);
        }
        let options = self.options.as_bytes();
        out.extend_from_slice(
            &u32::try_from(options.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(options);
        out
    }

    /// Reads [`OfflineSet::secret_bytes`] back; `None` for octets it did not write.
    pub fn from_secret_bytes(
        kind: OfflineSetKind,
        expires: Timestamp,
        bytes: &[u8],
        accepted: Vec<AcceptedInit>,
    ) -> Option<OfflineSet> {
        let mut r = Reader(bytes);
        if r.take(1)? != [FORMAT] {
            return None;
        }
        let nonce = Zeroizing::new(r.take_u16()?.to_vec());
        let count = usize::from(*r.take(1)?.first()?);
        if count > MAX_GROUPS {
            return None;
        }
        let mut exponents = Vec::with_capacity(count);
        for _ in 0..count {
            let group = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
            exponents.push((group, Zeroizing::new(r.take_u16()?.to_vec())));
        }
        let len = usize::try_from(u32::from_be_bytes(r.take(4)?.try_into().ok()?)).ok()?;
        if len > MAX_OPTIONS {
            return None;
        }
        let options = String::from_utf8(r.take(len)?.to_vec()).ok()?;
        if !r.0.is_empty() {
            return None;
        }
        Some(OfflineSet {
            kind,
            nonce,
            exponents,
            expires,
            options,
            accepted,
        })
    }
}

fn push_u16(out: &mut Vec<u8>, v: &[u8]) {
    let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(v.get(..usize::from(len)).unwrap_or(v));
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn take_u16(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> OfflineSet {
        OfflineSet {
            kind: OfflineSetKind::Open,
            nonce: Zeroizing::new(vec![1; 32]),
            exponents: vec![
                (14, Zeroizing::new(vec![0xAB; 40])),
                (5, Zeroizing::new(vec![2])),
            ],
            expires: Timestamp(99),
            options: "<x xmlns=\"jabber:x:data\" type=\"form\"/>".into(),
            accepted: vec![AcceptedInit::of(&[0, 0, 5], b"n")],
        }
    }

    #[test]
    fn secret_bytes_round_trip_and_refuse_damage() {
        let s = set();
        let bytes = s.secret_bytes();
        let back =
            OfflineSet::from_secret_bytes(s.kind, s.expires, &bytes, s.accepted.clone()).unwrap();
        assert_eq!(back, s);
        for cut in 0..bytes.len() {
            let got = OfflineSet::from_secret_bytes(s.kind, s.expires, &bytes[..cut], vec![]);
            assert!(got.is_none(), "{cut}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(OfflineSet::from_secret_bytes(s.kind, s.expires, &longer, vec![]).is_none());
        let mut other_format = bytes.to_vec();
        other_format[0] = 2;
        assert!(OfflineSet::from_secret_bytes(s.kind, s.expires, &other_format, vec![]).is_none());
    }

    #[test]
    fn debug_is_redacted_and_replays_match_d_or_nonce() {
        let dbg = format!("{:?}", set());
        assert!(dbg.contains("<redacted>") && !dbg.contains("171"), "{dbg}");
        let a = AcceptedInit::of(&[5], b"n");
        assert_eq!(a, set().accepted[0], "leading zeros of d do not matter");
        assert!(a.replayed_by(&AcceptedInit::of(&[6], b"n")));
        assert!(a.replayed_by(&AcceptedInit::of(&[5], b"m")));
        assert!(!a.replayed_by(&AcceptedInit::of(&[6], b"m")));
        assert_eq!(
            OfflineSetKind::from_name("subscriber"),
            Some(OfflineSetKind::Subscriber)
        );
        assert_eq!(OfflineSetKind::from_name("x"), None);
    }
}
