//! The configuration file: `$XDG_CONFIG_HOME/esession/config.toml` (else
//! `~/.config/esession/config.toml`) when it exists, or `--config PATH`. It gives the
//! defaults of the global options; the command line overrides it. An unknown key is a usage
//! error naming the key and the file; a file that other users can read and that says how to
//! get the password (`password_command`) earns a warning.
//!
//! ```toml
//! jid = "alice@example.org"
//! server = "xmpp.example.org:5222"       # default: DNS SRV of the JID's domain
//! tls = "starttls"                       # starttls, direct or plain (loopback only)
//! state_dir = "~/.local/share/esession"  # the store
//! accept = "anyone"                      # "anyone", "nobody" or a list of bare JIDs
//! allow_offline = false                  # send: XEP-0187 offline sessions allowed
//! password_command = "pass show xmpp"    # its first output line is the password
//! keepalive_idle = 30                    # seconds of server silence before asking it
//! keepalive_answer = 15                  # seconds it has to answer (link lost otherwise)
//!
//! [contacts."juliet@example.org"]        # one table per contact (bare JID)
//! compat = "gajim"                       # auto, gajim or strict (docs/gajim.md)
//! ```
//!
//! A contact's `compat` holds in every command; `--compat` (send, listen) wins over it.
use crate::args::{Cli, Command, CompatArg, Global, Tls};
use crate::fail::Fail;
use esession::AcceptPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The keys of the file.
#[derive(Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// The account (`--jid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jid: Option<String>,
    /// HOST:PORT (`--server`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `--tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// The store's directory (`--state`); a leading `~/` is the home directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// Whose sessions are accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<Accept>,
    /// `send --allow-offline` by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_offline: Option<bool>,
    /// A shell command printing the account password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_command: Option<String>,
    /// `--keepalive-idle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive_idle: Option<u64>,
    /// `--keepalive-answer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive_answer: Option<u64>,
    /// Settings per contact, by bare JID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contacts: BTreeMap<String, Contact>,
}

/// `[contacts."JID"]`: what is set for one contact.
#[derive(Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Contact {
    /// The Gajim compatibility mode with this contact (issue 13).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compat: Option<CompatArg>,
}

/// `accept`: a word or a list of bare JIDs.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum Accept {
    /// `"anyone"` or `"nobody"`.
    Word(String),
    /// Only these contacts (XEP-0155 §4.3: the others are declined).
    Only(Vec<String>),
}

/// The file used when `--config` is not given.
pub(crate) fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("esession").join("config.toml"))
}

/// Fills in what the configuration file gives and the command line does not.
pub(crate) fn apply(cli: &mut Cli) -> Result<(), Fail> {
    let (path, explicit) = match &cli.global.config {
        Some(p) => (p.clone(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Fail::usage(format!(
                "the configuration file {}: {e}",
                path.display()
            )))
        }
    };
    let file = parse(&text, &path)?;
    if file.password_command.is_some() && crate::secret_input::readable_by_others(&path) {
        eprintln!(
            "esession: warning: the configuration file {} holds password_command and can be \
             read by group or others (chmod 600 it)",
            path.display()
        );
    }
    // XEP-0187 offline sessions have no forward secrecy: only with the user's consent.
    if let (Command::Send(a), Some(true)) = (&mut cli.command, file.allow_offline) {
        a.allow_offline = true;
    }
    merge(&mut cli.global, file, &path)?;
    compat_flag_wins(cli);
    Ok(())
}

/// `--compat` is the mode with every peer of the command: the file's per-contact modes
/// are dropped when it is given.
fn compat_flag_wins(cli: &mut Cli) {
    if let Command::Send(crate::args::SendArgs { algs, .. })
    | Command::Listen(crate::args::ListenArgs { algs, .. }) = &cli.command
    {
        if algs.compat.is_some() {
            cli.global.compat.clear();
        }
    }
}

/// Parses the file's text (`path` for messages).
fn parse(text: &str, path: &Path) -> Result<ConfigFile, Fail> {
    toml::from_str(text).map_err(|e| {
        let detail = e.message().trim_end().to_owned();
        let at = e
            .span()
            .map(|s| {
                let before = text.get(..s.start).unwrap_or_default();
                format!(" (line {})", before.matches('\n').count() + 1)
            })
            .unwrap_or_default();
        Fail::usage(format!(
            "the configuration file {}{at}: {detail}",
            path.display()
        ))
    })
}

