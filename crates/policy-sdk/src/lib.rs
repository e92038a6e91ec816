//! Guest-side SDK for writing kubectl-hooks policies in Rust.
