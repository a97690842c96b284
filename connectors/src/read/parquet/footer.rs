//! The footer of a Parquet file, read and checked once per file: where each row group starts,
//! and the Arrow reader's metadata. Every problem found here is an [`Error::BadFile`] naming
//! the file and the offset of what is wrong.

use std::sync::Arc;

use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::blob::Blob;
use crate::error::{Error, Location, Result};
use crate::file::FileMetadata;

/// The magic number of a Parquet file whose footer is encrypted (Parquet modular encryption).
const ENCRYPTED_MAGIC: &[u8] = b"PARE";

/// The magic number at the start and at the end of every Parquet file.
const MAGIC: &[u8; 4] = b"PAR1";

/// A row group: its index in the footer and the offset it starts at (its split point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowGroup {
    pub index: usize,
    pub start: u64,
}

/// What a call needs of a file's footer.
#[derive(Debug)]
pub(crate) struct Footer {
    /// The metadata the Arrow reader is built from (schema included).
    pub arrow: ArrowReaderMetadata,
    /// The row groups that hold data, by increasing start.
    pub row_groups: Vec<RowGroup>,
}

pub(crate) fn bad(file: &FileMetadata, offset: u64, reason: impl Into<String>) -> Error {
    Error::BadFile {
        at: Location {
            path: file.path.clone(),
            offset,
            decoded: false,
        },
        format: "Parquet",
        reason: reason.into(),
    }
}

/// Reads and checks the footer of `file` (as listed: its last bytes are at `file.size`).
pub(crate) fn read_footer(file: &FileMetadata, blob: &Blob) -> Result<Footer> {
    let size = file.size;
    if size < 12 {
        return Err(bad(
            file,
            0,
            format!(
                "{size} bytes is too short for a Parquet file (at least 12: `PAR1`, the footer \
                 length, `PAR1`); it is truncated or not Parquet"
            ),
        ));
    }
    let head = blob.read_at(file, 0, 4)?;
    if head == ENCRYPTED_MAGIC {
        return Err(bad(
            file,
            0,
            "it is encrypted Parquet (magic `PARE`: an encrypted footer), which sdf does not \
             read: decrypt it first with the tool and keys that wrote it",
        ));
    }
    if head != MAGIC {
        return Err(bad(
            file,
            0,
            format!("it starts with {head:?}, not the magic number `PAR1`: it is not Parquet"),
        ));
    }
    let tail = blob.read_at(file, size - 8, 8)?;
    if &tail[4..] != MAGIC {
        return Err(bad(
            file,
            size - 4,
            format!(
                "it ends with {:?}, not the magic number `PAR1`: the file is truncated (a write \
                 that did not finish?) or not Parquet",
                &tail[4..]
            ),
        ));
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 12 > size {
        return Err(bad(
            file,
            size - 8,
            format!(
                "the footer length {len} reaches past the start of the file ({size} bytes): the \
                 footer is corrupt"
            ),
        ));
    }
    let meta_start = size - 8 - len;
    let buf = blob.read_at(file, meta_start, len as usize)?;
    let meta = ParquetMetaDataReader::decode_metadata(&buf).map_err(|e| {
        bad(
            file,
            meta_start,
            format!("the footer metadata does not decode: {e}"),
        )
    })?;
    let row_groups = row_groups(file, &meta, meta_start)?;
    let arrow =
        ArrowReaderMetadata::try_new(Arc::new(meta), ArrowReaderOptions::new()).map_err(|e| {
            bad(
                file,
                meta_start,
                format!("its schema has no Arrow equivalent: {e}"),
            )
        })?;
    Ok(Footer { arrow, row_groups })
}

/// The row groups with their starts, checked to lie in the data region `[4, data_end)` and to
/// start at distinct offsets. A row group starts at the lowest offset of its column chunks
/// (each chunk's first page, its dictionary page if it has one); one without columns holds no
/// data and is left out.
fn row_groups(file: &FileMetadata, meta: &ParquetMetaData, data_end: u64) -> Result<Vec<RowGroup>> {
    let mut row_groups = Vec::with_capacity(meta.num_row_groups());
    for (index, rg) in meta.row_groups().iter().enumerate() {
        let spans = rg.columns().iter().map(|c| {
            let (start, len) = c.byte_range();
            (start, start.saturating_add(len))
        });
        let Some((start, end)) = spans.reduce(|(s, e), (s2, e2)| (s.min(s2), e.max(e2))) else {
            continue;
        };
        if start < 4 || end > data_end {
            return Err(bad(
                file,
                start,
                format!(
                    "row group {index} spans bytes [{start}, {end}), outside the data before \
                     the footer, [4, {data_end}): the file is truncated or its footer is corrupt"
                ),
            ));
        }
        row_groups.push(RowGroup { index, start });
    }
    row_groups.sort_by_key(|rg| rg.start);
    if let Some(w) = row_groups.windows(2).find(|w| w[0].start == w[1].start) {
        return Err(bad(
            file,
            w[0].start,
            format!(
                "row groups {} and {} both start here: the footer is corrupt",
                w[0].index, w[1].index
            ),
        ));
    }
    Ok(row_groups)
}
