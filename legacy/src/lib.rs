//! sdf-legacy (guide written below).

mod bounded;
mod error;
pub mod examples;
mod position;
pub mod range;
mod step;
mod unbounded;

pub use bounded::{
    BoundedSource, BoundedSourceSdf, BoundedSourceTracker, BundleSize, SourceBundle, SourceReader,
};
pub use error::{Error, RangeError, Result};
pub use position::Position;
pub use range::{RangeTracker, SplitPoints};
pub use step::ReadStep;
pub use unbounded::{
    CheckpointMark, SeenIds, UnboundedReader, UnboundedRecord, UnboundedSource,
    UnboundedSourceRestriction, UnboundedSourceSdf, UnboundedSourceTracker,
};

#[cfg(feature = "testing")]
pub mod testing;
