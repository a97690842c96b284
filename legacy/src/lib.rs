//! sdf-legacy (guide written below).

mod bounded;
mod error;
pub mod examples;
mod position;
pub mod range;
mod step;

pub use bounded::{
    BoundedSource, BoundedSourceSdf, BoundedSourceTracker, BundleSize, SourceBundle, SourceReader,
};
pub use error::{Error, RangeError, Result};
pub use position::Position;
pub use range::{RangeTracker, SplitPoints};
pub use step::ReadStep;

#[cfg(feature = "testing")]
pub mod testing;
