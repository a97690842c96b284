//! The conformance kit (in progress in this commit).
