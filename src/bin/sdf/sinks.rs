//! The small sinks of the command line: count, checksum, print.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sdf_core::{CombineFn, Timestamped};
use sdf_runtime::Sink;

/// How many records a value holds: one, or a batch's rows.
pub(crate) trait Counted {
    fn records(&self) -> u64 {
        1
    }
}

impl Counted for String {}
impl Counted for Vec<String> {}
impl Counted for sdf_connectors::read::CsvRow {}
impl Counted for serde_json::Value {}
impl Counted for sdf_connectors::sonic_rs::Value {}

#[cfg(feature = "parquet")]
impl Counted for arrow_array::RecordBatch {
    fn records(&self) -> u64 {
        self.num_rows() as u64
    }
}

/// How a record is printed: appended to the buffer as one line (without its newline), or why
/// it cannot be (never printed in its place: the command fails).
pub(crate) type Render<T> = fn(&T, &mut Vec<u8>) -> Result<(), String>;

/// A CSV row as a JSON array of its fields (`--arrays`).
pub(crate) fn csv_fields(
    row: &sdf_connectors::read::CsvRow,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    serde_json::to_writer(&mut *out, row.fields()).map_err(|e| format!("{e}"))
}

/// The rows of a batch as JSON lines, without the last newline (the printer adds it).
#[cfg(feature = "parquet")]
pub(crate) fn batch_rows(
    batch: &arrow_array::RecordBatch,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let start = out.len();
    let mut writer = arrow_json::LineDelimitedWriter::new(&mut *out);
    let written = writer.write(batch).and_then(|()| writer.finish());
    if let Err(e) = written {
        out.truncate(start);
        return Err(format!(
            "a batch of {} rows cannot be printed as JSON: {e}",
            batch.num_rows()
        ));
    }
    if out.ends_with(b"\n") {
        out.pop();
    }
    Ok(())
}

/// Counts records (the rows of batches) inside each `process` call of the read: the records
/// are dropped in the worker that made them, and only a count per call reaches [`CountSink`].
pub(crate) struct CountRecords;

impl<T: Counted> CombineFn<T> for CountRecords {
    type Accumulator = u64;
    type Output = u64;

    fn create_accumulator(&self) -> u64 {
        0
    }
    #[inline]
    fn add_input(&self, count: &mut u64, record: T) {
        *count += record.records();
    }
    fn merge_accumulators(&self, count: &mut u64, other: u64) {
        *count += other;
    }
    fn extract_output(&self, count: u64) -> u64 {
        count
    }
}

/// Adds up the counts of [`CountRecords`].
pub(crate) struct CountSink(pub Arc<AtomicU64>);

#[async_trait]
impl Sink<u64> for CountSink {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<u64>>) -> sdf_core::Result<()> {
        let n: u64 = batch.iter().map(|partial| partial.value).sum();
        self.0.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }
    async fn prepare(&mut self, _: u64) -> sdf_core::Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _: u64, _: ()) -> sdf_core::Result<()> {
        Ok(())
    }
}

/// Counts records that are `u64` digests and sums them (mod 2^64), inside each `process` call
/// of the read: with XXH64 digests, a checksum of every record delivered, independent of their
/// order and of how the read was split.
pub(crate) struct DigestSum;

impl CombineFn<u64> for DigestSum {
    /// (records, sum of their digests mod 2^64)
    type Accumulator = (u64, u64);
    type Output = (u64, u64);

    fn create_accumulator(&self) -> (u64, u64) {
        (0, 0)
    }
    #[inline]
    fn add_input(&self, (count, sum): &mut (u64, u64), digest: u64) {
        *count += 1;
        *sum = sum.wrapping_add(digest);
    }
    fn merge_accumulators(&self, (count, sum): &mut (u64, u64), (n, s): (u64, u64)) {
        *count += n;
        *sum = sum.wrapping_add(s);
    }
    fn extract_output(&self, total: (u64, u64)) -> (u64, u64) {
        total
    }
}

/// Adds up the partial checksums of [`DigestSum`].
pub(crate) struct ChecksumSink {
    pub count: Arc<AtomicU64>,
    pub sum: Arc<AtomicU64>,
}

#[async_trait]
impl Sink<(u64, u64)> for ChecksumSink {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<(u64, u64)>>) -> sdf_core::Result<()> {
        let (count, sum) = DigestSum.merge_all(batch.into_iter().map(|partial| partial.value));
        self.sum.fetch_add(sum, Ordering::Relaxed);
        self.count.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
    async fn prepare(&mut self, _: u64) -> sdf_core::Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _: u64, _: ()) -> sdf_core::Result<()> {
        Ok(())
    }
}

/// Prints one line per record on stdout, with `render`; counts them too. A record that cannot
/// be rendered fails the command: nothing of its batch is printed.
pub(crate) struct PrintSink<T> {
    pub render: Render<T>,
    pub count: Arc<AtomicU64>,
    pub buffer: Vec<u8>,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for PrintSink<T> {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        self.buffer.clear();
        for record in &batch {
            (self.render)(&record.value, &mut self.buffer).map_err(sdf_core::Error::message)?;
            self.buffer.push(b'\n');
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(&self.buffer).and_then(|_| out.flush()) {
            Ok(()) => {}
            // The reader of our output went away (`| head`): stop quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => return Err(sdf_core::Error::user("writing to stdout", e)),
        }
        self.count.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    async fn prepare(&mut self, _: u64) -> sdf_core::Result<()> {
        Ok(())
    }
    async fn commit(&mut self, _: u64, _: ()) -> sdf_core::Result<()> {
        Ok(())
    }
}
