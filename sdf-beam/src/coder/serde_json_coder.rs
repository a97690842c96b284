//! Our own types on a Beam runner: serde, as JSON.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Coder, CoderError, Context, LengthPrefix};

/// A serde type as its JSON text (`sdf:coder:serde_json:v1`), the same text the embedded
/// runtime's checkpoints hold (floats round-trip exactly).
///
/// A runner does not know this coder: it always travels inside
/// `beam:coder:length_prefix:v1` ([`SerdeJson::length_prefixed`]), which runners carry as
/// opaque bytes. The JSON takes the outer context whole; nested, it is length-prefixed.
pub struct SerdeJson<T>(PhantomData<fn() -> T>);

impl<T> SerdeJson<T> {
    /// The coder.
    pub fn new() -> Self {
        SerdeJson(PhantomData)
    }

    /// The coder inside a length prefix, as it goes on the wire.
    pub fn length_prefixed() -> LengthPrefix<Self> {
        LengthPrefix(Self::new())
    }
}

impl<T> Default for SerdeJson<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for SerdeJson<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for SerdeJson<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SerdeJson<{}>", std::any::type_name::<T>())
    }
}

impl<T: Serialize + DeserializeOwned> Coder for SerdeJson<T> {
    type Value = T;

    fn encode(&self, v: &T, context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        match context {
            Context::Outer => {
                serde_json::to_writer(&mut *out, v).map_err(|e| CoderError::Unrepresentable {
                    coder: "serde_json",
                    value: format!("a {} ({e})", std::any::type_name::<T>()),
                })
            }
            Context::Nested => LengthPrefix(Self::new()).encode(v, Context::Nested, out),
        }
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<T, CoderError> {
        match context {
            Context::Outer => {
                let value = serde_json::from_slice(input).map_err(|e| {
                    CoderError::malformed(
                        "serde_json",
                        format!("{e} (decoding {})", std::any::type_name::<T>()),
                    )
                })?;
                *input = &input[input.len()..];
                Ok(value)
            }
            Context::Nested => LengthPrefix(Self::new()).decode(input, Context::Nested),
        }
    }
}
