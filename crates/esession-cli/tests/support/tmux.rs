//! A real terminal for the `esession` binary: a tmux server on a private socket (`-L`, no
//! configuration file, UTF-8), one session per program, keys typed with `send-keys`, the
//! screen read with `capture-pane`. Dropping it kills the tmux server and every program
//! in it.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::target;

/// A private tmux server.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn new() -> Tmux {
        Tmux {
            socket: esession_testkit::unique("esession-test-"),
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new("tmux")
            .args(["-u", "-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts `esession ARGS` in a new terminal named `name` (200×50), with `env` set and
    /// the environment of the other tests' processes (no password, no log, no
    /// configuration file of the user's). When it exits, `[exit CODE]` is printed and the
    /// terminal stays for reading.
    pub(crate) fn start(&self, name: &str, args: &[String], env: &[(&str, &str)]) {
        self.launch(
            name,
            args,
            &Launch {
                env,
                ..Launch::default()
            },
        );
    }

    /// Starts `esession ARGS` in a new terminal named `name` (200×50) as `how` says, in
    /// the environment of [`Tmux::start`].
    pub(crate) fn launch(&self, name: &str, args: &[String], how: &Launch<'_>) {
        let env = how.env;
        let mut line =
            String::from("unset ESESSION_PASSWORD ESESSION_PEER_PASSWORD ESESSION_LOG; ");
        let mut vars = vec![
            (
                "SSL_CERT_FILE".to_owned(),
                target().cert().display().to_string(),
            ),
            ("XDG_CONFIG_HOME".to_owned(), super::no_config_dir()),
        ];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        for (k, v) in &vars {
            line.push_str(&format!("export {k}={}; ", quote(v)));
        }
        line.push_str(&quote(env!("CARGO_BIN_EXE_esession")));
        for a in args {
            line.push(' ');
            line.push_str(&quote(a));
        }
        match how.status_file {
            Some(file) => line.push_str(&format!(
                "; echo $? > {}",
                quote(&file.display().to_string())
            )),
            None => line.push_str("; echo \"[exit $?]\"; sleep 600"),
        }
        let terminal_env: Vec<String> = how
            .terminal_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut command = vec!["new-session", "-d", "-s", name, "-x", "200", "-y", "50"];
        for var in &terminal_env {
            command.extend(["-e", var.as_str()]);
        }
        command.extend(["sh", "-c", &line]);
        self.tmux(&command);
        if how.status_file.is_some() {
            // The pane stays after the program exits: its last screen is read.
            self.tmux(&["set-option", "-t", name, "remain-on-exit", "on"]);
        }
    }

    /// Types `text` (literally) into terminal `name`.
    pub(crate) fn type_text(&self, name: &str, text: &str) {
        self.tmux(&["send-keys", "-t", name, "-l", text]);
    }

    /// Presses keys in terminal `name` (`Enter`, `C-c`, …).
    pub(crate) fn press(&self, name: &str, key: &str) {
        self.tmux(&["send-keys", "-t", name, key]);
    }

    /// Types `text` and presses Enter.
    pub(crate) fn line(&self, name: &str, text: &str) {
        self.type_text(name, text);
        self.press(name, "Enter");
    }

    /// What terminal `name` shows, with its scrollback.
    pub(crate) fn screen(&self, name: &str) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-J", "-t", name, "-S", "-1000"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screens of every terminal but `name`, for a failure's message: what the other
    /// side saw is often the explanation.
    fn other_screens(&self, name: &str) -> String {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|other| *other != name)
            .map(|other| {
                let screen = self.screen(other);
                format!("\n---- {other}, meanwhile:\n{}", screen.trim_end())
            })
            .collect()
    }

    /// What terminal `name` shows now, row by row (no scrollback).
    pub(crate) fn visible(&self, name: &str) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until terminal `name` shows `needle`; its screen then. Panics after `limit`.
    pub(crate) fn wait_for(&self, name: &str, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen(name);
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{name}: no {needle:?} within {limit:?}; the screen:\n{screen}{}",
                    self.other_screens(name)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The exit code terminal `name`'s program printed, waiting up to `limit`.
    pub(crate) fn exit_code(&self, name: &str, limit: Duration) -> i32 {
        let screen = self.wait_for(name, "[exit ", limit);
        let tail = screen.rsplit("[exit ").next().unwrap_or_default();
        tail.split(']')
            .next()
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: no exit code in the screen:\n{screen}"))
    }

    /// Closes terminal `name`: its programs get SIGHUP, as when a terminal window closes.
    pub(crate) fn close(&self, name: &str) {
        self.tmux(&["kill-session", "-t", name]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// How [`Tmux::launch`] starts a program.
#[derive(Default)]
pub(crate) struct Launch<'a> {
    /// Exported for the program, after the variables of the tests' own environment are
    /// unset (so a password can be given here).
    pub(crate) env: &'a [(&'a str, &'a str)],
    /// The terminal's own environment (`new-session -e`), such as its locale.
    pub(crate) terminal_env: &'a [(&'a str, &'a str)],
    /// Where the shell writes the program's exit code; the pane then stays as the program
    /// left it (`remain-on-exit`). Without it, `[exit CODE]` is printed below the
    /// program's output and the terminal stays ([`Tmux::exit_code`] reads it).
    pub(crate) status_file: Option<&'a Path>,
}

/// `s` quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
