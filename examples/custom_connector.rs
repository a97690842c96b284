//! Writing a connector of your own: an SDF over a paginated, rate-limited service.
//!
//! The service (simulated in-process) answers `page_count(query)` and `fetch(query, page)`, and
//! allows a burst of calls, then one per interval. The connector's restriction is the range of
//! pages: the runtime can split it between workers and checkpoint it. When the rate limit says
//! "wait", `process` returns `Resume { delay }` *before* claiming the next page, so no page is
//! ever claimed without being fetched, and the runtime waits on a timer, not in a loop.
//!
//! Each item carries its page's publication time as its event time, and the connector moves its
//! watermark to the next page's publication time after each page (pages are published in
//! order, so nothing earlier can follow). After a page's items are emitted it registers an
//! acknowledgement of the page (`Output::after_commit`), which runs once they are committed.
//!
//! The pipeline is durable: it checkpoints every 50 ms into a state directory, so a restarted
//! run would resume at the pages not yet fetched.
//!
//! Its test runs the whole conformance kit, as a connector author's test should:
//!
//! ```text
//! cargo run --example custom_connector
//! cargo test --example custom_connector
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sdf_core::{
    ManualWatermarkEstimator, OffsetRange, OffsetRangeTracker, Output, ProcessContinuation, Result,
    SharedTracker, SplittableDoFn, Timestamp,
};
use sdf_runtime::{DirectoryStore, Executor, Pipeline};

/// The remote service: `pages` pages of `per_page` items per query, behind a token bucket.
struct Service {
    pages: i64,
    per_page: i64,
    bucket: Mutex<(f64, Instant)>,
    burst: f64,
    refill: Duration,
    fetches: AtomicU64,
    acks: AtomicU64,
}

impl Service {
    fn new(pages: i64, per_page: i64, burst: u32, refill: Duration) -> Self {
        Service {
            pages,
            per_page,
            bucket: Mutex::new((f64::from(burst), Instant::now())),
            burst: f64::from(burst),
            refill,
            fetches: AtomicU64::new(0),
            acks: AtomicU64::new(0),
        }
    }

    /// When `page` was published: one a minute from 2026-01-01.
    fn published(page: i64) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000 + page * 60_000)
    }

    /// Tells the service the page was consumed (it may then expire it).
    fn ack(&self, _query: &str, _page: i64) {
        self.acks.fetch_add(1, Ordering::Relaxed);
    }

    fn page_count(&self, _query: &str) -> i64 {
        self.pages
    }

    /// Takes a token, or says how long until one is available.
    fn try_acquire(&self) -> std::result::Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *bucket;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() / self.refill.as_secs_f64())
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(self.refill.mul_f64(1.0 - *tokens))
        }
    }

    fn fetch(&self, query: &str, page: i64) -> Vec<String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        (0..self.per_page)
            .map(|i| format!("{query}/page-{page}/item-{i}"))
            .collect()
    }
}

/// The connector: one query in, its items out; the restriction is the range of pages.
struct PagedReader {
    service: Arc<Service>,
}

#[async_trait]
impl SplittableDoFn for PagedReader {
    type Input = String;
    type Output = String;
    type Restriction = OffsetRange;
    type Tracker = OffsetRangeTracker;
    type WatermarkEstimator = ManualWatermarkEstimator;

    fn initial_restriction(&self, query: &String) -> Result<OffsetRange> {
        Ok(OffsetRange::new(0, self.service.page_count(query)))
    }

    /// Pages are cheap to hand out: let workers share a query's pages.
    fn split_restriction(
        &self,
        _: &String,
        pages: OffsetRange,
        desired: f64,
    ) -> Result<Vec<OffsetRange>> {
        Ok(pages.split(desired.max(1.0) as u64, 1))
    }

    fn new_tracker(&self, _: &String, pages: OffsetRange) -> OffsetRangeTracker {
        OffsetRangeTracker::new(pages)
    }

    async fn process(
        &self,
        query: &String,
        tracker: &mut SharedTracker<OffsetRangeTracker>,
        output: &mut Output<'_, String>,
        watermark: &mut ManualWatermarkEstimator,
    ) -> Result<ProcessContinuation> {
        let mut page = tracker.current_restriction().start();
        loop {
            // Ask the rate limit first: a claimed page must be fetched.
            if let Err(wait) = self.service.try_acquire() {
                return Ok(ProcessContinuation::resume_after(wait));
            }
            if !tracker.try_claim(page)? {
                return Ok(ProcessContinuation::Stop);
            }
            let published = Service::published(page);
            for item in self.service.fetch(query, page) {
                output.emit_at(item, published).await?;
            }
            // After the items it acknowledges: a runner may run it as soon as they are
            // committed, and a crash after that must not lose them at the source.
            let (service, query) = (Arc::clone(&self.service), query.clone());
            output
                .after_commit(Box::new(move || {
                    Box::pin(async move {
                        service.ack(&query, page);
                        Ok(())
                    })
                }))
                .await?;
            watermark.set_watermark(Service::published(page + 1))?;
            page += 1;
        }
    }
}

