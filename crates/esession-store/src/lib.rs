//! esession-store
