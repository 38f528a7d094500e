//! The in-memory fake cloud (filled in by the executor work).
