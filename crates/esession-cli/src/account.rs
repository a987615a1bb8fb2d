//! The account a command acts for: its store, its connection, its session history.
use crate::args::{Global, Password, Tls};
use crate::fail::Fail;
use crate::identity::{self, KeyUse};
use crate::passphrase::{self, PASSPHRASE_ENV};
use esession::IdentityKey;
use esession::{Config, Event, OsRandom, SessionId, SessionInfo, Timestamp};
use esession_store::{SessionRecord, SqliteStore, DEFAULT_MAX_AGE_SECS};
use esession_xmpp::{Client, ConnectOptions, Connection, TlsMode};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The directory for retained secrets and history.
fn state_dir(global: &Global) -> Result<PathBuf, Fail> {
    match &global.state {
        Some(dir) => Ok(dir.clone()),
        None => dirs::data_dir()
            .map(|d| d.join("esession"))
            .ok_or_else(|| Fail::usage("no platform data directory: give --state DIR")),
    }
}

/// Opens the account's store: `<state>/<bare jid>.sqlite` (its device key beside it),
/// destroys expired retained secrets (profile P7), and moves what an older esession sealed
/// with a passphrase under the device key, unlocking it once with `ESESSION_KEY_PASSPHRASE`
/// or else `password` (the account password), as that version did.
pub(crate) fn open_store(
    global: &Global,
    jid: &str,
    password: Option<&str>,
) -> Result<SqliteStore, Fail> {
    let bare = esession::jid::bare(jid);
    if bare.is_empty() || bare.contains(['/', '\\']) || bare.starts_with('.') {
        return Err(Fail::usage(format!("not a usable JID: {jid:?}")));
    }
    let mut store = SqliteStore::open(&state_dir(global)?.join(format!("{bare}.sqlite")))?;
    store.purge_expired(Timestamp::now(), DEFAULT_MAX_AGE_SECS)?;
    if store.legacy_seals(bare)? {
        let unlock_failed = |detail: String| Fail {
            kind: "identity_key",
            ..Fail::usage(format!(
                "{detail}. An older esession sealed the identity key and offline options of \
                 {bare} with {PASSPHRASE_ENV} when set, else the account password: give that \
                 once to move them under this store's device key"
            ))
        };
        let old = passphrase::legacy_passphrase(password)
            .ok_or_else(|| unlock_failed("no passphrase to unlock them".into()))?;
        store
            .reseal_legacy(bare, &old)
            .map_err(|e| unlock_failed(e.to_string()))?;
    }
    Ok(store)
}

/// The account of `--jid` (required).
pub(crate) fn own_jid(global: &Global) -> Result<String, Fail> {
    global
        .jid
        .clone()
        .ok_or_else(|| Fail::usage("--jid is required"))
}

/// Logs the account of `--jid`/`--password` in and builds its engine with `config` and
/// the identity key as `key` asks.
pub(crate) async fn connect(
    global: &Global,
    config: Config,
    key: KeyUse,
) -> Result<Client<SqliteStore>, Fail> {
    connect_own(global, config, key, true, &[]).await
}

/// As [`connect`], but without initial presence: the server then delivers no stored
/// (offline) messages to this session (profile P11: commands that only publish or fetch,
/// and `listen` until it has withdrawn its subscriber options).
pub(crate) async fn connect_without_presence(
    global: &Global,
    config: Config,
    key: KeyUse,
) -> Result<Client<SqliteStore>, Fail> {
    connect_own(global, config, key, false, &[]).await
}

/// Logs in, sending initial presence if `presence` and advertising `features` beside the
/// ESession ones.
async fn connect_own(
    global: &Global,
    config: Config,
    key: KeyUse,
    presence: bool,
    features: &[&str],
) -> Result<Client<SqliteStore>, Fail> {
    let jid = own_jid(global)?;
    let password = crate::password::password(global, &jid)?;
    login(global, &jid, &password, config, key, presence, features).await
}

