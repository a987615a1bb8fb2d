//! `esession`: end-to-end encrypted XMPP sessions from the command line.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod account;
mod archive_cmd;
mod archiving;
mod args;
mod chat;
mod demo;
mod fail;
mod identity;
mod keys;
mod listen;
mod offline;
mod output;
mod passphrase;
mod policy;
mod published;
mod send;
mod server;
mod signals;
mod wait;

use args::{Cli, Command};
use clap::Parser;
use output::Out;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ESESSION_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let out = Out {
        json: cli.global.json,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("esession: cannot start the runtime: {e}");
            std::process::exit(fail::PROTOCOL);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Demo(a) => demo::run(&cli.global, a, out).await,
            Command::Listen(a) => listen::run(&cli.global, a, out).await,
            Command::Send(a) => send::run(&cli.global, a, out).await,
            Command::Chat(a) => chat::run(&cli.global, a, out).await,
            Command::Keys(c) => keys::keys(&cli.global, c, out).await,
            Command::Trust(c) => keys::trust(&cli.global, c, out),
            Command::Offline(args::OfflineCommand::Publish(a)) => {
                offline::publish(&cli.global, a, out).await
            }
            Command::Archive(c) => archive_cmd::run(&cli.global, c, out).await,
        }
    });
    if let Err(f) = result {
        if out.json {
            out.error(f.peer.as_deref(), f.thread.as_deref(), f.kind, &f.message);
        } else {
            eprintln!("esession: {}", f.message);
        }
        std::process::exit(f.code);
    }
}
