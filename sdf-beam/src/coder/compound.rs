//! Coders made of other coders: kv, iterable, length prefix, nullable, sharded key.

use super::primitive::{read_length, read_varint, write_varint};
use super::{Coder, CoderError, Context, take};

/// `beam:coder:kv:v1`: the key nested, then the value in the pair's context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv<K, V>(pub K, pub V);

impl<K: Coder, V: Coder> Coder for Kv<K, V> {
    type Value = (K::Value, V::Value);

    fn encode(
        &self,
        (k, v): &Self::Value,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        self.0.encode(k, Context::Nested, out)?;
        self.1.encode(v, context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Self::Value, CoderError> {
        let k = self.0.decode(input, Context::Nested)?;
        let v = self.1.decode(input, context)?;
        Ok((k, v))
    }
}

/// The marker of an iterable of unknown length, in blocks.
const UNKNOWN_LENGTH: i32 = -1;

/// Decodes the elements of an iterable: a 4-byte big-endian count and that many elements, or
/// -1 and blocks (a varint count, its elements; 0 ends), where a block count of -1 means that
/// the rest is in state, behind the token that follows.
fn decode_elements<C: Coder>(
    element: &C,
    input: &mut &[u8],
    coder: &'static str,
) -> Result<Iterable<C::Value>, CoderError> {
    let count = i32::from_be_bytes(take(input, 4, coder)?.try_into().expect("4 bytes"));
    if count >= 0 {
        // Never trust a count for the allocation: each element takes at least zero bytes.
        let mut elements = Vec::with_capacity((count as usize).min(input.len()));
        for _ in 0..count {
            elements.push(element.decode(input, Context::Nested)?);
        }
        return Ok(Iterable {
            elements,
            continuation: None,
        });
    }
    if count != UNKNOWN_LENGTH {
        return Err(CoderError::malformed(coder, format!("a count of {count}")));
    }
    let mut elements = Vec::new();
    loop {
        match read_varint(input)? {
            0 => {
                return Ok(Iterable {
                    elements,
                    continuation: None,
                });
            }
            -1 => {
                let n = read_length(input, coder)?;
                let token = take(input, n, coder)?.to_vec();
                return Ok(Iterable {
                    elements,
                    continuation: Some(token),
                });
            }
            n if n > 0 => {
                for _ in 0..n {
                    elements.push(element.decode(input, Context::Nested)?);
                }
            }
            n => {
                return Err(CoderError::malformed(
                    coder,
                    format!("a block of {n} elements"),
                ));
            }
        }
    }
}

fn encode_count(n: usize, coder: &'static str, out: &mut Vec<u8>) -> Result<(), CoderError> {
    let n = i32::try_from(n).map_err(|_| CoderError::Unrepresentable {
        coder,
        value: format!("{n} elements (more than 2^31 - 1)"),
    })?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// `beam:coder:iterable:v1`: a count and the elements, each nested. Decodes the blocked form
/// (unknown length) too; a state continuation in it is an error here (see
/// [`StateBackedIterable`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct IterableCoder<C>(pub C);

impl<C: Coder> Coder for IterableCoder<C> {
    type Value = Vec<C::Value>;

    fn encode(
        &self,
        values: &Self::Value,
        _: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        encode_count(values.len(), "iterable", out)?;
        for v in values {
            self.0.encode(v, Context::Nested, out)?;
        }
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<Self::Value, CoderError> {
        match decode_elements(&self.0, input, "iterable")? {
            Iterable {
                elements,
                continuation: None,
            } => Ok(elements),
            Iterable { .. } => Err(CoderError::malformed(
                "iterable",
                "a state continuation in an iterable that is not state-backed",
            )),
        }
    }
}

/// An iterable as a runner sends it: the elements in the bytes and, when the rest is in the
/// runner's state, the token to read it with (through the Fn API's State service).
#[derive(Debug, Clone, PartialEq)]
pub struct Iterable<T> {
    /// The elements carried inline.
    pub elements: Vec<T>,
    /// The state token of the rest, if any.
    pub continuation: Option<Vec<u8>>,
}

/// `beam:coder:state_backed_iterable:v1`: an iterable whose tail may be in state.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateBackedIterable<C>(pub C);

impl<C: Coder> Coder for StateBackedIterable<C> {
    type Value = Iterable<C::Value>;

    fn encode(&self, v: &Self::Value, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        let Some(token) = &v.continuation else {
            encode_count(v.elements.len(), "state_backed_iterable", out)?;
            for e in &v.elements {
                self.0.encode(e, Context::Nested, out)?;
            }
            return Ok(());
        };
        out.extend_from_slice(&UNKNOWN_LENGTH.to_be_bytes());
        if !v.elements.is_empty() {
            write_varint(v.elements.len() as i64, out);
            for e in &v.elements {
                self.0.encode(e, Context::Nested, out)?;
            }
        }
        write_varint(-1, out);
        write_varint(token.len() as i64, out);
        out.extend_from_slice(token);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<Self::Value, CoderError> {
        decode_elements(&self.0, input, "state_backed_iterable")
    }
}

/// `beam:coder:length_prefix:v1`: the value's length as a varint, then the value in the outer
/// context. A runner carries it without knowing the coder inside.
#[derive(Debug, Clone, Copy, Default)]
pub struct LengthPrefix<C>(pub C);

impl<C: Coder> Coder for LengthPrefix<C> {
    type Value = C::Value;

    fn encode(&self, v: &C::Value, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        // Encoded in place, then the length put in front: no buffer per element.
        let start = out.len();
        self.0.encode(v, Context::Outer, out)?;
        let mut header = Vec::with_capacity(10);
        write_varint((out.len() - start) as i64, &mut header);
        out.splice(start..start, header);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<C::Value, CoderError> {
        let n = read_length(input, "length_prefix")?;
        self.0.decode_all(take(input, n, "length_prefix")?)
    }
}

/// `beam:coder:nullable:v1`: 0 for none, or 1 and the value in the same context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nullable<C>(pub C);

impl<C: Coder> Nullable<C> {
    /// Encodes a borrowed option (what [`Coder::encode`] does for `&Option<T>`).
    pub fn encode_option(
        &self,
        v: Option<&C::Value>,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                self.0.encode(v, context, out)?;
            }
        }
        Ok(())
    }
}

impl<C: Coder> Coder for Nullable<C> {
    type Value = Option<C::Value>;

    fn encode(
        &self,
        v: &Self::Value,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        self.encode_option(v.as_ref(), context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Self::Value, CoderError> {
        match take(input, 1, "nullable")?[0] {
            0 => Ok(None),
            1 => Ok(Some(self.0.decode(input, context)?)),
            b => Err(CoderError::malformed(
                "nullable",
                format!("the byte {b:#04x} is not 0 or 1"),
            )),
        }
    }
}

/// A key with the shard it was assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShardedKey<K> {
    /// The shard's id, opaque.
    pub shard_id: Vec<u8>,
    /// The key.
    pub key: K,
}

/// `beam:coder:sharded_key:v1`: the shard id as nested bytes, then the key nested.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShardedKeyCoder<K>(pub K);

impl<K: Coder> Coder for ShardedKeyCoder<K> {
    type Value = ShardedKey<K::Value>;

    fn encode(&self, v: &Self::Value, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        write_varint(v.shard_id.len() as i64, out);
        out.extend_from_slice(&v.shard_id);
        self.0.encode(&v.key, Context::Nested, out)
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<Self::Value, CoderError> {
        let n = read_length(input, "sharded_key")?;
        let shard_id = take(input, n, "sharded_key")?.to_vec();
        let key = self.0.decode(input, Context::Nested)?;
        Ok(ShardedKey { shard_id, key })
    }
}