/// Logs `jid` in with `password` (server, TLS and state from `global`).
pub(crate) async fn connect_as(
    global: &Global,
    jid: &str,
    password: &str,
    config: Config,
    key: KeyUse,
) -> Result<Client<SqliteStore>, Fail> {
    login(global, jid, password, config, key, true, &[]).await
}

/// Logs `jid` in, sending initial presence if `presence` and advertising `features`
/// beside the ESession ones.
async fn login(
    global: &Global,
    jid: &str,
    password: &str,
    config: Config,
    key: KeyUse,
    presence: bool,
    features: &[&str],
) -> Result<Client<SqliteStore>, Fail> {
    let mut store = open_store(global, jid, Some(password))?;
    // Loaded (or created) before logging in: a wrong passphrase fails without network.
    let identity = identity::load(&mut store, esession::jid::bare(jid), key)?;
    let mut opts = options(global, jid, password);
    opts.send_presence = presence;
    opts.features = features.iter().map(|f| (*f).to_owned()).collect();
    let mut client = Client::connect(opts, config, store, Box::new(OsRandom)).await?;
    client.engine_mut().set_identity_key(identity);
    // Issue 13: the configuration file's per-contact compatibility modes.
    for (bare, mode) in &global.compat {
        client.engine_mut().set_compat(bare, Some(*mode));
    }
    // Precompute DH values in the background: negotiations skip their public values.
    client.enable_dh_pool(DH_POOL_TARGET);
    Ok(client)
}

/// How to reach the server for `jid` (server, TLS, a 10 s bound and whether PLAIN may be
/// used, from `global`).
fn options(global: &Global, jid: &str, password: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new(jid, password);
    opts.server = global.server.clone();
    opts.tls = match global.tls() {
        Tls::Starttls => TlsMode::StartTls,
        Tls::Direct => TlsMode::DirectTls,
        Tls::Plain => TlsMode::Plain,
    };
    opts.timeout = Duration::from_secs(10);
    opts.allow_plain_auth = global.allow_plain_auth;
    // RFC 6120 §4.6.1: a silent link is found by asking the server (esession-xmpp's
    // `Keepalive`); the defaults unless the user set them.
    if let Some(idle) = global.keepalive_idle {
        opts.keepalive.idle = Duration::from_secs(idle);
    }
    if let Some(answer) = global.keepalive_answer {
        opts.keepalive.answer = Duration::from_secs(answer);
    }
    opts
}

/// Logs `jid` in without sending presence (so that no offline stanza is delivered to it)
/// and without an engine.
async fn login_quiet(global: &Global, jid: &str, password: &str) -> Result<Connection, Fail> {
    let mut opts = options(global, jid, password);
    opts.send_presence = false;
    Ok(Connection::connect(opts).await?)
}

/// Logs the account of `--jid`/`--password` in without sending presence (so that no
/// offline stanza is delivered to it) and without an engine, for commands that only talk
/// to the server. Returns the connection and the password.
pub(crate) async fn connect_quiet(global: &Global) -> Result<(Connection, Password), Fail> {
    let jid = own_jid(global)?;
    let password = crate::password::password(global, &jid)?;
    Ok((login_quiet(global, &jid, &password).await?, password))
}

/// The account of `--jid`/`--password` logged in as [`connect_quiet`] does (publishing and
/// fetching keys need no presence, XEP-0163 §3), with its store and its identity key as
/// `key` asks.
pub(crate) struct Offstage {
    /// The connection.
    pub conn: Connection,
    /// The account's store.
    pub store: SqliteStore,
    /// Our bare JID.
    pub own: String,
    /// The identity key, as asked.
    pub identity: Option<IdentityKey>,
}

/// Logs the account in as [`Offstage`] describes.
pub(crate) async fn connect_offstage(global: &Global, key: KeyUse) -> Result<Offstage, Fail> {
    let jid = own_jid(global)?;
    let password = crate::password::password(global, &jid)?;
    let own = esession::jid::bare(&jid).to_owned();
    let mut store = open_store(global, &jid, Some(&password))?;
    // Loaded (or created) before logging in: a wrong passphrase fails without network.
    let identity = identity::load(&mut store, &own, key)?;
    let conn = login_quiet(global, &jid, &password).await?;
    Ok(Offstage {
        conn,
        store,
        own,
        identity,
    })
}

