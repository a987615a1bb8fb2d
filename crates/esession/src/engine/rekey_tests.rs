//! Engine-level re-key tests (XEP-0200 §9, §10; profile P13).
