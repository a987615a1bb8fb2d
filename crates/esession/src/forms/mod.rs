//! XEP-0004 data forms: a model that parses from and serializes to XML.
//!
//! MAC inputs are never computed from this model: they come from the received XML through
//! [`crate::xml::normalize_form_content`] (profile P4).
mod field;
mod form;

pub use field::{Field, FieldType, FormOption};
pub use form::{Form, FormError, FormType};
