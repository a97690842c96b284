//! [`Header`]: what an Avro object container file starts with: the magic `Obj\x01`, a metadata
//! map (`avro.schema`, `avro.codec`, anything else the writer added) and the file's 16-byte sync
//! marker.

use std::collections::HashMap;

use apache_avro::Schema;

use super::codec::BlockCodec;
use super::input::Input;
use crate::error::Result;

/// The first four bytes of every Avro object container file.
pub(super) const MAGIC: [u8; 4] = *b"Obj\x01";

/// The parsed header of a file.
pub(super) struct Header {
    /// The writer's schema.
    pub schema: Schema,
    /// How blocks are compressed.
    pub codec: BlockCodec,
    /// The sync marker that ends the header and every block.
    pub sync: [u8; 16],
    /// The offset of the header's sync marker: the position of the first block.
    pub sync_offset: u64,
}

impl Header {
    /// Reads the header from offset 0 of `input`, leaving it just after the sync marker.
    /// Metadata of more than `limit` bytes in all is refused.
    pub(super) fn read(input: &mut Input, limit: u64) -> Result<Header> {
        input.seek(0)?;
        let magic: [u8; 4] = input.array("the magic number")?;
        if magic != MAGIC {
            return Err(input.bad(
                0,
                format!(
                    "it starts with {:02x} {:02x} {:02x} {:02x}, not the Avro magic number \
                     \"Obj\\x01\" (4f 62 6a 01): it is not an Avro object container file, or \
                     it is damaged",
                    magic[0], magic[1], magic[2], magic[3]
                ),
            ));
        }
        let metadata = read_metadata(input, limit)?;
        let sync_offset = input.offset();
        let sync = input.array("the header's sync marker")?;
        let codec = match metadata.get("avro.codec") {
            None => BlockCodec::Null,
            Some(name) => BlockCodec::from_name(name).map_err(|reason| input.bad(4, reason))?,
        };
        let json = metadata.get("avro.schema").ok_or_else(|| {
            input.bad(
                4,
                "the header has no avro.schema entry: the writer did not record its schema",
            )
        })?;
        let json = std::str::from_utf8(json)
            .map_err(|e| input.bad(4, format!("the header's avro.schema is not UTF-8: {e}")))?;
        let schema = Schema::parse_str(json).map_err(|e| {
            input.bad(
                4,
                format!("the header's avro.schema is not a valid Avro schema: {e}"),
            )
        })?;
        Ok(Header {
            schema,
            codec,
            sync,
            sync_offset,
        })
    }
}

/// The header's map of `bytes`: blocks of entries, each a count (negative: followed by the
/// block's size in bytes) until a count of 0.
fn read_metadata(input: &mut Input, limit: u64) -> Result<HashMap<String, Vec<u8>>> {
    let mut map = HashMap::new();
    loop {
        let at = input.offset();
        let mut count = input.long("the count of a header metadata block")?;
        if count == 0 {
            return Ok(map);
        }
        if count < 0 {
            count = count
                .checked_neg()
                .ok_or_else(|| input.bad(at, "a header metadata block has an invalid count"))?;
            input.long("the size of a header metadata block")?;
        }
        for _ in 0..count {
            let key = string(input, limit, "a header metadata key")?;
            let key = String::from_utf8(key).map_err(|_| {
                input.bad(
                    at,
                    "a header metadata key is not UTF-8: the header is corrupt",
                )
            })?;
            let value = string(input, limit, "a header metadata value")?;
            map.insert(key, value);
        }
        if input.offset() > limit {
            return Err(input.bad(
                at,
                format!(
                    "the header is longer than {limit} bytes: raise ReadAvro::max_header_bytes \
                     if headers this large are expected"
                ),
            ));
        }
    }
}

/// A length-prefixed byte string of at most `limit` bytes.
fn string(input: &mut Input, limit: u64, what: &str) -> Result<Vec<u8>> {
    let at = input.offset();
    let len = input.long(what)?;
    let len = u64::try_from(len)
        .map_err(|_| input.bad(at, format!("{what} has a negative length ({len})")))?;
    if len > limit {
        return Err(input.bad(
            at,
            format!(
                "{what} declares {len} bytes, more than the limit of {limit}: the header is \
                 corrupt, or raise ReadAvro::max_header_bytes"
            ),
        ));
    }
    let mut out = Vec::new();
    input.read_into(&mut out, len, what)?;
    Ok(out)
}
