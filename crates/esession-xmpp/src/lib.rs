//! Network layer of esession: an XMPP client connection (tokio-xmpp) that
//! carries stanzas across its API as XML strings.
//!
//! This is the only crate of the workspace that touches the network. It logs
//! in (plain TCP on loopback, STARTTLS or direct TLS), answers disco#info
//! requests (XEP-0030) with the features it is told to advertise, and hands
//! every other stanza to the caller as serialized XML.
//!
//! Above the engine it holds the protocol policy a client needs: the XEP-0136
//! [`Archiver`], the XEP-0189 key flows tied to the trust store
//! ([`Connection::fetch_keys`], [`Connection::attest_trusted`]) and the choice between an
//! online and an offline session ([`Client::reach`], [`OfflineFallback`],
//! [`Client::send_offline`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use esession_xmpp::{ConnectOptions, Connection, TlsMode, XmppError};
//!
//! # async fn demo() -> Result<(), XmppError> {
//! let mut opts = ConnectOptions::new("alice@localhost", "secret");
//! opts.server = Some("127.0.0.1:15222".into());
//! opts.tls = TlsMode::Plain; // loopback only
//! opts.features = vec!["urn:xmpp:ssn".into()];
//! let mut conn = Connection::connect(opts).await?;
//! conn.send_xml("<message to='bob@localhost' type='chat'><body>hi</body></message>")
//!     .await?;
//! if let Some(xml) = conn.next_stanza(Duration::from_secs(5)).await? {
//!     println!("received {xml}");
//! }
//! conn.close().await
//! # }
//! ```

mod archive;
mod archiver;
mod backoff;
mod caps;
mod client;
mod connection;
mod delivery;
mod disco;
mod error;
mod hints;
mod link;
mod login;
mod offline;
mod options;
mod pubkeys;
mod published_keys;
mod pubsub;
mod stream_error;
mod transport;
mod version;
mod wait_retry;
mod xml;

pub use archive::{ListPage, SaveError};
pub use archiver::{Archiver, ArchiverError, Uploaded};
pub use caps::{ver as caps_ver, CAPS_NODE, NS_CAPS};
pub use client::{Client, Traced, ESESSION_FEATURES};
pub use connection::Connection;
pub use delivery::{OfflineFallback, OfflineSendError, Reach, Unreachable};
pub use error::{XmppError, CONNECT_TIMEOUT, EXIT_CONNECT, EXIT_OTHER};
pub use hints::bounced_request;
pub use link::{Keepalive, LinkEvent};
pub use offline::{
    offline_publish_options, OfflineError, OfflineLogin, OfflineStart, Withdrawal, OFFLINE_ITEM_ID,
};
pub use options::{ConnectOptions, TlsMode, MAX_WAIT};
pub use pubkeys::PublishedKeys;
pub use published_keys::{AttestationRefused, FetchedKeys, PublishedKeysError};
pub use pubsub::{NodeItems, Published, PubsubItem};
pub use stream_error::SignOut;
pub use version::{worth_asking, Software, NS_VERSION};
