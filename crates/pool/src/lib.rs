//! gangway-pool (work in progress)
pub mod rt;
