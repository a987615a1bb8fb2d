//! `esession demo`: two accounts negotiate an ESession over a real local server, and every
//! step is shown, down to what the server saw.
use crate::account::connect_as;
use crate::args::{DemoArgs, Global, Password, Tls};
use crate::fail::Fail;
use crate::identity::KeyUse;
use crate::output::Out;
use crate::server::LocalServer;
use esession::xml::{ns, Element};
use esession::{Config, Event, OsRandom, Random, SessionInfo, Timestamp};
use esession_store::SqliteStore;
use esession_xmpp::{Client, Traced};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

const HELLO_BOB: &str = "Hello Bob! Only you can read this.";
const HELLO_ALICE: &str = "Hello Alice, the server only sees ciphertext.";

type Side = Client<SqliteStore>;

pub(crate) async fn run(global: &Global, args: &DemoArgs, out: Out) -> Result<(), Fail> {
    let mut global = global.clone();
    let mut server = None;
    let (alice_jid, alice_pw, bob_jid, bob_pw) = if global.server.is_some() {
        fn need<T: Clone>(v: &Option<T>, what: &str) -> Result<T, Fail> {
            v.clone()
                .ok_or_else(|| Fail::usage(format!("with --server the demo needs {what}")))
        }
        (
            need(&global.jid, "--jid")?,
            crate::password::password(&global, &need(&global.jid, "--jid")?)?,
            need(&args.peer_jid, "--peer-jid")?,
            need(&args.peer_password, "--peer-password")?,
        )
    } else {
        say(
            out,
            "server",
            "starting a private Prosody on loopback (installing it first if needed)",
        );
        let s = LocalServer::start().await?;
        let tag = random_tag();
        let (a, b) = (format!("alice-{tag}"), format!("bob-{tag}"));
        let (pa, pb) = (Password::from(random_tag()), Password::from(random_tag()));
        s.register(&a, &pa).await?;
        s.register(&b, &pb).await?;
        say(
            out,
            "server",
            &format!(
                "running on {}; created {a}@localhost and {b}@localhost",
                s.addr
            ),
        );
        global.server = Some(s.addr.clone());
        global.tls = Some(Tls::Plain);
        server = Some(s);
        (format!("{a}@localhost"), pa, format!("{b}@localhost"), pb)
    };
    // A private scratch store (random name, mode 0700), removed when dropped: never a
    // predictable shared path (issue 11 §5).
    let scratch = match global.state {
        Some(_) => None,
        None => Some(
            crate::private_dir::create("esession-demo-state-").map_err(|e| {
                Fail::protocol("store", format!("cannot create a private directory: {e}"))
            })?,
        ),
    };
    if let Some(dir) = &scratch {
        global.state = Some(dir.path().to_owned());
    }
    let result = demo(
        &global,
        out,
        (&alice_jid, &alice_pw),
        (&bob_jid, &bob_pw),
        server.as_ref(),
    )
    .await;
    drop(scratch);
    if let Some(s) = server {
        s.stop().await;
        say(out, "server", "stopped");
    }
    result
}

