//! Session history metadata: who, when, how it was authenticated and how it ended.
//!
//! Only metadata: no message body, key or secret is ever stored here.
use crate::error::{failed, ts_from_sql, ts_to_sql};
use crate::sqlite::SqliteStore;
use esession::store::StoreError;
use esession::time::Timestamp;
use rusqlite::{params, OptionalExtension, Row};

/// The accepted values of [`SessionRecord::role`].
pub const ROLES: &[&str] = &["initiator", "responder"];

/// The accepted values of [`SessionRecord::srs`]: whether a retained secret (XEP-0116
/// §4.10) matched, none was shared, or one was expected and not found (profile P7 warning).
pub const SRS_STATES: &[&str] = &["matched", "none", "mismatch"];

/// One encrypted session, as remembered in the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Our own bare JID.
    pub own: String,
    /// The peer's full JID the session was bound to (profile A28).
    pub peer_full: String,
    /// The XMPP thread ID of the session.
    pub thread: String,
    /// Our role: `"initiator"` or `"responder"` (see [`ROLES`]).
    pub role: String,
    /// When the session was established.
    pub started: Timestamp,
    /// When it ended, if it did.
    pub ended: Option<Timestamp>,
    /// How it ended (e.g. `"terminated"`, `"timeout"`), if it did.
    pub end_reason: Option<String>,
    /// The short authentication string shown for the session.
    pub sas: String,
    /// `"matched"`, `"none"` or `"mismatch"` (see [`SRS_STATES`]).
    pub srs: String,
    /// Whether the SAS was confirmed by a person.
    pub verified: bool,
}

/// The bare part of a full JID: everything before the first `/` (a bare JID has none).
fn bare_of(full: &str) -> &str {
    full.split('/').next().unwrap_or(full)
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        own: row.get(0)?,
        peer_full: row.get(1)?,
        thread: row.get(2)?,
        role: row.get(3)?,
        started: ts_from_sql(row, 4)?,
        ended: match row.get::<_, Option<i64>>(5)? {
            Some(_) => Some(ts_from_sql(row, 5)?),
            None => None,
        },
        end_reason: row.get(6)?,
        sas: row.get(7)?,
        srs: row.get(8)?,
        verified: row.get(9)?,
    })
}

impl SqliteStore {
    /// Remembers a session; returns its id for [`SqliteStore::finish_session`].
    ///
    /// # Errors
    /// A [`StoreError`] if `role` or `srs` is not one of the accepted values, a time does not
    /// fit, or the insert fails.
    pub fn record_session(&mut self, rec: &SessionRecord) -> Result<i64, StoreError> {
        let op = "recording a session";
        if !ROLES.contains(&rec.role.as_str()) {
            return Err(failed(
                op,
                &self.path,
                format_args!("role {:?} is not one of {ROLES:?}", rec.role),
            ));
        }
        if !SRS_STATES.contains(&rec.srs.as_str()) {
            return Err(failed(
                op,
                &self.path,
                format_args!("srs {:?} is not one of {SRS_STATES:?}", rec.srs),
            ));
        }
        let started = ts_to_sql(rec.started, "start time", op, &self.path)?;
        let ended = rec
            .ended
            .map(|t| ts_to_sql(t, "end time", op, &self.path))
            .transpose()?;
        self.conn
            .prepare_cached(
                "INSERT INTO session (own, peer_bare, peer_full, thread, role, started, ended,
                                      end_reason, sas, srs, verified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    rec.own,
                    bare_of(&rec.peer_full),
                    rec.peer_full,
                    rec.thread,
                    rec.role,
                    started,
                    ended,
                    rec.end_reason,
                    rec.sas,
                    rec.srs,
                    rec.verified
                ])
            })
            .map_err(|e| failed(op, &self.path, e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that session `id` ended at `ended`, and how (`how`, free text).
    ///
    /// # Errors
    /// A [`StoreError`] if there is no session `id`, it has already ended, or the update
    /// fails.
    pub fn finish_session(
        &mut self,
        id: i64,
        ended: Timestamp,
        how: &str,
    ) -> Result<(), StoreError> {
        let op = format!("finishing session {id}");
        let ended = ts_to_sql(ended, "end time", &op, &self.path)?;
        let n = self
            .conn
            .execute(
                "UPDATE session SET ended = ?2, end_reason = ?3 WHERE id = ?1 AND ended IS NULL",
                params![id, ended, how],
            )
            .map_err(|e| failed(&op, &self.path, e))?;
        if n == 1 {
            return Ok(());
        }
        let exists = self
            .conn
            .query_row("SELECT 1 FROM session WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map_err(|e| failed(&op, &self.path, e))?
            .is_some();
        Err(failed(
            &op,
            &self.path,
            if exists {
                "the session has already ended"
            } else {
                "no such session"
            },
        ))
    }

    /// Every remembered session between `own` and any resource of `peer_bare`, oldest first.
    ///
    /// # Errors
    /// A [`StoreError`] if the query fails or a row is damaged.
    pub fn sessions_with(
        &self,
        own: &str,
        peer_bare: &str,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let op = "reading the session history";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT own, peer_full, thread, role, started, ended, end_reason, sas, srs, verified
                 FROM session WHERE own = ?1 AND peer_bare = ?2 ORDER BY started, id",
            )
            .map_err(|e| failed(op, &self.path, e))?;
        let rows = stmt
            .query_map([own, peer_bare], record_from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| failed(op, &self.path, e))?;
        Ok(rows)
    }
}
