//! JIDs the user types (issue 11 §14): normalized as RFC 7622 §3 asks (stringprep through
//! the `jid` crate: node and domain case-folded and mapped, the domain in its Unicode
//! form), so that `Alice@Example.ORG` and `alice@example.org` are one contact in the
//! store, in `--only` and on the wire. A JID that does not parse is a usage error (exit 2)
//! naming the option.
use crate::args::{ArchiveCommand, Cli, Command, KeysCommand, TrustCommand};
use crate::fail::Fail;

/// `typed` (given as `what`, e.g. `--to`) as a JID, in normal form.
pub(crate) fn parse(what: &str, typed: &str) -> Result<jid::Jid, Fail> {
    jid::Jid::new(typed)
        .map_err(|e| Fail::usage(format!("{what}: {typed:?} is not a valid JID: {e}")))
}

/// `typed` (given as `what`, e.g. `--to`) in normal form.
pub(crate) fn normalize(what: &str, typed: &str) -> Result<String, Fail> {
    parse(what, typed).map(jid::Jid::into_inner)
}

/// `typed` (given as `what`) as a contact's bare JID (`user@domain`, a resource dropped),
/// normalized as [`normalize`] does; `Err` says why it is not one.
pub(crate) fn contact(what: &str, typed: &str) -> Result<String, String> {
    let jid = normalize(what, typed).map_err(|f| f.message)?;
    let bare = esession::jid::bare(&jid);
    match bare.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(bare.to_owned()),
        _ => Err(format!("{what} is not a JID of the form user@domain")),
    }
}

/// Normalizes in place every JID `cli` holds.
pub(crate) fn normalize_all(cli: &mut Cli) -> Result<(), Fail> {
    let one = |what: &str, v: &mut String| normalize(what, v).map(|n| *v = n);
    let opt = |what: &str, v: &mut Option<String>| match v {
        Some(s) => one(what, s),
        None => Ok(()),
    };
    opt("--jid", &mut cli.global.jid)?;
    // An account is user@domain: a domain alone cannot log in.
    if let Some(own) = cli.global.jid.as_deref().filter(|j| !j.contains('@')) {
        return Err(Fail::usage(format!(
            "--jid: {own:?} has no local part (user@domain expected)"
        )));
    }
    match &mut cli.command {
        Command::Demo(a) => opt("--peer-jid", &mut a.peer_jid),
        Command::Listen(a) => a.only.iter_mut().try_for_each(|j| one("--only", j)),
        Command::Send(a) => one("--to", &mut a.to),
        Command::Chat(a) => one("the contact", &mut a.contact),
        Command::Keys(
            KeysCommand::Fetch { contact }
            | KeysCommand::Attest { contact }
            | KeysCommand::Request { contact },
        ) => one("the contact", contact),
        Command::Keys(KeysCommand::Show | KeysCommand::Publish | KeysCommand::Revoke) => Ok(()),
        Command::Trust(TrustCommand::Verify { contact, .. }) => one("the contact", contact),
        Command::Trust(_) => Ok(()),
        Command::Archive(ArchiveCommand::Prefs(p)) => opt("--contact", &mut p.contact),
        Command::Archive(ArchiveCommand::List { with }) => opt("--with", with),
        Command::Archive(
            ArchiveCommand::Show { with, .. } | ArchiveCommand::Remove { with, .. },
        ) => one("the collection's JID", with),
        Command::Offline(_) | Command::Init(_) => Ok(()),
        // Its JIDs come in requests, normalized there.
        Command::Jsonrpc(_) | Command::Tui(_) => Ok(()),
        Command::History(a) => one("the contact", &mut a.contact),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn node_and_domain_are_case_folded_and_bad_jids_are_usage_errors() {
        assert_eq!(
            normalize("--to", "Alice@Example.ORG/Pda").unwrap(),
            "alice@example.org/Pda"
        );
        assert_eq!(normalize("--to", "example.org").unwrap(), "example.org");
        for bad in ["alice@", "@example.org", "alice@example.org/", "a@b@c"] {
            let f = normalize("--to", bad).unwrap_err();
            assert_eq!(f.code, crate::fail::USAGE, "{bad}");
            assert!(f.message.starts_with("--to: "), "{}", f.message);
        }
    }
}
