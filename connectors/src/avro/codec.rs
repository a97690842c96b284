//! [`BlockCodec`]: how the blocks of an Avro file are compressed (`avro.codec` in its header),
//! and the decoders, each bounded: a block never decodes to more than the reader's limit.

use std::io::Read;

use serde::{Deserialize, Serialize};

/// The codec of an Avro file's blocks, read from its header's `avro.codec` entry (absent means
/// `null`).
///
/// `null`, `deflate` and `snappy` are always read; `zstandard` with the crate feature `zstd`,
/// `bzip2` with `bzip2`. `xz` is not read (its decoder is a C library): such a file is an
/// [`Error::BadFile`](crate::Error::BadFile) that says to recode it.
///
/// ```
/// use sdf_connectors::avro::BlockCodec;
/// assert_eq!(BlockCodec::from_name(b"deflate"), Ok(BlockCodec::Deflate));
/// assert_eq!(BlockCodec::Snappy.name(), "snappy");
/// assert!(BlockCodec::from_name(b"xz").unwrap_err().contains("recode"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BlockCodec {
    /// Uncompressed blocks.
    Null,
    /// Raw deflate (RFC 1951, no zlib header).
    Deflate,
    /// Snappy, each block followed by the big-endian CRC-32 of its uncompressed bytes.
    Snappy,
    /// Zstandard (feature `zstd`).
    Zstandard,
    /// bzip2 (feature `bzip2`).
    Bzip2,
}

impl BlockCodec {
    /// The codec named `name` in a header, or why it cannot be read (and what to do).
    pub fn from_name(name: &[u8]) -> Result<BlockCodec, String> {
        let codec = match name {
            b"null" => BlockCodec::Null,
            b"deflate" => BlockCodec::Deflate,
            b"snappy" => BlockCodec::Snappy,
            b"zstandard" => BlockCodec::Zstandard,
            b"bzip2" => BlockCodec::Bzip2,
            other => {
                return Err(format!(
                    "its blocks are compressed with the codec {:?}, which this reader does not \
                     read; recode the file with one it reads (null, deflate, snappy, zstandard, \
                     bzip2), e.g. with `avro-tools recodec --codec deflate`",
                    String::from_utf8_lossy(other)
                ));
            }
        };
        if !codec.is_built() {
            return Err(format!(
                "its blocks are compressed with {}, and this build of sdf-connectors lacks the \
                 cargo feature `{}` that reads it; build with that feature",
                codec.name(),
                codec.feature()
            ));
        }
        Ok(codec)
    }

    /// The codec's name in a header.
    pub fn name(self) -> &'static str {
        match self {
            BlockCodec::Null => "null",
            BlockCodec::Deflate => "deflate",
            BlockCodec::Snappy => "snappy",
            BlockCodec::Zstandard => "zstandard",
            BlockCodec::Bzip2 => "bzip2",
        }
    }

    fn feature(self) -> &'static str {
        match self {
            BlockCodec::Zstandard => "zstd",
            BlockCodec::Bzip2 => "bzip2",
            _ => "avro",
        }
    }

    fn is_built(self) -> bool {
        match self {
            BlockCodec::Zstandard => cfg!(feature = "zstd"),
            BlockCodec::Bzip2 => cfg!(feature = "bzip2"),
            _ => true,
        }
    }

    /// Decodes the compressed block `data` into `out` (cleared first). A block that decodes to
    /// more than `limit` bytes, or does not decode, is an error saying why.
    pub(super) fn decode(self, data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), String> {
        out.clear();
        match self {
            BlockCodec::Null => out.extend_from_slice(data),
            BlockCodec::Deflate => {
                bounded(flate2::read::DeflateDecoder::new(data), out, limit)?;
            }
            BlockCodec::Snappy => snappy(data, out, limit)?,
            BlockCodec::Zstandard => zstandard(data, out, limit)?,
            BlockCodec::Bzip2 => bzip2(data, out, limit)?,
        }
        Ok(())
    }
}

