//! gangway (work in progress)
