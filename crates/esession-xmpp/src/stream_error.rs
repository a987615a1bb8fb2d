//! The stream error the server ends a stream with (RFC 6120 §4.9), read from the
//! plaintext under the XML stream.
//!
//! tokio-xmpp parses a `<stream:error/>` received after login but drops it (it answers
//! with a stream error of its own and reports only that the stream ended), so its
//! condition is read here, in the bytes it reads (`link::Watched`): each read is searched
//! for `<stream:error`; from there the bytes are kept until `</stream:error>`, parsed, and
//! the condition is noted in the link state, before tokio-xmpp sees the end of the stream.
//! Only the server writes raw markup into our stream: stanzas it relays are re-serialized,
//! their `<` escaped, so a peer cannot forge one.
use memchr::memmem;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::ns;

/// How a stream error opens, with the `stream` prefix every server uses for the streams
/// namespace (RFC 6120 §4.8.5).
const OPEN: &[u8] = b"<stream:error";
/// How it closes.
const CLOSE: &[u8] = b"</stream:error>";
/// Longest stream error kept; a longer one is not read (the loss is reported without its
/// condition).
const MAX_ERROR: usize = 4096;

/// A stream error received from the server: its defined condition (RFC 6120 §4.9.3) and
/// its text, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// The condition's element name, e.g. `conflict`.
    pub(crate) condition: String,
    /// The human-readable `<text/>` (§4.9.2), as the server wrote it.
    pub(crate) text: Option<String>,
}

impl Received {
    /// The condition and its text, in words: `conflict (Replaced by new connection)`.
    pub(crate) fn describe(&self) -> String {
        match &self.text {
            Some(t) => format!("{} ({t})", self.condition),
            None => self.condition.clone(),
        }
    }
}

/// Why the server signed this client out, for the stream errors after which reconnecting
/// on our own would be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOut {
    /// RFC 6120 §4.9.3.3 `<conflict/>`: another client signed in with the same full JID.
    /// Reconnecting with that resource would sign the other one out, which would do the
    /// same to us, forever (the RFC: a client MUST NOT blindly request the resourcepart
    /// again).
    Conflict,
}

impl SignOut {
    /// The sign-out a received stream error condition means, if any.
    pub(crate) fn of(condition: &str) -> Option<SignOut> {
        (condition == "conflict").then_some(SignOut::Conflict)
    }

    /// A stable machine-readable name: the RFC 6120 condition (`conflict`).
    pub fn name(self) -> &'static str {
        match self {
            SignOut::Conflict => "conflict",
        }
    }

    /// What happened to the session bound to `jid`, in words.
    pub fn explain(self, jid: &str) -> String {
        match self {
            SignOut::Conflict => format!("another client signed in as {jid}"),
        }
    }
}

/// Parses a stream error as the server sent it (`<stream:error>…</stream:error>`, the
/// `stream` prefix declared on the stream header).
pub(crate) fn parse(raw: &[u8]) -> Option<Received> {
    let raw = std::str::from_utf8(raw).ok()?;
    let wrapped = format!(
        "<w xmlns='{}' xmlns:stream='{}'>{raw}</w>",
        ns::JABBER_CLIENT,
        ns::STREAM
    );
    let root: Element = wrapped.parse().ok()?;
    let error = root.get_child("error", ns::STREAM)?;
    // RFC 6120 §4.9.2: one defined condition, an optional <text/>, both in the
    // streams-errors namespace.
    let condition = error
        .children()
        .find(|c| c.ns() == ns::XMPP_STREAMS && c.name() != "text")?
        .name()
        .to_owned();
    let text = error
        .get_child("text", ns::XMPP_STREAMS)
        .map(Element::text)
        .filter(|t| !t.is_empty());
    Some(Received { condition, text })
}

/// Finds the stream errors in a sequence of reads.
#[derive(Debug, Default)]
pub(crate) struct Finder {
    /// Searching: the last bytes read (fewer than `OPEN`), in case it is split between
    /// reads. Capturing: the error so far, from `<stream:error`.
    kept: Vec<u8>,
    capturing: bool,
}

impl Finder {
    /// Takes in the bytes of one read; returns the stream error they complete.
    pub(crate) fn received(&mut self, data: &[u8]) -> Option<Received> {
        let received = parse(&self.feed(data)?)?;
        tracing::info!(condition = %received.describe(), "the server sent a stream error");
        Some(received)
    }

