//! Setting an account up once (issue 10 §4), through the `esession` binary and a real
//! server (Prosody, or a node of the ejabberd cluster): the configuration file, the
//! password sources (prompt, environment, command, file, command line) and `esession init`.
#![allow(clippy::indexing_slicing)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::tmux::Tmux;
use support::{Account, Proc};

const LIMIT: Duration = Duration::from_secs(30);
/// The warning `--password` earns.
const CMDLINE_WARNING: &str = "--password can be read by other users of this machine";

/// A configuration file for `acct` (server, plain TLS on loopback, its state directory)
/// with `extra` lines, mode `mode`; its path.
fn config_file(acct: &Account, dir: &Path, extra: &str, mode: u32) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "jid = \"{}\"\nserver = \"{}\"\ntls = \"plain\"\nstate_dir = \"{}\"\n{extra}",
            acct.jid,
            acct.addr,
            acct.state.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn subdir(dir: &Path, name: &str) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir(&d).unwrap();
    d
}

/// Runs `esession ARGS` with `env`; its exit code and the finished process.
fn run_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Proc) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut p = Proc::spawn_env(name, &args, env);
    let code = p.finish(LIMIT);
    (code, p)
}

/// The account went online as `acct`.
fn online_as(p: &Proc, acct: &Account) {
    let online = p.only("online");
    assert!(
        online["jid"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/", acct.jid)),
        "{}",
        p.transcript()
    );
}

#[test]
fn the_configuration_file_gives_the_account_and_the_command_line_overrides_it() {
    let acct = Account::new("cfg");
    let dir = tempfile::tempdir().unwrap();
    let pw_cmd = format!(
        "password_command = \"printf '%s\\\\n' '{}'\"\n",
        acct.password
    );
    let path = config_file(&acct, dir.path(), &pw_cmd, 0o600);
    let cfg = path.to_str().unwrap();

    // --config PATH: nothing else needed; no warning for a private file.
    let (code, p) = run_env(
        "listen (--config)",
        &["--config", cfg, "--json", "listen", "--timeout", "1"],
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);
    assert!(!p.stderr_text().contains("warning"), "{}", p.transcript());

    // The default place: $XDG_CONFIG_HOME/esession/config.toml.
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir(xdg.path().join("esession")).unwrap();
    std::fs::copy(&path, xdg.path().join("esession/config.toml")).unwrap();
    let xdg_env = [("XDG_CONFIG_HOME", xdg.path().to_str().unwrap())];
    let (code, p) = run_env(
        "listen (XDG)",
        &["--json", "listen", "--timeout", "1"],
        &xdg_env,
    );
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);

    // The command line overrides the file: a server where nobody listens fails to connect.
    let nowhere = format!("127.0.0.1:{}", esession_testkit::free_port());
    let (code, p) = run_env(
        "listen (--server)",
        &["--json", "--server", &nowhere, "listen", "--timeout", "1"],
        &xdg_env,
    );
    assert_eq!(code, 3, "{}", p.transcript());

    // A file other users can read that says how to get the password: a warning.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, p) = run_env(
        "listen (0644)",
        &["--config", cfg, "--json", "listen", "--timeout", "1"],
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    assert!(
        p.stderr_text().contains(&format!(
            "warning: the configuration file {cfg} holds password_command and can be read by group or others"
        )),
        "{}",
        p.transcript()
    );
}

#[test]
fn a_bad_configuration_file_is_a_usage_error_naming_the_key_and_the_file() {
    let acct = Account::new("cfgbad");
    let dir = tempfile::tempdir().unwrap();
    let path = config_file(&acct, dir.path(), "pasword_command = \"true\"\n", 0o600);
    let cfg = path.to_str().unwrap();
    let (code, p) = run_env(
        "listen (typo)",
        &["--config", cfg, "listen", "--timeout", "1"],
        &[],
    );
    assert_eq!(code, 2, "{}", p.transcript());
    let err = p.stderr_text();
    assert!(
        err.contains(cfg) && err.contains("unknown field `pasword_command`"),
        "{err}"
    );
    // An explicit file that does not exist.
    let missing = dir.path().join("none.toml");
    let (code, p) = run_env(
        "listen (missing)",
        &["--config", missing.to_str().unwrap(), "listen"],
        &[],
    );
    assert_eq!(code, 2, "{}", p.transcript());
}

