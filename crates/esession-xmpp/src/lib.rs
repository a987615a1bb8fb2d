//! esession-xmpp