async fn demo(
    global: &Global,
    out: Out,
    alice: (&str, &str),
    bob: (&str, &str),
    server: Option<&LocalServer>,
) -> Result<(), Fail> {
    let mut a = connect_as(
        global,
        alice.0,
        alice.1,
        Config::default(),
        KeyUse::IfStored,
    )
    .await?;
    let mut b = connect_as(global, bob.0, bob.1, Config::default(), KeyUse::IfStored).await?;
    a.record_trace();
    b.record_trace();
    say(out, "alice", &format!("online as {}", a.jid()));
    say(out, "bob", &format!("online as {}", b.jid()));
    let bob_full = b.jid().clone();

    // XEP-0116 §3: discover support first (bob's engine answers while it is pumped).
    let ok = tokio::select! {
        r = a.peer_supports_esessions(&bob_full, Duration::from_secs(10)) => r?,
        _ = keep_reading(&mut b) => false,
    };
    if !ok {
        return Err(Fail::protocol(
            "unsupported",
            "bob does not advertise ESessions",
        ));
    }
    say(
        out,
        "alice",
        "disco#info: bob supports urn:xmpp:ssn and XEP-0116 encrypted sessions",
    );

    let session = a.engine_mut().start(&bob_full, Timestamp::now())?;
    let thread = session.thread();
    say(
        out,
        "alice",
        &format!("starts a negotiation on thread {thread}"),
    );
    let (ia, ib) = until_established(&mut a, &mut b, out).await?;
    show_established(out, "alice", &ia);
    show_established(out, "bob", &ib);
    if ia.sas != ib.sas {
        return Err(Fail::protocol(
            "sas",
            "the two SAS differ: a man in the middle",
        ));
    }
    say(
        out,
        "both",
        "the SAS match: read them to each other to rule out a man in the middle",
    );

    a.engine_mut().send_message(&session, HELLO_BOB)?;
    let got = exchange(&mut a, &mut b, out).await?;
    say(out, "bob", &format!("decrypted: {got:?}"));
    b.engine_mut().send_message(&ib.id, HELLO_ALICE)?;
    let got = exchange(&mut b, &mut a, out).await?;
    say(out, "alice", &format!("decrypted: {got:?}"));

    a.engine_mut().terminate(&session, Timestamp::now())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ended = 0;
    while ended < 2 && Instant::now() < deadline {
        for (side, c) in [("alice", &mut a), ("bob", &mut b)] {
            if let Some(Event::Terminated { by, .. }) =
                c.next_event(Duration::from_millis(50)).await?
            {
                ended += 1;
                say(
                    out,
                    side,
                    &format!("session terminated (by {by:?}), keys destroyed"),
                );
            }
            narrate(out, side, c.take_trace());
        }
    }
    if ended < 2 {
        return Err(Fail::protocol(
            "timeout",
            "the termination was not acknowledged",
        ));
    }
    if let Some(server) = server {
        server_view(out, server, thread)?;
    }
    let _ = a.shutdown(Duration::from_secs(2)).await;
    let _ = b.shutdown(Duration::from_secs(2)).await;
    say(out, "demo", "done");
    Ok(())
}

