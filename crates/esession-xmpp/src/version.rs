//! Software version (XEP-0092): which client a contact runs, asked before we start a
//! session with a resource whose entity capabilities (XEP-0115) are unknown, so that a
//! Gajim 0.12–1.0 gets its dialect (issue 13 §1). Any answer other than a well-formed
//! version is treated as unknown: this is a hint, never a requirement.
use esession::xml::{ns, Element};
use esession::{FullJid, PeerClient, SecretStore};
use std::time::Duration;

use crate::{Client, XmppError};

/// The software version namespace (XEP-0092 §2).
pub const NS_VERSION: &str = "jabber:iq:version";

/// The longest `<name/>` or `<version/>` read, in characters. XEP-0092 sets no bound; real
/// clients use a few dozen ("Gajim", "1.0.3"). Anything longer is not a version to trust.
const MAX_LEN: usize = 100;

/// The longest wait for an answer, whatever the caller's step: a client that does not
/// answer only delays the session.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// A client's software name and version (XEP-0092 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Software {
    /// `<name/>`.
    pub name: String,
    /// `<version/>`.
    pub version: String,
}

impl Software {
    /// The answer's `<query/>` read: `name` and `version` both present (XEP-0092 §2: both
    /// REQUIRED), each at most 100 characters without control characters. The
    /// error names what is wrong.
    pub fn parse(query: &Element) -> Result<Software, String> {
        if !query.is("query", NS_VERSION) {
            return Err(format!("<{}/> is not a {NS_VERSION} query", query.name()));
        }
        let text = |name: &str| {
            let el = query
                .child(name, NS_VERSION)
                .ok_or_else(|| format!("no <{name}/>"))?;
            if el.has_element_children() {
                return Err(format!("<{name}/> has child elements"));
            }
            let t = el.text();
            let t = t.trim();
            if t.chars().count() > MAX_LEN {
                return Err(format!("<{name}/> is over {MAX_LEN} characters"));
            }
            if t.chars().any(char::is_control) {
                return Err(format!("<{name}/> has control characters"));
            }
            Ok(t.to_owned())
        };
        Ok(Software {
            name: text("name")?,
            version: text("version")?,
        })
    }

    /// The software as the engine takes it in ([`esession::Engine::note_peer_client`]).
    pub fn peer_client(&self) -> PeerClient<'_> {
        PeerClient::Software {
            name: &self.name,
            version: &self.version,
        }
    }
}

/// Whether a resource whose caps are unknown and whose disco#info answer is `query` is
/// worth asking its version before we start a session with it: it advertises both
/// ESessions (XEP-0116 §3) and XEP-0092 (§4: a client that answers it says so). Gajim
/// 0.12–1.0 advertises both; a client that does not answer version queries (esession
/// itself) is not made to wait for nothing.
pub fn worth_asking(query: &Element) -> bool {
    let (mut esession, mut version) = (false, false);
    for f in crate::caps::features(query) {
        esession |= f == ns::ESESSION;
        version |= f == NS_VERSION;
    }
    esession && version
}