/// Reads every item of `queries`; returns them with the number of fetches and of rate-limit
/// waits (self-checkpoints).
fn run(
    queries: &[&str],
    service: Arc<Service>,
    state: &std::path::Path,
) -> std::result::Result<(Vec<String>, u64, u64), Box<dyn std::error::Error>> {
    let mut p = Pipeline::new();
    let source = p.from_iter(
        "queries",
        queries.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
    );
    let items = p.apply(
        "fetch",
        source,
        PagedReader {
            service: Arc::clone(&service),
        },
    );
    let out = p.collect("items", items);
    let metrics = Executor::builder()
        .workers(2)
        .checkpoint_store(Arc::new(DirectoryStore::new(state)?))
        .checkpoint_interval(Duration::from_millis(50))
        .build()
        .run_blocking(p)?;
    Ok((
        out.values(),
        service.fetches.load(Ordering::Relaxed),
        metrics[0].resumes,
    ))
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let service = Arc::new(Service::new(30, 10, 5, Duration::from_millis(20)));
    let state = std::env::temp_dir().join(format!("sdf-custom-connector-{}", std::process::id()));
    let started = Instant::now();
    let (items, fetches, waits) = run(&["cats", "dogs"], service, &state)?;
    std::fs::remove_dir_all(&state)?;
    println!(
        "{} items from {fetches} page fetches in {:.2} s; the rate limit paused the reader {waits} times",
        items.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdf_core::testing::*;

    fn expected(query: &str, pages: i64, per_page: i64) -> Vec<String> {
        (0..pages)
            .flat_map(|p| (0..per_page).map(move |i| format!("{query}/page-{p}/item-{i}")))
            .collect()
    }

    #[test]
    fn every_item_once_and_every_page_fetched_once() {
        let service = Arc::new(Service::new(12, 3, 2, Duration::from_millis(5)));
        let state =
            std::env::temp_dir().join(format!("sdf-custom-connector-test-{}", std::process::id()));
        let (mut items, fetches, waits) = run(&["a", "b"], Arc::clone(&service), &state).unwrap();
        std::fs::remove_dir_all(&state).unwrap();
        items.sort();
        let mut want: Vec<String> = ["a", "b"].iter().flat_map(|q| expected(q, 12, 3)).collect();
        want.sort();
        assert_eq!(items, want);
        assert_eq!(fetches, 24, "no page fetched twice");
        assert!(waits > 0, "a burst of 2 for 24 pages must wait");
        assert_eq!(
            service.acks.load(Ordering::Relaxed),
            24,
            "every page acknowledged once"
        );
    }

    /// The whole kit. Each fresh instance gets a service of its own, as a new worker would
    /// have a new client; a burst of 3 makes calls `Resume` (the kit calls again at once).
    #[test]
    fn the_conformance_kit_passes() {
        let make = || PagedReader {
            service: Arc::new(Service::new(6, 3, 3, Duration::from_micros(20))),
        };
        let query = "q".to_string();
        let report = check_sdf_exhaustive_expecting(
            &fresh(make),
            &query,
            expected("q", 6, 3),
            &ExhaustiveOptions::default(),
        )
        .unwrap();
        // Read the report: the records and claims the input should give, splits made, cold
        // paths run.
        assert_eq!((report.records, report.claims), (18, 6), "{report}");
        assert!(report.splits > 0 && report.fresh_instances > 0, "{report}");
        assert_eq!(report.finalizers, 6, "{report}");
        let report = check_concurrent_splits_expecting(
            &fresh(make),
            &query,
            expected("q", 6, 3),
            &ConcurrentOptions::default().repetitions(30),
        )
        .unwrap();
        assert!(report.splits > 0, "{report}");
        // The tracker is the crate's own; a tracker of your own goes through
        // `check_tracker_contract` with a `TrackerFixture`.
        check_tracker_contract(&OffsetFixture, &OffsetRange::new(0, 6)).unwrap();
    }
}
