//! The negotiation policy (`Config`) of `send` and `listen`, from their flags.
use crate::args::{
    AlgArgs, CompatArg, FlowArg, Global, JsonrpcArgs, ListenArgs, LoggingArg, PubkeyArg, SendArgs,
};
use crate::fail::Fail;
use esession::compress::CompressAlg;
use esession::config::{Flow, PubkeyMode};
use esession::{AcceptPolicy, CipherAlg, Compat, Config, HashAlg, Logging};

/// `--logging`: the values in order, without repeats; empty keeps `config.logging`.
fn apply_logging(config: &mut Config, given: &[LoggingArg]) {
    if given.is_empty() {
        return;
    }
    config.logging.clear();
    for l in given {
        let l = match l {
            LoggingArg::May => Logging::May,
            LoggingArg::Mustnot => Logging::MustNot,
        };
        if !config.logging.contains(&l) {
            config.logging.push(l);
        }
    }
}

/// The policy of `jsonrpc`: the defaults, with `--logging` and the configuration file's
/// `accept`.
pub(crate) fn jsonrpc(global: &Global, a: &JsonrpcArgs) -> Config {
    let mut config = accepting(global);
    apply_logging(&mut config, &a.logging);
    config
}

/// The defaults, accepting whom the configuration file's `accept` says.
pub(crate) fn accepting(global: &Global) -> Config {
    let mut config = Config::default();
    if let Some(accept) = &global.accept {
        config.accept = accept.clone();
    }
    config
}

impl From<CompatArg> for Compat {
    fn from(c: CompatArg) -> Self {
        match c {
            CompatArg::Auto => Compat::Auto,
            CompatArg::Gajim => Compat::Gajim,
            CompatArg::Strict => Compat::Strict,
        }
    }
}

impl From<PubkeyArg> for PubkeyMode {
    fn from(p: PubkeyArg) -> Self {
        match p {
            PubkeyArg::Key => PubkeyMode::Key,
            PubkeyArg::Hash => PubkeyMode::Hash,
            PubkeyArg::None => PubkeyMode::None,
        }
    }
}

