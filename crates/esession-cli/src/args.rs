//! Command-line arguments.
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// End-to-end encrypted XMPP sessions (XEP-0116/0217/0200).
#[derive(Parser, Debug)]
#[command(name = "esession", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The account (bare or full JID).
    #[arg(long, global = true)]
    pub jid: Option<String>,
    /// The account password.
    #[arg(long, env = "ESESSION_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Server address HOST:PORT (default: DNS SRV of the JID's domain).
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Transport protection; `plain` only to a loopback address.
    #[arg(long, value_enum, default_value_t = Tls::Starttls, global = true)]
    pub tls: Tls,
    /// Where retained secrets and session history are kept (default: the platform data
    /// directory).
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Print events as JSON objects, one per line.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `--tls`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS (usual port 5222).
    Starttls,
    /// Direct TLS (usual port 5223).
    Direct,
    /// No TLS (loopback only).
    Plain,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a full ESession between two new accounts on a local server and show each step.
    Demo(DemoArgs),
    /// Stay online and accept ESessions.
    Listen(ListenArgs),
    /// Negotiate an ESession with a contact, send a message, terminate.
    Send(SendArgs),
    /// Chat interactively in an ESession.
    Chat(ChatArgs),
}

/// `esession demo`. Without `--server` it starts its own server and creates the two
/// accounts; with `--server`, Alice is `--jid`/`--password` and Bob `--peer-jid`/`--peer-password`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Bob's account (with `--server`).
    #[arg(long)]
    pub peer_jid: Option<String>,
    /// Bob's password (with `--server`).
    #[arg(long, env = "ESESSION_PEER_PASSWORD", hide_env_values = true)]
    pub peer_password: Option<String>,
}

/// `esession listen`.
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Answer every decrypted message with `echo: <body>` inside the session.
    #[arg(long)]
    pub echo: bool,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Accept sessions only from these bare JIDs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// `esession send`.
#[derive(Args, Debug)]
pub struct SendArgs {
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
    /// The message.
    pub message: String,
}

/// `esession chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    /// The contact (bare or full JID).
    #[arg(value_name = "JID")]
    pub contact: String,
    /// Seconds to wait for the negotiation.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}
