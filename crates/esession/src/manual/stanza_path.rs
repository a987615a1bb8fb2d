//! # How a stanza travels through the engine
//!
//! The [`Engine`](crate::Engine) is sans-IO: it never reads a socket, a clock or the
//! operating system's randomness on its own. Everything goes in through three calls and
//! comes out through two queues:
//!
//! ```text
//!   network                         your code                          engine
//!   ───────                         ─────────                          ──────
//!   XML text ──parse_element──▶ Element ──handle_stanza(stanza, now)──▶ ┐
//!                               clock  ──handle_timeout(now)─────────▶ ├─ sessions
//!                               person ──start / send_message / …────▶ ┘
//!   XML text ◀──to_string()──── Element ◀──poll_outgoing()──────────── outgoing queue
//!                               Event   ◀──poll_event()─────────────── event queue
//! ```
//!
//! Nothing leaves the engine while a call runs: a call only queues stanzas and events,
//! and you drain both queues afterwards, as quinn-proto's `Connection` works.
//!
//! ## In: one received stanza
//!
//! [`Engine::handle_stanza`](crate::Engine::handle_stanza) takes a stanza as parsed by
//! [`xml::parse_element`](crate::xml::parse_element) (bounded by
//! [`xml::Limits`](crate::xml::Limits)) and the time. In order:
//!
//! 1. **Timers.** Deadlines that have passed fire first (a negotiation that waited too long
//!    fails; a terminate that was never acknowledged ends the session).
//! 2. **Which stanza.** A `<message/>` goes on. A `<presence/>` or `<iq/>` matters only
//!    when it carries an encrypted `<c/>` (XEP-0200 §5): a presence names its session with a
//!    clear `<thread/>`, an iq belongs to the one encrypted session with the sender's full
//!    JID that negotiated iq. Anything else is not the engine's and is dropped silently.
//! 3. **Which session.** A message needs a `from` (the server stamps it) and a
//!    `<thread/>` (XEP-0201): the session is the pair (sender's bare JID, thread). A message
//!    without a thread is an ordinary message and comes out as an unencrypted
//!    [`Event::Message`](crate::Event::Message). An error reply (`type="error"`) fails the
//!    negotiation or session of its thread.
//! 4. **Negotiation first, then content** (profile P9). A XEP-0155 form inside
//!    `<feature/>` (a request, response, acceptance or termination) or XEP-0116 `<init/>`
//!    goes to the negotiation code, which answers with the next message of the flow and
//!    moves the session to its next state ([`states`](super::states)). An `<init/>`
//!    carrying a *submit* form is an offline init (XEP-0187, profile P11) and opens a
//!    session from our published options.
//! 5. **Encrypted content.** A `<c/>` goes to the session's channel (XEP-0200): the MAC is
//!    checked in constant time over the P9 serialization, the counter must be the next one
//!    (P3: continuous counters, no replays, no gaps), then the content is decrypted,
//!    decompressed if negotiated, parsed under the same limits and delivered as an
//!    [`Event::Message`](crate::Event::Message) with `encrypted: true` (or an
//!    [`Event::Stanza`](crate::Event::Stanza) for presence and iq). A `<key/>` inside
//!    re-keys the session (XEP-0200 §9) and yields [`Event::Rekeyed`](crate::Event::Rekeyed).
//! 6. **Clear content inside an ESession** is never delivered: it becomes an
//!    [`Event::Warning`](crate::Event::Warning) (profile P9).
//!
//! Input from the network can never make the engine panic: a bad stanza ends at most its
//! own session, with an [`Event::Failed`](crate::Event::Failed) naming what was wrong, and
//! the peer is told with the XMPP error condition the profile fixes (P10b), which the
//! broken rule itself names ([`errors`](super::errors)).
//!
//! ## Out: a message the person sends
//!
//! [`Engine::send_message`](crate::Engine::send_message) (or
//! [`send_stanza`](crate::Engine::send_stanza) for a whole stanza) finds the session,
//! serializes the content (P9), compresses it if negotiated, encrypts it with the
//! session's cipher and counter, MACs it, and queues a `<message/>` carrying the `<c/>`,
//! the clear `<thread/>` and the storage hints the negotiated `logging` requires
//! (XEP-0200 §4, XEP-0136). When the keys have carried enough stanzas, a `<key/>` rides
//! along (XEP-0200 §9). A session that is not established refuses the call with an
//! [`Error`](crate::Error): nothing is ever sent in the clear by mistake.
//!
//! ## Where each step lives
//!
//! - `engine/`: routing by (bare JID, thread), the session table, the queues and timers.
//! - `negotiation/`: the XEP-0155 forms and the XEP-0116 flows as one type per step
//!   (`Offer`, `AwaitingInit`, `AwaitingResult`); an established session can only be built
//!   from a verified identity MAC.
//! - `channel/`: XEP-0200 sealing, opening and re-keying of an established session.
//! - [`offline`](crate::offline), [`pubkeys`](crate::pubkeys), [`archive`](crate::archive):
//!   XEP-0187, XEP-0189 and XEP-0136.
//! - [`store`](crate::store): what must persist (retained secrets, keys, offline sets),
//!   as traits; [`MemoryStore`](crate::MemoryStore) keeps it in memory.
