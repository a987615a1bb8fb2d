//! The text of a sealed stanza written straight from its parts is exactly the P9
//! serialization of the element built from the same parts (differential, over many
//! generated stanzas and over the engine's own messages).
use super::sealed::{Outgoing, SealedStanza, StanzaAttrs};
use super::tests::{sid, Pair, ALICE, NOW};
use crate::channel::Sealed;
use crate::config::{Logging, StanzaKind};
use crate::random::{Random, SeededRandom};
use crate::session_id::SessionId;
use crate::store::MemoryStore;
use crate::xml::{ns, parse_element, Element, Limits};
use crate::Engine;
use jid::Jid;

/// Text with the characters the P9 serializer escapes, and some that it does not.
const PIECES: [&str; 12] = [
    "a", "é€", "&", "<", ">", "\"", "'", "\t", "\n", "\r", " ", "]]>",
];

fn text(rng: &mut SeededRandom, max: u8) -> String {
    let mut b = [0u8; 1];
    rng.fill(&mut b);
    let n = b[0] % max.max(1);
    (0..n)
        .map(|_| {
            rng.fill(&mut b);
            *PIECES.get(usize::from(b[0]) % PIECES.len()).unwrap()
        })
        .collect()
}

fn pick(rng: &mut SeededRandom, n: u8) -> u8 {
    let mut b = [0u8; 1];
    rng.fill(&mut b);
    b[0] % n
}

fn one_of<T: Copy>(rng: &mut SeededRandom, items: &[T]) -> T {
    let n = u8::try_from(items.len()).unwrap();
    *items.get(usize::from(pick(rng, n))).unwrap()
}

fn generated(rng: &mut SeededRandom) -> SealedStanza {
    let kind = one_of(
        rng,
        &[StanzaKind::Message, StanzaKind::Presence, StanzaKind::Iq],
    );
    let mut attrs = Vec::new();
    for name in ["type", "id", "xml:lang"] {
        if pick(rng, 2) == 0 {
            attrs.push((name.into(), text(rng, 6)));
        }
    }
    let mut clear = Vec::new();
    for _ in 0..pick(rng, 3) {
        let e = Element::new("rule", ns::AMP).with_attr("value", text(rng, 4));
        clear.push(match pick(rng, 3) {
            0 => Element::new("amp", ns::AMP).with_child(e),
            1 => Element::new("error", ns::JABBER_CLIENT).with_text(text(rng, 5)),
            _ => e.with_text(text(rng, 3)),
        });
    }
    let thread = text(rng, 5);
    SealedStanza {
        kind,
        to: Jid::new("bob@example.com/laptop").unwrap(),
        attrs: match pick(rng, 4) {
            0 => StanzaAttrs::Chat,
            _ => StanzaAttrs::Given(attrs),
        },
        thread: (pick(rng, 4) > 0)
            .then(|| SessionId::for_tests(&Jid::new("bob@example.com").unwrap(), &thread)),
        clear,
        c: sealed_c(rng),
        extras: one_of(rng, &[None, Some(Logging::May), Some(Logging::MustNot)]),
        match_resource: pick(rng, 2) == 0,
    }
}

fn sealed_c(rng: &mut SeededRandom) -> Sealed {
    let mut bytes = vec![0u8; usize::from(pick(rng, 70))];
    rng.fill(&mut bytes);
    let mut c = crate::channel::Sealing::new(bytes.len());
    if !bytes.is_empty() {
        c.data(&bytes);
    }
    if pick(rng, 3) == 0 {
        // A DH public value: never empty (XEP-0200 §9: 1 < e' < p-1).
        c.key(&[pick(rng, 255).max(2); 9]);
    }
    if pick(rng, 3) == 0 {
        c.new_sets(u32::from(pick(rng, 200)));
    }
    for _ in 0..pick(rng, 3) {
        c.old(&[pick(rng, 255); 32]);
    }
    c.finish(&[pick(rng, 255); 32])
}

#[test]
fn written_text_is_the_serialization_of_the_built_element() {
    let mut rng = SeededRandom::from_label("sealed-text");
    for _ in 0..3000 {
        let stanza = generated(&mut rng);
        let tree = Outgoing::Sealed(Box::new(stanza.clone())).into_element();
        let text = Outgoing::Sealed(Box::new(stanza)).into_text();
        assert_eq!(text, tree.to_string());
        // And it parses (an empty text node of the built tree is no node in the parsed
        // one, so the trees are compared through their text).
        let parsed = parse_element(&text, &Limits::default()).unwrap();
        assert_eq!(parsed.to_string(), text);
    }
}

/// Alice and Bob with an established session, Alice's handle of it, and randomness for
/// the bodies.
fn session(label: &str) -> (Pair, SessionId, SeededRandom) {
    let mut p = Pair::new(label);
    let (thread, _, _) = p.negotiate();
    let id = sid("bob@example.com", &thread);
    (p, id, SeededRandom::from_label(&format!("{label}/bodies")))
}

/// A copy of `engine` with the same keys and counters: it seals the same stanzas.
fn twin(engine: &Engine<MemoryStore>) -> Engine<MemoryStore> {
    engine.snapshot(Box::new(SeededRandom::from_label("twin")))
}

#[test]
fn an_engine_writes_the_text_of_the_element_it_would_give() {
    let (mut p, id, mut rng) = session("sealed-engine");
    for i in 0..300 {
        let body = text(&mut rng, 40);
        // The same stanza, taken both ways.
        let mut copy = twin(&p.alice);
        p.alice.send_message(&id, &body).unwrap();
        copy.send_message(&id, &body).unwrap();
        let text = p.alice.poll_outgoing_text().unwrap();
        let tree = copy.poll_outgoing().unwrap();
        assert_eq!(text, tree.to_string(), "message {i}");
        let mut received = parse_element(&text, &Limits::default()).unwrap();
        received.set_attr("from", ALICE);
        p.bob.handle_stanza(received, NOW);
        let delivered = std::iter::from_fn(|| p.bob.poll_event()).find_map(|e| match e {
            crate::Event::Message { body, .. } => body,
            _ => None,
        });
        assert_eq!(delivered.as_deref(), Some(body.as_str()));
    }
    // Trees go out as their text too.
    p.alice.terminate(&id, NOW).unwrap();
    let terminate = p.alice.poll_outgoing_text().unwrap();
    assert!(terminate.starts_with("<message xmlns=\"jabber:client\" to=\"bob@example.com"));
}

#[test]
fn a_chat_body_is_sealed_as_the_same_stanza_built_as_a_tree() {
    let (mut p, id, mut rng) = session("sealed-chat");
    for i in 0..200 {
        // Empty bodies too (`<body/>`), and every character the serializer escapes.
        let body = if i == 0 {
            String::new()
        } else {
            text(&mut rng, 30)
        };
        let mut copy = twin(&p.alice);
        p.alice.send_message(&id, &body).unwrap();
        let tree = Element::new("body", ns::JABBER_CLIENT).with_text(body.as_str());
        copy.send_content(&id, vec![tree]).unwrap();
        assert_eq!(
            p.alice.poll_outgoing_text(),
            copy.poll_outgoing_text(),
            "{body:?}"
        );
    }
}
