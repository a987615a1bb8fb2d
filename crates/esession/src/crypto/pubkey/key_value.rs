//! The xmldsig `<KeyValue/>` element (XEP-0116 §4.5.4, profile P8): reading the integers of
//! a received one, and building one with the children in the P8 order.
use super::error::short_name;
use super::{KeyError, MAX_KEY_BITS, XMLDSIG_NS};
use crate::crypto::mpi;
use crate::xml::{Element, Node};

/// The RSA key element and its children in the P8 (xmldsig) order.
pub(super) const RSA_KEY: &str = "RSAKeyValue";
/// Profile P8: `<Modulus/>` then `<Exponent/>`.
pub(super) const RSA_PARTS: [&str; 2] = ["Modulus", "Exponent"];
/// The DSA key element.
pub(super) const DSA_KEY: &str = "DSAKeyValue";
/// Profile P8: exactly `<P/>`, `<Q/>`, `<G/>`, `<Y/>`, in this order.
pub(super) const DSA_PARTS: [&str; 4] = ["P", "Q", "G", "Y"];

/// The longest text accepted in one component before decoding: the base64 of a
/// [`MAX_KEY_BITS`] integer is 1368 characters; the rest leaves room for white space and
/// leading zero octets while bounding the work done on hostile input.
const MAX_TEXT: usize = 4096;

/// The integers of a received key, each as its minimal big-endian octets (`mpi`, P2).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum KeyInts {
    /// Modulus, Exponent.
    Rsa([Vec<u8>; 2]),
    /// P, Q, G, Y.
    Dsa([Vec<u8>; 4]),
}

/// Reads a received `<KeyValue/>`: exactly one RSAKeyValue (Modulus, Exponent) or
/// DSAKeyValue (P, Q, G, Y) of base64 integers (P8). The element is in the xmldsig
/// namespace, or in none as in its P4 text (P4 drops `xmlns`); its descendants share its
/// namespace. Leading zero octets of a value are accepted and dropped (XEP-0116 §6.1 reads
/// the value as an integer). Only the form is checked here, not the key.
pub(super) fn parse(el: &Element) -> Result<KeyInts, KeyError> {
    let ns = el.ns();
    if el.name() != "KeyValue" || !(ns == XMLDSIG_NS || ns.is_empty()) {
        return Err(KeyError::NotKeyValue {
            name: short_name(el.name()),
            ns: short_name(ns),
        });
    }
    let mut key: Option<&Element> = None;
    for child in element_children(el, "KeyValue")? {
        if child.ns() != ns || (child.name() != RSA_KEY && child.name() != DSA_KEY) {
            return Err(KeyError::UnexpectedElement {
                parent: "KeyValue",
                child: short_name(child.name()),
            });
        }
        if key.replace(child).is_some() {
            return Err(KeyError::SeveralKeyValues);
        }
    }
    let key = key.ok_or(KeyError::NoKeyValue)?;
    if key.name() == RSA_KEY {
        Ok(KeyInts::Rsa(components(key, RSA_KEY, &RSA_PARTS)?))
    } else {
        Ok(KeyInts::Dsa(components(key, DSA_KEY, &DSA_PARTS)?))
    }
}

/// Builds `<KeyValue><{key}><{name}>B64(mpi(value))</{name}>…</{key}></KeyValue>` in the
/// xmldsig namespace, children in the order given (P8).
pub(super) fn build(key: &'static str, parts: &[(&'static str, &[u8])]) -> Element {
    let mut inner = Element::new(key, XMLDSIG_NS);
    for (name, value) in parts {
        // Profile P8: the values are B64(mpi(..)).
        inner.push(Element::new(*name, XMLDSIG_NS).with_text(crate::b64::encode(mpi(value))));
    }
    Element::new("KeyValue", XMLDSIG_NS).with_child(inner)
}

/// The child elements of `el`, refusing character data other than white space between
/// them (P4 rule 1 drops only white space, so other text would enter the MAC input).
fn element_children<'a>(el: &'a Element, what: &'static str) -> Result<Vec<&'a Element>, KeyError> {
    let mut out = Vec::new();
    for node in el.nodes() {
        match node {
            Node::Element(child) => out.push(child),
            Node::Text(t) if crate::xml::is_xml_whitespace(t) => {}
            Node::Text(_) => return Err(KeyError::UnexpectedText(what)),
        }
    }
    Ok(out)
}

/// The values of the children `names` of `key_el`, each exactly once, in that order.
fn components<const N: usize>(
    key_el: &Element,
    key: &'static str,
    names: &[&'static str; N],
) -> Result<[Vec<u8>; N], KeyError> {
    let mut values: [Option<Vec<u8>>; N] = std::array::from_fn(|_| None);
    let mut order = Vec::with_capacity(N);
    for child in element_children(key_el, key)? {
        let idx = names
            .iter()
            .position(|n| child.name() == *n && child.ns() == key_el.ns())
            .ok_or_else(|| KeyError::UnexpectedElement {
                parent: key,
                child: short_name(child.name()),
            })?;
        let (slot, component) =
            values
                .get_mut(idx)
                .zip(names.get(idx))
                .ok_or(KeyError::UnexpectedElement {
                    parent: key,
                    child: short_name(child.name()),
                })?;
        if slot.is_some() {
            return Err(KeyError::DuplicateComponent { key, component });
        }
        *slot = Some(integer(component, child)?);
        order.push(idx);
    }
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    for ((value, out), component) in values.into_iter().zip(out.iter_mut()).zip(names) {
        *out = value.ok_or(KeyError::MissingComponent { key, component })?;
    }
    // Every component is present exactly once; the xmldsig schema fixes their order (P8).
    let misplaced = order
        .iter()
        .enumerate()
        .find_map(|(pos, &idx)| (pos != idx).then(|| names.get(idx)).flatten());
    if let Some(&component) = misplaced {
        return Err(KeyError::ComponentOrder {
            key,
            component,
            expected: names.join(", "),
        });
    }
    Ok(out)
}

/// The integer in leaf element `el` (component `component`): base64 (white space
/// tolerated, spec-digest §2.3) of a big-endian integer, returned as `mpi` octets.
fn integer(component: &'static str, el: &Element) -> Result<Vec<u8>, KeyError> {
    if let Some(child) = el.children().next() {
        return Err(KeyError::UnexpectedElement {
            parent: component,
            child: short_name(child.name()),
        });
    }
    let text = el.text();
    if text.len() > MAX_TEXT {
        return Err(KeyError::ComponentTooLarge {
            component,
            len: text.len(),
            max_bits: MAX_KEY_BITS,
        });
    }
    let bytes = crate::b64::decode(component, &text).map_err(|_| KeyError::BadBase64(component))?;
    if bytes.is_empty() {
        return Err(KeyError::EmptyComponent(component));
    }
    let value = mpi(&bytes);
    if value.len() * 8 > MAX_KEY_BITS {
        return Err(KeyError::ComponentTooLarge {
            component,
            len: value.len(),
            max_bits: MAX_KEY_BITS,
        });
    }
    Ok(value.to_vec())
}

/// The number of significant bits of the big-endian integer `be`.
pub(super) fn bit_len(be: &[u8]) -> usize {
    let v = mpi(be);
    match v.first() {
        Some(&first) => v.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}
