//! Network layer of esession: an XMPP client connection (tokio-xmpp) that
//! carries stanzas across its API as XML strings.
//!
//! This is the only crate of the workspace that touches the network. It logs
//! in (plain TCP on loopback, STARTTLS or direct TLS), answers disco#info
//! requests (XEP-0030) with the features it is told to advertise, and hands
//! every other stanza to the caller as serialized XML.
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
mod client;
mod connection;
mod disco;
mod error;
mod login;
mod offline;
mod options;
mod pubkeys;
mod pubsub;
mod transport;
mod xml;

pub use archive::ListPage;
pub use client::{Client, Traced, ESESSION_FEATURES};
pub use connection::Connection;
pub use error::{XmppError, CONNECT_TIMEOUT, EXIT_CONNECT, EXIT_OTHER};
pub use offline::{
    offline_publish_options, OfflineError, OfflineLogin, OfflineStart, Withdrawal, OFFLINE_ITEM_ID,
};
pub use options::{ConnectOptions, TlsMode};
pub use pubkeys::PublishedKeys;
pub use pubsub::{NodeItems, Published, PubsubItem};
