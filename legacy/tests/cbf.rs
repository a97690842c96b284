//! The "compressed blocks format" (CBF) of Beam's I/O guide: a file of deflate-compressed
//! blocks, where only the first record of each block is a split point. Reading `[A, B)` reads
//! every record of the blocks that start in `[A, B)`.
//!
//! Also a whole-file gzip source, which only one reader can read: an unsplittable range.

use std::collections::VecDeque;
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::{DeflateDecoder, GzDecoder};
use flate2::write::{DeflateEncoder, GzEncoder};
use futures::executor::block_on;
use sdf_core::testing::{
    ConcurrentOptions, check_concurrent_splits_with, check_sdf_exhaustive, run_to_completion,
};
use sdf_core::{
    CollectEmitter, MonotonicWatermarkEstimator, Output, SharedTracker, SplittableDoFn, Timestamp,
    WatermarkEstimator,
};
use sdf_legacy::range::{OFFSET_INFINITY, OffsetRangeTracker, UnsplittableRangeTracker};
use sdf_legacy::testing::*;
use sdf_legacy::{
    BoundedSource, BoundedSourceSdf, BundleSize, Error, RangeTracker, SourceBundle, SourceReader,
};
use serde::{Deserialize, Serialize};

/// A block header: the compressed length, then the record count, both `u32` little-endian.
const HEADER: usize = 8;

/// Writes records into a CBF file, one block per slice.
fn cbf_file(blocks: &[&[&str]]) -> Vec<u8> {
    let mut file = Vec::new();
    for records in blocks {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(records.join("\n").as_bytes()).unwrap();
        let payload = encoder.finish().unwrap();
        file.extend((payload.len() as u32).to_le_bytes());
        file.extend((records.len() as u32).to_le_bytes());
        file.extend(payload);
    }
    file
}

#[derive(Clone, Serialize, Deserialize)]
struct CbfSource {
    bytes: Vec<u8>,
}

impl fmt::Debug for CbfSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cbf({} bytes)", self.bytes.len())
    }
}

impl CbfSource {
    /// The header at `offset`: (payload length, record count), or `None` at the end.
    fn header(&self, offset: usize) -> Result<Option<(usize, usize)>, Error> {
        if offset >= self.bytes.len() {
            return Ok(None);
        }
        let header = self
            .bytes
            .get(offset..offset + HEADER)
            .ok_or_else(|| Error::source(format!("block header at {offset}"), "truncated"))?;
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap()) as usize;
        Ok(Some((word(0), word(4))))
    }

    fn block(&self, offset: usize, len: usize) -> Result<Vec<String>, Error> {
        let payload = self
            .bytes
            .get(offset + HEADER..offset + HEADER + len)
            .ok_or_else(|| Error::source(format!("block at {offset}"), "truncated"))?;
        let mut text = String::new();
        DeflateDecoder::new(payload)
            .read_to_string(&mut text)
            .map_err(|e| Error::source(format!("decompressing the block at {offset}"), e))?;
        Ok(text.split('\n').map(str::to_string).collect())
    }
}

impl BoundedSource for CbfSource {
    type Output = String;
    type Position = i64;
    type RangeTracker = OffsetRangeTracker;

    fn estimate_size(&self) -> Result<Option<u64>, Error> {
        Ok(Some(self.bytes.len() as u64))
    }

    fn split(
        &self,
        desired_bundle_size: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>, Error> {
        let (mut a, stop) = (start.unwrap_or(0), stop.unwrap_or(self.bytes.len() as i64));
        let size = desired_bundle_size.max(1) as i64;
        let mut bundles = Vec::new();
        while a < stop {
            let b = (a + size).min(stop);
            bundles.push(SourceBundle::new(
                (b - a) as f64,
                self.clone(),
                Some(a),
                Some(b),
            ));
            a = b;
        }
        Ok(bundles)
    }

    fn range_tracker(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<OffsetRangeTracker, Error> {
        Ok(OffsetRangeTracker::new(
            start.unwrap_or(0),
            stop.unwrap_or(self.bytes.len() as i64),
        )?)
    }

    fn read<'a>(
        &'a self,
        range: Arc<OffsetRangeTracker>,
    ) -> Result<SourceReader<'a, String>, Error> {
        Ok(Box::new(CbfReader {
            source: self,
            start: range.start_position().max(0) as usize,
            range,
            next_block: 0,
            block_offset: 0,
            pending: VecDeque::new(),
            done: false,
        }))
    }
}

/// Skips the blocks before the start by their headers, then for each block: claims its offset,
/// returns its first record, and reports each further record at the same offset.
struct CbfReader<'a> {
    source: &'a CbfSource,
    range: Arc<OffsetRangeTracker>,
    start: usize,
    next_block: usize,
    block_offset: i64,
    pending: VecDeque<String>,
    done: bool,
}

