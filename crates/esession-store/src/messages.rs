//! The local message history (issue 10): every message of a session whose `logging` is
//! `may` (XEP-0155 §8), sealed under the device key.
//!
//! A row of `message` is XChaCha20-Poly1305 under the device key over
//! `[id length (2 octets, big-endian), id, body]`, with associated data binding the own
//! bare JID, the peer's bare JID, the direction, the time and the row's sequence number in
//! its conversation. A row edited, copied over another, moved to another contact or
//! renumbered does not open: it is skipped with a warning and counted in
//! [`History::altered`], never shown as another message. Not detected: a row deleted, or
//! the newest rows of a conversation cut off (no counter outside the file).
use crate::device_key::ad;
use crate::error::{blob, failed, refused, ts_to_sql};
use crate::sqlite::SqliteStore;
use esession::store::StoreError;
use esession::time::Timestamp;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use zeroize::Zeroizing;

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// The contact sent it.
    Received,
}

impl Direction {
    /// `sent` or `received` (the stored name).
    pub fn name(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sent" => Some(Direction::Sent),
            "received" => Some(Direction::Received),
            _ => None,
        }
    }
}

/// One message of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    /// Our own bare JID.
    pub own: String,
    /// The contact's bare JID.
    pub peer: String,
    /// Which way it went.
    pub direction: Direction,
    /// When it was sent or received.
    pub at: Timestamp,
    /// Its message id (the stanza's `id`; empty when it had none).
    pub id: String,
    /// Its body.
    pub body: String,
}

/// The newest messages of a conversation, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The messages that opened, oldest first.
    pub messages: Vec<MessageRecord>,
    /// How many rows among the newest were altered in the file and skipped.
    pub altered: usize,
}

/// The associated data of message `seq` of (`own`, `peer`).
fn message_ad(own: &str, peer: &str, direction: Direction, at: u64, seq: u64) -> Vec<u8> {
    ad(
        "esession message 1",
        &[
            own.as_bytes(),
            peer.as_bytes(),
            direction.name().as_bytes(),
            &at.to_be_bytes(),
            &seq.to_be_bytes(),
        ],
    )
}

/// A row as read, not yet opened.
struct Row {
    seq: i64,
    direction: String,
    at: i64,
    nonce: [u8; 24],
    sealed: Vec<u8>,
}

