//! Secret hygiene of the `esession` binary (issue 11 §12): core dumps are off while it runs,
//! and the test-only transcript of secret values is not compiled into it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::time::Duration;
use support::{Account, Proc};

/// A running `listen`: core size limit 0, soft and hard (`/proc/PID/limits`), so neither it
/// nor anything it starts can write a core file with its secrets.
#[test]
fn a_running_listener_has_core_dumps_off() {
    let bob = Account::new("core");
    let mut p = Proc::spawn("bob (listen)", &bob.args(&["listen", "--timeout", "4"]));
    p.wait_named("online", Duration::from_secs(20));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", p.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("no core line in\n{limits}"));
    // "Max core file size        0                    0                    bytes"
    let values: Vec<&str> = core
        .trim_start_matches("Max core file size")
        .split_whitespace()
        .collect();
    assert_eq!(values, ["0", "0", "bytes"], "{core}");
    // Not dumpable: the kernel then makes /proc/PID owned by root, which shows only when
    // the test itself does not run as root.
    use std::os::unix::fs::MetadataExt;
    let own_uid = std::fs::metadata("/proc/self").unwrap().uid();
    if own_uid != 0 {
        let uid = std::fs::metadata(format!("/proc/{}", p.pid()))
            .unwrap()
            .uid();
        assert_eq!(
            uid,
            0,
            "/proc/{} is owned by {uid}: still dumpable",
            p.pid()
        );
    }
    assert_eq!(p.finish(Duration::from_secs(20)), 0, "{}", p.transcript());
}

/// `transcript::record!` compiles to nothing outside the engine's tests: its labels (and so
/// the copies of DH exponents it would take) are nowhere in the binary.
#[test]
fn the_binary_holds_no_transcript_of_secrets() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_esession")).unwrap();
    for label in ["alice.x.", "bob.srshash_random", "rekey.secret"] {
        assert!(
            !esession_testkit::contains_bytes(&binary, label.as_bytes()),
            "{label:?} is in the binary"
        );
    }
}

/// `ESESSION_LOG=trace` shows our traces but never the raw stream tokio-xmpp traces, whose
/// SASL `<auth/>` carries the password (PLAIN: base64 of it; SCRAM: a proof that allows an
/// offline guess).
#[test]
fn trace_logging_never_shows_the_sasl_exchange() {
    let bob = Account::new("trace");
    let mut p = Proc::spawn_env(
        "bob (listen, trace)",
        &bob.args(&["listen", "--timeout", "4"]),
        &[("ESESSION_LOG", "trace")],
    );
    p.wait_named("online", Duration::from_secs(20));
    assert_eq!(p.finish(Duration::from_secs(20)), 0, "{}", p.transcript());
    let log = p.transcript();
    assert!(
        log.contains("xmpp_connect"),
        "no trace output at all\n{log}"
    );
    let plain = esession::b64::encode(format!("\0{}\0{}", bob.user(), bob.password).as_bytes());
    for secret in [
        plain.as_str(),
        bob.password.as_str(),
        "<auth",
        "<response",
        "SEND",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log\n{log}");
    }
}
