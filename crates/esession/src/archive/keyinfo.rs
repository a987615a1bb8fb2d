//! The record of the account's archive key, kept on the server in XEP-0049 private XML
//! storage so that every client of the account derives the same key (docs/decisions.md,
//! "Message archiving"): the Argon2id salt and costs, and a check value that tells a wrong
//! passphrase from damaged collections. The key itself never leaves the clients.
use super::{bad, ArchiveError, PRIVATE_NS};
use crate::b64;
use crate::xml::Element;

/// Namespace of our private-storage element `<archive-key/>`.
pub const KEY_INFO_NS: &str = "urn:esession:archive-key:1";

/// Salt length (octets).
pub(super) const SALT_LEN: usize = 16;
/// Longest check value accepted (a sealed 32-octet constant: version, nonce, tag).
const MAX_CHECK: usize = 128;

/// The archive key's derivation record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveKeyInfo {
    /// Argon2id salt.
    pub salt: [u8; SALT_LEN],
    /// Argon2id memory in KiB.
    pub m_kib: u32,
    /// Argon2id passes.
    pub t_cost: u32,
    /// Argon2id lanes.
    pub p_cost: u32,
    /// A known constant sealed under the key (see `esession-store`'s archive key).
    pub check: Vec<u8>,
}

fn cost(e: &Element, name: &'static str) -> Result<u32, ArchiveError> {
    let v = e
        .attr(name)
        .ok_or(ArchiveError::Missing("archive-key cost"))?;
    v.parse().map_err(|_| bad(name, v))
}

impl ArchiveKeyInfo {
    /// XEP-0049 §2: the private-storage get query for the record.
    pub fn get_request() -> Element {
        Element::new("query", PRIVATE_NS).with_child(Element::new("archive-key", KEY_INFO_NS))
    }

    /// XEP-0049 §2: the private-storage set query storing this record. The values are
    /// child elements (a server may treat an element without children as a deletion).
    pub fn set_request(&self) -> Element {
        let key = Element::new("archive-key", KEY_INFO_NS)
            .with_attr("kdf", "argon2id")
            .with_attr("m", self.m_kib.to_string())
            .with_attr("t", self.t_cost.to_string())
            .with_attr("p", self.p_cost.to_string())
            .with_child(Element::new("salt", KEY_INFO_NS).with_text(b64::encode(&self.salt)))
            .with_child(Element::new("check", KEY_INFO_NS).with_text(b64::encode(&self.check)));
        Element::new("query", PRIVATE_NS).with_child(key)
    }

    /// Reads the answer to [`get_request`](Self::get_request): `None` when no client
    /// stored a record yet (the server echoes an empty element).
    pub fn parse_answer(query: &Element) -> Result<Option<ArchiveKeyInfo>, ArchiveError> {
        if !query.is("query", PRIVATE_NS) {
            return Err(ArchiveError::Unexpected("query"));
        }
        let Some(key) = query.child("archive-key", KEY_INFO_NS) else {
            return Ok(None);
        };
        if !key.has_element_children() {
            return Ok(None);
        }
        if key.attr("kdf") != Some("argon2id") {
            return Err(bad("archive-key kdf", key.attr("kdf").unwrap_or("")));
        }
        let text = |name: &'static str| {
            key.child(name, KEY_INFO_NS)
                .map(|e| e.text())
                .ok_or(ArchiveError::Missing("archive-key salt or check"))
        };
        let salt_text = text("salt")?;
        let salt =
            b64::decode("salt", &salt_text).map_err(|_| bad("archive-key salt", &salt_text))?;
        let salt: [u8; SALT_LEN] = salt
            .try_into()
            .map_err(|_| bad("archive-key salt length", &salt_text))?;
        let check_text = text("check")?;
        if check_text.len() > MAX_CHECK * 2 {
            return Err(bad("archive-key check length", &check_text));
        }
        let check =
            b64::decode("check", &check_text).map_err(|_| bad("archive-key check", &check_text))?;
        Ok(Some(ArchiveKeyInfo {
            salt,
            m_kib: cost(key, "m")?,
            t_cost: cost(key, "t")?,
            p_cost: cost(key, "p")?,
            check,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, Limits};

    #[test]
    fn record_round_trips_and_absence_is_none() {
        let info = ArchiveKeyInfo {
            salt: [7; SALT_LEN],
            m_kib: 19456,
            t_cost: 2,
            p_cost: 1,
            check: vec![1, 2, 3],
        };
        let stored = info.set_request();
        let text = stored.to_string();
        let back = parse_element(&text, &Limits::default()).unwrap();
        assert_eq!(ArchiveKeyInfo::parse_answer(&back), Ok(Some(info)));
        let empty = parse_element(
            "<query xmlns='jabber:iq:private'><archive-key xmlns='urn:esession:archive-key:1'/></query>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ArchiveKeyInfo::parse_answer(&empty), Ok(None));
        let short = text.replace(&b64::encode(&[7; SALT_LEN]), &b64::encode(&[7; 4]));
        let short = parse_element(&short, &Limits::default()).unwrap();
        assert!(matches!(
            ArchiveKeyInfo::parse_answer(&short),
            Err(ArchiveError::Bad {
                what: "archive-key salt length",
                ..
            })
        ));
    }
}
