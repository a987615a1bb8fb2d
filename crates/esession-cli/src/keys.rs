//! `esession keys show` and `esession trust …`: our identity key and the contacts' keys
//! (XEP-0116 §7.3–7.4). They only open the store: no network. The other `keys` commands
//! (published keys, XEP-0189) are in [`crate::published`].
use crate::account::{open_store, own_jid};
use crate::args::{Global, KeysCommand, TrustCommand};
use crate::fail::Fail;
use crate::identity::{self, KeyUse};
use crate::output::Out;
use crate::published;
use esession::store::KeyStore;
use esession::trust::{check_petname, KnownKey};
use esession::Fingerprint;

/// `esession keys …`.
pub(crate) async fn keys(global: &Global, cmd: &KeysCommand, out: Out) -> Result<(), Fail> {
    match cmd {
        KeysCommand::Show => show(global, out),
        KeysCommand::Publish => published::publish(global, out).await,
        KeysCommand::Fetch { contact } => published::fetch(global, contact, out).await,
        KeysCommand::Revoke => published::revoke(global, out).await,
        KeysCommand::Attest { contact } => published::attest(global, contact, out).await,
        KeysCommand::Request { contact } => published::request(global, contact, out).await,
    }
}

/// Prints the fingerprint of our identity key (profile P8: Base64 of SHA-256), creating the
/// key on first use.
fn show(global: &Global, out: Out) -> Result<(), Fail> {
    let jid = own_jid(global)?;
    let bare = esession::jid::bare(&jid);
    let mut store = open_store(global, &jid, crate::password::at_hand(global).as_deref())?;
    let key = identity::load(&mut store, bare, KeyUse::Create)?
        .ok_or_else(|| Fail::protocol("identity_key", "no identity key was created"))?;
    out.key(bare, &key.public().fingerprint().to_b64());
    Ok(())
}

/// `esession trust …`.
pub(crate) fn trust(global: &Global, cmd: &TrustCommand, out: Out) -> Result<(), Fail> {
    let jid = own_jid(global)?;
    let own = esession::jid::bare(&jid);
    // No identity key is read: no passphrase needed.
    let mut store = open_store(global, &jid, None)?;
    match cmd {
        TrustCommand::List => {
            let keys = store.all_keys(own)?;
            if keys.is_empty() && !out.json {
                out.emit(serde_json::Value::Null, "no known keys");
            }
            for k in &keys {
                out.known_key(k);
            }
            Ok(())
        }
        TrustCommand::Verify {
            contact,
            fingerprint,
        } => {
            let fp = parse_fingerprint(fingerprint)?;
            let peer = esession::jid::bare(contact);
            let key = known(&store, own, &fp, fingerprint)?;
            // XEP-0116 §7.3–7.4: a key is trusted for the JIDs it was seen from; verifying a
            // key this JID never presented would trust it for nobody we know.
            if !key.seen_from(peer) {
                return Err(Fail::protocol(
                    "unknown_key",
                    format!(
                        "{peer} never presented the key {fingerprint} (it was seen from {}): \
                         nothing was marked trusted",
                        jids(&key)
                    ),
                ));
            }
            store.set_trusted(own, fp.as_bytes(), true)?;
            out.known_key(&known(&store, own, &fp, fingerprint)?);
            Ok(())
        }
        TrustCommand::Rename {
            fingerprint,
            petname,
        } => {
            let fp = parse_fingerprint(fingerprint)?;
            // XEP-0116 §7.4: petnames are shown to people; refuse what could fake a line.
            check_petname("trust rename", Some(petname)).map_err(|e| Fail::usage(e.to_string()))?;
            known(&store, own, &fp, fingerprint)?;
            store.set_petname(own, fp.as_bytes(), Some(petname))?;
            out.known_key(&known(&store, own, &fp, fingerprint)?);
            Ok(())
        }
        TrustCommand::Forget { fingerprint } => {
            let fp = parse_fingerprint(fingerprint)?;
            if !store.forget_key(own, fp.as_bytes())? {
                return Err(unknown(fingerprint));
            }
            out.forgotten(&fp.to_b64());
            Ok(())
        }
    }
}

fn parse_fingerprint(text: &str) -> Result<Fingerprint, Fail> {
    Fingerprint::from_b64(text.trim())
        .map_err(|e| Fail::usage(format!("not a key fingerprint (Base64 SHA-256): {e}")))
}

fn unknown(fingerprint: &str) -> Fail {
    Fail::protocol(
        "unknown_key",
        format!("no key with fingerprint {fingerprint} was ever presented to this account"),
    )
}

fn known(store: &impl KeyStore, own: &str, fp: &Fingerprint, text: &str) -> Result<KnownKey, Fail> {
    store
        .known_key(own, fp.as_bytes())?
        .ok_or_else(|| unknown(text))
}

fn jids(key: &KnownKey) -> String {
    key.jids
        .iter()
        .map(|s| s.jid.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
