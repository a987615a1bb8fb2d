//! Reading a secret (the key passphrase, the account password): the first line a shell
//! command prints, the first line of a file, or a line typed on the terminal without echo.
//! The errors say what went wrong; the callers say which secret it was.
use std::io::{BufRead, Write};
use zeroize::Zeroizing;

/// The first line `sh -c cmd` prints (its stdin closed, its stderr ours); an error if it
/// cannot run, exits non-zero, or prints an empty or non-UTF-8 first line.
pub(crate) fn from_command(cmd: &str) -> Result<Zeroizing<String>, String> {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run: {e}"))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(format!("failed ({})", out.status));
    }
    first_line(&stdout).map_err(|e| format!("printed {e}"))
}

/// The first line of the file at `path`.
pub(crate) fn from_file(path: &std::path::Path) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| e.to_string())?);
    first_line(&bytes).map_err(|e| format!("has {e}"))
}

/// Whether the file at `path` can be read by its group or by others (a warning is due when it
/// holds or leads to a secret).
pub(crate) fn readable_by_others(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

/// The first line of `bytes` without its line end: what is wrong with it otherwise.
fn first_line(bytes: &[u8]) -> Result<Zeroizing<String>, &'static str> {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match std::str::from_utf8(line) {
        Ok("") => Err("an empty first line"),
        Ok(p) => Ok(Zeroizing::new(p.to_owned())),
        Err(_) => Err("a first line that is not UTF-8"),
    }
}

/// Asks `label` on stderr and reads one line from the terminal on stdin with echo off
/// (restored after); an error if it cannot be read or is empty.
pub(crate) fn prompt_hidden(label: &str) -> Result<Zeroizing<String>, String> {
    let stdin = std::io::stdin();
    let saved = rustix::termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
    }
    eprint!("{label}: ");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, t);
    }
    eprintln!();
    read.map_err(|e| e.to_string())?;
    let p = line.trim_end_matches(['\n', '\r']);
    if p.is_empty() {
        return Err("nothing was typed".into());
    }
    Ok(Zeroizing::new(p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_gives_its_first_line() {
        assert_eq!(
            from_command("printf 'sesame\\r\\nmore'").unwrap().as_str(),
            "sesame"
        );
        assert_eq!(
            from_command("printf ''").unwrap_err(),
            "printed an empty first line"
        );
        assert!(from_command("exit 3")
            .unwrap_err()
            .contains("exit status: 3"));
        assert_eq!(
            from_command("printf '\\377\\n'").unwrap_err(),
            "printed a first line that is not UTF-8"
        );
    }

    #[test]
    fn a_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "open sesame\nsecond").unwrap();
        assert_eq!(from_file(&path).unwrap().as_str(), "open sesame");
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(from_file(&path).unwrap_err(), "has an empty first line");
        assert!(from_file(&dir.path().join("none")).is_err());
    }
}
