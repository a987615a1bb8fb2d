//! RFC 6120 §8.3.2: an error of type `wait` means "retry after waiting (the error is
//! temporary)". Every iq request of this crate answered so is sent again after a pause,
//! a few times, within the wait its caller allowed ([`crate::Connection`]'s iq round trip).
//!
//! Seen on ejabberd's two-node cluster: two accounts' first pubsub node creations at the
//! same moment lock each other in the cluster's database, and the server answers
//! `wait`/`internal-server-error` ("Database failure"); docs/decisions.md.
use std::time::Duration;
use tokio_xmpp::parsers::stanza_error::{ErrorType, StanzaError};

/// How many times a request is sent again while the server answers `wait`.
pub(crate) const RETRIES: u32 = 3;

/// The pause before sending again a request answered with `error` (after `retries`
/// earlier retries), or `None` to take the answer as it is: only an error of type
/// `wait`, at most [`RETRIES`] times, after 100, 200 and 400 ms.
pub(crate) fn pause(error: &StanzaError, retries: u32) -> Option<Duration> {
    (error.type_ == ErrorType::Wait && retries < RETRIES)
        .then(|| Duration::from_millis(100 << retries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::parsers::stanza_error::DefinedCondition;

    #[test]
    fn only_an_error_of_type_wait_is_retried_and_a_few_times() {
        let wait = StanzaError::new(
            ErrorType::Wait,
            DefinedCondition::InternalServerError,
            "en",
            "Database failure",
        );
        let pauses: Vec<Option<Duration>> = (0..=RETRIES).map(|n| pause(&wait, n)).collect();
        assert_eq!(
            pauses,
            [100, 200, 400]
                .map(|ms| Some(Duration::from_millis(ms)))
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>()
        );
        for type_ in [
            ErrorType::Cancel,
            ErrorType::Modify,
            ErrorType::Auth,
            ErrorType::Continue,
        ] {
            let e = StanzaError::new(type_, DefinedCondition::InternalServerError, "en", "");
            assert_eq!(pause(&e, 0), None);
        }
    }
}
