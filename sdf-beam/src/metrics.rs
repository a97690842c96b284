//! User counters: summed by the runner over the bundles it commits, read back from the job
//! service once the job is done.
//!
//! A counter reported by a bundle the runner discards (a failed attempt, a repeated one) is
//! not in the committed sum: a count taken this way is exact however bundles are retried,
//! whichever environment the workers run in. [`BeamPipeline::counters`] adds a step that
//! counts; [`JobOutcome::counters`] holds what the runner committed.
//!
//! [`BeamPipeline::counters`]: crate::translate::BeamPipeline::counters
//! [`JobOutcome::counters`]: crate::JobOutcome::counters

use crate::coder::read_varint;
use crate::proto::pipeline::MonitoringInfo;

/// The namespace of this SDK's counters.
pub const COUNTER_NAMESPACE: &str = "sdf";

/// The URN of a user counter summed as an i64.
pub(crate) const USER_SUM_INT64: &str = "beam:metric:user:sum_int64:v1";

/// A counter's committed value, as the job service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// The counter's namespace ([`COUNTER_NAMESPACE`] for this SDK's).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The id of the transform that counted.
    pub transform: String,
    /// The sum over committed bundles.
    pub value: i64,
}

/// The user counters among `infos`; an i64 counter whose payload does not decode is an error.
pub(crate) fn counters(infos: &[MonitoringInfo]) -> Result<Vec<Counter>, String> {
    let mut out = Vec::new();
    for info in infos.iter().filter(|i| i.urn == USER_SUM_INT64) {
        let label = |key: &str| info.labels.get(key).cloned().unwrap_or_default();
        let mut payload = info.payload.as_slice();
        let value = read_varint(&mut payload).map_err(|e| {
            format!(
                "the runner's value of counter {}/{} does not decode: {e}",
                label("NAMESPACE"),
                label("NAME")
            )
        })?;
        out.push(Counter {
            namespace: label("NAMESPACE"),
            name: label("NAME"),
            transform: label("PTRANSFORM"),
            value,
        });
    }
    Ok(out)
}

/// The sum of this SDK's counter `name` over every transform that reported it (an `i128`:
/// the sum of i64s cannot overflow it).
pub fn total(counters: &[Counter], name: &str) -> i128 {
    counters
        .iter()
        .filter(|c| c.namespace == COUNTER_NAMESPACE && c.name == name)
        .map(|c| i128::from(c.value))
        .sum()
}
