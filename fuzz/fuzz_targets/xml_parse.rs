//! `parse_element` (default limits) on arbitrary input: never panics; whatever parses
//! serializes (profile P9 serializer) to a document that reparses to an equal tree.
//! `parse_fragment` (the XEP-0200 §8 plaintext path) is fed the same input.
#![no_main]
use esession::xml::{ns, parse_element, parse_fragment, Limits, Node};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(el) = parse_element(input, &limits) {
        let out = el.to_string();
        let again = parse_element(&out, &limits)
            .unwrap_or_else(|e| panic!("serialized tree does not reparse ({e}): {out:?}"));
        assert_eq!(
            again, el,
            "round trip changed the tree; serialized: {out:?}"
        );
        // The serializer is a fixed point on its own output.
        assert_eq!(again.to_string(), out);
    }
    if let Ok(nodes) = parse_fragment(input, ns::JABBER_CLIENT, &limits) {
        // A fragment never escapes its wrapper: every element is a child of it.
        for n in &nodes {
            if let Node::Element(e) = n {
                let _ = e.to_string();
            }
        }
    }
});
