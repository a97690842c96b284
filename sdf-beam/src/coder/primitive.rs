//! The coders of single values: bytes, UTF-8, varints, booleans, doubles.

use super::{Coder, CoderError, Context, take};

/// Appends `value` as an unsigned LEB128 varint of its two's complement (`beam:coder:varint:v1`;
/// negative numbers take 10 bytes).
#[inline]
pub fn write_varint(value: i64, out: &mut Vec<u8>) {
    let mut v = value as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint written by [`write_varint`].
#[inline]
pub fn read_varint(input: &mut &[u8]) -> Result<i64, CoderError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return Err(CoderError::malformed(
                "varint",
                "more than 64 bits in a varint",
            ));
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Ok(value as i64);
        }
    }
    // Fewer than 10 bytes, the last with its continuation bit (at the 10th, a byte above 1
    // was refused).
    Err(CoderError::Truncated {
        coder: "varint",
        needed: 1,
    })
}

/// Reads a varint length and checks it against what is left.
pub(crate) fn read_length(input: &mut &[u8], coder: &'static str) -> Result<usize, CoderError> {
    let n = read_varint(input)?;
    usize::try_from(n).map_err(|_| CoderError::malformed(coder, format!("a length of {n}")))
}

/// `beam:coder:bytes:v1`: in the nested context, a varint length first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bytes;

impl Coder for Bytes {
    type Value = Vec<u8>;

    fn encode(
        &self,
        value: &Vec<u8>,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        if context == Context::Nested {
            write_varint(value.len() as i64, out);
        }
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Vec<u8>, CoderError> {
        let n = match context {
            Context::Nested => read_length(input, "bytes")?,
            Context::Outer => input.len(),
        };
        Ok(take(input, n, "bytes")?.to_vec())
    }
}

/// `beam:coder:string_utf8:v1`: [`Bytes`] that are UTF-8.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringUtf8;

impl Coder for StringUtf8 {
    type Value = String;

    fn encode(
        &self,
        value: &String,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        if context == Context::Nested {
            write_varint(value.len() as i64, out);
        }
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<String, CoderError> {
        let n = match context {
            Context::Nested => read_length(input, "string_utf8")?,
            Context::Outer => input.len(),
        };
        let bytes = take(input, n, "string_utf8")?;
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            CoderError::malformed(
                "string_utf8",
                format!(
                    "invalid UTF-8 at byte {} of the string",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

/// `beam:coder:varint:v1`: a signed 64-bit integer (Java's `VarLongCoder`).
#[derive(Debug, Clone, Copy, Default)]
pub struct VarInt;

impl Coder for VarInt {
    type Value = i64;

    fn encode(&self, value: &i64, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        write_varint(*value, out);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<i64, CoderError> {
        read_varint(input)
    }
}

/// `beam:coder:bool:v1`: one byte, 0 or 1; any other byte is an error, not `true`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bool;

impl Coder for Bool {
    type Value = bool;

    fn encode(&self, value: &bool, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        out.push(u8::from(*value));
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<bool, CoderError> {
        match take(input, 1, "bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CoderError::malformed(
                "bool",
                format!("the byte {b:#04x} is not 0 or 1"),
            )),
        }
    }
}

/// `beam:coder:double:v1`: an IEEE 754 double, big-endian, every bit kept (NaN payloads too).
#[derive(Debug, Clone, Copy, Default)]
pub struct Double;

impl Coder for Double {
    type Value = f64;

    fn encode(&self, value: &f64, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        out.extend_from_slice(&value.to_bits().to_be_bytes());
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<f64, CoderError> {
        let bytes = take(input, 8, "double")?;
        Ok(f64::from_bits(u64::from_be_bytes(
            bytes.try_into().expect("8 bytes"),
        )))
    }
}
