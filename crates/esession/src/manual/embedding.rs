//! # Embedding the engine in an XMPP client
//!
//! The engine speaks stanzas, not sockets, so any XMPP library can carry it: the library
//! keeps the connection (TLS, authentication, resource binding, reconnection), and your
//! glue code does five things. `esession-xmpp` is one such glue, over tokio-xmpp.
//!
//! 1. **Create one engine per account**, once the server has bound the full JID (a
//!    [`FullJid`](crate::FullJid): JIDs at the API are typed, parsed and normalized once,
//!    RFC 7622): [`Engine::new`](crate::Engine::new) with a [`Config`](crate::Config) (the policy:
//!    algorithms, groups, what to accept), a store ([`MemoryStore`](crate::MemoryStore), or
//!    a persistent one such as `esession-store`'s SQLite store: retained secrets must
//!    outlive the process for the SAS to be confirmed once, XEP-0116 §7.3), and
//!    [`OsRandom`](crate::OsRandom), the operating system's random generator. Optionally
//!    an [`IdentityKey`](crate::IdentityKey) for public-key identities
//!    ([`Engine::set_identity_key`](crate::Engine::set_identity_key)).
//! 2. **Advertise the features** in your disco#info answers (XEP-0030), and so in your
//!    entity-capabilities hash if you send one (XEP-0115):
//!    [`xml::ns::SSN`](crate::xml::ns::SSN) and [`xml::ns::ESESSION`](crate::xml::ns::ESESSION),
//!    plus [`pubkeys::FEATURES`](crate::pubkeys::FEATURES) when you publish keys
//!    (XEP-0189). Before starting a session, check the peer advertises `ESESSION`.
//! 3. **Feed every received stanza** with `from` as the server stamped it: parse the XML
//!    with [`xml::parse_element`](crate::xml::parse_element) and call
//!    [`Engine::handle_stanza`](crate::Engine::handle_stanza). The engine ignores what is
//!    not its own (a presence without `<c/>`, an iq it did not ask for), so every stanza can
//!    go through it; give the rest to your library as usual.
//! 4. **Send what it queues** after every call: drain
//!    [`Engine::poll_outgoing`](crate::Engine::poll_outgoing) and write each stanza's text
//!    (`to_string()`) to the stream; drain [`Engine::poll_event`](crate::Engine::poll_event)
//!    and show the events ([`Event`](crate::Event)). Each event about a session names it
//!    by a [`SessionId`](crate::SessionId) (the peer's bare JID and the thread), the handle
//!    you pass back to [`Engine::send_message`](crate::Engine::send_message),
//!    [`Engine::terminate`](crate::Engine::terminate) and the rest;
//!    [`Engine::start`](crate::Engine::start) returns the handle of the session it opens.
//! 5. **Keep its clock**: call [`Engine::handle_timeout`](crate::Engine::handle_timeout)
//!    once [`Engine::next_timeout`](crate::Engine::next_timeout) has passed, so that
//!    negotiations and terminates that get no answer end.
//!
//! Before the connection closes, [`Engine::terminate_all`](crate::Engine::terminate_all)
//! ends every session cleanly (XEP-0116 §5) — send what it queues.
//!
//! ## A complete example
//!
//! Two accounts and a server that routes XML text between them, as an XMPP library would
//! hand it to you. Alice starts an ESession with Bob, both show the SAS, and Alice sends
//! one encrypted message:
//!
//! ```
//! use esession::xml::{parse_element, Limits};
//! use esession::{Config, Engine, Event, FullJid, Jid, MemoryStore, OsRandom, Timestamp};
//! use std::collections::VecDeque;
//!
//! /// The glue for one account: its engine and what the "library" delivers to it.
//! struct Account {
//!     jid: &'static str,
//!     engine: Engine<MemoryStore>,
//!     inbox: VecDeque<String>,
//! }
//!
//! impl Account {
//!     fn new(jid: &'static str) -> Result<Self, esession::JidError> {
//!         let own = FullJid::new(jid)?;
//!         let engine = Engine::new(own, Config::default(), MemoryStore::new(), Box::new(OsRandom));
//!         Ok(Account { jid, engine, inbox: VecDeque::new() })
//!     }
//!
//!     /// Steps 3 and 5: feed what arrived, and the clock.
//!     fn receive(&mut self, now: Timestamp) {
//!         while let Some(xml) = self.inbox.pop_front() {
//!             match parse_element(&xml, &Limits::default()) {
//!                 Ok(stanza) => self.engine.handle_stanza(stanza, now),
//!                 Err(e) => eprintln!("dropped a stanza that did not parse: {e}"),
//!             }
//!         }
//!         if self.engine.next_timeout().is_some_and(|t| t <= now) {
//!             self.engine.handle_timeout(now);
//!         }
//!     }
//!
//!     /// Step 4: the stanzas to write to the stream, as text.
//!     fn outgoing(&mut self) -> Vec<String> {
//!         std::iter::from_fn(|| self.engine.poll_outgoing()).map(|s| s.to_string()).collect()
//!     }
//! }
//!
//! /// The server: stamps `from` and delivers by bare JID (a real one routes by full JID).
//! fn route(from: &mut Account, to: &mut Account) -> bool {
//!     let mut moved = false;
//!     for xml in from.outgoing() {
//!         let mut stanza = parse_element(&xml, &Limits::default()).unwrap();
//!         stanza.set_attr("from", from.jid);
//!         to.inbox.push_back(stanza.to_string());
//!         moved = true;
//!     }
//!     moved
//! }
//!
//! let now = Timestamp::now();
//! let mut alice = Account::new("alice@example.org/pda")?;
//! let mut bob = Account::new("bob@example.com/laptop")?;
//!
//! let with_bob = alice.engine.start(&Jid::new("bob@example.com")?, now)?;
//! while route(&mut alice, &mut bob) | route(&mut bob, &mut alice) {
//!     alice.receive(now);
//!     bob.receive(now);
//! }
//! let Some(Event::Established(a)) = alice.engine.poll_event() else { panic!("alice") };
//! let Some(Event::Established(b)) = bob.engine.poll_event() else { panic!("bob") };
//! // Both people read the same short authentication string (XEP-0116 §9).
//! assert_eq!(a.sas, b.sas);
//! assert!(a.encrypted && b.encrypted);
//!
//! assert_eq!(a.id, with_bob);
//! alice.engine.send_message(&with_bob, "hello")?;
//! let sent = alice.outgoing();
//! assert!(sent[0].contains("<c ") && !sent[0].contains("hello"), "only ciphertext leaves");
//! bob.inbox.extend(sent.into_iter().map(|xml| {
//!     let mut s = parse_element(&xml, &Limits::default()).unwrap();
//!     s.set_attr("from", alice.jid);
//!     s.to_string()
//! }));
//! bob.receive(now);
//! match bob.engine.poll_event() {
//!     Some(Event::Message { body, encrypted, .. }) => {
//!         assert_eq!(body.as_deref(), Some("hello"));
//!         assert!(encrypted);
//!     }
//!     other => panic!("expected the message, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
