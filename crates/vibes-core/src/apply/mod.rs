//! Applying plans.
