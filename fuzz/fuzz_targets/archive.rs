//! The XEP-0136 answers a server sends back (hostile input): `<chat/>` collections (§7.2),
//! `<list/>` pages (§7.1), `<pref/>` (§2), `<save/>` answers (§5.2) and the archive-key
//! record (private storage). Invariants: no parser panics; a parsed collection whose
//! entries are all non-empty uploads again (`save_request`) and that upload, through its
//! text form, parses back to the same collection (the server's `version` aside); a parsed
//! list's collections have valid start times, as a parsed collection does.
#![no_main]
use esession::archive::{parse_list, parse_saved, ArchiveKeyInfo, Collection, Prefs};
use esession::xml::{parse_element, Limits};
use esession::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(el) = parse_element(text, &limits) else {
        return;
    };
    let _ = Prefs::parse(&el);
    let _ = parse_saved(&el);
    let _ = ArchiveKeyInfo::parse_answer(&el);
    if let Ok((collections, _)) = parse_list(&el) {
        for c in &collections {
            assert!(
                Timestamp::is_datetime(&c.start),
                "listed start {:?}",
                c.start
            );
        }
    }
    let Ok((collection, _)) = Collection::parse(&el) else {
        return;
    };
    assert!(Timestamp::is_datetime(&collection.start));
    if collection.with.is_empty() || collection.entries.iter().any(|e| e.body.is_empty()) {
        return;
    }
    let save = collection
        .save_request()
        .expect("a parsed collection with bodies uploads again");
    let again = parse_element(&save.to_string(), &limits).expect("our upload parses");
    let chat = again
        .children()
        .next()
        .expect("the upload carries its <chat/>");
    let (reparsed, _) = Collection::parse(chat).expect("our upload's <chat/> parses");
    let mut want = collection;
    want.version = None;
    assert_eq!(reparsed, want, "upload of {text:?}");
});
