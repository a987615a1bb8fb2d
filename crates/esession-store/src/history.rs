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
/// §4.10) matched, matched one kept for another full JID of the contact (never verified),
/// none was shared, or one was expected and not found (profile P7 warning).
pub const SRS_STATES: &[&str] = &["matched", "matched-other-jid", "none", "mismatch"];

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn rec(full: &str, started: u64) -> SessionRecord {
        SessionRecord {
            own: "a@x".into(),
            peer_full: full.into(),
            thread: format!("thread-{started}"),
            role: "initiator".into(),
            started: Timestamp(started),
            ended: None,
            end_reason: None,
            sas: "ABCDE".into(),
            srs: "none".into(),
            verified: false,
        }
    }

    #[test]
    fn record_finish_and_list() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let id2 = s.record_session(&rec("b@y/phone", 20)).unwrap();
        let mut r1 = rec("b@y/laptop", 10);
        r1.role = "responder".into();
        r1.srs = "matched".into();
        r1.verified = true;
        let id1 = s.record_session(&r1).unwrap();
        s.record_session(&rec("c@y/phone", 5)).unwrap();
        assert_ne!(id1, id2);
        s.finish_session(id2, Timestamp(25), "terminated").unwrap();

        let list = s.sessions_with("a@x", "b@y").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], r1, "oldest first");
        assert_eq!(list[1].ended, Some(Timestamp(25)));
        assert_eq!(list[1].end_reason.as_deref(), Some("terminated"));
        assert!(s.sessions_with("q@x", "b@y").unwrap().is_empty());
        assert_eq!(s.sessions_with("a@x", "c@y").unwrap().len(), 1);
    }

    #[test]
    fn finish_names_what_is_wrong() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let e = s.finish_session(42, Timestamp(1), "x").unwrap_err();
        assert!(
            e.0.contains("finishing session 42") && e.0.contains("no such session"),
            "{e}"
        );
        let id = s.record_session(&rec("b@y/1", 1)).unwrap();
        s.finish_session(id, Timestamp(2), "terminated").unwrap();
        let e = s.finish_session(id, Timestamp(3), "again").unwrap_err();
        assert!(e.0.contains("already ended"), "{e}");
        assert_eq!(
            s.sessions_with("a@x", "b@y").unwrap()[0]
                .end_reason
                .as_deref(),
            Some("terminated")
        );
    }

    #[test]
    fn bad_role_or_srs_is_refused() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let mut r = rec("b@y/1", 1);
        r.role = "observer".into();
        let e = s.record_session(&r).unwrap_err();
        assert!(
            e.0.contains("recording a session") && e.0.contains("\"observer\""),
            "{e}"
        );
        let mut r = rec("b@y/1", 1);
        r.srs = "maybe".into();
        assert!(s.record_session(&r).unwrap_err().0.contains("\"maybe\""));
        assert!(s.sessions_with("a@x", "b@y").unwrap().is_empty());
    }

    #[test]
    fn bare_jid_of_full_jid() {
        assert_eq!(bare_of("b@y/res/with/slash"), "b@y");
        assert_eq!(bare_of("b@y"), "b@y");
    }
}
