//! The manual: how the engine works inside and how to embed it.
//!
//! This module holds no code, only documentation, in the manner of a design record kept
//! next to the code it describes. Read it in order:
//!
//! 1. [`stanza_path`]: how a stanza travels through the engine, in and out.
//! 2. [`states`]: the states of a session, from the first offer to the terminate.
//! 3. [`embedding`]: how to drive the engine from any XMPP library, with a runnable example.
//! 4. [`errors`]: what can fail, the kind derived from it, and the error reply the peer
//!    gets.
//! 5. [`profile`]: the wire profile (`docs/profile.md`): every interoperability decision the
//!    specifications leave open, as this implementation settles it (P1, P2, …).
//! 6. [`decisions`]: the other decisions (`docs/decisions.md`), each with the tests that
//!    hold it.
//!
//! Where each protocol lives in the code is drawn in `docs/architecture.md`.

pub mod embedding;
pub mod errors;
pub mod stanza_path;
pub mod states;

// The two files are written for any Markdown reader: their `[…]` are plain brackets, not
// rustdoc links, and their examples are not Rust, so doctests skip them.
/// The wire profile, `docs/profile.md`, as the repository holds it.
#[allow(rustdoc::broken_intra_doc_links)]
#[cfg_attr(not(doctest), doc = include_str!("../../../../docs/profile.md"))]
pub mod profile {}

/// The design decisions, `docs/decisions.md`, as the repository holds them.
#[allow(rustdoc::broken_intra_doc_links)]
#[cfg_attr(not(doctest), doc = include_str!("../../../../docs/decisions.md"))]
pub mod decisions {}