#[test]
fn each_password_source_logs_in() {
    let acct = Account::new("pwsrc");
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = config_file(&acct, dir.path(), "", 0o600);
    let cfg = cfg_path.to_str().unwrap();
    let listen = ["--config", cfg, "--json", "listen", "--timeout", "1"];
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(listen.iter())
            .map(|s| s.to_string())
            .collect()
    };

    // No source at all (stdin not a terminal): a usage error saying how to give one.
    let (code, p) = run_env("no password", &listen, &[]);
    assert_eq!(code, 2, "{}", p.transcript());
    let said = p.transcript();
    assert!(
        said.contains("no password for") && said.contains("ESESSION_PASSWORD"),
        "{said}"
    );

    // ESESSION_PASSWORD.
    let (code, p) = run_env("env", &listen, &[("ESESSION_PASSWORD", &acct.password)]);
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);

    // --password-file: its first line; a warning when others can read it.
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{}\nnot this line\n", acct.password)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = with(&["--password-file", file.to_str().unwrap()]);
    let (code, p) = run_env(
        "file",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    assert!(!p.stderr_text().contains("warning"), "{}", p.transcript());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, p) = run_env(
        "file 0640",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    assert!(
        p.stderr_text().contains("the password file")
            && p.stderr_text().contains("group or others"),
        "{}",
        p.transcript()
    );

    // password_command: the first line it prints; a failing command is a clear error.
    let cmd_cfg = config_file(
        &acct,
        &subdir(dir.path(), "cmd"),
        &format!(
            "password_command = \"printf '%s\\\\nmore' '{}'\"\n",
            acct.password
        ),
        0o600,
    );
    let (code, p) = run_env(
        "command",
        &[
            "--config",
            cmd_cfg.to_str().unwrap(),
            "--json",
            "listen",
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);
    let failing = config_file(
        &acct,
        &subdir(dir.path(), "failing"),
        "password_command = \"exit 7\"\n",
        0o600,
    );
    let (code, p) = run_env(
        "failing command",
        &[
            "--config",
            failing.to_str().unwrap(),
            "listen",
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(code, 2, "{}", p.transcript());
    assert!(
        p.stderr_text()
            .contains("password_command failed (exit status: 7)"),
        "{}",
        p.transcript()
    );
    // The environment comes before password_command.
    let (code, p) = run_env(
        "env over command",
        &[
            "--config",
            failing.to_str().unwrap(),
            "--json",
            "listen",
            "--timeout",
            "1",
        ],
        &[("ESESSION_PASSWORD", &acct.password)],
    );
    assert_eq!(code, 0, "{}", p.transcript());

    // --password still works, with the warning.
    let args = with(&["--password", &acct.password]);
    let (code, p) = run_env(
        "--password",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);
    assert!(
        p.stderr_text().contains(CMDLINE_WARNING),
        "{}",
        p.transcript()
    );
    assert!(
        p.stderr_text().contains("(ps, /proc)"),
        "{}",
        p.transcript()
    );

    // A wrong password from any source fails the login (exit 3).
    let (code, p) = run_env("wrong", &listen, &[("ESESSION_PASSWORD", "wrong")]);
    assert_eq!(code, 3, "{}", p.transcript());
}

/// The prompt: on a terminal, without echo.
#[test]
fn the_password_prompt_reads_a_terminal_without_echo() {
    let acct = Account::new("pwtty");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&acct, dir.path(), "", 0o600);
    let tmux = Tmux::new();
    let args: Vec<String> = [
        "--config",
        cfg.to_str().unwrap(),
        "listen",
        "--timeout",
        "1",
    ]
    .map(str::to_owned)
    .to_vec();
    // The archive key's passphrase is another secret, asked on a terminal too.
    tmux.start("prompt", &args, &[("ESESSION_KEY_PASSPHRASE", "kp")]);
    tmux.wait_for("prompt", &format!("password for {}: ", acct.jid), LIMIT);
    tmux.line("prompt", &acct.password);
    assert_eq!(
        tmux.exit_code("prompt", LIMIT),
        0,
        "{}",
        tmux.screen("prompt")
    );
    let screen = tmux.screen("prompt");
    assert!(
        !screen.contains(&acct.password),
        "the password was echoed:\n{screen}"
    );
    assert!(screen.contains("online"), "{screen}");
}

/// `esession init` on a terminal: the answers become a private configuration file that a
/// real command then uses; an existing file is kept unless `--force`.
#[test]
fn init_writes_a_private_configuration_file_a_command_then_uses() {
    let acct = Account::new("init");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("esession/config.toml");
    let cfg_s = cfg.to_str().unwrap().to_owned();
    let tmux = Tmux::new();
    let init = |name: &str, extra: &[&str]| {
        let args: Vec<String> = ["--config", &cfg_s, "init"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        tmux.start(name, &args, &[]);
    };
    init("init", &[]);
    let (user, domain) = acct.jid.split_once('@').unwrap();
    tmux.wait_for("init", "JID (user@domain): ", LIMIT);
    // Typed in capitals: normalized.
    tmux.line("init", &format!("{}@{domain}", user.to_uppercase()));
    tmux.wait_for(
        "init",
        &format!("server HOST:PORT [{domain}:5222]: "),
        LIMIT,
    );
    tmux.line("init", &acct.addr);
    tmux.wait_for("init", "[starttls]: ", LIMIT);
    tmux.line("init", "plain");
    tmux.wait_for("init", "store directory [", LIMIT);
    tmux.line("init", acct.state.path().to_str().unwrap());
    tmux.wait_for("init", "a command printing the password", LIMIT);
    tmux.line("init", &format!("printf '%s\\n' '{}'", acct.password));
    assert_eq!(tmux.exit_code("init", LIMIT), 0, "{}", tmux.screen("init"));
    tmux.wait_for("init", &format!("wrote {cfg_s}"), LIMIT);
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(&format!("jid = \"{}\"", acct.jid)), "{text}");

    // A real command with nothing but the file.
    let (code, p) = run_env(
        "listen (init's file)",
        &["--config", &cfg_s, "--json", "listen", "--timeout", "1"],
        &[],
    );
    assert_eq!(code, 0, "{}", p.transcript());
    online_as(&p, &acct);
    assert!(!p.stderr_text().contains("warning"), "{}", p.transcript());

    // Not overwritten without --force (and nothing is asked).
    init("again", &[]);
    assert_eq!(
        tmux.exit_code("again", LIMIT),
        2,
        "{}",
        tmux.screen("again")
    );
    assert!(tmux.screen("again").contains("give --force"));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
    init("forced", &["--force"]);
    tmux.wait_for("forced", "JID (user@domain): ", LIMIT);
    tmux.line("forced", "other@example.org");
    for _ in 0..4 {
        tmux.press("forced", "Enter");
    }
    assert_eq!(
        tmux.exit_code("forced", LIMIT),
        0,
        "{}",
        tmux.screen("forced")
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("jid = \"other@example.org\""), "{text}");
    assert!(text.contains("server = \"example.org:5222\""), "{text}");
    assert!(!text.contains("password_command"), "{text}");
}

/// Usage errors exit 2, whichever check finds them (issue 10: a malformed `--jid` exited 1).
#[test]
fn usage_errors_exit_2() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let env = [("ESESSION_PASSWORD", "pw")];
    let cases: &[&[&str]] = &[
        &["--jid", "example.org", "listen"],
        &["--jid", "a@", "listen"],
        &["--jid", "a@b@c", "listen"],
        &["--jid", "a@x", "--server", "nonsense", "listen"],
        &[
            "--jid",
            "a@x",
            "--server",
            "xmpp.example:5222",
            "--tls",
            "plain",
            "listen",
        ],
        &["--jid", "a@x", "send", "--to", "b@", "hi"],
        &[
            "--jid", "a@x", "send", "--to", "b@x", "--crypt", "rot13", "hi",
        ],
        &["--jid", "a@x", "listen", "--only", "@x"],
        &["--jid", "a@x", "--tls", "ssl", "listen"],
        &["--jid", "a@x", "nosuchcommand"],
        &[
            "--jid",
            "a@x",
            "--config",
            "/nonexistent/esession.toml",
            "listen",
        ],
        &[
            "--jid",
            "a@x",
            "--password",
            "p",
            "--password-file",
            "/f",
            "listen",
        ],
    ];
    for case in cases {
        let args: Vec<&str> = ["--state", st].iter().chain(case.iter()).copied().collect();
        let (code, p) = run_env(&case.join(" "), &args, &env);
        assert_eq!(code, 2, "{case:?}\n{}", p.transcript());
    }
}
