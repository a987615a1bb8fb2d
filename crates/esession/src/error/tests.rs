//! The catalogue: each rule's error reply (profile P10b), the kinds derived from the
//! variants, and store errors that keep their cause.
use super::*;
use crate::crypto::{CryptoError, KeyError};
use crate::forms::FormError;
use crate::xml::XmlError;
use std::error::Error as _;

const NA: Option<Condition> = Some(Condition::NotAcceptable);
const FNI: Option<Condition> = Some(Condition::FeatureNotImplemented);

fn s(v: &str) -> String {
    v.to_owned()
}

#[test]
fn each_rule_names_its_condition_and_field() {
    use PeerMisbehaved as P;
    let rows: Vec<(P, Option<Condition>, &[&str])> = vec![
        (P::NotSsnForm, None, &[]),
        (
            P::WrongFormType {
                expected: "submit",
                got: "form",
            },
            NA,
            &[],
        ),
        (P::MissingField(s("nonce")), NA, &["nonce"]),
        (P::MultipleValues(s("modp")), NA, &["modp"]),
        (P::BadBase64(s("dhkeys")), NA, &["dhkeys"]),
        (
            P::BadValue {
                field: s("counter"),
                value: s("3 octets"),
            },
            NA,
            &["counter"],
        ),
        (
            P::UnofferedOption {
                field: s("crypt_algs"),
                value: s("rot13"),
            },
            NA,
            &["crypt_algs"],
        ),
        (
            P::NoAcceptableOption(vec![s("modp"), s("ver")]),
            NA,
            &["modp", "ver"],
        ),
        (P::UnsupportedFlow, None, &[]),
        (P::PublicValueOutOfRange(s("dhkeys")), NA, &["dhkeys"]),
        (P::CommittedValueOutOfRange, FNI, &["dhkeys"]),
        (P::CommitmentMismatch, FNI, &["dhkeys"]),
        (P::NonceMismatch, NA, &["nonce"]),
        (P::IdentityMacMismatch, FNI, &["mac"]),
        (P::IdentityMismatch, FNI, &["identity"]),
        (
            P::PeerIdentity(IdentityFault::UnknownFingerprint),
            FNI,
            &["identity"],
        ),
        (P::OutOfOrder, None, &[]),
        (P::Form(FormError::TooLarge("too many fields")), None, &[]),
        (P::Crypto(CryptoError::UnknownGroup(3)), NA, &[]),
        (P::OfflineOptions(OfflineOptionsFault::Unsigned), None, &[]),
        (P::OfflineExpired(s("2026-01-01T00:00:00Z")), None, &[]),
        (P::NoOfflineSet, None, &[]),
        (P::OfflineReplay(Replay::ThreadTaken), None, &[]),
    ];
    for (rule, condition, fields) in rows {
        assert_eq!(rule.condition(), condition, "{rule:?}");
        assert_eq!(rule.fields(), fields, "{rule:?}");
    }
}

#[test]
fn a_refused_request_names_its_condition_and_fields() {
    let rows: [(RequestRefused, Condition, &[&str]); 6] = [
        (
            RequestRefused::Unsupported,
            Condition::ServiceUnavailable,
            &[],
        ),
        (
            RequestRefused::Unimplemented(vec![s("dhkeys")]),
            Condition::FeatureNotImplemented,
            &["dhkeys"],
        ),
        (
            RequestRefused::Unacceptable(vec![s("modp"), s("sas_algs")]),
            Condition::NotAcceptable,
            &["modp", "sas_algs"],
        ),
        (
            RequestRefused::Form(FormError::TooLarge("too many options")),
            Condition::NotAcceptable,
            &[],
        ),
        (
            RequestRefused::Compat(CompatRefusal::ThreeMessage, vec![s("dhkeys")]),
            Condition::FeatureNotImplemented,
            &["dhkeys"],
        ),
        (
            RequestRefused::Compat(CompatRefusal::NoE2e, Vec::new()),
            Condition::NotAcceptable,
            &[],
        ),
    ];
    for (refusal, condition, fields) in rows {
        assert_eq!(refusal.condition(), condition, "{refusal:?}");
        assert_eq!(refusal.fields(), fields, "{refusal:?}");
    }
}