/// Parses a comma-separated list of wire names with `parse`; empty keeps `default`.
fn names<T: PartialEq>(
    flag: &str,
    given: &[String],
    parse: impl Fn(&str) -> Option<T>,
    default: Vec<T>,
) -> Result<Vec<T>, Fail> {
    if given.is_empty() {
        return Ok(default);
    }
    let mut out = Vec::with_capacity(given.len());
    for name in given {
        let v = parse(name.trim())
            .ok_or_else(|| Fail::usage(format!("{flag}: unknown algorithm {name:?}")))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Applies the algorithm flags to `config` (XEP-0116 §8 names).
fn apply_algs(config: &mut Config, a: &AlgArgs) -> Result<(), Fail> {
    // Issue 13: the compatibility mode toward the peers of this command.
    config.compat = a.compat.map_or(Compat::Auto, Compat::from);
    config.crypt = names(
        "--crypt",
        &a.crypt,
        CipherAlg::from_name,
        config.crypt.clone(),
    )?;
    // XEP-0116 §8 / XEP-0200 §6: `none` gives no confidentiality; refused unless asked for.
    if config.crypt.iter().any(|c| c.is_weak()) && !a.allow_unencrypted {
        return Err(Fail::usage(
            "--crypt none gives no confidentiality: add --allow-unencrypted to allow it",
        ));
    }
    config.allow_unencrypted = a.allow_unencrypted;
    config.hashes = names("--hash", &a.hash, HashAlg::from_name, config.hashes.clone())?;
    if config.hashes.iter().any(|h| h.is_weak()) && !a.allow_unencrypted {
        return Err(Fail::usage(
            "--hash: a weak hash needs --allow-unencrypted to be allowed",
        ));
    }
    config.compress = names(
        "--compress",
        &a.compress,
        CompressAlg::from_name,
        config.compress.clone(),
    )?;
    if let Some(f) = a.rekey_freq {
        config.rekey_freq = f;
    }
    if let Some(n) = a.rekey_every {
        if n == 0 {
            return Err(Fail::usage("--rekey-every must be at least 1"));
        }
        config.rekey_every = Some(n);
    }
    Ok(())
}

/// What `send` negotiates: its flow, the identity it presents, its algorithms.
pub(crate) fn send_config(a: &SendArgs) -> Result<Config, Fail> {
    let mut config = Config {
        flow: match a.flow {
            FlowArg::Three => Flow::Three,
            FlowArg::Four => Flow::Four,
        },
        ..Config::default()
    };
    // Profile P12: the 3-message flow needs a public key, so it presents `key` by default.
    let present = a.pubkey.map(PubkeyMode::from).unwrap_or(match config.flow {
        Flow::Three => PubkeyMode::Key,
        Flow::Four => PubkeyMode::None,
    });
    if config.flow == Flow::Three && present == PubkeyMode::None {
        return Err(Fail::usage(
            "--flow 3 needs a public key: --pubkey key or hash (XEP-0116 §4.2)",
        ));
    }
    config.present_pubkey = vec![present];
    apply_logging(&mut config, &a.logging);
    apply_algs(&mut config, &a.algs)?;
    Ok(config)
}

/// What `listen` accepts: who (`--only`, else the configuration file's `accept`), which
/// identifications of initiators, which algorithms. It presents its own key whenever an
/// initiator asks for one.
pub(crate) fn listen_config(global: &Global, a: &ListenArgs) -> Result<Config, Fail> {
    let mut config = accepting(global);
    if !a.only.is_empty() {
        config.accept = AcceptPolicy::Only(
            a.only
                .iter()
                .map(|j| esession::jid::bare(j).to_owned())
                .collect(),
        );
    }
    if !a.require_pubkey.is_empty() {
        config.accept_pubkey = Vec::new();
        for p in &a.require_pubkey {
            let m = PubkeyMode::from(*p);
            if !config.accept_pubkey.contains(&m) {
                config.accept_pubkey.push(m);
            }
        }
    }
    apply_logging(&mut config, &a.logging);
    apply_algs(&mut config, &a.algs)?;
    Ok(config)
}

/// Whether a command with `config` needs an identity key: it presents `key` or `hash`.
pub(crate) fn presents_key(config: &Config) -> bool {
    config.present_pubkey.iter().any(|m| *m != PubkeyMode::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn send(extra: &[&str]) -> Result<Config, Fail> {
        let mut argv = vec!["esession", "send", "--to", "b@x"];
        argv.extend_from_slice(extra);
        argv.push("hi");
        match Cli::parse_from(argv).command {
            Command::Send(a) => send_config(&a),
            _ => unreachable!(),
        }
    }

    fn listen(extra: &[&str]) -> Result<Config, Fail> {
        let mut argv = vec!["esession", "listen"];
        argv.extend_from_slice(extra);
        let cli = Cli::parse_from(argv);
        match cli.command {
            Command::Listen(a) => listen_config(&cli.global, &a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn compat_mode_is_chosen_per_command() {
        assert_eq!(send(&[]).unwrap().compat, Compat::Auto);
        assert_eq!(send(&["--compat", "gajim"]).unwrap().compat, Compat::Gajim);
        assert_eq!(
            listen(&["--compat", "strict"]).unwrap().compat,
            Compat::Strict
        );
    }

    #[test]
    fn send_defaults_follow_the_flow() {
        let c = send(&[]).unwrap();
        assert_eq!(c.flow, Flow::Four);
        assert_eq!(c.present_pubkey, vec![PubkeyMode::None]);
        assert!(!presents_key(&c));
        let c = send(&["--flow", "3"]).unwrap();
        assert_eq!(c.flow, Flow::Three);
        assert_eq!(c.present_pubkey, vec![PubkeyMode::Key]);
        assert!(presents_key(&c));
        assert_eq!(
            send(&["--flow", "3", "--pubkey", "none"]).unwrap_err().code,
            2
        );
    }

    #[test]
    fn lists_parse_in_order_and_refuse_unknown_and_weak() {
        let c = send(&[
            "--crypt",
            "serpent128-ctr,aes256-ctr",
            "--hash",
            "whirlpool",
            "--compress",
            "zlib,none",
            "--rekey-freq",
            "3",
            "--rekey-every",
            "5",
        ])
        .unwrap();
        assert_eq!(
            c.crypt,
            vec![CipherAlg::Serpent128Ctr, CipherAlg::Aes256Ctr]
        );
        assert_eq!(c.hashes, vec![HashAlg::Whirlpool]);
        assert_eq!(c.compress, vec![CompressAlg::Zlib, CompressAlg::None]);
        assert_eq!((c.rekey_freq, c.rekey_every), (3, Some(5)));
        assert_eq!(send(&["--crypt", "rot13"]).unwrap_err().code, 2);
        assert_eq!(send(&["--crypt", "none"]).unwrap_err().code, 2);
        assert_eq!(send(&["--rekey-every", "0"]).unwrap_err().code, 2);
        let c = send(&["--crypt", "none", "--allow-unencrypted"]).unwrap();
        assert!(c.cipher_allowed(CipherAlg::None));
    }

    #[test]
    fn listen_requires_what_it_is_told() {
        let c = listen(&["--require-pubkey", "key,hash"]).unwrap();
        assert_eq!(c.accept_pubkey, vec![PubkeyMode::Key, PubkeyMode::Hash]);
        assert_eq!(
            listen(&[]).unwrap().accept_pubkey,
            Config::default().accept_pubkey
        );
        let c = listen(&["--only", "a@x/r"]).unwrap();
        assert_eq!(c.accept, AcceptPolicy::Only(vec!["a@x".into()]));
        assert_eq!(
            listen(&["--logging", "may"]).unwrap().logging,
            vec![Logging::May]
        );
    }

    #[test]
    fn logging_flag_sets_the_offer_in_order() {
        assert_eq!(send(&[]).unwrap().logging, Config::default().logging);
        assert_eq!(
            send(&["--logging", "may,mustnot,may"]).unwrap().logging,
            vec![Logging::May, Logging::MustNot]
        );
        assert_eq!(
            send(&["--logging", "mustnot"]).unwrap().logging,
            vec![Logging::MustNot]
        );
    }
}
