//! # Avro: object container files read block by block (feature `avro`)
//!
//! [`ReadAvro`] is a splittable DoFn from a [`FileMetadata`](crate::FileMetadata) to the
//! records of an Avro object container file: [`Value`](apache_avro::types::Value)s, your own
//! type through serde ([`ReadAvro::typed`]), or JSON ([`ReadAvro::json`]).
//!
//! ```
//! use apache_avro::{Schema, Writer, types::Value};
//! use sdf_connectors::{FileMetadata, ReadAvro};
//! use sdf_core::{Timestamp, testing::run_to_completion};
//!
//! let schema = Schema::parse_str(r#"{"type": "record", "name": "Trip",
//!     "fields": [{"name": "id", "type": "long"}, {"name": "city", "type": "string"}]}"#)?;
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Trip { id: i64, city: String }
//! let mut writer = Writer::new(&schema, Vec::new())?;
//! writer.append_ser(Trip { id: 1, city: "Lyon".into() })?;
//! writer.append_ser(Trip { id: 2, city: "Oslo".into() })?;
//!
//! let dir = std::env::temp_dir().join(format!("sdf-avro-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("trips.avro");
//! std::fs::write(&path, writer.into_inner()?)?;
//! let listed = std::fs::metadata(&path)?; // what matching would emit
//! let file = FileMetadata {
//!     path,
//!     size: listed.len(),
//!     modified: Timestamp::from_system_time(listed.modified()?),
//! };
//!
//! let trips = run_to_completion(&ReadAvro::<Trip>::typed(), &file)?;
//! assert_eq!(trips[1], Trip { id: 2, city: "Oslo".into() });
//!
//! let values = run_to_completion(&ReadAvro::new(), &file)?;
//! assert_eq!(values[0], Value::Record(vec![
//!     ("id".into(), Value::Long(1)),
//!     ("city".into(), Value::String("Lyon".into())),
//! ]));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Blocks, positions and ranges
//!
//! A container file is a header (the magic `Obj\x01`, a metadata map holding `avro.schema` and
//! `avro.codec`, and a random 16-byte **sync marker**) followed by blocks, each a record count,
//! a byte size, that many (possibly compressed) bytes, and the sync marker again:
//!
//! ```text
//! | Obj\x01 | metadata | SYNC | n₁ size₁ bytes₁ | SYNC | n₂ size₂ bytes₂ | SYNC | ...
//!                      ▲ position of block 1      ▲ position of block 2
//! ```
//!
//! **A block's position is the offset of the first byte of the sync marker that precedes it**
//! (the header's marker for the first block), as in Beam's `AvroSource`. Positions are unique
//! and increasing, and the restriction is an [`OffsetRange`](sdf_core::OffsetRange) of them:
//! the initial restriction is `[0, size)` and **a block belongs to the range that contains its
//! position**. A call on `[s, e)`:
//!
//! 1. reads the header from offset 0 (a bounded read: its size is the metadata's);
//! 2. if `s` is at or before the header's marker, starts at the first block; otherwise it
//!    **seeks to `s` and scans forward for the first sync marker that starts at or after
//!    `s`** (and before `e`: past that, no block is its). It never reads the blocks before `s`;
//! 3. for each block: claims its position (a refused claim ends the call with nothing of that
//!    block emitted), reads its count, size and bytes, checks that the sync marker follows
//!    (that marker's offset is the next block's position), decodes it with the codec, and
//!    emits its records;
//! 4. after the file's last marker there is no block: it claims the range's end and stops.
//!
//! For every split point `m`, the blocks with positions before `m` are the primary's and the
//! others the residual's, whose scan from `m` finds exactly the first of them: every block is
//! read by exactly one range, whatever the split. The conformance tests check this for every
//! split point and fraction. Dynamic splits and checkpoints land between blocks: the runtime's
//! split takes effect at the next claim, which is the next block's.
//!
//! The scan relies on the sync marker not occurring inside block data. Writers draw it at
//! random (a chance of 2⁻¹²⁸ per offset), and every splitting Avro reader (Beam's, Hadoop's,
//! Spark's) relies on the same.
//!
//! Progress is in bytes: a range's completed work is its claimed positions' distance from its
//! start.
//!
//! ## Codecs
//!
//! [`BlockCodec`]: `null`, `deflate` and `snappy` (its CRC-32 checked) always; `zstandard`
//! with the crate feature `zstd` and `bzip2` with `bzip2` (both on by default). The decoders
//! are pure Rust (`flate2`'s miniz_oxide, `snap`, `ruzstd`, `bzip2`); `xz` is not read. A
//! file with another codec fails with [`Error::BadFile`](crate::Error::BadFile) saying to
//! recode it.
//!
//! ## Memory and limits
//!
//! A call holds one block at a time: its bytes, and its decoded bytes for a compressed file.
//! A block that declares more than [`ReadAvro::max_block_bytes`] (256 MiB by default), or more
//! bytes than the rest of the file holds, or decodes to more than the limit, is an error, not
//! an allocation. Blocks may hold records that encode to zero bytes (`null`, an empty record):
//! such a block's record count is taken as written.
//!
//! ## Errors
//!
//! Each names the file and a byte offset and says what to do: a bad magic number, an unknown
//! codec, a block not followed by the sync marker, a truncated block, a block beyond the limit
//! ([`Error::BadFile`](crate::Error::BadFile)); a record that does not decode, a block with
//! bytes left after its records, a value that does not convert to the output type
//! ([`Error::BadRecord`](crate::Error::BadRecord), at the block's position, with the record's
//! index in the block). A file that changed since it was listed is
//! [`Error::FileChanged`](crate::Error::FileChanged), under the same
//! [`OnChange`](crate::read::OnChange) policy as the text readers. An error fails the call;
//! the runtime discards its output, so no block is half-emitted.
//!
//! ## Event time and metadata
//!
//! [`ReadAvro::event_time_from`] stamps each record with a time computed from it,
//! [`ReadAvro::event_time_from_file`] with the file's modification time;
//! [`ReadAvro::with_metadata`] emits [`AvroRecord`]s (file, block position, index in block).

mod block;
mod codec;
mod header;
mod input;
mod json;
mod read;

pub use codec::BlockCodec;
pub use json::to_json;
pub use read::{AvroRecord, ReadAvro};