impl SqliteStore {
    /// Appends `m` to the history of (`m.own`, `m.peer`); returns its sequence number.
    ///
    /// # Errors
    /// A [`StoreError`] if the time or the id does not fit, or the insert fails.
    pub fn append_message(&mut self, m: &MessageRecord) -> Result<u64, StoreError> {
        let op = "appending to the message history";
        let at = ts_to_sql(m.at, "message time", op, &self.path)?;
        let id_len = u16::try_from(m.id.len())
            .map_err(|_| refused(op, &self.path, "the message id is longer than 65535 octets"))?;
        let mut payload = Zeroizing::new(Vec::with_capacity(2 + m.id.len() + m.body.len()));
        payload.extend_from_slice(&id_len.to_be_bytes());
        payload.extend_from_slice(m.id.as_bytes());
        payload.extend_from_slice(m.body.as_bytes());
        let path = &self.path;
        // The next number and the row in one transaction: two writers never share a number.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(op, path, e))?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT max(seq) FROM message WHERE own = ?1 AND peer = ?2",
                [&m.own, &m.peer],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| failed(op, path, e))?
            .flatten();
        let seq = last.unwrap_or(0).saturating_add(1);
        let aad = message_ad(&m.own, &m.peer, m.direction, m.at.0, seq.unsigned_abs());
        let s = self.device.seal(path, op, &aad, &payload)?;
        tx.execute(
            "INSERT INTO message (own, peer, seq, direction, at, nonce, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                m.own,
                m.peer,
                seq,
                m.direction.name(),
                at,
                &s.nonce[..],
                s.sealed
            ],
        )
        .map_err(|e| failed(op, path, e))?;
        tx.commit().map_err(|e| failed(op, path, e))?;
        Ok(seq.unsigned_abs())
    }

    /// The newest `limit` messages between `own` and `peer` (bare JIDs), oldest first.
    /// Altered rows are skipped with a warning and counted.
    ///
    /// # Errors
    /// A [`StoreError`] if the query fails.
    pub fn messages_with(
        &self,
        own: &str,
        peer: &str,
        limit: usize,
    ) -> Result<History, StoreError> {
        let op = "reading the message history";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn
            .prepare_cached(
                "SELECT seq, direction, at, nonce, sealed FROM message
                 WHERE own = ?1 AND peer = ?2 ORDER BY seq DESC LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![own, peer, limit], |r| {
                    Ok(Row {
                        seq: r.get(0)?,
                        direction: r.get(1)?,
                        at: r.get(2)?,
                        nonce: blob(r, 3)?,
                        sealed: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| failed(op, &self.path, e))?;
        let mut history = History::default();
        for row in rows.into_iter().rev() {
            let seq = row.seq;
            match self.open_message(own, peer, row) {
                Some(m) => history.messages.push(m),
                None => {
                    tracing::warn!(
                        store = %self.path.display(),
                        own, peer, seq,
                        "a message of the history was altered in the store (its seal does \
                         not open): skipped"
                    );
                    history.altered += 1;
                }
            }
        }
        Ok(history)
    }

    fn open_message(&self, own: &str, peer: &str, row: Row) -> Option<MessageRecord> {
        let direction = Direction::from_name(&row.direction)?;
        let at = u64::try_from(row.at).ok()?;
        let seq = u64::try_from(row.seq).ok()?;
        let aad = message_ad(own, peer, direction, at, seq);
        let p = self.device.open(&row.nonce, &row.sealed, &aad)?;
        let id_len = usize::from(u16::from_be_bytes(p.get(..2)?.try_into().ok()?));
        let id = std::str::from_utf8(p.get(2..2 + id_len)?).ok()?;
        let body = std::str::from_utf8(p.get(2 + id_len..)?).ok()?;
        Some(MessageRecord {
            own: own.to_owned(),
            peer: peer.to_owned(),
            direction,
            at: Timestamp(at),
            id: id.to_owned(),
            body: body.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_files::on_disk;
    use rusqlite::Connection;
    use std::path::Path;

    fn msg(peer: &str, direction: Direction, at: u64, body: &str) -> MessageRecord {
        MessageRecord {
            own: "a@x".into(),
            peer: peer.into(),
            direction,
            at: Timestamp(at),
            id: format!("m-{at}"),
            body: body.into(),
        }
    }

    fn file_store(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join("s.db")).unwrap()
    }

    #[test]
    fn round_trip_newest_n_oldest_first_per_contact() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let sent = [
            msg("b@y", Direction::Sent, 10, "one"),
            msg("b@y", Direction::Received, 11, "two ✓"),
            msg("c@y", Direction::Sent, 12, "other contact"),
            msg("b@y", Direction::Sent, 13, ""),
        ];
        for m in &sent {
            s.append_message(m).unwrap();
        }
        let all = s.messages_with("a@x", "b@y", 100).unwrap();
        assert_eq!(all.altered, 0);
        assert_eq!(
            all.messages,
            vec![sent[0].clone(), sent[1].clone(), sent[3].clone()]
        );
        let newest = s.messages_with("a@x", "b@y", 2).unwrap();
        assert_eq!(newest.messages, vec![sent[1].clone(), sent[3].clone()]);
        assert_eq!(
            s.messages_with("a@x", "c@y", 10).unwrap().messages,
            [sent[2].clone()]
        );
        assert!(s
            .messages_with("q@x", "b@y", 10)
            .unwrap()
            .messages
            .is_empty());
        assert!(s
            .messages_with("a@x", "b@y", 0)
            .unwrap()
            .messages
            .is_empty());
    }

    /// Issue 10: nothing of a body in clear in the database, its WAL or the key file.
    #[test]
    fn no_body_in_clear_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let body = "BODY-IN-CLEAR-0123456789-abcdef";
        let mut s = file_store(dir.path());
        s.append_message(&msg("b@y", Direction::Received, 5, body))
            .unwrap();
        assert!(!on_disk(dir.path(), body.as_bytes()));
        assert!(!on_disk(dir.path(), b"m-5"), "the message id is sealed too");
        drop(s);
        assert!(!on_disk(dir.path(), body.as_bytes()));
        let got = file_store(dir.path())
            .messages_with("a@x", "b@y", 1)
            .unwrap();
        assert_eq!(got.messages[0].body, body);
    }

    /// A row edited, swapped or moved is skipped and counted, never shown as another's.
    #[test]
    fn an_altered_row_is_skipped_never_shown_as_another_message() {
        for sql in [
            // The ciphertext, one octet flipped.
            "UPDATE message SET sealed = CAST(CASE WHEN substr(sealed, 1, 1) = x'00' \
             THEN x'01' ELSE x'00' END || substr(sealed, 2) AS BLOB) WHERE seq = 1",
            // The direction turned round.
            "UPDATE message SET direction = 'sent' WHERE seq = 1",
            // The time changed.
            "UPDATE message SET at = 99 WHERE seq = 1",
            // The seal of the other message copied over this one.
            "UPDATE message SET (nonce, sealed) = \
             (SELECT nonce, sealed FROM message WHERE seq = 2) WHERE seq = 1",
            // Renumbered (moved after the other).
            "UPDATE message SET seq = 3 WHERE seq = 1",
            // Moved to another contact's conversation.
            "UPDATE message SET peer = 'c@y' WHERE seq = 1",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = file_store(dir.path());
            s.append_message(&msg("b@y", Direction::Received, 1, "from b"))
                .unwrap();
            s.append_message(&msg("b@y", Direction::Sent, 2, "to b"))
                .unwrap();
            drop(s);
            let c = Connection::open(dir.path().join("s.db")).unwrap();
            assert_eq!(c.execute(sql, []).unwrap(), 1, "{sql}");
            drop(c);
            let s = file_store(dir.path());
            let b = s.messages_with("a@x", "b@y", 10).unwrap();
            let c = s.messages_with("a@x", "c@y", 10).unwrap();
            let shown: Vec<&str> = b
                .messages
                .iter()
                .chain(&c.messages)
                .map(|m| m.body.as_str())
                .collect();
            assert_eq!(shown, ["to b"], "{sql}");
            assert_eq!(b.altered + c.altered, 1, "{sql}");
        }
    }

    #[test]
    fn an_id_too_long_is_refused() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let mut m = msg("b@y", Direction::Sent, 1, "x");
        m.id = "i".repeat(70_000);
        let e = s.append_message(&m).unwrap_err();
        assert!(e.to_string().contains("message id is longer"), "{e}");
        assert!(s
            .messages_with("a@x", "b@y", 10)
            .unwrap()
            .messages
            .is_empty());
    }
}
