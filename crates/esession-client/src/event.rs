//! What the conversation layer reports to a user interface.
use esession::{SasAlg, SessionInfo};
use esession_xmpp::SignOut;

use crate::history::Kept;
use crate::presence::Show;
use crate::queue::DeliveryState;
use crate::roster::RosterItem;

/// How far a conversation's current session can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shield {
    /// No encrypted session.
    NotEncrypted,
    /// Encrypted, the SAS not compared and the key not trusted.
    Unverified,
    /// A person compared the SAS in this chain of retained secrets (XEP-0116 §7.3).
    SasVerified,
    /// The peer presented a key the user trusts for this JID (XEP-0116 §7.4).
    KeyTrusted,
}

impl Shield {
    /// The shield of an established session.
    pub fn of(info: &SessionInfo) -> Shield {
        if !info.encrypted {
            Shield::NotEncrypted
        } else if info.peer_key.as_ref().is_some_and(|k| k.trusted) {
            Shield::KeyTrusted
        } else if info.verified {
            Shield::SasVerified
        } else {
            Shield::Unverified
        }
    }

    /// `not-encrypted`, `unverified`, `sas-verified` or `key-trusted`.
    pub fn name(self) -> &'static str {
        match self {
            Shield::NotEncrypted => "not-encrypted",
            Shield::Unverified => "unverified",
            Shield::SasVerified => "sas-verified",
            Shield::KeyTrusted => "key-trusted",
        }
    }
}

/// An event of the conversation layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A roster item was fetched or pushed (RFC 6121 §2); `remove` items included.
    Roster(RosterItem),
    /// A contact resource's presence changed (RFC 6121 §4).
    Presence {
        /// The resource's full JID.
        jid: String,
        /// Its availability; `None`: it went offline.
        show: Option<Show>,
        /// Whether it advertises ESessions, once known.
        esessions: Option<bool>,
    },
    /// A contact asks to see our presence (RFC 6121 §3.1.2).
    SubscriptionRequest {
        /// The contact.
        jid: String,
    },
    /// A contact approved (`subscribed`) or denied or cancelled (`unsubscribed`) our
    /// subscription to its presence (RFC 6121 §3.1.5, §3.2).
    SubscriptionAnswer {
        /// The contact.
        jid: String,
        /// Whether it was approved.
        approved: bool,
    },
    /// A session of the conversation with `peer` is established.
    Established {
        /// The contact's bare JID (the conversation).
        peer: String,
        /// The resource the session is with.
        full: String,
        /// The thread.
        thread: String,
        /// The SAS to compare aloud, if any.
        sas: Option<String>,
        /// Which SAS it is (profile P15).
        sas_alg: Option<SasAlg>,
        /// The session's shield.
        shield: Shield,
        /// Whether the contact started it (adopted by the conversation).
        adopted: bool,
        /// Where its messages are kept: the store (`logging` = `may`) or memory only
        /// (`mustnot`, XEP-0155 §8).
        kept: Kept,
        /// The petname of the key the contact presented, if the user named it
        /// (XEP-0116 §7.4).
        petname: Option<String>,
        /// The compatibility mode off the profile the session speaks (issue 13: Gajim's
        /// dialect), shown wherever the shield is, with [`esession::Compat::costs`].
        compat: Option<esession::Compat>,
    },
    /// A message arrived in the conversation with `peer`.
    Message {
        /// The contact's bare JID.
        peer: String,
        /// The sending resource.
        full: String,
        /// The body.
        body: String,
        /// Whether it came encrypted in a session.
        encrypted: bool,
        /// Whether that session was an offline one (XEP-0187: the contact sent it while
        /// we were offline, from the options we published): encrypted and signed, but
        /// without forward secrecy (§4), which the person is told.
        offline: bool,
        /// The message id, if it has one.
        id: Option<String>,
        /// Where it is kept in the local history.
        kept: Kept,
    },
    /// A message we sent changed state.
    Receipt {
        /// The contact.
        peer: String,
        /// The message id [`crate::Conversations::send`] returned.
        id: String,
        /// Its new state.
        state: DeliveryState,
    },
    /// A session of the conversation with `peer` ended.
    Terminated {
        /// The contact's bare JID.
        peer: String,
        /// The resource.
        full: String,
        /// The thread.
        thread: String,
        /// Why, in words.
        reason: String,
    },
    /// The connection to the server was lost: every session ended, messages not yet
    /// acknowledged wait for the next connection, contacts are shown offline.
    ConnectionLost {
        /// Why, in words.
        reason: String,
    },
    /// The server signed the session out (`why`: e.g. another client signed in with the
    /// same full JID, RFC 6120 §4.9.3.3): as [`ClientEvent::ConnectionLost`], but nothing
    /// reconnects until [`crate::Account::reconnect`].
    SignedOut {
        /// The full JID that was bound.
        jid: String,
        /// Why ([`SignOut::name`]: a stable name, e.g. `conflict`).
        why: SignOut,
        /// What the server said (RFC 6120 §4.9.2), if anything: its words, to show
        /// escaped.
        text: Option<String>,
    },
    /// Attempt `attempt` to reconnect starts in `in_secs` seconds.
    Reconnecting {
        /// Counted from 1 after each loss.
        attempt: u32,
        /// Seconds until the attempt (exponential backoff with jitter).
        in_secs: u64,
        /// Why the previous attempt failed, if there was one.
        error: Option<String>,
    },
    /// Online again after a lost connection: the roster is fetched again and presence
    /// sent; sessions are negotiated again when messages wait.
    Online {
        /// The bound full JID.
        jid: String,
    },
    /// Something went wrong without ending anything.
    Warning {
        /// The JID concerned, if any.
        peer: Option<String>,
        /// The thread of the session concerned, if one is.
        thread: Option<String>,
        /// What happened.
        detail: String,
    },
}
