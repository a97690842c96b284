//! The small sinks of the command line: count, checksum, print.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sdf_core::Timestamped;
use sdf_runtime::Sink;

/// How many records a value holds: one, or a batch's rows.
pub(crate) trait Counted {
    fn records(&self) -> u64 {
        1
    }
}

impl Counted for String {}
impl Counted for Vec<String> {}
impl Counted for serde_json::Value {}
impl Counted for sdf_connectors::sonic_rs::Value {}

#[cfg(feature = "parquet")]
impl Counted for arrow_array::RecordBatch {
    fn records(&self) -> u64 {
        self.num_rows() as u64
    }
}

/// The rows of a batch as JSON lines, without the last newline (the printer adds it).
#[cfg(feature = "parquet")]
pub(crate) fn batch_rows(batch: &arrow_array::RecordBatch, out: &mut Vec<u8>) {
    let start = out.len();
    let mut writer = arrow_json::LineDelimitedWriter::new(&mut *out);
    let written = writer.write(batch).and_then(|()| writer.finish());
    if let Err(e) = written {
        out.truncate(start);
        out.extend_from_slice(format!("{{\"error\":{:?}}}\n", e.to_string()).as_bytes());
    }
    if out.ends_with(b"\n") {
        out.pop();
    }
}

/// Counts records (the rows of batches).
pub(crate) struct CountSink(pub Arc<AtomicU64>);

#[async_trait]
impl<T: Counted + Send + 'static> Sink<T> for CountSink {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        let n: u64 = batch.iter().map(|r| r.value.records()).sum();
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

/// Counts records that are `u64` digests and sums them (mod 2^64): with XXH64 digests, a
/// checksum of every record delivered, independent of their order.
pub(crate) struct ChecksumSink {
    pub count: Arc<AtomicU64>,
    pub sum: Arc<AtomicU64>,
}

#[async_trait]
impl Sink<u64> for ChecksumSink {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<u64>>) -> sdf_core::Result<()> {
        let sum = batch
            .iter()
            .fold(0u64, |sum, record| sum.wrapping_add(record.value));
        self.sum.fetch_add(sum, Ordering::Relaxed);
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

/// Prints one line per record on stdout, with `render`; counts them too.
pub(crate) struct PrintSink<T> {
    pub render: fn(&T, &mut Vec<u8>),
    pub count: Arc<AtomicU64>,
    pub buffer: Vec<u8>,
}

#[async_trait]
impl<T: Send + 'static> Sink<T> for PrintSink<T> {
    type Commit = ();

    async fn write(&mut self, batch: Vec<Timestamped<T>>) -> sdf_core::Result<()> {
        self.buffer.clear();
        for record in &batch {
            (self.render)(&record.value, &mut self.buffer);
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