impl<S: SecretStore> Client<S> {
    /// Asks `jid` its software version (XEP-0092), waiting at most `timeout` (and never
    /// more than 5 s), and tells the engine (issue 13 §1: a Gajim older than 1.1 then gets
    /// its dialect when [`esession::Compat::Auto`]). No answer, an error, or an answer
    /// that is not a readable version leaves the client unknown (`None`, logged); only a
    /// failure of the connection itself is an error.
    pub async fn learn_software(
        &mut self,
        jid: &FullJid,
        timeout: Duration,
    ) -> Result<Option<Software>, XmppError> {
        let query = Element::new("query", NS_VERSION);
        let wait = timeout.min(MAX_WAIT);
        let answer = self
            .connection_mut()
            .iq("get", Some(jid.as_str()), &query, wait)
            .await;
        let software =
            match answer {
                Ok(Some(q)) => Software::parse(&q),
                Ok(None) => Err("an empty result".to_owned()),
                Err(
                    e @ (XmppError::Timeout(_) | XmppError::Stanza(_) | XmppError::Protocol(_)),
                ) if self.connection_mut().is_up() => Err(e.to_string()),
                Err(e) => return Err(e),
            };
        match software {
            Ok(s) => {
                let gajim = self.engine_mut().note_peer_client(jid, s.peer_client());
                tracing::info!(%jid, name = %s.name, version = %s.version, gajim, "software version");
                Ok(Some(s))
            }
            Err(why) => {
                // docs/gajim.md: an unknown client means the profile, whatever it said
                // before (issue 13 §1).
                self.engine_mut().forget_peer_client(jid);
                tracing::info!(%jid, %why, "software version unknown");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use esession::xml::{parse_element, Limits};

    fn read(xml: &str) -> Result<Software, String> {
        Software::parse(&parse_element(xml, &Limits::default()).unwrap())
    }

    #[test]
    fn a_version_answer_is_read() {
        let s = read(
            "<query xmlns='jabber:iq:version'><name>Gajim</name><version> 1.0.3 </version>\
             <os>Linux</os></query>",
        )
        .unwrap();
        assert_eq!(s.name, "Gajim");
        assert_eq!(s.version, "1.0.3");
        assert!(s.peer_client().is_gajim());
        let s = read(
            "<query xmlns='jabber:iq:version'><name>Gajim</name><version>1.1.0</version></query>",
        )
        .unwrap();
        assert!(!s.peer_client().is_gajim());
        let s = read(
            "<query xmlns='jabber:iq:version'><name>Psi+</name><version>1.0</version></query>",
        )
        .unwrap();
        assert!(!s.peer_client().is_gajim());
    }

    #[test]
    fn hostile_answers_are_refused_by_name() {
        let long = "9".repeat(MAX_LEN + 1);
        for (xml, why) in [
            ("<query xmlns='urn:other'><name>Gajim</name></query>", "not a jabber:iq:version"),
            ("<query xmlns='jabber:iq:version'><version>1.0</version></query>", "no <name/>"),
            ("<query xmlns='jabber:iq:version'><name>Gajim</name></query>", "no <version/>"),
            (
                "<query xmlns='jabber:iq:version'><name>Gajim<b/></name><version>1</version></query>",
                "child elements",
            ),
            (
                "<query xmlns='jabber:iq:version'><name>Gaj&#x9;im</name><version>1</version></query>",
                "control characters",
            ),
            (
                &format!("<query xmlns='jabber:iq:version'><name>Gajim</name><version>{long}</version></query>"),
                "over 100 characters",
            ),
        ] {
            let e = read(xml).unwrap_err();
            assert!(e.contains(why), "{xml}: {e}");
        }
        // A version of exactly the bound, non-ASCII, is read.
        let at_bound = "é".repeat(MAX_LEN);
        let xml = format!(
            "<query xmlns='jabber:iq:version'><name>Gajim</name><version>{at_bound}</version></query>"
        );
        assert_eq!(read(&xml).unwrap().version, at_bound);
    }

    #[test]
    fn asked_only_of_esession_clients_that_answer_versions() {
        let info = |features: &[&str]| {
            let mut q = Element::new("query", crate::caps::NS_DISCO_INFO);
            for f in features {
                q.push(Element::new("feature", crate::caps::NS_DISCO_INFO).with_attr("var", *f));
            }
            q
        };
        assert!(worth_asking(&info(&[ns::ESESSION, NS_VERSION])));
        assert!(!worth_asking(&info(&[ns::ESESSION])));
        assert!(!worth_asking(&info(&[NS_VERSION, ns::SSN])));
        assert!(!worth_asking(&info(&[])));
        // A feature in another namespace is not a disco#info feature.
        let mut q = info(&[ns::ESESSION]);
        q.push(Element::new("feature", "urn:other").with_attr("var", NS_VERSION));
        assert!(!worth_asking(&q));
    }
}