impl CbfReader<'_> {
    fn advance(&mut self) -> Result<Option<String>, Error> {
        if let Some(record) = self.pending.pop_front() {
            self.range.set_current_position(self.block_offset)?;
            return Ok(Some(record));
        }
        loop {
            let offset = self.next_block;
            let Some((len, _count)) = self.source.header(offset)? else {
                return Ok(None);
            };
            self.next_block = offset + HEADER + len;
            if offset < self.start {
                continue;
            }
            if !self.range.try_claim(offset as i64)? {
                return Ok(None);
            }
            self.block_offset = offset as i64;
            self.pending = self.source.block(offset, len)?.into();
            return Ok(self.pending.pop_front());
        }
    }
}

impl Iterator for CbfReader<'_> {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.advance().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

const BLOCKS: &[&[&str]] = &[
    &["a0"],
    &["b0", "b1", "b2"],
    &["c0", "c1"],
    &["d0", "d1", "d2", "d3", "d4"],
    &["e0"],
    &["f0", "f1", "f2", "f3"],
];

fn source() -> CbfSource {
    CbfSource {
        bytes: cbf_file(BLOCKS),
    }
}

fn all_records() -> Vec<String> {
    BLOCKS
        .iter()
        .flat_map(|b| b.iter().map(|r| r.to_string()))
        .collect()
}

/// The byte offset of each block.
fn block_offsets(source: &CbfSource) -> Vec<i64> {
    let mut offsets = vec![0];
    while let Some((len, _)) = source.header(*offsets.last().unwrap() as usize).unwrap() {
        offsets.push(offsets.last().unwrap() + (HEADER + len) as i64);
    }
    offsets.pop();
    offsets
}

#[test]
fn reading_a_range_reads_the_blocks_that_start_in_it() {
    let source = source();
    let offsets = block_offsets(&source);
    assert_eq!(
        read_from_source(&source, None, None).unwrap(),
        all_records()
    );
    // [1, block 3) holds blocks 1 and 2; so does [block 1, block 3 − 1].
    let middle = read_from_source(&source, Some(1), Some(offsets[3])).unwrap();
    assert_eq!(middle, ["b0", "b1", "b2", "c0", "c1"]);
    let same = read_from_source(&source, Some(offsets[1]), Some(offsets[3] - 1)).unwrap();
    assert_eq!(same, middle);
}

#[test]
fn cbf_bundles_cover_the_file() {
    let source = source();
    let whole = SourceBundle::whole(source.clone()).unwrap();
    for desired in [1, 7, 30, 64, 10_000] {
        let bundles = source.split(desired, None, None).unwrap();
        assert_sources_equal_reference_source(&whole, &bundles).unwrap();
    }
    assert_reentrant_reads_succeed(&whole).unwrap();
}

#[test]
fn a_split_inside_a_block_keeps_the_block_whole() {
    let source = source();
    // Reading 2 records puts the reader inside block 1 (b0 claimed, b1 at the same offset).
    // Its offset is consumed; the earliest split is one byte later, and the primary keeps
    // block 1 whole.
    let offsets = block_offsets(&source);
    let len = source.bytes.len() as f64;
    let just_after = (offsets[1] as f64 + 1.5) / len; // rounds down to offset + 1
    let result = assert_split_at_fraction_succeeds_and_consistent(&source, 2, just_after).unwrap();
    assert_eq!(
        (result.num_primary_items, result.num_residual_items),
        (4, Some(12))
    );
    // At the block's own offset the split would cut consumed records off: refused.
    let at_block = (offsets[1] as f64 + 0.5) / len;
    assert_split_at_fraction_fails(&source, 2, at_block).unwrap();
}

#[test]
fn cbf_passes_the_exhaustive_split_test() {
    let report = assert_split_at_fraction_exhaustive(&source(), None, None).unwrap();
    println!("{report:?}");
    assert_eq!(report.records, 16);
    assert!(report.non_trivial_splits > 0 && report.concurrent_trials > 0);
    let offsets = block_offsets(&source());
    assert_split_at_fraction_exhaustive(&source(), Some(offsets[1]), Some(offsets[4])).unwrap();
}

#[test]
fn cbf_sdf_passes_the_kit() {
    let sdf = BoundedSourceSdf::new(source()).bundle_size(BundleSize::RunnerHint);
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    println!("{report:?}");
    assert_eq!(report.records, 16);
    assert!(report.splits > 0 && report.checkpoints > 0, "{report:?}");
    let concurrent =
        check_concurrent_splits_with(&sdf, &(), &ConcurrentOptions::default().repetitions(50))
            .unwrap();
    println!("{concurrent:?}");
}

