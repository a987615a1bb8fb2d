//! Command-line arguments.
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// A password from the command line or the environment: wiped from memory when dropped,
/// redacted in `Debug` (issue 11 §12).
#[derive(Clone)]
pub(crate) struct Password(Zeroizing<String>);

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password(Zeroizing::new(s))
    }
}

impl std::ops::Deref for Password {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The account password's sources in precedence order (password.rs reads them), for
/// `esession --help`.
const PASSWORD_PRECEDENCE: &str = "\
The account password comes from the first of: --password (other users of this machine can \
read it with ps: a warning says so), --password-file PATH (its first line), ESESSION_PASSWORD, \
password_command in the configuration file (run with sh -c, its first output line), a prompt \
without echo when stdin is a terminal.";

/// End-to-end encrypted XMPP sessions (XEP-0116/0217/0200).
#[derive(Parser, Debug)]
#[command(name = "esession", version, after_help = PASSWORD_PRECEDENCE)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes. The configuration file fills in those not given
/// (`crate::config`); the `#[arg(skip)]` fields come only from it.
#[derive(Args, Debug, Clone)]
pub(crate) struct Global {
    /// The configuration file (default: $XDG_CONFIG_HOME/esession/config.toml, else
    /// ~/.config/esession/config.toml, used when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The account (bare or full JID).
    #[arg(long, global = true)]
    pub jid: Option<String>,
    /// The account password. Other users of this machine can read it (ps): prefer the
    /// prompt, ESESSION_PASSWORD, password_command or --password-file.
    #[arg(long, global = true, conflicts_with = "password_file")]
    pub password: Option<Password>,
    /// A file whose first line is the account password.
    #[arg(long, global = true, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Server address HOST:PORT (default: DNS SRV of the JID's domain).
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Transport protection (default: starttls); `plain` only to a loopback address.
    #[arg(long, value_enum, global = true)]
    pub tls: Option<Tls>,
    /// Where retained secrets and session history are kept (default: the platform data
    /// directory).
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Print events as JSON objects, one per line.
    #[arg(long, global = true)]
    pub json: bool,
    /// A shell command that prints the key passphrase (seals the archive key; never the
    /// account password). Else ESESSION_KEY_PASSPHRASE, else a prompt on a terminal.
    #[arg(long, global = true)]
    pub key_passphrase_command: Option<String>,
    /// Log in with SASL PLAIN (the server sees the password) or ANONYMOUS when the server
    /// offers no SCRAM mechanism; without it such a login fails (exit 3).
    #[arg(long, global = true)]
    pub allow_plain_auth: bool,
    /// Seconds without a byte from the server before it is asked for an answer (XEP-0198
    /// <r/>, else an XEP-0199 ping); default 30, at most 86400.
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=esession_xmpp::MAX_WAIT.as_secs()))]
    pub keepalive_idle: Option<u64>,
    /// Seconds the server then has to answer before the connection is taken as lost (and
    /// re-established); default 15, at most 86400. A dead link is noticed within idle +
    /// answer seconds.
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=esession_xmpp::MAX_WAIT.as_secs()))]
    pub keepalive_answer: Option<u64>,
    /// `password_command` of the configuration file.
    #[arg(skip)]
    pub password_command: Option<String>,
    /// `accept` of the configuration file: whose sessions are accepted.
    #[arg(skip)]
    pub accept: Option<esession::AcceptPolicy>,
    /// The per-contact `compat` of the configuration file (issue 13), unless `--compat`
    /// was given.
    #[arg(skip)]
    pub compat: Vec<(esession::BareJid, esession::Compat)>,
}

impl Global {
    /// `--tls`, or STARTTLS.
    pub(crate) fn tls(&self) -> Tls {
        self.tls.unwrap_or(Tls::Starttls)
    }
}

