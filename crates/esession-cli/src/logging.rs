//! Diagnostics on stderr, chosen with `ESESSION_LOG` (tracing's `EnvFilter` syntax).
//!
//! tokio-xmpp traces every octet it sends and receives (log targets under
//! `tokio_xmpp::xmlstream`, forwarded to tracing), SASL included: PLAIN's `<auth/>` is the
//! base64 of the password and SCRAM's `<response/>` a proof that allows guessing it offline.
//! Those targets are never shown, whatever `ESESSION_LOG` says (issue 11 §8).
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tokio-xmpp module whose trace records hold the raw stream.
const RAW_STREAM_TARGET: &str = "tokio_xmpp::xmlstream";

/// Installs the stderr subscriber (and the bridge from the `log` records of dependencies).
pub(crate) fn init() {
    let _ = tracing_subscriber::registry()
        .with(filter_fn(|meta| shown(meta.target())))
        .with(EnvFilter::from_env("ESESSION_LOG"))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
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
    use super::shown;

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