/// What the file gives, under what the command line gave.
fn merge(global: &mut Global, file: ConfigFile, path: &Path) -> Result<(), Fail> {
    let bad = |key: &str, detail: String| {
        Fail::usage(format!(
            "the configuration file {}: {key}: {detail}",
            path.display()
        ))
    };
    if global.jid.is_none() {
        global.jid = file.jid;
    }
    if global.server.is_none() {
        global.server = file.server;
    }
    if global.tls.is_none() {
        global.tls = file.tls;
    }
    if global.state.is_none() {
        global.state = file.state_dir.map(|d| home_relative(&d));
    }
    for (key, flag, value) in [
        (
            "keepalive_idle",
            &mut global.keepalive_idle,
            file.keepalive_idle,
        ),
        (
            "keepalive_answer",
            &mut global.keepalive_answer,
            file.keepalive_answer,
        ),
    ] {
        let most = esession_xmpp::MAX_WAIT.as_secs();
        if let Some(v) = value.filter(|v| !(1..=most).contains(v)) {
            return Err(bad(
                key,
                format!("{v}: expected a number of seconds from 1 to {most}"),
            ));
        }
        if flag.is_none() {
            *flag = value;
        }
    }
    global.password_command = file.password_command;
    global.accept = match file.accept {
        None => None,
        Some(Accept::Word(w)) if w == "anyone" => Some(AcceptPolicy::Anyone),
        Some(Accept::Word(w)) if w == "nobody" => Some(AcceptPolicy::Nobody),
        Some(Accept::Word(w)) => {
            return Err(bad(
                "accept",
                format!("{w:?}: expected \"anyone\", \"nobody\" or a list of JIDs"),
            ))
        }
        Some(Accept::Only(jids)) => Some(AcceptPolicy::Only(
            jids.iter()
                .map(|j| {
                    crate::typed_jid::normalize("accept", j)
                        .map(|n| esession::jid::bare(&n).to_owned())
                        .map_err(|f| bad("accept", f.message))
                })
                .collect::<Result<_, _>>()?,
        )),
    };
    global.compat = file
        .contacts
        .iter()
        .filter_map(|(jid, c)| c.compat.map(|mode| (jid, mode)))
        .map(|(jid, mode)| {
            let key = format!("contacts.{jid:?}");
            let bare = crate::typed_jid::contact(&key, jid).map_err(|e| bad(&key, e))?;
            let bare = esession::BareJid::new(&bare).map_err(|e| bad(&key, e.to_string()))?;
            Ok((bare, esession::Compat::from(mode)))
        })
        .collect::<Result<_, Fail>>()?;
    Ok(())
}

