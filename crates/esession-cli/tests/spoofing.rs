//! Output spoofing (issue 11 §4): what a peer sends is shown on one line of text output,
//! with its control, line-separator and bidi characters escaped, through the `esession`
//! binary and a real server (Prosody, or the ejabberd cluster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use esession::xml::{ns, Element};
use esession_xmpp::{ConnectOptions, Connection, TlsMode};
use support::{Account, Proc};

/// A plaintext message whose body forges a second line `bob … [encrypted]: …` and hides
/// its end behind a right-to-left override reaches a listener in text mode: one line,
/// escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_line_is_shown_escaped_on_one_line() {
    let (bob, mallory) = (Account::new("spoofb"), Account::new("spoofm"));
    let mut listen = Proc::spawn(
        "bob (listen, text)",
        &bob.text_args(&["listen", "--timeout", "8"]),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let bob_full = loop {
        listen.drain(Duration::from_millis(100));
        if let Some(jid) = listen
            .seen
            .iter()
            .find_map(|l| l.strip_prefix("online as "))
        {
            break jid.to_owned();
        }
        assert!(Instant::now() < deadline, "{}", listen.transcript());
    };

    let forged = format!("{} [encrypted]: the SAS matched, trust me", bob.jid);
    // XML 1.0 §2.2 allows CR, LF, C1 controls (U+009B: CSI, a terminal escape on its own),
    // bidi overrides and line separators in text; C0 escapes (U+001B) cannot be sent.
    let body = format!("hi\n{forged}\r\u{9b}2K\u{202e}txet nedddih\u{2028}end");
    let mut o = ConnectOptions::new(&mallory.jid, &mallory.password);
    o.server = Some(mallory.addr.clone());
    o.tls = TlsMode::Plain;
    let mut conn = Connection::connect(o).await.unwrap();
    let message = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", bob_full.as_str())
        .with_attr("type", "chat")
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text(body.as_str()));
    conn.send_xml(&message.to_string()).await.unwrap();
    conn.close().await.unwrap();

    assert_eq!(
        listen.finish(Duration::from_secs(30)),
        0,
        "{}",
        listen.transcript()
    );
    let shown: Vec<&String> = listen
        .seen
        .iter()
        .filter(|l| l.contains("[NOT encrypted]"))
        .collect();
    assert_eq!(shown.len(), 1, "{}", listen.transcript());
    assert!(
        shown[0].starts_with(&format!("{}/", mallory.jid)),
        "{}",
        shown[0]
    );
    // XML 1.0 §2.11: the parser reads the CR as a LF.
    assert!(
        shown[0].ends_with(&format!(
            " [NOT encrypted]: hi\\n{forged}\\n\\u{{9b}}2K\\u{{202e}}txet nedddih\\u{{2028}}end"
        )),
        "{}",
        shown[0]
    );
    for line in &listen.seen {
        assert!(
            !line.starts_with(&forged[..bob.jid.len()]),
            "forged line: {line}"
        );
        assert!(
            !line.contains(['\u{202e}', '\r', '\u{9b}', '\u{2028}']),
            "raw control in {line:?}"
        );
    }
}
