//! A session's negotiation steps (XEP-0155, XEP-0116 §4): each state handles the form
//! it awaits and returns the next state, or `None` once the session is over.
use super::inbound::{Inbound, Negotiation};
use super::renegotiate;
use super::session::{Common, Open, Pacing, Secure, Session, State};
use super::shared::{Core, Outbox};
use super::summary::{Algorithms, Summary};
use crate::compat::gajim;
use crate::error::{Error, PeerMisbehaved, Rejected};
use crate::event::{EndedBy, Event};
use crate::forms::{Form, FormType};
use crate::negotiation::established::Established;
use crate::negotiation::fields::boolean;
use crate::negotiation::initiator::{Offer, Response};
use crate::negotiation::responder::{AwaitingResult, Completed};
use crate::negotiation::stanza::{negotiation_message, Wrapper};
use crate::negotiation::terms::Terms;
use crate::session_id::SessionId;
use crate::small_text::SmallText;
use crate::stanza::{message, read_termination, termination};
use crate::store::SecretStore;
use crate::time::Timestamp;
use crate::warning::Warning;
use crate::xml::{ns, Element};
use jid::Jid;

/// What a negotiation step leads to: the next state, or `None` when the session ended.
type Step = Result<Option<State>, Error>;

/// What one negotiation step of a session works with.
struct Turn<'a, S> {
    c: &'a mut Common,
    /// The sender, accepted by the session (profile P6).
    from: &'a Jid,
    core: &'a mut Core<S>,
    out: &'a mut Outbox,
    now: Timestamp,
}

impl Session {
    /// A negotiation form in `msg`, from a sender this session accepts.
    pub(super) fn on_negotiation<S: SecretStore>(
        self,
        form: &Negotiation,
        msg: &Inbound,
        core: &mut Core<S>,
        out: &mut Outbox,
        now: Timestamp,
    ) -> Option<Session> {
        let Session { mut common, state } = self;
        let from = &msg.from;
        let mut t = Turn {
            c: &mut common,
            from,
            core,
            out,
            now,
        };
        let step: Step = match (state, form) {
            (State::Offered(offer), Negotiation::Request(x) | Negotiation::Reply(x)) => {
                t.offered(*offer, x).map(Some)
            }
            (State::AwaitingInit(awaiting), Negotiation::Init(x)) => awaiting
                .handle_init(x, &mut t.core.ctx(from, now))
                .map(|est| Some(adopt(t.c, est, now, t.out))),
            (State::Responded(awaiting), Negotiation::Request(x) | Negotiation::Reply(x)) => {
                t.responded(*awaiting, x).map(Some)
            }
            (State::PlainPending(terms), Negotiation::Request(x) | Negotiation::Reply(x)) => {
                completed(&terms, t.c, x, t.out).map(Some)
            }
            (State::Plain(open), Negotiation::Request(x) | Negotiation::Reply(x)) => {
                Ok(t.plain(State::Plain(open), x))
            }
            (State::Encrypted(secure), Negotiation::Reply(x))
                if secure.channel.dialect().honours_clear_terminate() && gajim::is_terminate(x) =>
            {
                // Issue 13 D7: Gajim ends its sessions in clear; nobody authenticated this.
                let detail = Warning::GajimClearTerminate;
                t.out.warn(from, Some(&t.c.id), detail);
                t.out.event(Event::Terminated {
                    peer: from.clone(),
                    session: t.c.id.clone(),
                    by: EndedBy::Peer,
                });
                Ok(None)
            }
            (state @ (State::Encrypted(_) | State::Terminating(_)), _) => {
                // Profile P10: a terminate (or any negotiation form) in clear inside an
                // ESession is ignored.
                t.out.warn(
                    from,
                    Some(&t.c.id),
                    Warning::ClearNegotiationInsideEncrypted,
                );
                Ok(Some(state))
            }
            (_, _) => Err(PeerMisbehaved::OutOfOrder.into()),
        };
        match step {
            Ok(state) => state.map(|state| Session { common, state }),
            Err(failure) => {
                fail_negotiation(from, &common.id, &msg.raw, failure, core, out);
                None
            }
        }
    }
}