/// `--tls` (and `tls` in the configuration file).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Tls {
    /// STARTTLS (usual port 5222).
    Starttls,
    /// Direct TLS (usual port 5223).
    Direct,
    /// No TLS (loopback only).
    Plain,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a full ESession between two new accounts on a local server and show each step.
    Demo(DemoArgs),
    /// Write the configuration file, asking for the account's settings.
    Init(InitArgs),
    /// Stay online and accept ESessions.
    Listen(ListenArgs),
    /// Negotiate an ESession with a contact, send a message, terminate.
    Send(SendArgs),
    /// Chat with one contact on a terminal, in ESessions either side starts (/help lists
    /// the commands).
    Chat(ChatArgs),
    /// Stay online and serve JSON-RPC 2.0 on stdin/stdout, one object per line: send to
    /// contacts by JID, roster, presence, receipts (methods send, roster, status, end,
    /// verify, add, approve, history).
    Jsonrpc(JsonrpcArgs),
    /// A full-screen terminal client: contacts, one window per conversation, SAS and
    /// fingerprints, the local history (`/help` inside lists the commands).
    Tui(JsonrpcArgs),
    /// The local history with a contact: the messages of sessions whose `logging` was
    /// `may`, kept sealed in the store (no network needed).
    History(HistoryArgs),
    /// This account's identity key (XEP-0116 §4.5.4) and published keys (XEP-0189).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The contacts' public keys we have seen, and which we trust (XEP-0116 §7.3–7.4; no
    /// network needed).
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Offline encrypted sessions (XEP-0187): options contacts use while we are offline.
    #[command(subcommand)]
    Offline(OfflineCommand),
    /// The account's message archive on its server (XEP-0136): preferences, collections.
    #[command(subcommand)]
    Archive(ArchiveCommand),
}

/// `esession archive …`.
#[derive(Subcommand, Debug)]
pub(crate) enum ArchiveCommand {
    /// Show the archiving preferences (XEP-0136 §2); the flags change them first.
    Prefs(PrefsArgs),
    /// List the archived collections (§7.1), oldest first.
    List {
        /// Only collections with this JID (a bare JID matches its resources).
        #[arg(long)]
        with: Option<String>,
    },
    /// Print the messages of one collection, decrypted with the archive key (§7.2).
    Show {
        /// The collection's JID, as `list` shows it.
        with: String,
        /// The collection's start, as `list` shows it.
        start: String,
    },
    /// Remove one collection (§7.3).
    Remove {
        /// The collection's JID, as `list` shows it.
        with: String,
        /// The collection's start, as `list` shows it.
        start: String,
    },
}

/// OTR Modes (XEP-0136 §2.2.2.2).
const OTR_MODES: [&str; 6] = [
    "approve", "concede", "forbid", "oppose", "prefer", "require",
];
/// Save Modes (XEP-0136 §2.2.2.3).
const SAVE_MODES: [&str; 4] = ["body", "false", "message", "stream"];

/// `esession archive prefs`.
#[derive(Args, Debug)]
pub(crate) struct PrefsArgs {
    /// Set the default OTR Mode.
    #[arg(long, value_parser = OTR_MODES)]
    pub default_otr: Option<String>,
    /// Set the default Save Mode.
    #[arg(long, value_parser = SAVE_MODES)]
    pub default_save: Option<String>,
    /// The contact (or domain) whose modes `--otr`/`--save`/`--forget` change.
    #[arg(long, value_name = "JID")]
    pub contact: Option<String>,
    /// Set the contact's OTR Mode.
    #[arg(long, value_parser = OTR_MODES, requires = "contact")]
    pub otr: Option<String>,
    /// Set the contact's Save Mode.
    #[arg(long, value_parser = SAVE_MODES, requires = "contact")]
    pub save: Option<String>,
    /// Remove the contact's modes (the defaults apply again).
    #[arg(long, requires = "contact", conflicts_with_all = ["otr", "save"])]
    pub forget: bool,
}

/// `--logging` (XEP-0155 §8).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoggingArg {
    /// The session may be archived.
    May,
    /// Off the record: nothing is stored anywhere.
    Mustnot,
}

/// `esession offline …`.
#[derive(Subcommand, Debug)]
pub(crate) enum OfflineCommand {
    /// Publish signed offline options (both sets: for presence subscribers and for anyone),
    /// logging in without presence so that no stored message is taken.
    Publish(OfflinePublishArgs),
}

/// `esession offline publish`.
#[derive(Args, Debug)]
pub(crate) struct OfflinePublishArgs {
    /// How long the options stay valid: a number with a unit `s`, `m`, `h`, `d` or `w`
    /// (e.g. `90m`, `7d`); at most 365 days.
    #[arg(long, default_value = "7d")]
    pub expires: String,
    /// Only this resource of ours may receive what is sent with the options
    /// (`match_resource`, XEP-0187 §3.1).
    #[arg(long)]
    pub match_resource: Option<String>,
    /// Seconds to wait for each server answer.
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
}

