//! Hostile-peer tests: a scriptable man in the middle ([`mallory::Mallory`]) and a
//! misbehaving peer that holds real session keys ([`forge::Forger`]) attack the engine;
//! every test asserts the exact outcome on both sides (`docs/hostile-peers.md` lists them).
mod dh;
mod flood;
mod forge;
mod limits;
mod mallory;
mod negotiation;
mod routing;
mod sas_grind;
mod stanzas;
