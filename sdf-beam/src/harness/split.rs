//! Runner-initiated splits of a running bundle (`ProcessBundleSplitRequest`).
//!
//! A split is asked of the bundle's data source: keep `fraction_of_remainder` of the work not
//! yet done. Beam's rule (Go's `datasource.Split` is the reference): if that point falls inside
//! the element being processed, the element's restriction is split (sub-element: primary and
//! residual roots) and the channel is cut just after it; otherwise the channel is cut at an
//! element boundary. The first residual element never increases from one split to the next,
//! and a split that cannot be honoured is an empty answer, never an error.
//!
//! The current element's progress is taken as none done: the split keeps a little more than
//! asked inside that element, never less, and stays exact in what goes where.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::proto::fn_execution::process_bundle_split_request::DesiredSplit;
use crate::proto::fn_execution::process_bundle_split_response::ChannelSplit;
use crate::proto::fn_execution::{BundleApplication, DelayedBundleApplication};

/// The roots of a sub-element split.
pub(crate) struct ElementSplit {
    pub primary: BundleApplication,
    pub residual: DelayedBundleApplication,
}

/// Splits the element being processed; set by the process operator for each element.
pub(crate) trait ElementSplitter: Send + Sync {
    /// Splits keeping `fraction` of the element's remaining work; `None` if it cannot, or did
    /// not answer within `wait`.
    fn split(&self, fraction: f64, wait: Duration) -> BoxFuture<'_, Result<Option<ElementSplit>>>;
}

#[derive(Default)]
struct State {
    /// The index of the element being processed, or of the next one between elements.
    index: i64,
    /// Whether element `index` is being processed now.
    in_element: bool,
    /// Elements from here on belong to the residual (channel split).
    first_residual: Option<i64>,
    current: Option<Arc<dyn ElementSplitter>>,
}

/// The split point of one data source, shared by the source and the control stream.
#[derive(Default)]
pub(crate) struct SourceSplit {
    state: Mutex<State>,
}

/// What a split answered.
pub(crate) struct SplitAnswer {
    pub channel: ChannelSplit,
    pub element: Option<ElementSplit>,
}

impl SourceSplit {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called before element `index`: `false` if it belongs to a residual now.
    pub fn begin(&self, index: i64) -> bool {
        let mut s = self.lock();
        s.index = index;
        if s.first_residual.is_some_and(|first| index >= first) {
            return false;
        }
        s.in_element = true;
        true
    }

    /// Sets the current element's splitter (once it is decoded).
    pub fn set_splitter(&self, splitter: Arc<dyn ElementSplitter>) {
        self.lock().current = Some(splitter);
    }

    /// Called after element `index`.
    pub fn end(&self, index: i64) {
        let mut s = self.lock();
        s.in_element = false;
        s.current = None;
        s.index = index + 1;
    }

    /// Answers a split request for `transform_id`, waiting at most `wait` for the element.
    pub async fn split(
        &self,
        transform_id: &str,
        desired: &DesiredSplit,
        wait: Duration,
    ) -> Result<Option<SplitAnswer>> {
        let fraction = desired.fraction_of_remainder;
        if !(0.0..1.0).contains(&fraction) {
            return Ok(None);
        }
        let (index, splitter, keep, limit) = {
            let mut s = self.lock();
            let total = if desired.estimated_input_elements > 0 {
                desired.estimated_input_elements
            } else {
                // Unknown: as if the current element were the last.
                s.index + 1
            };
            let limit = s.first_residual.unwrap_or(total).min(total);
            let remaining = (limit - s.index) as f64;
            if remaining <= 0.0 {
                return Ok(None);
            }
            let keep = fraction * remaining;
            let inside = s.in_element && keep < 1.0 && s.current.is_some();
            if !inside {
                // A cut at an element boundary: the current element stays whole in the
                // primary.
                let start = if s.in_element { s.index + 1 } else { s.index };
                let first = (s.index as f64 + keep).ceil() as i64;
                let first = first.max(start);
                if first >= limit {
                    return Ok(None);
                }
                s.first_residual = Some(first);
                return Ok(Some(SplitAnswer {
                    channel: channel(transform_id, first),
                    element: None,
                }));
            }
            // Inside the current element: nothing after it is processed any more, whatever
            // the element's own split answers.
            let first = s.index + 1;
            s.first_residual = Some(first.min(limit));
            (s.index, s.current.clone().expect("checked"), keep, limit)
        };
        let element = splitter.split(keep, wait).await?;
        let first = index + 1;
        let channel = match &element {
            Some(_) => ChannelSplit {
                transform_id: transform_id.to_string(),
                last_primary_element: index - 1,
                first_residual_element: first,
            },
            None if first >= limit => return Ok(None),
            None => channel(transform_id, first),
        };
        Ok(Some(SplitAnswer { channel, element }))
    }

    /// The current read index, for progress reports.
    pub fn index(&self) -> i64 {
        self.lock().index
    }
}

fn channel(transform_id: &str, first_residual: i64) -> ChannelSplit {
    ChannelSplit {
        transform_id: transform_id.to_string(),
        last_primary_element: first_residual - 1,
        first_residual_element: first_residual,
    }
}
