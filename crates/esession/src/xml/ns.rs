//! Namespace names, byte for byte as the XEPs define them (spec-digest A31).

/// The client stream namespace: a stanza's default namespace.
pub const JABBER_CLIENT: &str = "jabber:client";
/// XEP-0020 feature negotiation wrapper of negotiation messages 1–3.
pub const FEATURE_NEG: &str = "http://jabber.org/protocol/feature-neg";
/// XEP-0004 data forms.
pub const DATA: &str = "jabber:x:data";
/// XEP-0155 SSN FORM_TYPE and disco feature.
pub const SSN: &str = "urn:xmpp:ssn";
/// XEP-0116 disco feature and field registry.
pub const ESESSION: &str = "http://www.xmpp.org/extensions/xep-0116.html#ns";
/// XEP-0116 §4.7.4: wrapper of message 4.
pub const ESESSION_INIT: &str = "http://www.xmpp.org/extensions/xep-0116.html#ns-init";
/// XEP-0200 `<c/>`.
pub const STANZA_ENCRYPTION: &str = "http://www.xmpp.org/extensions/xep-0200.html#ns";
/// XEP-0079 advanced message processing.
pub const AMP: &str = "http://jabber.org/protocol/amp";
/// RFC 6120 stanza error conditions.
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// XEP-0203 delayed delivery.
pub const DELAY: &str = "urn:xmpp:delay";
/// XEP-0380 explicit message encryption.
pub const EME: &str = "urn:xmpp:eme:0";
/// XEP-0334 message processing hints.
pub const HINTS: &str = "urn:xmpp:hints";
/// XEP-0280 message carbons.
pub const CARBONS: &str = "urn:xmpp:carbons:2";
/// XEP-0030 disco#info.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