fn random_tag() -> String {
    let mut raw = [0u8; 6];
    OsRandom.fill(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn say(out: Out, who: &str, text: &str) {
    out.emit(
        json!({"event": "step", "who": who, "text": text}),
        &format!("[{who:>6}] {text}"),
    );
}

fn show_established(out: Out, who: &str, i: &SessionInfo) {
    say(
        out,
        who,
        &format!(
            "established with {}: SAS {} ({}{}, MODP group {}, retained secret: {})",
            i.peer,
            i.sas.as_deref().unwrap_or("-"),
            i.sas_alg.map_or("no SAS", |a| a.name()),
            // Profile P15 "Display": a classic SAS is never shown without its caveat.
            i.sas_alg
                .and_then(|a| a.caveat())
                .map(|c| format!(": {c}"))
                .unwrap_or_default(),
            i.group.unwrap_or_default(),
            i.srs.name()
        ),
    );
}

/// Keeps reading one side's stream (so that it answers disco) until dropped.
async fn keep_reading(c: &mut Side) {
    while c.next_event(Duration::from_secs(1)).await.is_ok() {}
}

/// A one-line description of a stanza that crossed the wire.
fn describe(s: &Element) -> String {
    let form = s
        .child("feature", ns::FEATURE_NEG)
        .and_then(|f| f.child("x", ns::DATA))
        .map(|x| (x.attr("type").unwrap_or("").to_owned(), x));
    if let Some(c) = s.child("c", ns::STANZA_ENCRYPTION) {
        let data = c
            .child("data", ns::STANZA_ENCRYPTION)
            .map(|d| d.text().len())
            .unwrap_or(0);
        if s.attr("type").is_none() {
            return format!("the encrypted SSN terminate form or its acknowledgement ({data} characters of ciphertext)");
        }
        return format!("XEP-0200 encrypted stanza: <c/> with {data} characters of base64 ciphertext and an HMAC");
    }
    if s.child("init", ns::ESESSION_INIT).is_some() {
        return "message 4 <init/>: srshash, Bob's encrypted identity and its MAC".into();
    }
    match form {
        Some((t, _)) if t == "form" => "message 1 (request): offered groups, a hash commitment He per group, nonce".into(),
        Some((t, _)) if t == "submit" => "message 2 (accept): chosen group, d = g^y mod p, nonce, counter".into(),
        Some((t, _)) if t == "result" => "message 3: e (opens the commitment), retained-secret hashes, Alice's encrypted identity and MAC".into(),
        _ => format!("<{}/>", s.name()),
    }
}

fn narrate(out: Out, who: &str, trace: Vec<Traced>) {
    for t in trace
        .iter()
        .filter(|t| t.outgoing && t.stanza.name() == "message")
    {
        say(out, who, &format!("sends {}", describe(&t.stanza)));
    }
}

async fn until_established(
    a: &mut Side,
    b: &mut Side,
    out: Out,
) -> Result<(SessionInfo, SessionInfo), Fail> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut ia, mut ib) = (None, None);
    while (ia.is_none() || ib.is_none()) && Instant::now() < deadline {
        for (who, c, slot) in [("alice", &mut *a, &mut ia), ("bob", &mut *b, &mut ib)] {
            if let Some(ev) = c.next_event(Duration::from_millis(50)).await? {
                narrate(out, who, c.take_trace());
                match ev {
                    Event::Established(i) => *slot = Some(i),
                    Event::Failed { error, .. } => return Err(Fail::from(error)),
                    _ => {}
                }
            }
            narrate(out, who, c.take_trace());
        }
    }
    match (ia, ib) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Fail::protocol(
            "timeout",
            "the negotiation did not complete in 20 s",
        )),
    }
}

/// Flushes `from`'s message and pumps `to` until it decrypts a message.
async fn exchange(from: &mut Side, to: &mut Side, out: Out) -> Result<String, Fail> {
    from.flush().await?;
    for t in from.take_trace().iter().filter(|t| t.outgoing) {
        // What the server relayed may carry anything in its text.
        say(
            out,
            "wire",
            &crate::sanitize::safe(&t.stanza.to_string()).to_string(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(Event::Message {
            body: Some(body),
            encrypted: true,
            ..
        }) = to.next_event(Duration::from_millis(100)).await?
        {
            to.take_trace();
            return Ok(body);
        }
    }
    Err(Fail::protocol("timeout", "the message did not arrive"))
}

/// What the server saw: its full stanza log holds the ciphertext and never the bodies.
fn server_view(out: Out, server: &LocalServer, thread: &str) -> Result<(), Fail> {
    let log = std::fs::read_to_string(&server.log).map_err(|e| {
        Fail::protocol(
            "server",
            format!("cannot read {}: {e}", server.log.display()),
        )
    })?;
    let stanzas = log.lines().filter(|l| l.contains(thread)).count();
    let ciphertexts = log
        .lines()
        .filter(|l| l.contains(thread) && l.contains("<data>"))
        .count();
    say(
        out,
        "server",
        &format!(
            "its full stanza log has {stanzas} lines on this thread, {ciphertexts} with ciphertext"
        ),
    );
    for body in [HELLO_BOB, HELLO_ALICE] {
        if log.contains(body) {
            return Err(Fail::protocol(
                "leak",
                format!("the server log contains the plaintext {body:?}"),
            ));
        }
    }
    say(
        out,
        "server",
        "searched its log for both messages: no plaintext anywhere, only ciphertext",
    );
    Ok(())
}