/// `esession keys …`.
#[derive(Subcommand, Debug)]
pub(crate) enum KeysCommand {
    /// Print the identity key's fingerprint (Base64 SHA-256, profile P8), creating the key
    /// (RSA-2048) on first use.
    Show,
    /// Publish the identity key through PEP (XEP-0189 §7, profile P14), creating it on first
    /// use.
    Publish,
    /// Fetch a contact's published keys, revocations and attestations (XEP-0189 §7) and
    /// record them as keys seen from that JID.
    Fetch {
        /// The contact (bare JID).
        #[arg(value_name = "JID")]
        contact: String,
    },
    /// Revoke the identity key (XEP-0189 §4): publish a revocation signed by it and never
    /// present it again; a new key is created on next need.
    Revoke,
    /// Attest the contact's trusted keys with ours (XEP-0189 §5) and publish the
    /// attestations.
    Attest {
        /// The contact (bare JID) whose key we trust (`trust verify`).
        #[arg(value_name = "JID")]
        contact: String,
    },
    /// Ask an online contact for its key directly (XEP-0189 §6) and record it.
    Request {
        /// The contact's full JID (`user@host/resource`).
        #[arg(value_name = "JID")]
        contact: String,
    },
}

/// `esession trust …`.
#[derive(Subcommand, Debug)]
pub(crate) enum TrustCommand {
    /// List the known keys: petname, fingerprint, JIDs, trusted.
    List,
    /// Mark a contact's key trusted after comparing its fingerprint out of band (§7.3).
    Verify {
        /// The contact's bare JID (it must have presented the key).
        #[arg(value_name = "JID")]
        contact: String,
        /// The key's fingerprint (Base64, as `trust list` and `established` show it).
        fingerprint: String,
    },
    /// Give a key a petname, shown before the JID (§7.4).
    Rename {
        /// The key's fingerprint.
        fingerprint: String,
        /// The name.
        petname: String,
    },
    /// Forget a key with its JIDs, trust and petname.
    Forget {
        /// The key's fingerprint.
        fingerprint: String,
    },
}

/// Algorithm choices shared by `send` and `listen` (XEP-0116 §4.3, §8; comma-separated
/// wire names in preference order).
#[derive(Args, Debug, Clone)]
pub(crate) struct AlgArgs {
    /// Ciphers (`crypt_algs`), e.g. `aes256-ctr,twofish256-ctr`; `none` needs
    /// `--allow-unencrypted`. Default: AES and Serpent (Twofish only when listed: its
    /// table lookups depend on the key).
    #[arg(long, value_delimiter = ',')]
    pub crypt: Vec<String>,
    /// Hashes (`hash_algs`): `sha256`, `whirlpool`. Default: `sha256` (Whirlpool only when
    /// listed: its table lookups depend on secret data).
    #[arg(long, value_delimiter = ',')]
    pub hash: Vec<String>,
    /// Compression (`compress`): `none`, `zlib`. Default: `none`.
    #[arg(long, value_delimiter = ',')]
    pub compress: Vec<String>,
    /// Allow the cipher `none` (integrity only, no confidentiality; XEP-0200 §6).
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// `rekey_freq` (XEP-0116 §4.5.2): the fewest stanzas between two re-keys.
    #[arg(long)]
    pub rekey_freq: Option<u32>,
    /// Re-key (a new `<key/>`, XEP-0200 §9) with every Nth stanza sent.
    #[arg(long)]
    pub rekey_every: Option<u32>,
    /// Gajim compatibility (docs/gajim.md) with every peer of the command, over the
    /// configuration file's per-contact `compat`: `auto` (the default) speaks Gajim
    /// 0.12–1.0's dialect only to a peer that shows Gajim's signs, `gajim` always,
    /// `strict` never.
    #[arg(long, value_enum)]
    pub compat: Option<CompatArg>,
}

/// `--compat` (and a contact's `compat` in the configuration file).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CompatArg {
    /// Gajim's dialect only toward a peer that showed Gajim's signs.
    Auto,
    /// Always Gajim's dialect (the contact runs Gajim 0.12–1.0).
    Gajim,
    /// Always the profile.
    Strict,
}

/// `--flow`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowArg {
    /// SIGMA-I in three messages (public keys required, no SAS).
    #[value(name = "3")]
    Three,
    /// The 4-message flow (hash commitment, SAS, retained secrets).
    #[value(name = "4")]
    Four,
}

