//! Placeholder until the Redis benchmark lands.
#![allow(missing_docs)]
fn main() {}
