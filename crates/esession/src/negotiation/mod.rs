//! XEP-0155 stanza session negotiation carrying the XEP-0116 4-message ESession
//! negotiation as XEP-0217 profiles it.
pub(crate) mod context;
pub(crate) mod established;
pub(crate) mod fields;
pub(crate) mod identity;
pub(crate) mod initiator;
pub(crate) mod responder;
pub(crate) mod retained;
#[cfg(test)]
mod sas_tests;
pub(crate) mod stanza;
pub(crate) mod terms;
