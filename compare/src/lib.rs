//! Only a benchmark: `cargo bench` (see docs/benchmarks.md).
