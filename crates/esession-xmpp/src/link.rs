//! The state of the link to the server after login: lost, being re-established, back.
//!
//! The TCP connection under the stream is watched ([`Watched`]): its last read, its
//! end-of-file and its last error say why a connection was lost, which tokio-xmpp does
//! not report.
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_xmpp::jid::Jid;

use crate::stream_error::{Finder, Received, SignOut};

/// How a silent link is detected (RFC 6120 §4.6.1: a client checks the stream): after
/// `idle` without a byte from the server, the client asks it for an answer (an XEP-0198
/// `<r/>` when stream management is on, else an XEP-0199 ping); without a byte within
/// `answer` after that, the connection is dropped as dead: a dead link is noticed at most
/// `idle + answer` after the last byte from the server. Both are the caller's
/// (`ConnectOptions::keepalive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the server is asked for an answer.
    pub idle: Duration,
    /// How long the answer may take.
    pub answer: Duration,
}

impl Default for Keepalive {
    /// 30 s of silence, 15 s for the answer: a dead link is noticed within 45 s of the
    /// server's last byte (a person waiting on a stopped server is told within a minute).
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(30),
            answer: Duration::from_secs(15),
        }
    }
}

impl Keepalive {
    /// The longest a dead link goes unnoticed: `idle + answer` after the last byte.
    pub fn bound(&self) -> Duration {
        self.idle.saturating_add(self.answer)
    }
}

/// A change of the link to the server, after login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The connection was lost; tokio-xmpp reconnects on its own.
    Lost {
        /// Why, in words.
        reason: String,
    },
    /// Attempt `attempt` to reconnect starts in `after`.
    Reconnecting {
        /// Counted from 1 after a loss; after the loss of a stream that stayed up less
        /// than a minute, counting (and the pauses) go on from the attempts that
        /// brought that stream up.
        attempt: u32,
        /// The pause before it (exponential with jitter).
        after: Duration,
        /// Why the previous attempt failed, if there was one.
        error: Option<String>,
    },
    /// The stream is back, bound to `jid`.
    Online {
        /// The bound full JID.
        jid: String,
        /// Whether the server resumed the previous stream (XEP-0198 §5): nothing was
        /// lost; otherwise the stream is new (presence and roster state are gone).
        resumed: bool,
    },
    /// The server signed this session out (`why`): nothing reconnects on its own until
    /// `Connection::reconnect` is called. Messages sent meanwhile fail at once.
    SignedOut {
        /// The full JID that was bound.
        jid: String,
        /// Why.
        why: SignOut,
        /// The server's text about it (RFC 6120 §4.9.2), if any: not ours, shown escaped.
        text: Option<String>,
    },
}

/// What the connector and the connection share about the current TCP connection.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// When a byte last arrived.
    last_read: Option<Instant>,
    /// The server closed the TCP connection.
    eof: bool,
    /// The last I/O error.
    error: Option<String>,
    /// The stream error the server sent on the current connection, if any.
    stream_error: Option<Received>,
    /// Whether it signs us out, for whoever waits on it (a send).
    sign_out: watch::Sender<Option<SignOut>>,
    /// Wakes the reconnection held after a sign-out (`Connection::reconnect`).
    pub(crate) resume: Arc<Notify>,
    /// The full JID bound at login: reconnections ask for the same resource (RFC 6120
    /// §7.7.2.1), so that the engine's own JID stays right.
    pub(crate) bound: Option<Jid>,
    /// When the current stream logged in, and after how many reconnection attempts.
    logged_in: Option<(Instant, u32)>,
}

/// How long a stream must stay up for its loss to start a new series of reconnection
/// pauses (from 1 s): the longest pause. A stream lost sooner (a server that ends every
/// new stream with a stream error, a link that flaps) continues its predecessor's series,
/// so that such a server is not asked to log us in again every second.
pub(crate) const STABLE: Duration = crate::backoff::MAX_DELAY;

/// The link state, shared between tasks.
pub(crate) type SharedLink = Arc<Mutex<LinkState>>;

/// Runs `f` on the shared state (nothing if another thread panicked holding it).
pub(crate) fn with<T>(link: &SharedLink, f: impl FnOnce(&mut LinkState) -> T) -> Option<T> {
    link.lock().ok().map(|mut s| f(&mut s))
}

impl LinkState {
    /// A new TCP connection: nothing known about it yet.
    fn fresh(&mut self) {
        self.last_read = Some(Instant::now());
        self.eof = false;
        self.error = None;
        self.set_stream_error(None);
    }

    /// A stream logged in after `attempt` reconnection attempts (0: the first login).
    pub(crate) fn logged_in(&mut self, attempt: u32) {
        self.logged_in = Some((Instant::now(), attempt));
    }

    /// The attempts a new series of reconnections starts from: those of the stream just
    /// lost when it stayed up less than [`STABLE`], else 0.
    pub(crate) fn attempts_so_far(&self) -> u32 {
        match self.logged_in {
            Some((at, attempt)) if at.elapsed() < STABLE => attempt,
            _ => 0,
        }
    }