/// `~/x` is `x` in the home directory.
fn home_relative(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn global(argv: &[&str], file: &str) -> Result<Global, Fail> {
        let mut cli = Cli::parse_from(argv.iter().copied().chain(["trust", "list"]));
        let parsed = parse(file, Path::new("/c.toml"))?;
        merge(&mut cli.global, parsed, Path::new("/c.toml"))?;
        Ok(cli.global)
    }

    #[test]
    fn the_command_line_overrides_the_file() {
        let file = r#"
            jid = "a@x"
            server = "127.0.0.1:5222"
            tls = "direct"
            state_dir = "/s"
            accept = ["B@Y/r", "c@z"]
            allow_offline = true
            password_command = "pass show xmpp"
        "#;
        let g = global(&["esession"], file).unwrap();
        assert_eq!(g.jid.as_deref(), Some("a@x"));
        assert_eq!(g.server.as_deref(), Some("127.0.0.1:5222"));
        assert_eq!(g.tls(), Tls::Direct);
        assert_eq!(g.state.as_deref(), Some(Path::new("/s")));
        assert_eq!(
            g.accept,
            Some(AcceptPolicy::Only(vec!["b@y".into(), "c@z".into()]))
        );
        assert_eq!(g.password_command.as_deref(), Some("pass show xmpp"));
        let g = global(
            &[
                "esession", "--jid", "d@w", "--server", "h:1", "--tls", "plain", "--state", "/t",
            ],
            file,
        )
        .unwrap();
        assert_eq!(g.jid.as_deref(), Some("d@w"));
        assert_eq!(g.server.as_deref(), Some("h:1"));
        assert_eq!(g.tls(), Tls::Plain);
        assert_eq!(g.state.as_deref(), Some(Path::new("/t")));
        // Nothing given: the defaults.
        let g = global(&["esession"], "").unwrap();
        assert_eq!((g.tls(), g.accept), (Tls::Starttls, None));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_usage_errors_naming_the_file() {
        let f = global(&["esession"], "jid = \"a@x\"\npasword_command = \"x\"\n").unwrap_err();
        assert_eq!(f.code, crate::fail::USAGE);
        assert!(f.message.contains("/c.toml (line 2)"), "{}", f.message);
        assert!(f.message.contains("pasword_command"), "{}", f.message);
        let f = global(&["esession"], "tls = \"ssl\"").unwrap_err();
        assert!(f.message.contains("/c.toml"), "{}", f.message);
        let f = global(&["esession"], "accept = \"friends\"").unwrap_err();
        assert!(f.message.contains("accept: \"friends\""), "{}", f.message);
        let f = global(&["esession"], "accept = [\"a@\"]").unwrap_err();
        assert!(f.message.contains("accept"), "{}", f.message);
        assert_eq!(
            global(&["esession"], "accept = \"nobody\"").unwrap().accept,
            Some(AcceptPolicy::Nobody)
        );
    }

    #[test]
    fn keepalive_from_the_file_under_the_flags() {
        let file = "keepalive_idle = 20\nkeepalive_answer = 5\n";
        let g = global(&["esession"], file).unwrap();
        assert_eq!((g.keepalive_idle, g.keepalive_answer), (Some(20), Some(5)));
        let g = global(&["esession", "--keepalive-idle", "3"], file).unwrap();
        assert_eq!((g.keepalive_idle, g.keepalive_answer), (Some(3), Some(5)));
        let f = global(&["esession"], "keepalive_answer = 0").unwrap_err();
        assert!(f.message.contains("keepalive_answer: 0"), "{}", f.message);
        let f = global(&["esession"], "keepalive_idle = 18446744073709551615").unwrap_err();
        assert!(
            f.message
                .contains("keepalive_idle: 18446744073709551615: expected a number of seconds from 1 to 86400"),
            "{}",
            f.message
        );
        for bad in ["0", "86401", "18446744073709551615"] {
            assert!(
                Cli::try_parse_from(["esession", "--keepalive-idle", bad, "trust", "list"])
                    .is_err(),
                "--keepalive-idle {bad} was accepted"
            );
        }
        assert!(
            Cli::try_parse_from(["esession", "--keepalive-answer", "86400", "trust", "list"])
                .is_ok()
        );
        let g = global(&["esession"], "").unwrap();
        assert_eq!((g.keepalive_idle, g.keepalive_answer), (None, None));
    }

    #[test]
    fn compat_per_contact_and_the_flag_over_it() {
        let file = r#"
            jid = "a@x"
            [contacts."Juliet@Example.org/balcony"]
            compat = "gajim"
            [contacts."romeo@example.org"]
            compat = "strict"
            [contacts."nurse@example.org"]
        "#;
        let g = global(&["esession"], file).unwrap();
        let modes: Vec<(String, esession::Compat)> =
            g.compat.iter().map(|(j, c)| (j.to_string(), *c)).collect();
        assert_eq!(
            modes,
            [
                ("juliet@example.org".to_owned(), esession::Compat::Gajim),
                ("romeo@example.org".to_owned(), esession::Compat::Strict),
            ]
        );
        // `--compat` wins over the file, for send and listen; without it the file holds.
        for (argv, kept) in [
            (
                &["esession", "send", "--to", "r@x", "--compat", "auto", "hi"][..],
                0,
            ),
            (&["esession", "listen", "--compat", "strict"][..], 0),
            (&["esession", "send", "--to", "r@x", "hi"][..], 2),
        ] {
            let mut cli = Cli::parse_from(argv);
            merge(
                &mut cli.global,
                parse(file, Path::new("/c.toml")).unwrap(),
                Path::new("/c.toml"),
            )
            .unwrap();
            compat_flag_wins(&mut cli);
            assert_eq!(cli.global.compat.len(), kept, "{argv:?}");
        }
    }

    #[test]
    fn bad_contact_entries_name_the_key_and_line() {
        let f = global(
            &["esession"],
            "jid = \"a@x\"\n[contacts.\"j@x\"]\ncompat = \"gajm\"\n",
        )
        .unwrap_err();
        assert_eq!(f.code, crate::fail::USAGE);
        assert!(f.message.contains("/c.toml (line 3)"), "{}", f.message);
        assert!(f.message.contains("gajm"), "{}", f.message);
        let f = global(&["esession"], "[contacts.\"j@x\"]\ncompt = \"gajim\"\n").unwrap_err();
        assert!(f.message.contains("(line 2)"), "{}", f.message);
        assert!(f.message.contains("compt"), "{}", f.message);
        let f = global(
            &["esession"],
            "[contacts.\"example.org\"]\ncompat = \"gajim\"\n",
        )
        .unwrap_err();
        assert_eq!(f.code, crate::fail::USAGE);
        assert!(
            f.message.contains("contacts.\"example.org\""),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_written_file_reads_back() {
        let file = ConfigFile {
            jid: Some("a@x".into()),
            tls: Some(Tls::Starttls),
            state_dir: Some("/s".into()),
            contacts: BTreeMap::from([(
                "j@x".to_owned(),
                Contact {
                    compat: Some(CompatArg::Gajim),
                },
            )]),
            ..ConfigFile::default()
        };
        let text = toml::to_string(&file).unwrap();
        assert_eq!(parse(&text, Path::new("/c")).unwrap(), file);
    }
}
