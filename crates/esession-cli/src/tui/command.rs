//! What a line typed in the input means: a command (`/name args`) or a message. A line
//! starting `//` is a message starting `/`; an unknown command is an error, never sent.

/// A typed line, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Typed {
    /// A message to the current conversation.
    Say(String),
    /// `/help`.
    Help,
    /// `/open JID`: the conversation with JID (as typed; normalized by the caller).
    Open(String),
    /// `/close`: closes the current conversation's window.
    Close,
    /// `/win N`: window N (1 is the console).
    Win(usize),
    /// `/verify SAS`: the SAS heard from the contact.
    Verify(String),
    /// `/fp`: our and the contact's key fingerprints.
    Fingerprints,
    /// `/trust [FINGERPRINT]`: trusts the key the contact presented (only if it has that
    /// fingerprint, when one is given).
    Trust(Option<String>),
    /// `/name [PETNAME]`: names the key the contact presented (no name: removes it).
    Name(Option<String>),
    /// `/start`: negotiates a session with the contact now, before any message.
    Start,
    /// `/end`: ends the sessions with the contact.
    End,
    /// `/add JID`.
    Add(String),
    /// `/approve JID`.
    Approve(String),
    /// `/history`: the stored history with the contact.
    History,
    /// `/reconnect`: signs in again after the server signed us out.
    Reconnect,
    /// `/quit`.
    Quit,
}

/// The commands with their arguments and what they do, for `/help`.
pub(crate) const HELP: [(&str, &str); 16] = [
    ("/help", "this list (Esc closes it)"),
    ("/open JID", "open the conversation with JID"),
    ("/close", "close the current conversation's window"),
    (
        "/win N",
        "window N (Alt+1…9, Ctrl+N / Ctrl+P); 1 is the console",
    ),
    (
        "/verify SAS",
        "compare the SAS the contact read to you; a match marks it verified",
    ),
    (
        "/fp",
        "your and the contact's key fingerprints, to read aloud",
    ),
    (
        "/trust [FP]",
        "trust the contact's key, after /fp; with FP: only that key",
    ),
    (
        "/name NAME",
        "name the contact's key, shown before its JID; alone: unname",
    ),
    (
        "/start",
        "negotiate the session now: compare the SAS before writing",
    ),
    ("/end", "end the encrypted sessions with the contact"),
    (
        "/add JID",
        "add JID to your contacts and ask to see its presence",
    ),
    ("/approve JID", "let JID see your presence"),
    (
        "/history",
        "load the stored history (PageUp / PageDown scroll)",
    ),
    (
        "/reconnect",
        "sign in again after being signed out by another client",
    ),
    ("/quit", "end every session and leave (Ctrl-C too)"),
    ("//text", "send a message that starts with /"),
];

/// Reads one submitted line; `Err` says what is wrong (shown locally, nothing sent).
pub(crate) fn parse(line: &str) -> Result<Typed, String> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Typed::Say(line.to_owned()));
    };
    if rest.starts_with('/') {
        return Ok(Typed::Say(rest.to_owned()));
    }
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    let needs = |what: &str| {
        if arg.is_empty() {
            Err(format!("/{name} needs {what}"))
        } else {
            Ok(arg.to_owned())
        }
    };
    let none = |typed: Typed| {
        if arg.is_empty() {
            Ok(typed)
        } else {
            Err(format!("/{name} takes no argument"))
        }
    };
    match name {
        "help" => none(Typed::Help),
        "open" => needs("a JID").map(Typed::Open),
        "close" => none(Typed::Close),
        "win" => arg
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .map(Typed::Win)
            .ok_or_else(|| "/win needs a window number (1 is the console)".to_owned()),
        "verify" => needs("the SAS the contact read to you").map(Typed::Verify),
        "fp" => none(Typed::Fingerprints),
        "trust" => Ok(Typed::Trust((!arg.is_empty()).then(|| arg.to_owned()))),
        "name" => Ok(Typed::Name((!arg.is_empty()).then(|| arg.to_owned()))),
        "start" => none(Typed::Start),
        "end" => none(Typed::End),
        "add" => needs("a JID").map(Typed::Add),
        "approve" => needs("a JID").map(Typed::Approve),
        "history" => none(Typed::History),
        "reconnect" => none(Typed::Reconnect),
        "quit" => none(Typed::Quit),
        _ => Err(format!(
            "unknown command /{name} (/help lists them; // sends a line starting with /): \
             nothing was sent"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_messages() {
        assert_eq!(parse("hello"), Ok(Typed::Say("hello".into())));
        assert_eq!(parse("//me waves"), Ok(Typed::Say("/me waves".into())));
        assert_eq!(parse("/open bob@x"), Ok(Typed::Open("bob@x".into())));
        assert_eq!(
            parse("/name Bob (work)"),
            Ok(Typed::Name(Some("Bob (work)".into())))
        );
        assert_eq!(parse("/name"), Ok(Typed::Name(None)));
        assert_eq!(parse("/verify  ab12c "), Ok(Typed::Verify("ab12c".into())));
        assert_eq!(parse("/win 3"), Ok(Typed::Win(3)));
        assert_eq!(parse("/quit"), Ok(Typed::Quit));
        assert_eq!(parse("/history"), Ok(Typed::History));
        assert_eq!(parse("/reconnect"), Ok(Typed::Reconnect));
        assert_eq!(parse("/start"), Ok(Typed::Start));
    }

    #[test]
    fn unknown_or_malformed_commands_are_errors_never_messages() {
        for line in [
            "/me waves",
            "/",
            "/HELP",
            "/win",
            "/win 0",
            "/win x",
            "/open",
            "/quit now",
            "/start bob@x",
        ] {
            assert!(parse(line).is_err(), "{line:?} must not be sent");
        }
        assert!(parse("/me waves").unwrap_err().contains("nothing was sent"));
    }
}
