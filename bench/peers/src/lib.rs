//! Empty: this crate holds only the `peers` bench (`benches/peers.rs`).
