//! A store written by a version before the device key (identity key sealed with the account
//! password) opened by this one: moved under the device key on the first unlock, with no
//! network and no server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::IdentityKey;
use std::process::Command;

const RSA: &[u8] = include_bytes!("../../esession/tests/keys/rsa2048.pk8.der");
const OWN: &str = "old@localhost";

/// `esession --json --state DIR --jid OWN [--password PW] keys show`: exit code and stdout.
fn keys_show(
    state: &std::path::Path,
    password: Option<&str>,
    env: &[(&str, &str)],
) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esession"));
    cmd.args(["--json", "--state"])
        .arg(state)
        .args(["--jid", OWN])
        .env_remove("ESESSION_PASSWORD")
        .env_remove("ESESSION_KEY_PASSPHRASE");
    if let Some(p) = password {
        cmd.args(["--password", p]);
    }
    cmd.args(["keys", "show"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn an_old_store_is_unlocked_once_with_the_account_password() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join(format!("{OWN}.sqlite"));
    esession_store::test_util::schema5_store_with_identity_key(&db, OWN, "account-pw", RSA)
        .unwrap();
    let fp = IdentityKey::from_pkcs8_der(RSA)
        .unwrap()
        .public()
        .fingerprint()
        .to_b64();

    // Without the old passphrase, or with a wrong one: exit 2, the key kept, nothing new made.
    for (pw, needle) in [
        (None, "no passphrase"),
        (Some("wrong"), "passphrase is wrong"),
    ] {
        let (code, out) = keys_show(state.path(), pw, &[]);
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains(needle) && out.contains("account password"),
            "{out}"
        );
    }
    // ESESSION_KEY_PASSPHRASE took precedence in the old versions: a wrong one fails too.
    let (code, out) = keys_show(
        state.path(),
        Some("account-pw"),
        &[("ESESSION_KEY_PASSPHRASE", "not it")],
    );
    assert_eq!(code, 2, "{out}");

    // The account password, once: the same key, now under the device key.
    let (code, out) = keys_show(state.path(), Some("account-pw"), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&fp), "{out}");
    // From then on no password opens or changes it: the server's knowledge is useless.
    let (code, out) = keys_show(state.path(), None, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&fp), "{out}");
    assert!(state
        .path()
        .join(format!("{OWN}.sqlite.devicekey"))
        .exists());
}