impl<S: SecretStore> Turn<'_, S> {
    /// Initiator, message 1 sent: the response (XEP-0116 §4.4–4.6, XEP-0155 §4.3).
    fn offered(&mut self, offer: Offer, x: &Element) -> Result<State, Error> {
        let (c, from, now) = (&mut *self.c, self.from, self.now);
        let deadline = self.core.deadline(now);
        match offer.handle_response(x, &mut self.core.ctx(from, now))? {
            Response::Declined(reason) => Err(Rejected::PeerDeclined(reason).into()),
            Response::Plain { terms, complete } => {
                self.out.send(c.bind(from, complete));
                Ok(established_plain(c, &terms, self.out))
            }
            Response::Identity { next, msg3 } => {
                self.out.send(c.bind(from, msg3));
                c.deadline = deadline;
                Ok(State::AwaitingInit(next))
            }
            Response::Established { established, msg3 } => {
                self.out.send(c.bind(from, msg3));
                Ok(adopt(c, *established, now, self.out))
            }
        }
    }

    /// Responder, message 2 sent: the result (message 3, XEP-0116 §4.6); message 4
    /// follows in the 4-message flow.
    fn responded(&mut self, awaiting: AwaitingResult, x: &Element) -> Result<State, Error> {
        let (c, from, now) = (&mut *self.c, self.from, self.now);
        match awaiting.handle_result(x, &mut self.core.ctx(from, now))? {
            Completed::WithInit(est, msg4) => {
                let msg4 =
                    negotiation_message(from.as_str(), c.thread(), Wrapper::Init, msg4, false);
                self.out.send(msg4);
                Ok(adopt(c, *est, now, self.out))
            }
            Completed::Done(est) => Ok(adopt(c, *est, now, self.out)),
        }
    }

    /// A plain session: a renegotiation (XEP-0155 §4.5, in clear), a terminate (§4.6,
    /// acknowledged), or anything else, ignored.
    fn plain(&mut self, mut state: State, x: &Element) -> Option<State> {
        let (c, from) = (&*self.c, self.from);
        if let Some(form) = renegotiate::parse(x) {
            renegotiate::received(&mut state, c, from, form, self.core, self.out);
            return Some(state);
        }
        let feature = Element::new("feature", ns::FEATURE_NEG).with_child(x.clone());
        if read_termination(&feature) == Some(FormType::Submit) {
            let ack = termination(FormType::Result);
            self.out
                .send(message(from.as_str(), c.thread()).with_child(ack));
            self.out.event(Event::Terminated {
                peer: from.clone(),
                session: c.id.clone(),
                by: EndedBy::Peer,
            });
            return None;
        }
        Some(state)
    }
}

/// Responder of a plain stanza session: XEP-0155 §4.4 [4] complete (accept = 1) or [5]
/// cancel.
fn completed(terms: &Terms, c: &mut Common, x: &Element, out: &mut Outbox) -> Result<State, Error> {
    let accepted = Form::parse(x)
        .ok()
        .filter(|f| f.kind == FormType::Result)
        .and_then(|f| f.value("accept").and_then(boolean));
    if accepted == Some(true) {
        Ok(established_plain(c, terms, out))
    } else {
        // XEP-0155 §4.4 [5]: a result with accept = 0 cancels the session.
        Err(Rejected::Cancelled.into())
    }
}

/// A plain stanza session established under `terms`, and reported.
fn established_plain(c: &mut Common, terms: &Terms, out: &mut Outbox) -> State {
    let summary = Summary::of(terms);
    c.deadline = None;
    out.event(Event::Established(c.info(&summary)));
    State::Plain(Box::new(Open {
        summary,
        retained: false,
        renegotiating: None,
    }))
}

/// Makes a completed negotiation the session's state and reports it.
pub(super) fn adopt(c: &mut Common, est: Established, now: Timestamp, out: &mut Outbox) -> State {
    let t = &est.terms;
    let summary = Summary {
        // Issue 13 D6: toward Gajim, the SAS as Gajim shows it.
        sas: est.sas.map(|s| SmallText::new(&t.dialect.show_sas(s))),
        srs: est.srs,
        verified: est.verified,
        algorithms: Some(Algorithms::of(t)),
        peer_key: est.peer_key.map(Box::new),
        ..Summary::of(t)
    };
    c.deadline = None;
    out.event(Event::Established(c.info(&summary)));
    if est.key_missing {
        out.warn(c.peer(), Some(&c.id), Warning::PeerKeyMissing);
    }
    State::Encrypted(Box::new(Secure {
        open: Open {
            summary,
            retained: est.secret_id.is_some(),
            renegotiating: None,
        },
        channel: est.channel,
        // XEP-0200 §11.4: idleness is counted from establishment until we first send.
        pacing: Pacing::since(now),
    }))
}

/// A failed negotiation of session `id` with `from` (the session, if any, is over): the
/// error reply a broken rule calls for (profile P10b) and the `Failed` event.
pub(super) fn fail_negotiation<S>(
    from: &Jid,
    id: &SessionId,
    received: &Element,
    error: Error,
    core: &Core<S>,
    out: &mut Outbox,
) {
    // Only a rule the peer broke is answered; a decline, a cancel, our own store or
    // usage failure is not.
    if let Error::PeerMisbehaved(rule) = &error {
        if let Some(condition) = rule.condition() {
            let fields = rule.fields();
            out.reply_error(&core.config, received, from, condition, &fields);
        }
    }
    out.event(Event::Failed {
        peer: from.clone(),
        session: id.clone(),
        error,
    });
}