    /// Takes in the bytes of one read; returns the raw stream error they complete.
    fn feed(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        if !self.capturing {
            let start = self.find_open(data)?;
            self.capturing = true;
            match start {
                Start::InKept(at) => {
                    self.kept.drain(..at);
                    self.kept.extend_from_slice(data);
                }
                Start::InData(at) => {
                    self.kept.clear();
                    self.kept
                        .extend_from_slice(data.get(at..).unwrap_or_default());
                }
            }
        } else {
            self.kept.extend_from_slice(data);
        }
        if let Some(end) = memmem::find(&self.kept, CLOSE) {
            let mut raw = std::mem::take(&mut self.kept);
            raw.truncate(end + CLOSE.len());
            self.capturing = false;
            return Some(raw);
        }
        if self.kept.len() > MAX_ERROR {
            self.kept.clear();
            self.capturing = false;
        }
        None
    }

    /// Where `OPEN` starts, over the bytes kept from the previous read and `data`; when it
    /// is not there, keeps the tail that could begin it.
    fn find_open(&mut self, data: &[u8]) -> Option<Start> {
        // Across the boundary: the kept tail and the first bytes of `data`.
        if !self.kept.is_empty() {
            // On the stack: this runs for every read.
            let mut seam = [0u8; 2 * OPEN.len()];
            let head = data.get(..OPEN.len().min(data.len())).unwrap_or_default();
            let len = self.kept.len() + head.len();
            let (front, back) = seam.split_at_mut(self.kept.len());
            front.copy_from_slice(&self.kept);
            back.get_mut(..head.len())?.copy_from_slice(head);
            if let Some(at) = memmem::find(seam.get(..len)?, OPEN) {
                if at < self.kept.len() {
                    return Some(Start::InKept(at));
                }
            }
        }
        if let Some(at) = memmem::find(data, OPEN) {
            return Some(Start::InData(at));
        }
        let tail = OPEN.len() - 1;
        if data.len() >= tail {
            self.kept.clear();
            self.kept
                .extend_from_slice(data.get(data.len() - tail..).unwrap_or_default());
        } else {
            self.kept.extend_from_slice(data);
            let extra = self.kept.len().saturating_sub(tail);
            self.kept.drain(..extra);
        }
        None
    }
}

/// Where a stream error starts.
enum Start {
    /// At this offset of the bytes kept from the previous read.
    InKept(usize),
    /// At this offset of the new read.
    InData(usize),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PROSODY: &[u8] = b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
        <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text>\
        </stream:error></stream:stream>";

    fn conflict() -> Received {
        Received {
            condition: "conflict".into(),
            text: Some("Replaced by new connection".into()),
        }
    }

    #[test]
    fn the_condition_and_text_are_read() {
        let raw = Finder::default().feed(PROSODY).unwrap();
        assert!(raw.ends_with(CLOSE));
        assert_eq!(parse(&raw), Some(conflict()));
        assert_eq!(
            SignOut::of(&parse(&raw).unwrap().condition),
            Some(SignOut::Conflict)
        );
        let bare = b"<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
        let got = parse(bare).unwrap();
        assert_eq!(got.condition, "system-shutdown");
        assert_eq!(got.text, None);
        assert_eq!(SignOut::of(&got.condition), None);
    }

    #[test]
    fn an_error_split_anywhere_between_reads_is_found() {
        let mut stream = b"<message><body>a &lt;stream:error&gt; in text</body></message>".to_vec();
        stream.extend_from_slice(PROSODY);
        for cut in 1..stream.len() {
            for second in [cut, (cut + 7).min(stream.len())] {
                let mut f = Finder::default();
                let (a, rest) = stream.split_at(cut);
                let (b, c) = rest.split_at(second - cut);
                let found: Vec<Vec<u8>> = [a, b, c].iter().filter_map(|d| f.feed(d)).collect();
                assert_eq!(found.len(), 1, "cut at {cut}/{second}");
                assert_eq!(parse(&found[0]), Some(conflict()), "cut at {cut}/{second}");
            }
        }
    }

    #[test]
    fn stanzas_and_garbage_are_not_stream_errors() {
        let mut f = Finder::default();
        assert_eq!(
            f.feed(b"<message><body>&lt;stream:error&gt;</body></message>"),
            None
        );
        assert_eq!(parse(b"<stream:error><text>x</stream:error>"), None);
        assert_eq!(parse(b"<stream:error/>"), None);
        assert_eq!(parse(b"\xff<stream:error/>"), None);
        // Too long to be kept: dropped, and the next one is still found.
        let mut long = b"<stream:error>".to_vec();
        long.extend(std::iter::repeat_n(b' ', MAX_ERROR));
        assert_eq!(f.feed(&long), None);
        assert_eq!(f.feed(PROSODY).and_then(|r| parse(&r)), Some(conflict()));
    }
}
