//! XEP-0155 §4.5 renegotiation of an active session's `logging` term, both roles. The
//! forms travel inside the session: encrypted in an ESession, in clear in a plain one.
use super::session::{Common, State};
use super::shared::{Core, Outbox};
use super::Engine;
use crate::compat::gajim;
use crate::config::Logging;
use crate::error::{Error, Usage};
use crate::event::Event;
use crate::forms::{Field, FieldType, Form, FormType};
use crate::negotiation::fields::{self, LoggingVocab};
use crate::session_id::SessionId;
use crate::stanza::message;
use crate::store::SecretStore;
use crate::warning::Warning;
use crate::xml::{ns, Element};
use jid::Jid;

/// The fields a renegotiation may carry here: only `logging` is renegotiable (the key
/// agreement's terms cannot change inside a session; see docs/decisions.md).
const RENEGOTIABLE: [&str; 4] = ["FORM_TYPE", "renegotiate", "logging", "otr"];

fn feature(form: Form) -> Element {
    Element::new("feature", ns::FEATURE_NEG).with_child(form.to_element())
}

/// The renegotiation form among `elements` (a `<feature/>` whose form has `renegotiate`).
pub(super) fn find<'a>(elements: impl Iterator<Item = &'a Element>) -> Option<Form> {
    elements
        .filter(|e| e.is("feature", ns::FEATURE_NEG))
        .find_map(|f| parse(f.child("x", ns::DATA)?))
}

/// The form `x`, when it is a renegotiation (an SSN form with `renegotiate`).
pub(super) fn parse(x: &Element) -> Option<Form> {
    let form = Form::parse(x).ok()?;
    (form.form_type() == Some(ns::SSN) && form.field("renegotiate").is_some()).then_some(form)
}

impl<S: SecretStore> Engine<S> {
    /// Asks the peer to change the session's `logging` term to the first of `offer` it
    /// accepts (XEP-0155 §4.5 \[6\]). The answer arrives as [`Event::Renegotiated`] or, when
    /// declined, a [`Event::Warning`] (the session keeps its terms, \[8\]).
    pub fn renegotiate_logging(&mut self, id: &SessionId, offer: &[Logging]) -> Result<(), Error> {
        if offer.is_empty() {
            return Err(Usage::NoLoggingOffer.into());
        }
        let vocab = LoggingVocab::LoggingMay;
        let words: Vec<&str> = offer.iter().map(|l| vocab.word(*l)).collect();
        let mut form = Form::with_form_type(FormType::Form, ns::SSN);
        form.push(Field::new("renegotiate", Some(FieldType::Boolean), &["1"]).required());
        form.push(Field::offer("logging", FieldType::ListSingle, &words).required());
        let s = super::find_session(&mut self.sessions, id)?;
        if s.state.open().is_some_and(|o| o.summary.compat.is_some()) {
            return Err(gajim::renegotiation_refused().into());
        }
        s.state
            .send_control(&s.common, feature(form), &mut self.core, &mut self.out)?;
        if let Some(open) = s.state.open_mut() {
            open.renegotiating = Some(offer.into());
        }
        Ok(())
    }
}

impl State {
    /// Sends `content` inside the session: encrypted (no `type`, no clear extras, like the
    /// terminate of P10) in an ESession, in clear in a plain session.
    pub(super) fn send_control<S: SecretStore>(
        &mut self,
        common: &Common,
        content: Element,
        core: &mut Core<S>,
        out: &mut Outbox,
    ) -> Result<(), Error> {
        let (to, thread) = (common.peer().as_str(), common.thread());
        let stanza = match self {
            State::Encrypted(secure) => {
                let plain = content.serialize_in(ns::JABBER_CLIENT);
                let c = secure.seal_outgoing(common, plain.as_bytes(), core, out)?;
                message(to, thread).with_child(c.into_element())
            }
            State::Plain(_) => message(to, thread).with_child(content),
            other => return Err(other.wrong().into()),
        };
        out.send(stanza);
        Ok(())
    }
}

/// A renegotiation form received from `peer` inside the session in `state`.
pub(super) fn received<S: SecretStore>(
    state: &mut State,
    common: &Common,
    peer: &Jid,
    form: Form,
    core: &mut Core<S>,
    out: &mut Outbox,
) {
    if matches!(state, State::Terminating(_)) {
        // Profile P10: after our terminate we send nothing more, so a request that crossed
        // it is neither answered nor applied (found in review: it was applied, reported
        // as `Renegotiated`, and its answer failed), nor is an answer to ours applied.
        return;
    }
    let thread = Some(&common.id);
    let renegotiate = form.value("renegotiate").and_then(fields::boolean);
    match form.kind {
        FormType::Form => {
            let answer = answer(state, common, peer, &form, renegotiate, core, out);
            if let Err(e) = state.send_control(common, feature(answer), core, out) {
                tracing::warn!(error = %e, "renegotiation answer not sent");
            }
        }
        FormType::Submit => {
            let Some(offer) = state.open_mut().and_then(|o| o.renegotiating.take()) else {
                return;
            };
            let vocab = LoggingVocab::LoggingMay;
            let chosen = form
                .value(vocab.field())
                .and_then(|w| vocab.parse(w))
                .filter(|l| offer.contains(l));
            match (renegotiate, chosen, state.open_mut()) {
                (Some(true), Some(logging), Some(open)) => {
                    open.summary.logging = logging;
                    out.event(Event::Renegotiated(common.info(&open.summary)));
                }
                _ => out.warn(peer, thread, Warning::PeerDeclinedRenegotiation),
            }
        }
        _ => {}
    }
}

/// Our answer to a renegotiation request `form` ([6] → [7] accept when every field is
/// renegotiable and a value fits, else [8]), applied to the session when accepted.
fn answer<S>(
    state: &mut State,
    common: &Common,
    peer: &Jid,
    form: &Form,
    renegotiate: Option<bool>,
    core: &Core<S>,
    out: &mut Outbox,
) -> Form {
    let only_known = form
        .fields
        .iter()
        .all(|f| f.var.as_deref().is_some_and(|v| RENEGOTIABLE.contains(&v)));
    // XEP-0136 §3.1 applies to renegotiation as to the first negotiation.
    let choice = LoggingVocab::detect(form).and_then(|(vocab, words)| {
        let offered: Vec<Logging> = words.iter().filter_map(|w| vocab.parse(w)).collect();
        let pick = core.config.logging_answer(peer.as_str(), &offered)?;
        Some((vocab, pick))
    });
    let mut answer = Form::with_form_type(FormType::Submit, ns::SSN);
    if let Some(form_type) = answer.fields.first_mut() {
        form_type.kind = None;
    }
    match (renegotiate, only_known, choice) {
        (Some(true), true, Some((vocab, logging))) => {
            answer.push(Field::new("renegotiate", None, &["1"]));
            answer.push(Field::new(vocab.field(), None, &[vocab.word(logging)]));
            if let Some(open) = state.open_mut() {
                open.summary.logging = logging;
                out.event(Event::Renegotiated(common.info(&open.summary)));
            }
        }
        _ => {
            answer.push(Field::new("renegotiate", None, &["0"]));
            out.warn(peer, Some(&common.id), Warning::DeclinedRenegotiation);
        }
    }
    answer
}