    /// Notes the stream error the server sent (`None`: forgets it).
    pub(crate) fn set_stream_error(&mut self, received: Option<Received>) {
        let why = received.as_ref().and_then(|r| SignOut::of(&r.condition));
        self.stream_error = received;
        self.sign_out.send_replace(why);
    }

    /// Follows whether the server signed us out.
    pub(crate) fn watch_sign_out(&self) -> watch::Receiver<Option<SignOut>> {
        self.sign_out.subscribe()
    }

    /// Why the server signed us out, if the stream error it sent means so.
    pub(crate) fn signed_out(&self) -> Option<(SignOut, Option<String>)> {
        let received = self.stream_error.as_ref()?;
        SignOut::of(&received.condition).map(|why| (why, received.text.clone()))
    }

    /// Why the connection was lost, from what was seen of it.
    pub(crate) fn reason(&self, keepalive: Keepalive) -> String {
        // RFC 6120 §4.9: the server said why before closing.
        if let Some(received) = &self.stream_error {
            return format!("the server ended the stream: {}", received.describe());
        }
        if let Some(e) = &self.error {
            return format!("network error: {e}");
        }
        if self.eof {
            return "the server closed the connection".into();
        }
        let silent = self.last_read.map(|t| t.elapsed()).unwrap_or_default();
        if silent >= keepalive.bound() {
            return format!(
                "the server did not answer for {} s (keepalive unanswered)",
                silent.as_secs()
            );
        }
        "the server ended the stream".into()
    }
}

/// A TCP connection whose reads, end and errors are noted in the shared state; or the
/// plaintext of the XML stream, whose stream errors are noted (`stream_error`): the same
/// stream in plain TCP, the stream above TLS otherwise.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    link: SharedLink,
    /// Whether this is the TCP connection (its reads, end and errors are noted).
    transport: bool,
    /// Finds the stream errors when this is the plaintext.
    finder: Option<Finder>,
}

impl<S> Watched<S> {
    /// A new TCP connection.
    pub(crate) fn new(inner: S, link: SharedLink) -> Self {
        with(&link, LinkState::fresh);
        Watched {
            inner,
            link,
            transport: true,
            finder: None,
        }
    }

    /// The same TCP connection, read in plaintext (no TLS).
    pub(crate) fn in_plaintext(mut self) -> Self {
        self.finder = Some(Finder::default());
        self
    }

    /// The plaintext above TLS on a TCP connection watched already.
    pub(crate) fn plaintext(inner: S, link: SharedLink) -> Self {
        Watched {
            inner,
            link,
            transport: false,
            finder: Some(Finder::default()),
        }
    }

    fn note<T>(&self, r: &io::Result<T>) {
        if !self.transport {
            return;
        }
        if let Err(e) = r {
            let e = e.to_string();
            with(&self.link, |s| s.error = Some(e));
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(r) = &r {
            let this = &mut *self;
            let read = buf.filled().get(before..).unwrap_or_default();
            if let Some(received) = this.finder.as_mut().and_then(|f| f.received(read)) {
                with(&this.link, |s| s.set_stream_error(Some(received)));
            }
            self.note(r);
            let got = !read.is_empty();
            if r.is_ok() && self.transport {
                with(&self.link, |s| {
                    if got {
                        s.last_read = Some(Instant::now());
                    } else {
                        s.eof = true;
                    }
                });
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(r) = &r {
            self.note(r);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(r) = &r {
            self.note(r);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn reason(link: &SharedLink) -> String {
        with(link, |s| s.reason(Keepalive::default())).unwrap()
    }

    #[tokio::test]
    async fn the_reason_names_what_the_connection_showed() {
        let link = SharedLink::default();
        let (a, mut b) = tokio::io::duplex(64);
        let mut w = Watched::new(a, link.clone());
        assert_eq!(reason(&link), "the server ended the stream");
        b.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(w.read(&mut buf).await.unwrap(), 1);
        drop(b);
        assert_eq!(w.read(&mut buf).await.unwrap(), 0);
        assert_eq!(reason(&link), "the server closed the connection");
        with(&link, |s| {
            s.eof = false;
            s.last_read = Instant::now().checked_sub(Duration::from_secs(100));
        });
        assert!(reason(&link).contains("keepalive unanswered"));
        assert!(w.write_all(b"y").await.is_err());
        assert!(reason(&link).starts_with("network error: "));
        // What the server said before closing comes first (RFC 6120 §4.9).
        let said = Received {
            condition: "system-shutdown".into(),
            text: Some("bye".into()),
        };
        with(&link, |s| s.set_stream_error(Some(said)));
        assert_eq!(
            reason(&link),
            "the server ended the stream: system-shutdown (bye)"
        );
        assert_eq!(with(&link, |s| s.signed_out()), Some(None));
        let mut watch = with(&link, |s| s.watch_sign_out()).unwrap();
        let conflict = Received {
            condition: "conflict".into(),
            text: None,
        };
        with(&link, |s| s.set_stream_error(Some(conflict)));
        assert_eq!(*watch.borrow_and_update(), Some(SignOut::Conflict));
        // A new connection forgets it.
        drop(Watched::new(tokio::io::empty(), link.clone()));
        assert_eq!(*watch.borrow_and_update(), None);
        assert_eq!(reason(&link), "the server ended the stream");
    }
}
