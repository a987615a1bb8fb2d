//! # The states of a session
//!
//! A session is one (peer bare JID, thread) pair (XEP-0201, XEP-0155 §4.2). It walks the
//! XEP-0155 state chart; an encrypted session does so through the XEP-0116 negotiation as
//! XEP-0217 profiles it (four messages, SIGMA-R). The caller sees the states through
//! events and through [`Engine::session`](crate::Engine::session), which answers `None`
//! for a session that has ended.
//!
//! ```text
//!  initiator (Alice)                                      responder (Bob)
//!  ─────────────────                                      ───────────────
//!  start() ── 1: request: options, H(e_i), N_A ─────────▶ policy: accept, or decline
//!  Offered                                                 (XEP-0155 §4.3)
//!                                                          │
//!  response ◀──────────── 2: chosen options, d, N_B ────── Responded
//!  │ keys derived from d
//!  ▼
//!  3: e, Alice's identity (ID_A, M_A), rshashes ────────▶ e checked against H(e),
//!  AwaitingInit                                           Alice's identity verified
//!  │                                                       │
//!  │ ◀──────── 4: <init/>: Bob's identity (ID_B, M_B) ──── Established, Event::Established
//!  ▼ Bob's identity verified
//!  Established, Event::Established
//!
//!  Established ── <c/> both ways; <key/> re-keys (XEP-0200 §9) ──────▶ Established
//!  Established ── logging renegotiated (XEP-0155 §4.5) ───▶ Established, Event::Renegotiated
//!  Established ── terminate() ──▶ Terminating ── acknowledged ──▶ ended, Event::Terminated
//!  any state   ── bad input, error reply, deadline passed ─────────▶ ended, Event::Failed
//! ```
//!
//! - **Offered** (initiator): message 1 sent; the offer holds our secret exponents and
//!   nonce until Bob's response arrives or the negotiation times out.
//! - **Responded** (responder): message 2 sent; waiting for Alice's identity (message 3).
//! - **AwaitingInit** (initiator): message 3 sent; waiting for Bob's identity (message 4).
//! - **Plain**: a stanza session without encryption (`security` = `c2s` or `none`), only
//!   when the configuration allows it; messages flow in the clear.
//! - **Established**: an ESession. It exists only once the peer's identity MAC (and
//!   signature, with public keys) has been verified: the negotiation code mints a proof of
//!   that check and the channel cannot be built without it. The SAS in
//!   [`SessionInfo::sas`](crate::SessionInfo::sas) lets two people confirm there is no man
//!   in the middle ([`Engine::verify_sas`](crate::Engine::verify_sas)); a confirmed SAS
//!   marks the retained secret verified for later sessions (XEP-0116 §7.3, profile P7).
//! - **Terminating**: we sent an encrypted terminate and wait for its acknowledgement
//!   (profile P10); nothing else may be sent.
//!
//! An **offline** session (XEP-0187, profile P11) skips the round trips: Alice publishes
//! options ahead of time ([`Engine::publish_offline`](crate::Engine::publish_offline)),
//! Bob starts from them ([`Engine::start_offline`](crate::Engine::start_offline)) and
//! sends at once; only Bob sends in it.
//!
//! The three-message flow ([`Flow::Three`](crate::config::Flow::Three), SIGMA-I, XEP-0116
//! §4.2, profile P12) has no hash commitment: Bob's response already carries his identity,
//! so Alice is established as soon as she sends message 3 (there is no AwaitingInit) and
//! Bob once he has checked it. It needs public-key identities and has no retained secrets
//! and no SAS.
