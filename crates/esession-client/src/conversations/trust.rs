//! Verifying and trusting a contact: the SAS (XEP-0116 §7.3, profile P15), the shield,
//! and the public keys presented in sessions (XEP-0116 `key`/`hash`, profile P8).
use super::*;

impl Conversations {
    /// Compares the SAS the user heard from `bare` with the current session's (XEP-0116
    /// §7.3): `Ok(true)` marks it verified, `Ok(false)` is a possible man in the middle.
    pub fn verify<S: SecretStore>(
        &mut self,
        engine: &mut Engine<S>,
        bare: &str,
        sas: &str,
    ) -> Result<bool, String> {
        let session = self
            .convs
            .get(jid::bare(bare))
            .and_then(Conversation::current)
            .ok_or_else(|| format!("no established session with {bare}"))?;
        sessions::verify(engine, session, sas).map_err(|e| e.to_string())
    }

    /// The shield of the conversation with `bare`.
    pub fn shield<S: SecretStore>(&self, engine: &Engine<S>, bare: &str) -> Shield {
        self.session_info(engine, bare)
            .map_or(Shield::NotEncrypted, |i| Shield::of(&i))
    }

    /// The summary of the current session with `bare`, with the contact's key marked
    /// trusted as the store says now: a key the user trusted during the session counts at
    /// once, if `bare` alone presented it. A key other JIDs presented too keeps the
    /// engine's judgement of the session (XEP-0116 §7.4, `esession::trust::assess`: trust
    /// given to a key reaches a new JID only after it presented the key in an earlier
    /// session, and the shared key is alerted every time).
    pub fn session_info<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        bare: &str,
    ) -> Option<SessionInfo> {
        let bare = jid::bare(bare);
        let mut info = self
            .convs
            .get(bare)
            .and_then(Conversation::current)
            .and_then(|s| sessions::info(engine, s))?;
        let stored = self.stored_key(engine, &info);
        if let (Some(key), Some(stored)) = (info.peer_key.as_mut(), stored) {
            key.trusted |= stored.trusted && stored.jids.iter().all(|s| s.jid == bare);
            key.petname = stored.petname;
        }
        Some(info)
    }

    /// What the store knows of the key presented in session `info` (its trust and
    /// petname, XEP-0116 §7.3–7.4).
    pub(super) fn stored_key<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        info: &SessionInfo,
    ) -> Option<KnownKey> {
        let key = info.peer_key.as_ref()?;
        let fp = Fingerprint::from_b64(&key.fingerprint).ok()?;
        engine
            .store()
            .known_key(&self.own_bare, fp.as_bytes())
            .ok()?
    }

    /// Marks the key the contact presented in the current session with `bare` trusted
    /// for it, after the user compared its fingerprint out of band (XEP-0116 §7.3);
    /// returns the fingerprint. With `expected` (the fingerprint the user compared, in
    /// Base64, spaces ignored), only a key with that fingerprint is trusted: the session
    /// current now may not be the one whose key the user read (another was adopted
    /// meanwhile).
    ///
    /// # Errors
    /// No established session, no key presented in it, another fingerprint than
    /// `expected`, or the store refused.
    pub fn trust<S: SecretStore>(
        &self,
        engine: &mut Engine<S>,
        bare: &str,
        expected: Option<&str>,
    ) -> Result<String, String> {
        let (fp, b64) = self.presented_key(engine, bare, "trust")?;
        if let Some(expected) = expected {
            let typed: String = expected.chars().filter(|c| !c.is_whitespace()).collect();
            if typed != b64 {
                return Err(format!(
                    "the key {bare} presents now has another fingerprint ({b64}) than the \
                     one given: compare it again (/fp)"
                ));
            }
        }
        engine
            .store_mut()
            .set_trusted(&self.own_bare, fp.as_bytes(), true)
            .map_err(|e| e.to_string())?;
        Ok(b64)
    }

    /// Gives the key `bare` presented in its current session the petname `petname`, or
    /// removes it (`None`) (XEP-0116 §7.4: the name a person knows the key by, shown
    /// before the JID). A petname that could fake a line or a lock on a terminal is
    /// refused by the store ([`esession::trust::check_petname`]). Returns the key's
    /// fingerprint.
    pub fn rename<S: SecretStore>(
        &self,
        engine: &mut Engine<S>,
        bare: &str,
        petname: Option<&str>,
    ) -> Result<String, String> {
        let (fp, b64) = self.presented_key(engine, bare, "name")?;
        let known = engine
            .store_mut()
            .set_petname(&self.own_bare, fp.as_bytes(), petname)
            .map_err(|e| e.to_string())?;
        known
            .then_some(b64)
            .ok_or_else(|| format!("the key {bare} presented is not in the store"))
    }

    /// The key `bare` presented in its current session (fingerprint, in Base64), or why
    /// there is none to `what`.
    pub(super) fn presented_key<S: SecretStore>(
        &self,
        engine: &Engine<S>,
        bare: &str,
        what: &str,
    ) -> Result<(Fingerprint, String), String> {
        let info = self
            .session_info(engine, bare)
            .ok_or_else(|| format!("no established session with {bare}"))?;
        let key = info.peer_key.ok_or_else(|| {
            format!("{bare} presented no public key in this session: nothing to {what}")
        })?;
        let fp = Fingerprint::from_b64(&key.fingerprint).map_err(|e| e.to_string())?;
        Ok((fp, key.fingerprint))
    }
}
