//! Bad Diffie–Hellman public values (profile P6: 1 < v < p−1; XEP-0116 §4.6.1 He).
use super::mallory::*;
use crate::b64;
use crate::crypto::{commitment, mpi, ModpGroup};
use crate::error::{ErrorKind, PeerMisbehaved, Rejected};

/// Big-endian `v + delta` (delta = ±1), without a leading zero octet.
fn add(v: &[u8], delta: i8) -> Vec<u8> {
    let mut out = v.to_vec();
    if delta > 0 {
        for b in out.iter_mut().rev() {
            let (r, carry) = b.overflowing_add(1);
            *b = r;
            if !carry {
                break;
            }
        }
    } else {
        for b in out.iter_mut().rev() {
            let (r, borrow) = b.overflowing_sub(1);
            *b = r;
            if !borrow {
                break;
            }
        }
    }
    mpi(&out).to_vec()
}

/// The bad values, as field text, with a name; `None` value octets for non-base64.
fn bad_values() -> Vec<(&'static str, String)> {
    let p = ModpGroup::get(15).unwrap().prime_be();
    let mut larger = vec![0xffu8; p.len() + 1];
    larger[0] = 0x01;
    vec![
        ("zero", b64::encode(&[0])),
        ("one", b64::encode(&[1])),
        ("p-1", b64::encode(&add(&p, -1))),
        ("p", b64::encode(&p)),
        ("p+1", b64::encode(&add(&p, 1))),
        ("larger than p", b64::encode(&larger)),
        ("not base64", "@@not base64@@".into()),
        ("empty", String::new()),
    ]
}

#[test]
fn bad_dh_value_d_in_message_2() {
    for (name, value) in bad_values() {
        let mut m = Mallory::new(&format!("bad-d-{name}"));
        m.start();
        m.run(|_, _, s| {
            if step(s) == Some(2) {
                set_values(s, "dhkeys", &[&value]);
            }
            Fate::Pass
        });
        let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
        let expected = match name {
            "not base64" => PeerMisbehaved::BadBase64("dhkeys".into()),
            _ => PeerMisbehaved::PublicValueOutOfRange("dhkeys".into()),
        };
        a.assert_failed(ErrorKind::Negotiation, expected);
        // P10b: not-acceptable on dhkeys, which ends Bob's negotiation too.
        b.assert_failed(
            ErrorKind::Rejected,
            Rejected::PeerError {
                condition: "not-acceptable".into(),
                fields: vec!["dhkeys".into()],
            },
        );
        assert!(
            m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty(),
            "{name}"
        );
        assert!(
            secrets(&m.alice).is_empty() && secrets(&m.bob).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn bad_dh_value_e_in_message_3() {
    // Mallory replaces e and also the matching He in message 1, so the commitment holds
    // and the range check itself is exercised.
    for (name, value) in bad_values() {
        let raw = b64::decode("v", &value).ok();
        let mut m = Mallory::new(&format!("bad-e-{name}"));
        m.start();
        m.run(|_, _, s| {
            match step(s) {
                Some(1) => {
                    if let Some(raw) = &raw {
                        let mut h = values(s, "dhhashes");
                        h[0] = b64::encode(&commitment(mpi(raw)));
                        let refs: Vec<&str> = h.iter().map(String::as_str).collect();
                        set_values(s, "dhhashes", &refs);
                    }
                }
                Some(3) => set_values(s, "dhkeys", &[&value]),
                _ => {}
            }
            Fate::Pass
        });
        let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
        let (violation, condition) = match name {
            "not base64" => (PeerMisbehaved::BadBase64("dhkeys".into()), "not-acceptable"),
            _ => (
                PeerMisbehaved::CommittedValueOutOfRange,
                "feature-not-implemented",
            ),
        };
        b.assert_failed(ErrorKind::Negotiation, violation);
        a.assert_failed(
            ErrorKind::Rejected,
            Rejected::PeerError {
                condition: condition.into(),
                fields: vec!["dhkeys".into()],
            },
        );
        assert!(
            m.alice.session_ids().is_empty() && m.bob.session_ids().is_empty(),
            "{name}"
        );
        assert!(
            secrets(&m.alice).is_empty() && secrets(&m.bob).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn he_commitment_mismatch() {
    // A valid, in-range e that is not the one committed to.
    let mut m = Mallory::new("he");
    m.start();
    m.run(|_, _, s| {
        if step(s) == Some(3) {
            set_values(s, "dhkeys", &[&b64::encode(&[5])]);
        }
        Fate::Pass
    });
    let (a, b) = (outcome(&mut m.alice), outcome(&mut m.bob));
    b.assert_failed(ErrorKind::Negotiation, PeerMisbehaved::CommitmentMismatch);
    a.assert_failed(
        ErrorKind::Rejected,
        Rejected::PeerError {
            condition: "feature-not-implemented".into(),
            fields: vec!["dhkeys".into()],
        },
    );
}
