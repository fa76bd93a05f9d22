//! Nothing here: the crate exists for its test, `tests/tower_client.rs`.