/// Reads `decoder` to its end into `out`, refusing more than `limit` bytes.
fn bounded(decoder: impl Read, out: &mut Vec<u8>, limit: u64) -> Result<(), String> {
    let n = decoder
        .take(limit.saturating_add(1))
        .read_to_end(out)
        .map_err(|e| format!("the block does not decode: {e}"))?;
    if n as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

fn too_large(limit: u64) -> String {
    format!(
        "the block decodes to more than {limit} bytes; raise ReadAvro::max_block_bytes if blocks \
         this large are expected"
    )
}

fn snappy(data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), String> {
    let Some(split) = data.len().checked_sub(4) else {
        return Err("the snappy block is shorter than its 4-byte checksum".into());
    };
    let (compressed, crc) = data.split_at(split);
    let len = snap::raw::decompress_len(compressed)
        .map_err(|e| format!("the snappy block does not decode: {e}"))?;
    if len as u64 > limit {
        return Err(too_large(limit));
    }
    out.resize(len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(compressed, out)
        .map_err(|e| format!("the snappy block does not decode: {e}"))?;
    out.truncate(n);
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32fast::hash(out);
    if got != want {
        return Err(format!(
            "the snappy block's checksum is {want:08x} but its bytes hash to {got:08x}: the block \
             is corrupt"
        ));
    }
    Ok(())
}

#[cfg(feature = "zstd")]
fn zstandard(data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), String> {
    // One frame per block as writers make them; frames one after another are read too.
    let mut rest = data;
    while !rest.is_empty() {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut rest)
            .map_err(|e| format!("the zstandard block does not decode: {e}"))?;
        let left = limit.saturating_sub(out.len() as u64);
        bounded(decoder, out, left).map_err(|e| {
            if e.starts_with("the block decodes to more") {
                too_large(limit)
            } else {
                e
            }
        })?;
    }
    Ok(())
}

#[cfg(not(feature = "zstd"))]
fn zstandard(_: &[u8], _: &mut Vec<u8>, _: u64) -> Result<(), String> {
    Err("zstandard blocks need the cargo feature `zstd`".into())
}

#[cfg(feature = "bzip2")]
fn bzip2(data: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), String> {
    bounded(bzip2::read::MultiBzDecoder::new(data), out, limit)
}

#[cfg(not(feature = "bzip2"))]
fn bzip2(_: &[u8], _: &mut Vec<u8>, _: u64) -> Result<(), String> {
    Err("bzip2 blocks need the cargo feature `bzip2`".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_codecs_say_what_to_do() {
        for codec in [
            BlockCodec::Null,
            BlockCodec::Deflate,
            BlockCodec::Snappy,
            BlockCodec::Zstandard,
            BlockCodec::Bzip2,
        ] {
            assert_eq!(BlockCodec::from_name(codec.name().as_bytes()), Ok(codec));
        }
        let e = BlockCodec::from_name(b"lz5").unwrap_err();
        assert!(
            e.contains("\"lz5\"") && e.contains("avro-tools recodec"),
            "{e}"
        );
    }

    #[test]
    fn a_block_that_decodes_past_the_limit_is_refused() {
        let mut out = Vec::new();
        let zeros = vec![0u8; 1000];
        let mut deflated = Vec::new();
        flate2::read::DeflateEncoder::new(&zeros[..], flate2::Compression::fast())
            .read_to_end(&mut deflated)
            .unwrap();
        let e = BlockCodec::Deflate
            .decode(&deflated, &mut out, 999)
            .unwrap_err();
        assert!(e.contains("more than 999 bytes"), "{e}");
        BlockCodec::Deflate
            .decode(&deflated, &mut out, 1000)
            .unwrap();
        assert_eq!(out, zeros);

        let snapped = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        let mut framed = snapped.clone();
        framed.extend_from_slice(&crc32fast::hash(&zeros).to_be_bytes());
        let e = BlockCodec::Snappy
            .decode(&framed, &mut out, 10)
            .unwrap_err();
        assert!(e.contains("more than 10 bytes"), "{e}");
        BlockCodec::Snappy.decode(&framed, &mut out, 1000).unwrap();
        assert_eq!(out, zeros);
        let last = framed.len() - 1;
        framed[last] ^= 1;
        let e = BlockCodec::Snappy
            .decode(&framed, &mut out, 1000)
            .unwrap_err();
        assert!(e.contains("checksum"), "{e}");
    }
}
