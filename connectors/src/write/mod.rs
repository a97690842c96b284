//! File sinks: [`WriteFiles`] (the guide is on it; options in `builder.rs`) writes records
//! through a [`FileFormat`] (`format.rs`) into staged shard files (`staging.rs`), published under [`FileNaming`] names
//! (`naming.rs`) by the runtime's two-phase commit (`publish.rs`). `parquet.rs` (feature
//! `parquet`): [`WriteParquet`], Arrow batches into Parquet files through the same sink.

mod builder;
mod faults;
mod format;
mod naming;
#[cfg(feature = "parquet")]
mod parquet;
mod publish;
mod sink;
mod staging;

pub use builder::WriteFilesBuilder;
#[cfg(feature = "testing")]
pub use faults::{FaultInjector, IoStep};
pub use format::{Csv, CsvRows, EncodeError, FileFormat, Json, Text};
pub use naming::FileNaming;
#[cfg(feature = "parquet")]
pub use parquet::{Parquet, WriteParquet};
pub use publish::{StagedFile, WriteCommit};
pub use sink::WriteFiles;
pub use staging::FileIdentity;
