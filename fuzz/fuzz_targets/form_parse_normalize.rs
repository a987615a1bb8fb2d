//! Data forms (XEP-0004) from arbitrary XML: parse, `Form::parse` on the root and on every
//! element in the tree, and the P4 normalization (`normalize_form_content`,
//! `Element::normalized`). Normalization must be deterministic, and must not change when
//! the element is serialized and parsed again (a server re-serializing a stanza must not
//! change a MAC input). A parsed form must survive `to_element` and `Form::parse`.
#![no_main]
use esession::forms::Form;
use esession::xml::{normalize_form_content, parse_element, Limits};
use esession::Element;
use libfuzzer_sys::fuzz_target;

const NOT_MACED: [&str; 2] = ["identity", "mac"];

fn visit(el: &Element, depth: usize, f: &mut impl FnMut(&Element)) {
    f(el);
    if depth < 64 {
        for c in el.children() {
            visit(c, depth + 1, f);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(root) = parse_element(input, &limits) else {
        return;
    };
    visit(&root, 0, &mut |x| {
        let n1 = normalize_form_content(x, &NOT_MACED);
        let n2 = normalize_form_content(x, &NOT_MACED);
        assert_eq!(n1, n2, "normalize_form_content is not deterministic");
        let all = normalize_form_content(x, &[]);
        assert!(
            all.len() >= n1.len(),
            "excluding fields made the normalization longer"
        );
        let whole = x.normalized();
        assert_eq!(whole, x.normalized(), "normalized() is not deterministic");

        let reparsed = parse_element(&x.to_string(), &limits)
            .unwrap_or_else(|e| panic!("serialized subtree does not reparse: {e}"));
        assert_eq!(
            normalize_form_content(&reparsed, &NOT_MACED),
            n1,
            "normalization changed across serialize + parse"
        );
        assert_eq!(reparsed.normalized(), whole);

        if let Ok(form) = Form::parse(x) {
            let rebuilt = form.to_element();
            let back = Form::parse(&rebuilt)
                .unwrap_or_else(|e| panic!("serialized form does not parse: {e}: {rebuilt}"));
            assert_eq!(
                back, form,
                "form changed across to_element + parse: {rebuilt}"
            );
            let _ = form.form_type();
        }
    });
});
