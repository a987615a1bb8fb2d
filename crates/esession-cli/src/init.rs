//! `esession init`: asks for the account's settings and writes the configuration file
//! (mode 0600; an existing file only with `--force`).
use crate::args::{Global, InitArgs, Tls};
use crate::config::ConfigFile;
use crate::fail::Fail;
use std::io::{BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(crate) fn run(global: &Global, args: &InitArgs) -> Result<(), Fail> {
    let path = match &global.config {
        Some(p) => p.clone(),
        None => crate::config::default_path()
            .ok_or_else(|| Fail::usage("no configuration directory: give --config PATH"))?,
    };
    if path.exists() && !args.force {
        return Err(Fail::usage(format!(
            "{} exists: give --force to overwrite it",
            path.display()
        )));
    }
    let mut input = std::io::stdin().lock();
    let file = ask_all(&mut input)?;
    write(&path, &file)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The answers to every question, read from `input`.
fn ask_all(input: &mut impl BufRead) -> Result<ConfigFile, Fail> {
    let jid = loop {
        let typed = ask(input, "JID (user@domain)", None)?;
        match crate::typed_jid::normalize("JID", &typed) {
            Ok(j) if esession::jid::bare(&j).contains('@') => break j,
            Ok(_) => eprintln!("a JID has the form user@domain"),
            Err(f) => eprintln!("{}", f.message),
        }
    };
    // RFC 7622 §3.2: the domain is the bare JID's (a resource may hold an `@` too).
    let bare = esession::jid::bare(&jid);
    let domain = bare.rsplit('@').next().unwrap_or_default().to_owned();
    let server = ask(input, "server HOST:PORT", Some(&format!("{domain}:5222")))?;
    let tls = loop {
        let typed = ask(
            input,
            "TLS: starttls, direct or plain (loopback only)",
            Some("starttls"),
        )?;
        match typed.as_str() {
            "starttls" => break Tls::Starttls,
            "direct" => break Tls::Direct,
            "plain" => break Tls::Plain,
            _ => eprintln!("one of starttls, direct, plain"),
        }
    };
    let default_store = dirs::data_dir().map(|d| d.join("esession").display().to_string());
    let state_dir = ask(input, "store directory", default_store.as_deref())?;
    let password_command = ask(
        input,
        "a command printing the password, e.g. `pass show xmpp` (empty: none; then the \
         password is asked each time)",
        Some(""),
    )?;
    Ok(ConfigFile {
        jid: Some(jid),
        server: Some(server),
        tls: Some(tls),
        state_dir: Some(PathBuf::from(state_dir)),
        accept: None,
        allow_offline: None,
        password_command: Some(password_command).filter(|c| !c.is_empty()),
        keepalive_idle: None,
        keepalive_answer: None,
        contacts: Default::default(),
    })
}

/// Asks `question` on stderr and reads the answer; `default` when nothing is typed (and
/// there is one).
fn ask(input: &mut impl BufRead, question: &str, default: Option<&str>) -> Result<String, Fail> {
    loop {
        match default {
            Some(d) if !d.is_empty() => eprint!("{question} [{d}]: "),
            _ => eprint!("{question}: "),
        }
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Fail::usage(format!("reading the answer: {e}")))?;
        if n == 0 {
            return Err(Fail::usage(
                "the input ended before every question was answered",
            ));
        }
        let answer = line.trim();
        match (answer.is_empty(), default) {
            (false, _) => return Ok(answer.to_owned()),
            (true, Some(d)) => return Ok(d.to_owned()),
            (true, None) => {}
        }
    }
}

/// Writes `file` at `path`, readable by the owner only (it may say how to get the
/// password), its directory created private if missing.
fn write(path: &Path, file: &ConfigFile) -> Result<(), Fail> {
    let failed = |e: std::io::Error| Fail::usage(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
    }
    let body = toml::to_string(file)
        .map_err(|e| Fail::protocol("config", format!("cannot write the settings: {e}")))?;
    let text = format!(
        "# esession configuration (esession init). The command line overrides it.\n\
         # Other keys: accept = \"anyone\" | \"nobody\" | [\"bare@jid\", ...], allow_offline = true\n{body}"
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    // An overwritten file keeps its mode: made private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(failed)?;
    f.write_all(text.as_bytes()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_jid_and_bad_answers_are_asked_again() {
        let mut input = "a@\nAlice@Example.ORG\n\nssl\ndirect\n/s\npass show xmpp\n".as_bytes();
        let file = ask_all(&mut input).unwrap();
        assert_eq!(file.jid.as_deref(), Some("alice@example.org"));
        assert_eq!(file.server.as_deref(), Some("example.org:5222"));
        assert_eq!(file.tls, Some(Tls::Direct));
        assert_eq!(file.state_dir, Some(PathBuf::from("/s")));
        assert_eq!(file.password_command.as_deref(), Some("pass show xmpp"));
        // A resource typed with the JID is kept, but the server is the domain's.
        let mut full = "example.org/x@y\nalice@example.org/pda@home\n\nplain\n/s\n\n".as_bytes();
        let file = ask_all(&mut full).unwrap();
        assert_eq!(file.jid.as_deref(), Some("alice@example.org/pda@home"));
        assert_eq!(file.server.as_deref(), Some("example.org:5222"));
        let mut short = "alice@example.org\n".as_bytes();
        assert_eq!(ask_all(&mut short).unwrap_err().code, crate::fail::USAGE);
    }

    #[test]
    fn the_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let file = ConfigFile {
            jid: Some("a@x".into()),
            password_command: Some("pass show 'x'".into()),
            ..ConfigFile::default()
        };
        write(&path, &file).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(toml::from_str::<ConfigFile>(&text).unwrap(), file);
    }
}
