//! What can go wrong, and what the engine tells the peer and the application.
//!
//! Every failure is an [`Error`](crate::Error), a closed catalogue of categories. The
//! coarse [`ErrorKind`](crate::ErrorKind) an application branches on (and the CLI prints
//! as `kind`) is derived from the category, never chosen at the failure site:
//!
//! | Variant | Kind | What happened |
//! |---|---|---|
//! | [`Error::PeerMisbehaved`](crate::Error::PeerMisbehaved) | `negotiation` | the peer broke a negotiation rule (XEP-0155, XEP-0116) |
//! | [`Error::Stanza`](crate::Error::Stanza) | `decryption` | a stanza of an established session failed (XEP-0200 §8) |
//! | [`Error::Rejected`](crate::Error::Rejected) | `rejected` | the peer declined, cancelled or answered with an error, or we refused its request or its offline options |
//! | [`Error::Usage`](crate::Error::Usage) | `usage` | the caller asked for something impossible now (no such session, wrong state, no identity key) |
//! | [`Error::Store`](crate::Error::Store) | `store` | the secret store failed; the underlying error is its `source()` |
//! | [`Error::Timeout`](crate::Error::Timeout) | `timeout` | the negotiation was not answered in time |
//!
//! Each variant carries a precise reason, itself an enum: one variant per rule, citing the
//! spec section it enforces. Free text appears only where the data varies (a field name, a
//! value, a fingerprint); a rule with several steps has a variant per step
//! ([`IdentityFault`](crate::error::IdentityFault) for profile P8,
//! [`RekeyFault`](crate::error::RekeyFault) for P13, the offline refusals of P11).
//!
//! ## What the peer is told
//!
//! A broken negotiation rule ([`PeerMisbehaved`](crate::PeerMisbehaved)) knows its own
//! error reply (profile P10b): [`condition`](crate::PeerMisbehaved::condition) is the
//! XMPP condition (`not-acceptable` for a bad or unoffered value,
//! `feature-not-implemented` for a failed commitment, range or identity check of messages
//! 3 and 4) or `None` when the failure is not answered, and
//! [`fields`](crate::PeerMisbehaved::fields) the fields the reply names. The engine sends
//! exactly that reply; a decline, a cancel, a store or usage failure is never answered. A
//! request we refuse ([`RequestRefused`](crate::error::RequestRefused)) answers the same
//! way. A session stanza that fails ([`StanzaFault`](crate::StanzaFault)) is not answered
//! with an error: the session ends with an encrypted terminate (profile P9). An offline
//! init is never answered (profile P11): its refusal is
//! [`Rejected::Offline`](crate::Rejected::Offline), or
//! [`Rejected::NotAllowed`](crate::Rejected::NotAllowed) for a sender the accept policy
//! excludes.
//!
//! ## Warnings
//!
//! What the engine refuses or ignores without ending a session (clear content inside an
//! ESession, a request from offline storage, a flood of requests, …) is an
//! [`Event::Warning`](crate::Event::Warning) whose `detail` is a
//! [`Warning`](crate::Warning); its `Display` is the text for people.
