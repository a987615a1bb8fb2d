//! What a person is told when the server signs the account out (RFC 6120 §4.9.3.3:
//! another client signed in with the same full JID) and when they ask to sign in again,
//! in `tui` and `chat`. The texts hold the server's words: the caller escapes them.
use esession_xmpp::SignOut;

/// What happened, why nothing reconnects on its own, and what the user can do.
pub(crate) fn notice(jid: &str, why: SignOut, text: Option<&str>) -> String {
    let said = text
        .map(|t| format!(" (the server said: {t})"))
        .unwrap_or_default();
    format!(
        "signed out: {}{said}. Not reconnecting on its own: that would sign the other \
         client out, and it us, in turn. /reconnect signs in here again (signing the other \
         out); /quit leaves. Messages typed meanwhile are queued until then.",
        why.explain(jid)
    )
}

/// The answer to `/reconnect`: `started` when the account was signed out.
pub(crate) fn reconnect_answer(started: bool, jid: &str) -> String {
    if started {
        format!("signing in again as {jid}: the client that took it over is signed out")
    } else {
        "not signed out: nothing to do (after a lost connection it reconnects on its own)"
            .to_owned()
    }
}
