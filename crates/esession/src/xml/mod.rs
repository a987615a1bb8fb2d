//! XML model.
