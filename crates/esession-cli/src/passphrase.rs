//! The key passphrase: what seals the account's archive key (XEP-0136, read by every client
//! of the account), and nothing else. It is never the account password, which the server
//! can learn (decision "Keys the server cannot derive"). What only this device needs is
//! sealed under the store's device key instead and needs no passphrase.
//!
//! Sources, first found wins: `--key-passphrase-command` (its first output line),
//! `ESESSION_KEY_PASSPHRASE`, a prompt without echo when stdin is a terminal.
use crate::args::Global;
use crate::fail::Fail;
use crate::secret_input;
use std::io::IsTerminal;
use zeroize::Zeroizing;

/// The environment variable holding the key passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "ESESSION_KEY_PASSPHRASE";

/// How to give the key passphrase (for error messages).
pub(crate) const HOW: &str =
    "give it with --key-passphrase-command CMD, ESESSION_KEY_PASSPHRASE, or \
                       on a terminal (it is never the account password)";

/// The key passphrase from the first source that has one; `None` when there is none.
pub(crate) fn key_passphrase(global: &Global) -> Result<Option<Zeroizing<String>>, Fail> {
    if let Some(cmd) = &global.key_passphrase_command {
        return from_command(cmd).map(Some);
    }
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        if !p.is_empty() {
            return Ok(Some(Zeroizing::new(p)));
        }
    }
    if std::io::stdin().is_terminal() {
        return prompt().map(Some);
    }
    Ok(None)
}

/// The key passphrase, or a usage error (exit 2) saying how to give one.
pub(crate) fn require_key_passphrase(global: &Global) -> Result<Zeroizing<String>, Fail> {
    key_passphrase(global)?
        .ok_or_else(|| Fail::usage(format!("the archive key needs the key passphrase: {HOW}")))
}

/// What older versions sealed the identity key and offline sets with, to unlock them once
/// (`SqliteStore::reseal_legacy`): `ESESSION_KEY_PASSPHRASE` when set, else the account
/// password. Never used to seal anything.
pub(crate) fn legacy_passphrase(password: Option<&str>) -> Option<Zeroizing<String>> {
    match std::env::var(PASSPHRASE_ENV) {
        Ok(p) if !p.is_empty() => Some(Zeroizing::new(p)),
        _ => password.map(|p| Zeroizing::new(p.to_owned())),
    }
}

fn from_command(cmd: &str) -> Result<Zeroizing<String>, Fail> {
    secret_input::from_command(cmd)
        .map_err(|e| Fail::usage(format!("--key-passphrase-command {e}")))
}

/// Asks on the terminal, without echo.
fn prompt() -> Result<Zeroizing<String>, Fail> {
    secret_input::prompt_hidden("key passphrase")
        .map_err(|e| Fail::usage(format!("reading the key passphrase: {e}: {HOW}")))
}
