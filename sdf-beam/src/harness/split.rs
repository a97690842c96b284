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

/// The progress of the element being processed, in its DoFn's size unit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ElementProgress {
    /// The transform processing it.
    pub transform_id: String,
    /// Work done (including the position being processed).
    pub completed: f64,
    /// Work left.
    pub remaining: f64,
}

/// Splits the element being processed; set by the process operator for each element.
pub(crate) trait ElementSplitter: Send + Sync {
    /// Splits keeping `fraction` of the element's remaining work; `None` if it cannot, or did
    /// not answer within `wait`.
    fn split(&self, fraction: f64, wait: Duration) -> BoxFuture<'_, Result<Option<ElementSplit>>>;

    /// The element's progress, as its tracker says at its next claim; `None` if the call did
    /// not reach one within `wait` (or ended).
    fn progress(&self, wait: Duration) -> BoxFuture<'_, Option<ElementProgress>>;
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
    /// A split the tracker made whose roots could not be sent: the bundle must fail.
    failed: Option<String>,
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

    /// Undoes [`begin`](Self::begin) for an element that has not started after all (its
    /// bytes continue in the next data chunk): it is again the next element, not a running
    /// one, so a split may give it to the residual.
    pub fn not_begun(&self, index: i64) {
        let mut s = self.lock();
        s.in_element = false;
        s.current = None;
        s.index = index;
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
        let (index, splitter, keep) = {
            let mut s = self.lock();
            if s.failed.is_some() {
                return Ok(None);
            }
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
            // The runner may allow only some first residual elements (an empty list allows
            // all); a split inside the current element makes the next one the first.
            let allowed = |first: i64| {
                desired.allowed_split_points.is_empty()
                    || desired.allowed_split_points.contains(&first)
            };
            let inside = s.in_element
                && keep < 1.0
                && s.current.is_some()
                && allowed(s.index)
                && allowed(s.index + 1);
            if !inside {
                // A cut at an element boundary: the current element stays whole in the
                // primary. The estimate only decides where; a cut is never made past the
                // elements the runner said it sent, and never before the point asked for
                // (the first allowed one at or after it).
                let start = if s.in_element { s.index + 1 } else { s.index };
                let first = (s.index as f64 + keep).ceil() as i64;
                let first = first.max(start);
                let first = if desired.allowed_split_points.is_empty() {
                    first
                } else {
                    match desired
                        .allowed_split_points
                        .iter()
                        .copied()
                        .filter(|&p| p >= first)
                        .min()
                    {
                        Some(point) => point,
                        None => return Ok(None),
                    }
                };
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
            // the element's own split answers, and the runner is told so in every case (the
            // estimate may be short: elements past it are the residual's, never dropped).
            let first = s.index + 1;
            s.first_residual = Some(s.first_residual.map_or(first, |f| f.min(first)));
            (s.index, s.current.clone().expect("checked"), keep)
        };
        let element = match splitter.split(keep, wait).await {
            Ok(element) => element,
            Err(e) => {
                // The tracker split, but the roots cannot be sent: the residual would be lost.
                // The bundle fails (its source checks this), so the runner retries it whole.
                self.lock().failed = Some(e.to_string());
                return Err(e);
            }
        };
        let first = index + 1;
        let channel = match &element {
            Some(_) => ChannelSplit {
                transform_id: transform_id.to_string(),
                last_primary_element: index - 1,
                first_residual_element: first,
            },
            None => channel(transform_id, first),
        };
        Ok(Some(SplitAnswer { channel, element }))
    }

    /// Why the bundle must fail, if a split could not be completed.
    pub fn failed(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// The progress of the element being processed, if one is and its call answers within
    /// `wait`.
    pub async fn element_progress(&self, wait: Duration) -> Option<ElementProgress> {
        let current = {
            let s = self.lock();
            if !s.in_element {
                return None;
            }
            s.current.clone()?
        };
        current.progress(wait).await
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A running element whose tracker never answers in time.
    struct Silent;

    impl ElementSplitter for Silent {
        fn split(&self, _: f64, _: Duration) -> BoxFuture<'_, Result<Option<ElementSplit>>> {
            Box::pin(async { Ok(None) })
        }

        fn progress(&self, _: Duration) -> BoxFuture<'_, Option<ElementProgress>> {
            Box::pin(async { None })
        }
    }

    fn desired(fraction: f64, estimated: i64) -> DesiredSplit {
        DesiredSplit {
            fraction_of_remainder: fraction,
            allowed_split_points: Vec::new(),
            estimated_input_elements: estimated,
        }
    }

    /// Whatever a split answers, the elements the source then skips are exactly those the
    /// runner was told are the residual's: "no split" leaves every element to the primary.
    #[test]
    fn an_answer_always_matches_what_the_source_then_skips() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for estimated in [0, 1, 4, 5, 10] {
            for fraction in [0.0, 0.1, 0.5, 0.9] {
                for in_element in [false, true] {
                    let split = SourceSplit::default();
                    for i in 0..3 {
                        assert!(split.begin(i));
                        split.end(i);
                    }
                    if in_element {
                        assert!(split.begin(3));
                        split.set_splitter(Arc::new(Silent));
                    }
                    let answer = rt
                        .block_on(split.split(
                            "read",
                            &desired(fraction, estimated),
                            Duration::ZERO,
                        ))
                        .unwrap();
                    let first = answer.as_ref().map(|a| a.channel.first_residual_element);
                    let case = format!(
                        "estimate {estimated}, fraction {fraction}, in element {in_element}: {first:?}"
                    );
                    let next = if in_element { 4 } else { 3 };
                    for i in next..next + 20 {
                        let told = first.is_some_and(|f| i >= f);
                        assert_eq!(!split.begin(i), told, "element {i}, {case}");
                    }
                }
            }
        }
    }

