//! The XEP-0200 receive path (§8) through an established in-memory session (Bob, copied
//! per input from the state a real run left him in). The first byte picks the mode:
//!
//! * 0: arbitrary `<c/>` content: `<message from=Alice type='chat'><thread>T</thread>
//!   <c xmlns='…xep-0200…'>FUZZ</c></message>`.
//! * 1: a real captured encrypted stanza (Alice's first, "Hello Bob") with bytes flipped,
//!   inserted or deleted (see `mutate`), mostly inside its base64.
//! * 2: Alice seals the fuzzer's elements (parsed as a fragment) through the real engine
//!   and Bob opens them: this reaches everything after the MAC check (plaintext parsing,
//!   encrypted terminates and renegotiations).
//!
//! Invariants: no panic; an encrypted Message is delivered for a stanza only if its `<c/>`
//! is the captured one (byte-identical, or differing only where XEP-0200 §8 authenticates
//! nothing) and then it carries exactly the captured plaintext; in mode 2 Bob delivers
//! exactly the elements Alice sent.
#![no_main]
use esession::xml::{ns, parse_element, parse_fragment, Limits, Node};
use esession::{Element, Event};
use esession_fuzz::*;
use libfuzzer_sys::fuzz_target;

fn encrypted_messages(events: Vec<Event>) -> Vec<(Option<String>, Element)> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Message {
                encrypted: true,
                body,
                stanza,
                ..
            } => Some((body, stanza)),
            _ => None,
        })
        .collect()
}

fn feed(stanza: Element) -> Vec<Event> {
    let mut b = established_bob().engine;
    b.handle_stanza(stanza, NOW);
    check_outgoing(&mut b);
    std::iter::from_fn(|| b.poll_event()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let cap = capture();
    let limits = Limits::default();
    let original_c = c_of(&cap.parsed[ALICE_TO_BOB]).expect("captured stanza has <c/>");
    match mode % 3 {
        0 => {
            let content = String::from_utf8_lossy(rest);
            let doc = format!(
                "<message xmlns='jabber:client' from='{ALICE}' to='{BOB}' type='chat'>\
                 <thread>{}</thread><c xmlns='{}'>{content}</c></message>",
                cap.thread,
                ns::STANZA_ENCRYPTION
            );
            let Ok(stanza) = parse_element(&doc, &limits) else {
                return;
            };
            let c = c_of(&stanza).cloned();
            for (body, _) in encrypted_messages(feed(stanza)) {
                let c = c.as_ref().expect("delivered without a <c/>");
                assert!(
                    same_authenticated_content(c, original_c),
                    "forged <c/> delivered: {c}"
                );
                assert_eq!(body.as_deref(), Some(HELLO));
            }
        }
        1 => {
            let bytes = mutate(&cap.alice_to_bob, rest);
            let text = String::from_utf8_lossy(&bytes);
            let Ok(stanza) = parse_element(&text, &limits) else {
                return;
            };
            let c = c_of(&stanza).cloned();
            for (body, _) in encrypted_messages(feed(stanza)) {
                let c = c.as_ref().expect("delivered without a <c/>");
                assert!(
                    same_authenticated_content(c, original_c),
                    "mutated <c/> delivered: {c}\noriginal: {original_c}"
                );
                assert_eq!(body.as_deref(), Some(HELLO), "mutated stanza: {text}");
            }
        }
        _ => {
            let fragment = String::from_utf8_lossy(rest);
            let Ok(nodes) = parse_fragment(&fragment, ns::JABBER_CLIENT, &limits) else {
                return;
            };
            let sent: Vec<Element> = nodes
                .into_iter()
                .filter_map(|n| match n {
                    Node::Element(e) => Some(e),
                    Node::Text(_) => None,
                })
                .collect();
            let mut a = established_alice().engine;
            if a.send_content(&cap.alice_session, sent.clone()).is_err() {
                return;
            }
            let mut stanza = a.poll_outgoing().expect("send_content queued nothing");
            // Outgoing encrypted data carries only the fallback body in clear.
            for child in stanza.children() {
                if child.name() == "body" {
                    assert_eq!(child.text(), esession::stanza::FALLBACK_BODY);
                }
            }
            stanza.set_attr("from", ALICE);
            for (_, delivered) in encrypted_messages(feed(stanza)) {
                let got: Vec<&Element> = delivered
                    .nodes()
                    .iter()
                    .skip(1) // the <thread/> the engine puts first
                    .filter_map(|n| match n {
                        Node::Element(e) => Some(e),
                        Node::Text(_) => None,
                    })
                    .collect();
                // XEP-0200 §5: a <thread/>, an <error/> and AMP rules among them stay in
                // clear (the session's own thread in place of any <thread/>), and the
                // receiver does not deliver them (profile P9).
                let want: Vec<&Element> = sent
                    .iter()
                    .filter(|e| !esession::stanza::stays_clear(e))
                    .collect();
                assert_eq!(got, want, "Bob did not receive what Alice sealed");
            }
        }
    }
});
