//! Cryptographic primitives: MODP groups, mpi(), KDF, CTR+HMAC, SAS, constant-time helpers.
