//! The TCP connections under the XML stream, with Nagle's algorithm off.
//!
//! tokio-xmpp's connectors leave `TCP_NODELAY` unset. tokio-xmpp writes each stanza as
//! soon as it is queued and answers the server's XEP-0198 ack requests with a small
//! `<a/>` of its own; with Nagle's algorithm on, a stanza written while such a segment is
//! unacknowledged waits for the server's delayed ACK (40 ms on Linux): one stall per
//! negotiation hop through the server. These connectors are tokio-xmpp's (plain TCP,
//! STARTTLS, direct TLS) with `TCP_NODELAY` set on the socket before the stream opens,
//! and the plaintext of the stream watched for stream errors ([`Watched`]).

use std::borrow::Cow;

use sasl::common::ChannelBinding;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::connect::starttls::starttls;
use tokio_xmpp::connect::tls_common::{establish_tls_connection, TlsStream};
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::error::{Error, ProtocolError};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::xmlstream::{initiate_stream, PendingFeaturesRecv, StreamHeader, Timeouts};

use crate::link::{SharedLink, Watched};

/// Plain TCP (loopback only, see `options::validate`).
#[derive(Clone, Debug)]
pub(crate) struct Plain(pub(crate) DnsConfig, pub(crate) SharedLink);

/// TLS: after STARTTLS (RFC 6120 §5.4) or from the first octet (XEP-0368).
#[derive(Clone, Debug)]
pub(crate) struct Tls {
    dns: DnsConfig,
    direct: bool,
    link: SharedLink,
}

impl Tls {
    /// TCP, then STARTTLS.
    pub(crate) fn starttls(dns: DnsConfig, link: SharedLink) -> Self {
        Tls {
            dns,
            direct: false,
            link,
        }
    }

    /// Direct TLS.
    pub(crate) fn direct(dns: DnsConfig, link: SharedLink) -> Self {
        Tls {
            dns,
            direct: true,
            link,
        }
    }
}

/// A TCP connection to the server `dns` names, with Nagle's algorithm off, watched
/// through `link`.
async fn connect_tcp(dns: &DnsConfig, link: &SharedLink) -> Result<Watched<TcpStream>, Error> {
    let tcp = dns.resolve().await?;
    tcp.set_nodelay(true)?;
    Ok(Watched::new(tcp, link.clone()))
}

/// The stream header to the domain of `jid` (RFC 6120 §4.7).
fn header(jid: &Jid) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(jid.domain().as_str())),
        from: None,
        id: None,
    }
}

impl ServerConnector for Plain {
    type Stream = BufStream<Watched<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), Error> {
        let tcp = BufStream::new(connect_tcp(&self.0, &self.1).await?.in_plaintext());
        let pending = initiate_stream(tcp, ns, header(jid), timeouts).await?;
        Ok((pending, ChannelBinding::None))
    }
}

impl ServerConnector for Tls {
    type Stream = BufStream<Watched<TlsStream<Watched<TcpStream>>>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), Error> {
        let domain = jid.domain().as_str();
        let (tls, binding) = if self.direct {
            establish_tls_connection(connect_tcp(&self.dns, &self.link).await?, domain).await?
        } else {
            let tcp = BufStream::new(connect_tcp(&self.dns, &self.link).await?);
            let (features, stream) = initiate_stream(tcp, ns, header(jid), timeouts)
                .await?
                .recv_features()
                .await?;
            if !features.can_starttls() {
                return Err(Error::Protocol(ProtocolError::NoTls));
            }
            starttls(stream, domain).await?
        };
        // As tokio-xmpp does: over direct TLS, `from` lets the server offer SASL2
        // (XEP-0388).
        let bare = jid.to_bare();
        let header = StreamHeader {
            from: self.direct.then_some(Cow::Borrowed(bare.as_str())),
            ..header(jid)
        };
        let tls = BufStream::new(Watched::plaintext(tls, self.link.clone()));
        let pending = initiate_stream(tls, ns, header, timeouts).await?;
        Ok((pending, binding))
    }
}