/// A checkpoint after the first record of a block keeps the rest of the block in the primary
/// (those records cannot be addressed), and the residual resumes at the next block.
#[test]
fn a_checkpoint_inside_a_block_resumes_at_the_next_block() {
    let sdf = BoundedSourceSdf::new(source());
    let bundle = sdf.initial_restriction(&()).unwrap();
    let mut tracker = SharedTracker::new(sdf.new_tracker(&(), bundle));
    // Served at the second claim: after "a0", the whole of block 0.
    let mut reply = tracker.split_handle().try_split_after_first_claim(0.0);
    let records = run_call(&sdf, &mut tracker);
    assert_eq!(records, ["a0"]);
    let split = reply.try_take().unwrap().unwrap().unwrap();
    assert_eq!(split.residual.start, Some(1), "one byte after block 0");

    // Same, inside block 1: a bundle starting at block 1, checkpointed after "b0".
    let offsets = block_offsets(&source());
    let bundle = SourceBundle::new(1.0, source(), Some(offsets[1]), None);
    let mut tracker = SharedTracker::new(sdf.new_tracker(&(), bundle));
    let mut reply = tracker.split_handle().try_split_after_first_claim(0.0);
    assert_eq!(run_call(&sdf, &mut tracker), ["b0", "b1", "b2"]);
    let residual = reply.try_take().unwrap().unwrap().unwrap().residual;
    assert_eq!(residual.start, Some(offsets[1] + 1));
    let rest = read_from_source(&residual.source, residual.start, residual.stop).unwrap();
    assert_eq!(rest, all_records()[4..]);
}

fn run_call(
    sdf: &BoundedSourceSdf<CbfSource>,
    tracker: &mut SharedTracker<sdf_legacy::BoundedSourceTracker<CbfSource>>,
) -> Vec<String> {
    let mut sink = CollectEmitter::default();
    let mut watermark = MonotonicWatermarkEstimator::from_state(Timestamp::MIN);
    block_on(async {
        let mut output = Output::new(&mut sink, Timestamp::MIN, 4);
        sdf.process(&(), tracker, &mut output, &mut watermark)
            .await
            .unwrap();
        output.flush().await.unwrap();
    });
    sink.records.into_iter().map(|r| r.value).collect()
}

/// The whole CBF file gzip-compressed once more: readable only from its start, by one
/// reader. Only the first record is a split point (Beam's compressed reader).
#[derive(Clone, Serialize, Deserialize)]
struct GzipSource {
    gz: Vec<u8>,
}

impl fmt::Debug for GzipSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gzip({} bytes)", self.gz.len())
    }
}

impl BoundedSource for GzipSource {
    type Output = String;
    type Position = i64;
    type RangeTracker = UnsplittableRangeTracker<OffsetRangeTracker>;

    fn estimate_size(&self) -> Result<Option<u64>, Error> {
        Ok(Some(self.gz.len() as u64))
    }

    /// Compressed: one bundle, whatever the size asked.
    fn split(
        &self,
        _: u64,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Vec<SourceBundle<Self>>, Error> {
        Ok(vec![SourceBundle::new(
            self.gz.len() as f64,
            self.clone(),
            start,
            stop,
        )])
    }

    fn range_tracker(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
    ) -> Result<Self::RangeTracker, Error> {
        let range = OffsetRangeTracker::new(start.unwrap_or(0), stop.unwrap_or(OFFSET_INFINITY))?;
        Ok(UnsplittableRangeTracker::new(range))
    }

    fn read<'a>(
        &'a self,
        range: Arc<Self::RangeTracker>,
    ) -> Result<SourceReader<'a, String>, Error> {
        let mut text = String::new();
        GzDecoder::new(self.gz.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| Error::source("decompressing", e))?;
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut first = true;
        Ok(Box::new(lines.into_iter().map_while(move |line| {
            let claimed = if std::mem::take(&mut first) {
                range.try_claim(0)
            } else {
                range.set_current_position(0).map(|()| true)
            };
            match claimed {
                Ok(true) => Some(Ok(line)),
                Ok(false) => None,
                Err(e) => Some(Err(e.into())),
            }
        })))
    }
}

fn gzip_source() -> GzipSource {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(all_records().join("\n").as_bytes())
        .unwrap();
    GzipSource {
        gz: encoder.finish().unwrap(),
    }
}

#[test]
fn an_unsplittable_source_declines_every_split_and_still_reads_exactly() {
    let source = gzip_source();
    assert_eq!(
        read_from_source(&source, None, None).unwrap(),
        all_records()
    );
    for read in [0, 1, 8, 15] {
        for fraction in [0.0, 0.3, 0.9] {
            assert_split_at_fraction_fails(&source, read, fraction).unwrap();
        }
    }
    let vacuous = assert_split_at_fraction_exhaustive(&source, None, None).unwrap_err();
    assert_eq!(
        vacuous.property,
        "the exhaustive split test is not vacuous: some split succeeds"
    );
    let sdf = BoundedSourceSdf::new(source);
    assert_eq!(run_to_completion(&sdf, &()).unwrap(), all_records());
    let report = check_sdf_exhaustive(&sdf, &()).unwrap();
    // Only checkpoints before the first record succeed: they hand the whole file back.
    assert_eq!(report.splits, report.checkpoints, "{report:?}");
}
