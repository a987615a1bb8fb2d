//! The XML model the engine works on: an element tree that keeps document order and
//! exact text, a bounded parser for hostile input, the stanza serializer of profile P9
//! and the MAC/signature normalization of profile P4.
mod element;
mod escape;
mod normalize;
pub mod ns;
mod parse;
mod serialize;

pub(crate) use element::Attrs;
pub use element::{Element, Node};
pub use normalize::normalize_form_content;
pub(crate) use normalize::{
    has_xml_space, is_xml_space, is_xml_whitespace, normalize_form_content_as, EmptyElements,
};
pub use parse::{known, parse_element, parse_fragment, Limits, XmlError};
