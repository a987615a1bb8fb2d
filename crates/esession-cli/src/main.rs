//! `esession`: end-to-end encrypted XMPP sessions from the command line.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod account;
mod archive_cmd;
mod archiving;
mod args;
mod chat;
mod config;
mod core_dumps;
mod demo;
mod driver;
mod fail;
mod history;
mod identity;
mod init;
mod jsonrpc;
mod keys;
mod listen;
mod logging;
mod offline;
mod output;
mod passphrase;
mod password;
mod policy;
mod private_dir;
mod published;
mod sanitize;
mod sas_advice;
mod secret_input;
mod send;
mod server;
mod sign_out;
mod signals;
mod tui;
mod typed_jid;
mod wait;

use args::{Cli, Command};
use clap::Parser;
use output::Out;

fn main() {
    // Before any secret is read (the password is parsed with the arguments).
    if let Err(e) = core_dumps::disable() {
        eprintln!("esession: warning: {e}");
    }
    let mut cli = Cli::parse();
    logging::init();
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
    password::warn_if_on_command_line(&cli.global);
    // The demo runs its own server and accounts: only an explicit --config is read for it;
    // init writes the file.
    let own_settings = match cli.command {
        Command::Demo(_) => cli.global.config.is_none(),
        Command::Init(_) => true,
        _ => false,
    };
    let configured = if own_settings {
        Ok(())
    } else {
        config::apply(&mut cli)
    };
    let normalized = configured.and_then(|()| typed_jid::normalize_all(&mut cli));
    let result = normalized.and_then(|()| {
        runtime.block_on(async {
            match &cli.command {
                Command::Demo(a) => demo::run(&cli.global, a, out).await,
                Command::Init(a) => init::run(&cli.global, a),
                Command::Listen(a) => listen::run(&cli.global, a, out).await,
                Command::Send(a) => send::run(&cli.global, a, out).await,
                Command::Chat(a) => chat::run(&cli.global, a).await,
                Command::Jsonrpc(a) => jsonrpc::run(&cli.global, a).await,
                Command::Tui(a) => tui::run(&cli.global, a).await,
                Command::History(a) => history::run(&cli.global, a, out),
                Command::Keys(c) => keys::keys(&cli.global, c, out).await,
                Command::Trust(c) => keys::trust(&cli.global, c, out),
                Command::Offline(args::OfflineCommand::Publish(a)) => {
                    offline::publish(&cli.global, a, out).await
                }
                Command::Archive(c) => archive_cmd::run(&cli.global, c, out).await,
            }
        })
    });
    if let Err(f) = result {
        if out.json {
            out.error(f.peer.as_deref(), f.thread.as_deref(), f.kind, &f.message);
        } else {
            // The message may quote the peer or its server (error texts, JIDs).
            eprintln!("esession: {}", sanitize::safe(&f.message));
        }
        std::process::exit(f.code);
    }
}
