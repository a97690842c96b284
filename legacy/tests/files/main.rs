//! `FileBasedSource` on real temporary files: the text format's edge cases, patterns,
//! compression, the source test utilities and sdf-core's kit, and every error case.

mod blocks;
mod errors;
mod source;
mod temp;
mod text;