/// Precomputed DH values kept ready per group (see `Client::enable_dh_pool`).
const DH_POOL_TARGET: usize = 2;

/// Keeps the session history (never message bodies) in step with engine events, and the
/// messages of sessions to archive (XEP-0136, uploaded sealed).
#[derive(Default)]
pub(crate) struct History {
    open: HashMap<SessionId, i64>,
    /// XEP-0136: the sessions' messages to upload (off unless enabled).
    pub archive: esession_xmpp::Archiver,
}

impl History {
    /// Records what `ev` says about a session.
    pub(crate) fn note(&mut self, client: &mut Client<SqliteStore>, ev: &Event) {
        self.archive.note(ev);
        let own = client.jid().to_bare().to_string();
        let store = client.engine_mut().store_mut();
        let result = match ev {
            Event::Established(i) => self.start(store, &own, i),
            Event::Terminated { session, .. } => self.finish(store, session, "terminated"),
            Event::Failed { session, error, .. } => {
                self.finish(store, session, error.kind().name())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "session history not updated");
        }
    }

    fn start(
        &mut self,
        store: &mut SqliteStore,
        own: &str,
        i: &SessionInfo,
    ) -> Result<(), esession::StoreError> {
        let rec = SessionRecord {
            own: own.to_owned(),
            peer_full: i.peer.to_string(),
            thread: i.id.thread().to_owned(),
            role: i.role.name().to_owned(),
            started: Timestamp::now(),
            ended: None,
            end_reason: None,
            sas: i.sas.clone().unwrap_or_default(),
            srs: i.srs.name().to_owned(),
            verified: i.verified,
        };
        let id = store.record_session(&rec)?;
        self.open.insert(i.id.clone(), id);
        Ok(())
    }

    fn finish(
        &mut self,
        store: &mut SqliteStore,
        session: &SessionId,
        how: &str,
    ) -> Result<(), esession::StoreError> {
        match self.open.remove(session) {
            Some(id) => store.finish_session(id, Timestamp::now(), how),
            None => Ok(()),
        }
    }
}

/// Seconds allowed for the roster fetch at login.
const LOGIN_STEP: Duration = Duration::from_secs(10);

/// The account of `--jid`/`--password` online in the conversation layer (`jsonrpc`,
/// `tui`): logged in, its roster fetched, its presence sent, its history kept in its
/// store (through a connection of its own). `explicit_logging`: `config.logging` is the
/// user's choice for this program (`--logging`), over the archiving preferences.
pub(crate) async fn online(
    global: &Global,
    config: Config,
    key: KeyUse,
    explicit_logging: bool,
) -> Result<esession_client::Account<SqliteStore>, Fail> {
    // Without presence: the conversation layer sends it after the roster (RFC 6121 §2.2);
    // with its own features (receipts, XEP-0184 §5).
    let client = connect_own(global, config, key, false, &esession_client::FEATURES).await?;
    let log = SqliteStore::open(client.engine().store().path())?;
    let mut account = esession_client::Account::start(client, LOGIN_STEP, explicit_logging).await?;
    account.keep_history(Box::new(log));
    Ok(account)
}

/// [`online`] for the commands run with [`crate::args::JsonrpcArgs`] (`jsonrpc`, `tui`):
/// offline sessions (XEP-0187) only with `--allow-offline`, which also creates our identity
/// key on first use (§3.3: an offline session always presents it).
pub(crate) async fn online_conversations(
    global: &Global,
    args: &crate::args::JsonrpcArgs,
) -> Result<esession_client::Account<SqliteStore>, Fail> {
    let key = if args.allow_offline {
        KeyUse::Create
    } else {
        KeyUse::IfStored
    };
    let config = crate::policy::jsonrpc(global, args);
    let mut account = online(global, config, key, !args.logging.is_empty()).await?;
    account.set_allow_offline(args.allow_offline);
    Ok(account)
}
