//! XEP-0155 §4.5 renegotiation of an active session's `logging` term, both roles. The
//! forms travel inside the session: encrypted in an ESession, in clear in a plain one.
use super::session::State;
use super::Engine;
use crate::config::Logging;
use crate::error::{Error, Violation};
use crate::event::Event;
use crate::forms::{Field, FieldType, Form, FormType};
use crate::negotiation::fields::{self, LoggingVocab};
use crate::stanza::message;
use crate::store::SecretStore;
use crate::xml::{ns, Element};

/// The fields a renegotiation may carry here: only `logging` is renegotiable (the key
/// agreement's terms cannot change inside a session; see docs/decisions.md).
const RENEGOTIABLE: [&str; 4] = ["FORM_TYPE", "renegotiate", "logging", "otr"];

fn feature(form: Form) -> Element {
    Element::new("feature", ns::FEATURE_NEG).with_child(form.to_element())
}

/// The renegotiation form inside `nodes` (a `<feature/>` whose form has `renegotiate`).
pub(crate) fn find(nodes: &[Element]) -> Option<Form> {
    nodes
        .iter()
        .filter(|e| e.is("feature", ns::FEATURE_NEG))
        .find_map(|f| {
            let form = Form::parse(f.child("x", ns::DATA)?).ok()?;
            (form.form_type() == Some(ns::SSN) && form.field("renegotiate").is_some())
                .then_some(form)
        })
}

impl<S: SecretStore> Engine<S> {
    /// Asks the peer to change the session's `logging` term to the first of `offer` it
    /// accepts (XEP-0155 §4.5 [6]). The answer arrives as [`Event::Renegotiated`] or, when
    /// declined, a [`Event::Warning`] (the session keeps its terms, [8]).
    pub fn renegotiate_logging(
        &mut self,
        peer: &str,
        thread: &str,
        offer: &[Logging],
    ) -> Result<(), Error> {
        if offer.is_empty() {
            return Err(Error::usage(Violation::MissingField("logging".into())));
        }
        let vocab = LoggingVocab::LoggingMay;
        let words: Vec<&str> = offer.iter().map(|l| vocab.word(*l)).collect();
        let mut form = Form::with_form_type(FormType::Form, ns::SSN);
        form.push(Field::new("renegotiate", Some(FieldType::Boolean), &["1"]).required());
        form.push(Field::offer("logging", FieldType::ListSingle, &words).required());
        self.send_control(peer, thread, feature(form))?;
        if let Ok(s) = self.session_mut(peer, thread) {
            s.renegotiating = Some(offer.to_vec());
        }
        Ok(())
    }

    /// Sends `content` inside the session: encrypted (no `type`, no clear extras, like the
    /// terminate of P10) in an ESession, in clear in a plain session.
    pub(crate) fn send_control(
        &mut self,
        peer: &str,
        thread: &str,
        content: Element,
    ) -> Result<(), Error> {
        let s = self.session_mut(peer, thread)?;
        let to = s.peer.clone();
        let stanza = match &mut s.state {
            State::Encrypted(_) => {
                let plain = content.serialize_in(ns::JABBER_CLIENT);
                let c = self
                    .seal_outgoing(peer, thread, plain.as_bytes())
                    .map_err(Error::usage)?;
                message(&to, thread).with_child(c)
            }
            State::Plain => message(&to, thread).with_child(content),
            other => return Err(Error::usage(Violation::WrongState(other.name()))),
        };
        self.outgoing.push_back(stanza);
        Ok(())
    }

    /// Handles a renegotiation form received inside the session with `peer` on `thread`.
    pub(crate) fn renegotiation(&mut self, peer: &str, thread: &str, form: Form) {
        let key = (crate::jid::bare(peer).to_owned(), thread.to_owned());
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        let renegotiate = form.value("renegotiate").and_then(fields::boolean);
        match form.kind {
            FormType::Form => {
                // [6] → [7] accept when every field is renegotiable and a value fits, else [8].
                let only_known = form
                    .fields
                    .iter()
                    .all(|f| f.var.as_deref().is_some_and(|v| RENEGOTIABLE.contains(&v)));
                // XEP-0136 §3.1 applies to renegotiation as to the first negotiation.
                let choice = LoggingVocab::detect(&form).and_then(|(vocab, words)| {
                    let offered: Vec<Logging> =
                        words.iter().filter_map(|w| vocab.parse(w)).collect();
                    let pick = self.config.logging_answer(peer, &offered)?;
                    Some((vocab, pick))
                });
                let mut answer = Form::with_form_type(FormType::Submit, ns::SSN);
                answer.fields[0].kind = None;
                match (renegotiate, only_known, choice) {
                    (Some(true), true, Some((vocab, logging))) => {
                        answer.push(Field::new("renegotiate", None, &["1"]));
                        answer.push(Field::new(vocab.field(), None, &[vocab.word(logging)]));
                        if let Some(info) = s.info.as_mut() {
                            info.logging = logging;
                            let info = info.clone();
                            self.events.push_back(Event::Renegotiated(info));
                        }
                    }
                    _ => {
                        answer.push(Field::new("renegotiate", None, &["0"]));
                        self.events.push_back(Event::Warning {
                            peer: peer.to_owned(),
                            thread: Some(thread.to_owned()),
                            detail: "declined a renegotiation: the session keeps its terms".into(),
                        });
                    }
                }
                if let Err(e) = self.send_control(peer, thread, feature(answer)) {
                    tracing::warn!(error = %e, "renegotiation answer not sent");
                }
            }
            FormType::Submit => {
                let Some(offer) = s.renegotiating.take() else {
                    return;
                };
                let vocab = LoggingVocab::LoggingMay;
                let chosen = form
                    .value(vocab.field())
                    .and_then(|w| vocab.parse(w))
                    .filter(|l| offer.contains(l));
                match (renegotiate, chosen, s.info.as_mut()) {
                    (Some(true), Some(logging), Some(info)) => {
                        info.logging = logging;
                        let info = info.clone();
                        self.events.push_back(Event::Renegotiated(info));
                    }
                    _ => self.events.push_back(Event::Warning {
                        peer: peer.to_owned(),
                        thread: Some(thread.to_owned()),
                        detail: "the peer declined the renegotiation: the session keeps its terms"
                            .into(),
                    }),
                }
            }
            _ => {}
        }
    }
}