#[test]
fn the_kind_is_derived_from_the_variant() {
    let store = StoreError::new("reading the keys");
    let rows: [(Error, ErrorKind, &str); 7] = [
        (
            PeerMisbehaved::NonceMismatch.into(),
            ErrorKind::Negotiation,
            "negotiation: field nonce does not echo our nonce",
        ),
        (
            StanzaFault::MacMismatch.into(),
            ErrorKind::Decryption,
            "decryption: stanza MAC does not verify",
        ),
        (
            Rejected::Offline(PeerMisbehaved::NoOfflineSet).into(),
            ErrorKind::Rejected,
            "rejected: offline init for no published option set (field nonce)",
        ),
        (
            Usage::WrongState("negotiating").into(),
            ErrorKind::Usage,
            "usage: session is negotiating",
        ),
        (
            store.into(),
            ErrorKind::Store,
            "store: secret store failure: reading the keys",
        ),
        (
            Error::Timeout {
                seconds: 60,
                gajim_stall: false,
            },
            ErrorKind::Timeout,
            "timeout: no answer within 60 seconds",
        ),
        (
            Error::Timeout {
                seconds: 20,
                gajim_stall: true,
            },
            ErrorKind::Timeout,
            &format!(
                "timeout: no answer within 20 seconds: {}",
                crate::GAJIM_STALL
            ),
        ),
    ];
    for (error, kind, text) in rows {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn sub_cases_keep_their_text() {
    let untrusted = PeerMisbehaved::PeerIdentity(IdentityFault::Untrusted {
        fingerprint: s("AbC="),
        peer: s("bob@example.com"),
    });
    assert_eq!(
        untrusted.to_string(),
        "peer identity: the key AbC= is not trusted for bob@example.com"
    );
    let bad = PeerMisbehaved::PeerIdentity(IdentityFault::BadSignature(KeyError::NoKeyValue));
    assert_eq!(
        bad.to_string(),
        "peer identity: signature does not verify: KeyValue holds no RSAKeyValue or DSAKeyValue"
    );
    let flood = StanzaFault::Rekey(RekeyFault::Flood {
        burst: 10,
        per_minute: 30,
    });
    assert_eq!(
        flood.to_string(),
        "re-key rule broken: the peer sent more <key/>s than the budget of 10 (refilled at 30 a minute)"
    );
    let not_xml = StanzaFault::PlaintextNotXml(XmlError::TooDeep(32));
    assert_eq!(
        not_xml.to_string(),
        format!(
            "decrypted content is not well-formed XML: {}",
            XmlError::TooDeep(32)
        )
    );
    assert_eq!(
        PeerMisbehaved::OfflineReplay(Replay::Accepted).to_string(),
        "offline init replayed: its d or N_B was accepted before for this option set"
    );
}

#[test]
fn a_store_error_keeps_its_cause_as_source() {
    let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only file");
    let e = StoreError::with_source("opening /tmp/x.db", io);
    assert_eq!(
        e.to_string(),
        "secret store failure: opening /tmp/x.db: read-only file"
    );
    assert_eq!(e.what(), "opening /tmp/x.db");
    let cause = e.source().expect("the cause");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("the io::Error itself");
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    // Through the engine's error too: Error -> StoreError -> io::Error.
    let error = Error::from(e.clone());
    let store = error.source().expect("the store error");
    assert!(store.source().is_some_and(|c| c.is::<std::io::Error>()));
    // Clones are the same failure; an equal text with another cause is not.
    assert_eq!(e, e.clone());
    let other = StoreError::with_source("opening /tmp/x.db", "read-only file");
    assert_ne!(e, other);
    assert!(StoreError::new("x").source().is_none());
    assert_eq!(StoreError::new("x"), StoreError::new("x"));
}