/// `--pubkey` / `--require-pubkey`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubkeyArg {
    /// The whole public key and a signature.
    Key,
    /// The key's fingerprint and a signature (the peer must know the key).
    Hash,
    /// No public key.
    None,
}

/// `esession demo`. Without `--server` it starts its own server and creates the two
/// accounts; with `--server`, Alice is `--jid`/`--password` and Bob `--peer-jid`/`--peer-password`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Bob's account (with `--server`).
    #[arg(long)]
    pub peer_jid: Option<String>,
    /// Bob's password (with `--server`).
    #[arg(long, env = "ESESSION_PEER_PASSWORD", hide_env_values = true)]
    pub peer_password: Option<Password>,
}

/// `esession init`.
#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    /// Overwrite an existing configuration file.
    #[arg(long)]
    pub force: bool,
}

/// `esession listen`.
#[derive(Args, Debug)]
pub(crate) struct ListenArgs {
    /// Answer every decrypted message with `echo: <body>` inside the session.
    #[arg(long)]
    pub echo: bool,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Accept sessions only from these bare JIDs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// What initiators must present (comma-separated: key, hash, none). Default: any.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub require_pubkey: Vec<PubkeyArg>,
    /// `logging` values accepted (XEP-0155; comma-separated `may`, `mustnot`), instead of
    /// what the archiving preferences' OTR Modes decide (XEP-0136 §3.1).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub logging: Vec<LoggingArg>,
    #[command(flatten)]
    pub algs: AlgArgs,
}

/// `esession send`.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// The contact (bare or full JID).
    #[arg(long)]
    pub to: String,
    /// How many times to send the message.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Wait for `echo: MESSAGE` answers, one per message sent.
    #[arg(long)]
    pub expect_echo: bool,
    /// Seconds to wait for each step (negotiation, echoes, acknowledgement).
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
    /// When the contact does not answer online, send in an offline session from her
    /// published options (XEP-0187): no forward secrecy for those messages.
    #[arg(long)]
    pub allow_offline: bool,
    /// The negotiation flow (XEP-0116 §4.2).
    #[arg(long, value_enum, default_value_t = FlowArg::Four)]
    pub flow: FlowArg,
    /// The identity this side presents (default: none in the 4-message flow, key in the
    /// 3-message flow).
    #[arg(long, value_enum)]
    pub pubkey: Option<PubkeyArg>,
    /// `logging` values offered, in preference order (XEP-0155; comma-separated `may`,
    /// `mustnot`), instead of what the archiving preferences' OTR Modes decide
    /// (XEP-0136 §3.1). A `may` session is archived when the Save Mode allows it.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub logging: Vec<LoggingArg>,
    #[command(flatten)]
    pub algs: AlgArgs,
    /// The message.
    pub message: String,
}

/// `esession jsonrpc`.
#[derive(Args, Debug)]
pub(crate) struct JsonrpcArgs {
    /// `logging` values offered and accepted, in preference order (XEP-0155; comma-separated
    /// `may`, `mustnot`). The messages of a `may` session are kept in the local history.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub logging: Vec<LoggingArg>,
    /// To a contact with no available resource, send in an offline session from her
    /// published options, signed by a key trusted for her (XEP-0187): no forward secrecy
    /// for those messages. Without it they wait, marked not sent.
    #[arg(long)]
    pub allow_offline: bool,
}

/// `esession history`.
#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// The contact (a bare JID; a resource is ignored).
    #[arg(value_name = "JID")]
    pub contact: String,
    /// How many of the newest messages to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// `esession chat`.
#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// The contact (a bare JID; a resource is ignored: the best one online is used).
    #[arg(value_name = "JID")]
    pub contact: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_verify_contact_does_not_replace_the_global_jid() {
        let cli = Cli::parse_from([
            "esession", "--jid", "me@x", "trust", "verify", "them@y", "FP",
        ]);
        assert_eq!(cli.global.jid.as_deref(), Some("me@x"));
        match cli.command {
            Command::Trust(TrustCommand::Verify {
                contact,
                fingerprint,
            }) => assert_eq!((contact.as_str(), fingerprint.as_str()), ("them@y", "FP")),
            other => panic!("parsed as {other:?}"),
        }
    }
}
