//! The account password. Sources, first found wins: `--password` (with a warning: other
//! users of the machine can read a command line), `--password-file` (its first line),
//! `ESESSION_PASSWORD`, `password_command` of the configuration file (its first output
//! line), a prompt without echo when stdin is a terminal.
use crate::args::{Global, Password};
use crate::fail::Fail;
use crate::secret_input;
use std::io::IsTerminal;

/// The environment variable holding the account password.
const ENV: &str = "ESESSION_PASSWORD";

/// How to give the password (for error messages).
const HOW: &str = "type it at the prompt (stdin a terminal), or give ESESSION_PASSWORD, \
                   password_command in the configuration file, --password-file PATH or \
                   --password";

/// The warning `--password` earns.
pub(crate) const COMMAND_LINE_WARNING: &str = "esession: warning: --password can be read by \
    other users of this machine (ps, /proc): prefer the prompt, ESESSION_PASSWORD, \
    password_command or --password-file";

/// Warns on stderr when the password was given on the command line.
pub(crate) fn warn_if_on_command_line(global: &Global) {
    if global.password.is_some() {
        eprintln!("{COMMAND_LINE_WARNING}");
    }
}

/// The password of the account `jid` from the first source that has one; a usage error
/// (exit 2) when none has, or when the source named fails.
pub(crate) fn password(global: &Global, jid: &str) -> Result<Password, Fail> {
    if let Some(p) = &global.password {
        return Ok(p.clone());
    }
    if let Some(path) = &global.password_file {
        if secret_input::readable_by_others(path) {
            eprintln!(
                "esession: warning: the password file {} can be read by group or others \
                 (chmod 600 it)",
                path.display()
            );
        }
        return secret_input::from_file(path)
            .map(|p| Password::from(p.to_string()))
            .map_err(|e| Fail::usage(format!("--password-file {}: {e}", path.display())));
    }
    if let Some(p) = from_env() {
        return Ok(p);
    }
    if let Some(cmd) = &global.password_command {
        return secret_input::from_command(cmd)
            .map(|p| Password::from(p.to_string()))
            .map_err(|e| Fail::usage(format!("password_command {e}")));
    }
    if std::io::stdin().is_terminal() {
        return secret_input::prompt_hidden(&format!("password for {jid}"))
            .map(|p| Password::from(p.to_string()))
            .map_err(|e| Fail::usage(format!("reading the password: {e}: {HOW}")));
    }
    Err(Fail::usage(format!("no password for {jid}: {HOW}")))
}

/// The password if one is at hand without asking or running anything (`--password` or
/// `ESESSION_PASSWORD`): what unlocks a store sealed by an older version.
pub(crate) fn at_hand(global: &Global) -> Option<Password> {
    global.password.clone().or_else(from_env)
}

fn from_env() -> Option<Password> {
    std::env::var(ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Password::from)
}
