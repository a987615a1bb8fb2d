//! Diagnostics on stderr, chosen with `ESESSION_LOG` (tracing's `EnvFilter` syntax).
//!
//! tokio-xmpp traces every octet it sends and receives (log targets under
//! `tokio_xmpp::xmlstream`, forwarded to tracing), SASL included: PLAIN's `<auth/>` is the
//! base64 of the password and SCRAM's `<response/>` a proof that allows guessing it offline.
//! Those targets are never shown, whatever `ESESSION_LOG` says (issue 11 §8).
//!
//! A record may hold what a peer or a server chose (a contact's software name, an error
//! text): each record is written on one line with such text escaped as in the text output
//! ([`crate::sanitize::safe`]), without colours, so that none forges a line, reorders what
//! is shown or drives the terminal.
use std::io::Write;

use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::sanitize::safe;

/// The tokio-xmpp module whose trace records hold the raw stream.
const RAW_STREAM_TARGET: &str = "tokio_xmpp::xmlstream";

/// Installs the stderr subscriber (and the bridge from the `log` records of dependencies).
pub(crate) fn init() {
    let _ = tracing_subscriber::registry()
        .with(filter_fn(|meta| shown(meta.target())))
        .with(EnvFilter::from_env("ESESSION_LOG"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| Escaped(std::io::stderr())),
        )
        .try_init();
}

/// A writer of formatted records (one `write` each, ending in a newline): the record's
/// text goes through [`safe`], so a newline inside it shows as `\n`.
struct Escaped<W: Write>(W);

impl<W: Write> Write for Escaped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (record, end) = match text.strip_suffix('\n') {
            Some(record) => (record, "\n"),
            None => (&*text, ""),
        };
        write!(self.0, "{}{end}", safe(record))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Whether records of `target` may be shown: not the raw stream (module paths match whole
/// path segments).
fn shown(target: &str) -> bool {
    match target.strip_prefix(RAW_STREAM_TARGET) {
        Some(rest) => !(rest.is_empty() || rest.starts_with("::")),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::{shown, Escaped};
    use std::io::Write;

    #[test]
    fn a_record_stays_one_line_whatever_it_holds() {
        let mut out = Escaped(Vec::new());
        let record = "INFO software version name=Evil\n2026 ERROR forged\u{1b}[2J\u{2028}x\n";
        out.write_all(record.as_bytes()).unwrap();
        out.write_all(b"INFO plain\n").unwrap();
        let text = String::from_utf8(out.0).unwrap();
        assert_eq!(
            text,
            "INFO software version name=Evil\\n2026 ERROR forged\\u{1b}[2J\\u{2028}x\nINFO plain\n"
        );
    }

    #[test]
    fn the_raw_stream_is_never_shown() {
        for hidden in [
            "tokio_xmpp::xmlstream",
            "tokio_xmpp::xmlstream::capture",
            "tokio_xmpp::xmlstream::common",
        ] {
            assert!(!shown(hidden), "{hidden}");
        }
        for kept in [
            "esession_xmpp::connection",
            "tokio_xmpp::stanzastream::worker",
            "tokio_xmpp::xmlstreamer",
            "esession",
        ] {
            assert!(shown(kept), "{kept}");
        }
    }
}