    /// A running element that must not be split (the runner did not allow it).
    struct Forbidden;

    impl ElementSplitter for Forbidden {
        fn split(&self, _: f64, _: Duration) -> BoxFuture<'_, Result<Option<ElementSplit>>> {
            panic!("split inside an element whose split points the runner did not allow")
        }

        fn progress(&self, _: Duration) -> BoxFuture<'_, Option<ElementProgress>> {
            Box::pin(async { None })
        }
    }

    #[test]
    fn a_split_lands_only_where_the_runner_allows() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ask = |allowed: Vec<i64>, fraction: f64| {
            let split = SourceSplit::default();
            for i in 0..3 {
                assert!(split.begin(i));
                split.end(i);
            }
            assert!(split.begin(3));
            split.set_splitter(Arc::new(Forbidden));
            let desired = DesiredSplit {
                fraction_of_remainder: fraction,
                allowed_split_points: allowed,
                estimated_input_elements: 10,
            };
            let answer = rt
                .block_on(split.split("read", &desired, Duration::ZERO))
                .unwrap();
            let first = answer.map(|a| {
                assert!(a.element.is_none());
                a.channel.first_residual_element
            });
            // What the source then skips agrees with the answer.
            for i in 4..12 {
                assert_eq!(
                    !split.begin(i),
                    first.is_some_and(|f| i >= f),
                    "element {i}"
                );
            }
            first
        };
        // 0.0 would split inside element 3 (its split points 3 and 4 are not both allowed),
        // then at 4: the first allowed point at or after it is 6.
        assert_eq!(ask(vec![6, 8], 0.0), Some(6));
        // Half of the 7 elements left cuts at 7: the next allowed point is 8.
        assert_eq!(ask(vec![2, 8], 0.5), Some(8));
        // No allowed point after the split point, or none before the end: no split.
        assert_eq!(ask(vec![1, 2], 0.5), None);
        assert_eq!(ask(vec![10, 11], 0.5), None);
    }
}
