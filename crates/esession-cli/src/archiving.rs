//! XEP-0136 in `send` and `listen`: the archiver ([`esession_xmpp::Archiver`])
//! records and uploads the sessions to archive; this module asks for the archive key's
//! passphrase, prints what was archived and maps the archiver's errors to failures.
use crate::fail::Fail;
use crate::output::Out;
use crate::sanitize::safe;
use esession::archive::Collection;
use esession_store::{ArchiveKeyError, SqliteStore};
use esession_xmpp::{Archiver, ArchiverError, Client, Uploaded};
use serde_json::json;

/// The failure of an archiver error: a wrong or missing passphrase is a usage error.
pub(crate) fn archiver_fail(e: ArchiverError) -> Fail {
    match e {
        ArchiverError::Key(e) => {
            let wrong = matches!(
                e,
                ArchiveKeyError::WrongPassphrase | ArchiveKeyError::NoPassphrase
            );
            let message = format!(
                "{e}; the archive key is sealed with the key passphrase: {}",
                crate::passphrase::HOW
            );
            if wrong {
                Fail {
                    kind: "archive_key",
                    ..Fail::usage(message)
                }
            } else {
                Fail::protocol("archive_key", message)
            }
        }
        ArchiverError::Xmpp(e) => e.into(),
        e @ ArchiverError::NoPassphrase => Fail::usage(format!("{e}: {}", crate::passphrase::HOW)),
        e => Fail::protocol("archive_key", e.to_string()),
    }
}

/// Starts the archiver of the command. `logging_flag`: the user chose `--logging`
/// explicitly.
pub(crate) async fn enable(
    client: &mut Client<SqliteStore>,
    global: &crate::args::Global,
    logging_flag: bool,
) -> Result<Archiver, Fail> {
    let mut archiver = Archiver::start(client, logging_flag).await?;
    // Asked for only when the server keeps archiving preferences (then sessions may be
    // archived); never the account password.
    if archiver.needs_passphrase() {
        archiver.set_passphrase(crate::passphrase::key_passphrase(global)?);
    }
    Ok(archiver)
}

/// What became of each finished collection: `archived`, or an error (`archive_refused`)
/// naming one the server refused for good, which is dropped.
fn archived(out: Out) -> impl FnMut(Uploaded<'_>) {
    move |u| match u {
        Uploaded::Saved(c) => stored(out, c),
        Uploaded::Refused(c, condition) => refused(out, c, condition),
    }
}

/// The error naming collection `c`, refused for good with `condition`.
fn refused(out: Out, c: &Collection, condition: &str) {
    let detail = format!(
        "the server refused the collection with {} at {} ({} message(s)) for good ({condition}): it is dropped",
        c.with,
        c.start,
        c.entries.len()
    );
    out.error(
        Some(&c.with),
        c.thread.as_deref(),
        "archive_refused",
        &detail,
    );
}

/// `{"event":"archived",…}`: collection `c` is stored.
fn stored(out: Out, c: &Collection) {
    out.emit(
        json!({"event": "archived", "with": c.with, "start": c.start, "thread": c.thread, "messages": c.entries.len()}),
        &format!(
            "archived {} message(s) with {} (collection {})",
            c.entries.len(),
            safe(&c.with),
            safe(&c.start)
        ),
    );
}

/// Uploads the finished collections, reporting each as [`archived`] does.
pub(crate) async fn upload(
    client: &mut Client<SqliteStore>,
    archiver: &mut Archiver,
    out: Out,
) -> Result<(), Fail> {
    archiver
        .upload(client.connection_mut(), archived(out))
        .await
        .map_err(archiver_fail)
}

/// Before logging out: uploads every recorded collection, open or finished.
pub(crate) async fn finish(
    client: &mut Client<SqliteStore>,
    archiver: &mut Archiver,
    out: Out,
) -> Result<(), Fail> {
    archiver
        .finish(client.connection_mut(), archived(out))
        .await
        .map_err(archiver_fail)
}
