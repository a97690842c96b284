//! [`Blocks`]: reads one data block after a sync marker (its record count, its size, its bytes,
//! the marker that must follow), decodes it with the file's codec, and hands out its records.

use std::path::Path;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;

use super::codec::BlockCodec;
use super::header::Header;
use super::input::{FORMAT, Input};
use crate::error::{Error, Result};

/// Where a record was read, handed to the function that makes the output.
pub(super) struct BlockRecord<'a> {
    /// The file.
    pub path: &'a Arc<Path>,
    /// The block's position (the offset of the sync marker before it).
    pub block: u64,
    /// The record's index in the block.
    pub index: u64,
}

/// The buffers of a call: one block's bytes and, for a compressed file, its decoded bytes.
/// Memory is one block at a time.
pub(super) struct Blocks {
    sync: [u8; 16],
    codec: BlockCodec,
    limit: u64,
    data: Vec<u8>,
    decoded: Vec<u8>,
}

impl Blocks {
    /// Buffers for the blocks of the file `header` describes, each of at most `limit` bytes.
    pub(super) fn new(header: &Header, limit: u64) -> Self {
        Blocks {
            sync: header.sync,
            codec: header.codec,
            limit,
            data: Vec::new(),
            decoded: Vec::new(),
        }
    }

    /// Reads the block whose position is `at` (the input is just past the marker at `at`),
    /// checks the marker after it, and decodes it. The input is left past that marker.
    pub(super) fn read(&mut self, input: &mut Input, at: u64) -> Result<Block<'_>> {
        let count = input.long("the record count of a block")?;
        let size_at = input.offset();
        let size = input.long("the byte size of a block")?;
        let (Ok(count), Ok(size)) = (u64::try_from(count), u64::try_from(size)) else {
            return Err(input.bad(
                at,
                format!(
                    "the block after the sync marker here declares {count} records of {size} \
                     bytes: a negative count or size means the file is corrupt"
                ),
            ));
        };
        if size > self.limit {
            return Err(input.bad(
                at,
                format!(
                    "the block after the sync marker here declares {size} bytes, more than the \
                     limit of {}: the file is corrupt, or raise ReadAvro::max_block_bytes if \
                     blocks this large are expected",
                    self.limit
                ),
            ));
        }
        let left = input.size().saturating_sub(input.offset());
        if size.saturating_add(16) > left {
            return Err(input.bad(
                at,
                format!(
                    "truncated block: the block after the sync marker here declares {size} bytes \
                     (at byte {size_at}) but the file ends {left} bytes later, without room for \
                     them and the sync marker after them; the file was cut short (still being \
                     written?) or is corrupt"
                ),
            ));
        }
        self.data.clear();
        input.read_into(&mut self.data, size, "a block")?;
        let marker_at = input.offset();
        let marker: [u8; 16] = input.array("a sync marker")?;
        if marker != self.sync {
            return Err(input.bad(
                marker_at,
                format!(
                    "the block that starts at byte {at} ({count} records, {size} bytes) is not \
                     followed by the file's sync marker: the file is corrupt (a damaged marker or \
                     a wrong block size)"
                ),
            ));
        }
        let bytes: &[u8] = match self.codec {
            BlockCodec::Null => &self.data,
            codec => {
                codec
                    .decode(&self.data, &mut self.decoded, self.limit)
                    .map_err(|reason| {
                        input.bad(
                            at,
                            format!(
                                "the {} block after the sync marker here: {reason}",
                                codec.name()
                            ),
                        )
                    })?;
                &self.decoded
            }
        };
        Ok(Block {
            rest: bytes,
            count,
            index: 0,
            at,
            end: marker_at,
        })
    }
}

/// One decoded block: its records, handed out one at a time.
pub(super) struct Block<'a> {
    rest: &'a [u8],
    count: u64,
    index: u64,
    at: u64,
    end: u64,
}

impl Block<'_> {
    /// The next record, or `None` after the last. A record that does not decode, or bytes left
    /// after the last record, are an [`Error::BadRecord`] naming the block.
    pub(super) fn next_value(
        &mut self,
        datum: &GenericDatumReader<'_>,
        input: &Input,
    ) -> Result<Option<Value>> {
        if self.index == self.count {
            if !self.rest.is_empty() {
                return Err(self.bad(
                    input,
                    format!(
                        "{} bytes are left after the block's {} records: its record count is \
                         wrong or the file is corrupt",
                        self.rest.len(),
                        self.count
                    ),
                ));
            }
            return Ok(None);
        }
        let value = datum.read_value(&mut self.rest).map_err(|e| {
            self.bad(
                input,
                format!(
                    "record {} of the {} records of the block that starts there does not decode \
                     ({e}): the file is corrupt, or its record count is larger than its records",
                    self.index, self.count
                ),
            )
        })?;
        self.index += 1;
        Ok(Some(value))
    }

    /// How many records were handed out.
    pub(super) fn index(&self) -> u64 {
        self.index
    }

    /// The offset of the sync marker after the block: the next block's position.
    pub(super) fn end(&self) -> u64 {
        self.end
    }

    fn bad(&self, input: &Input, reason: String) -> Error {
        Error::BadRecord {
            at: input.at(self.at),
            format: FORMAT,
            reason,
        }
    }
}
