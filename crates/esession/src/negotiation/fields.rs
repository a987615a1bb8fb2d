//! Field names and value vocabularies of the `urn:xmpp:ssn` negotiation forms
//! (XEP-0155 §8, XEP-0116 §11.2, XEP-0217 §4.1), and strict readers for received values.
use crate::b64;
use crate::config::Logging;
use crate::error::PeerMisbehaved;
use crate::forms::{Form, FormType};
use crate::xml::{ns, Element};

/// XEP-0116 §6.2 / profile P4: fields left out of every MAC'd normalization.
pub(crate) const NOT_MACED: [&str; 2] = ["identity", "mac"];
/// The `rekey_freq` that turns re-keying off (XEP-0217 §4.1, profile P9).
pub(crate) const REKEY_OFF: u32 = u32::MAX;
/// Profile P6: offer `1.0`; accept `1.0`, `1.2`, `1.3` as the same protocol.
pub(crate) const VER_OFFER: &str = "1.0";
pub(crate) const VER_ACCEPTED: [&str; 3] = ["1.0", "1.2", "1.3"];
/// The only `disclosure` this project negotiates (profile P6, XEP-0116 §7.6).
pub(crate) const DISCLOSURE: &str = "never";

/// XEP-0004 §3.3 booleans.
pub(crate) fn boolean(v: &str) -> Option<bool> {
    match v {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// How the initiator spelled the logging choice (profile P6, spec-digest A13); the
/// responder answers in the same vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoggingVocab {
    /// `logging` with `may` / `mustnot` (XEP-0155).
    LoggingMay,
    /// `logging` with `true` (= may) / `false` (= mustnot) (XEP-0116 examples).
    LoggingBool,
    /// `otr` with `true` (= mustnot) / `false` (= may) (XEP-0217, XEP-0187).
    Otr,
}

impl LoggingVocab {
    pub(crate) fn field(self) -> &'static str {
        match self {
            LoggingVocab::LoggingMay | LoggingVocab::LoggingBool => "logging",
            LoggingVocab::Otr => "otr",
        }
    }

    pub(crate) fn word(self, l: Logging) -> &'static str {
        match (self, l) {
            (LoggingVocab::LoggingMay, Logging::May) => "may",
            (LoggingVocab::LoggingMay, Logging::MustNot) => "mustnot",
            (LoggingVocab::LoggingBool, Logging::May) => "true",
            (LoggingVocab::LoggingBool, Logging::MustNot) => "false",
            (LoggingVocab::Otr, Logging::May) => "false",
            (LoggingVocab::Otr, Logging::MustNot) => "true",
        }
    }

    pub(crate) fn parse(self, word: &str) -> Option<Logging> {
        [Logging::May, Logging::MustNot]
            .into_iter()
            .find(|l| self.word(*l) == word)
    }

    /// Which vocabulary a received form uses: `otr` if that field is present, else the
    /// `logging` words decide.
    pub(crate) fn detect(form: &Form) -> Option<(LoggingVocab, Vec<&str>)> {
        if let Some(f) = form.field("otr") {
            return Some((LoggingVocab::Otr, f.offered()));
        }
        let f = form.field("logging")?;
        let words = f.offered();
        let vocab = if words.iter().any(|w| *w == "may" || *w == "mustnot") {
            LoggingVocab::LoggingMay
        } else {
            LoggingVocab::LoggingBool
        };
        Some((vocab, words))
    }
}

/// The single value of `var`; missing or multiple values are violations naming it.
pub(crate) fn single<'f>(form: &'f Form, var: &str) -> Result<&'f str, PeerMisbehaved> {
    let field = form
        .field(var)
        .ok_or_else(|| PeerMisbehaved::MissingField(var.to_owned()))?;
    match field.values.as_slice() {
        [v] => Ok(v.as_str()),
        [] => Err(PeerMisbehaved::MissingField(var.to_owned())),
        _ => Err(PeerMisbehaved::MultipleValues(var.to_owned())),
    }
}

/// The single value of `var`, base64-decoded.
pub(crate) fn single_b64(form: &Form, var: &str) -> Result<Vec<u8>, PeerMisbehaved> {
    b64::decode(var, single(form, var)?)
}

/// Every value of `var`, base64-decoded.
pub(crate) fn multi_b64(form: &Form, var: &str) -> Result<Vec<Vec<u8>>, PeerMisbehaved> {
    let field = form
        .field(var)
        .ok_or_else(|| PeerMisbehaved::MissingField(var.to_owned()))?;
    field.values.iter().map(|v| b64::decode(var, v)).collect()
}

/// A received nonce (profile P2 uses 32 octets; any 1–64 octets are read as received).
pub(crate) fn nonce(form: &Form, var: &str) -> Result<Vec<u8>, PeerMisbehaved> {
    let n = single_b64(form, var)?;
    if n.is_empty() || n.len() > 64 {
        return Err(PeerMisbehaved::BadValue {
            field: var.to_owned(),
            value: format!("{} octets", n.len()),
        });
    }
    Ok(n)
}

/// Checks that the chosen value `value` of `var` is one of `offered`.
pub(crate) fn offered_check(
    var: &str,
    value: &str,
    offered: &[&str],
) -> Result<(), PeerMisbehaved> {
    if offered.contains(&value) {
        Ok(())
    } else {
        Err(PeerMisbehaved::UnofferedOption {
            field: var.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Parses a received negotiation form and checks it is an `urn:xmpp:ssn` form of type
/// `expected`. An unparseable or foreign form is a silent failure (it may not come from the
/// peer at all); a wrong type is `not-acceptable`.
pub(crate) fn ssn_form(x: &Element, expected: FormType) -> Result<Form, PeerMisbehaved> {
    let form = Form::parse(x)?;
    if form.form_type() != Some(ns::SSN) {
        return Err(PeerMisbehaved::NotSsnForm);
    }
    if form.kind != expected {
        return Err(PeerMisbehaved::WrongFormType {
            expected: expected.name(),
            got: form.kind.name(),
        });
    }
    Ok(form)
}
