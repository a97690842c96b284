//! Beam's standard coders, byte for byte.
//!
//! A Beam runner moves elements between workers as bytes, and reads some of those bytes itself
//! (keys to group by, windows, timestamps, the restriction's size). Every coder here encodes
//! exactly as Beam's Java, Python and Go SDKs do; `tests/standard_coders.rs` checks each one
//! against every case of `standard_coders.yaml` as shipped in the apache-beam release.
//!
//! # Two ways to use them
//!
//! - **Typed**, for the data plane: [`VarInt`], [`Bytes`], [`Kv`]`<K, V>`,
//!   [`WindowedValueCoder`]`<W, C>`, … compose into a coder whose [`Coder::Value`] is a plain
//!   Rust type, with no allocation beyond the value's own.
//! - **Dynamic**, for what the runner describes at run time: [`AnyCoder::from_proto`] builds
//!   the coder a `Coder` proto names (its URN and components) and codes [`Value`]s. It is built
//!   from the typed coders, so both are the same code.
//!
//! Our own element, restriction and watermark-state types travel as [`SerdeJson`] inside
//! `beam:coder:length_prefix:v1`, which every runner can carry without understanding it.
//!
//! # Contexts
//!
//! Beam encodes a value in one of two [`Context`]s. In the *nested* context a value is followed
//! by others, so a variable-length value (bytes, a string) carries its length; in the *outer*
//! context it is the last thing in its buffer and takes the rest. A composite passes `Nested`
//! to every component but the last, which gets its own context (Beam's rule). Elements on the
//! Fn API's data stream are nested.
//!
//! # Timestamps
//!
//! Beam's wire timestamps are milliseconds since the epoch ([`Instant`]); windows' bounds too.

mod compound;
mod dynamic;
mod error;
mod primitive;
mod serde_json_coder;
pub mod urn;
mod window;
mod windowed;

pub use compound::{
    Iterable, IterableCoder, Kv, LengthPrefix, Nullable, ShardedKey, ShardedKeyCoder,
    StateBackedIterable,
};
pub use dynamic::{AnyCoder, AnyWindowCoder, Value, Window};
pub use error::CoderError;
pub use primitive::{Bool, Bytes, Double, StringUtf8, VarInt, read_varint, write_varint};
pub use serde_json_coder::SerdeJson;
pub use window::{
    CustomWindow, GlobalWindow, GlobalWindowCoder, Instant, IntervalWindow, IntervalWindowCoder,
    PaneInfo, Timing, WindowCoder,
};
pub use windowed::{
    ParamWindowedValue, Timer, TimerCoder, TimerFiring, WindowedValue, WindowedValueCoder,
};

/// Where a value sits in its buffer; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Other values follow: variable-length values carry their length.
    Nested,
    /// The value takes the rest of the buffer.
    Outer,
}

/// Encodes and decodes values of one type as Beam does.
///
/// # Contract
///
/// - `decode(encode(v, c), c) == v` for every value `v` the coder accepts and both contexts,
///   and `decode` consumes exactly the bytes `encode` wrote.
/// - `encode` fails only for a value the coder cannot represent (a dynamic [`Value`] of the
///   wrong shape, a window that a parameterized coder does not carry); it never truncates or
///   rounds.
/// - `decode` fails with a [`CoderError`] on truncated or malformed input, never panics, and
///   leaves `input` unspecified after an error.
pub trait Coder: Send + Sync {
    /// What the coder codes.
    type Value;

    /// Appends the encoding of `value` in `context` to `out`.
    fn encode(
        &self,
        value: &Self::Value,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError>;

    /// Decodes one value in `context` from the front of `input`, advancing it.
    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Self::Value, CoderError>;

    /// Encodes `value` alone, in the outer context.
    fn encode_to_vec(&self, value: &Self::Value) -> Result<Vec<u8>, CoderError> {
        let mut out = Vec::new();
        self.encode(value, Context::Outer, &mut out)?;
        Ok(out)
    }

    /// Decodes a value that is the whole of `bytes` (the outer context): bytes left over are an
    /// error.
    fn decode_all(&self, bytes: &[u8]) -> Result<Self::Value, CoderError> {
        let mut input = bytes;
        let value = self.decode(&mut input, Context::Outer)?;
        if !input.is_empty() {
            return Err(CoderError::Trailing {
                coder: "outer value",
                left: input.len(),
            });
        }
        Ok(value)
    }
}

/// Takes `n` bytes from the front of `input`.
pub(crate) fn take<'a>(
    input: &mut &'a [u8],
    n: usize,
    coder: &'static str,
) -> Result<&'a [u8], CoderError> {
    if input.len() < n {
        return Err(CoderError::Truncated {
            coder,
            needed: n - input.len(),
        });
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

#[cfg(test)]
mod tests;
