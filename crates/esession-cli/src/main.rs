//! The esession command-line client.
fn main() {}
