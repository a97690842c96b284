//! Dead letters: elements whose work kept failing, sent to an output of their own instead of
//! failing the pipeline (see [`Pipeline::apply_with_dead_letters`](crate::Pipeline::apply_with_dead_letters)).

use std::sync::Arc;

use async_trait::async_trait;
use sdf_core::{SplittableDoFn, Timestamp, Timestamped};
use serde::{Deserialize, Serialize};

use crate::lineage::Lineage;
use crate::link::LinkSender;
use crate::message::Message;

/// An element whose work failed on every attempt, with the part of its work that failed.
///
/// Serializable, so that dead letters can be written somewhere durable and replayed once the
/// cause is fixed: the restriction is exactly the work that was not done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter<I, R> {
    /// The element.
    pub element: I,
    /// The work of the element that failed (what remained of its restriction).
    pub restriction: R,
    /// The last error, as text.
    pub error: String,
    /// How many times it was tried.
    pub attempts: u32,
}

/// Where a stage sends its dead letters; typed by the DoFn, so the stage needs no `Clone` bound.
#[async_trait]
pub(crate) trait DeadLetters<F: SplittableDoFn>: Send + Sync {
    /// Sends one; `false` if the output is gone.
    async fn send(
        &self,
        element: &Timestamped<F::Input>,
        restriction: F::Restriction,
        error: String,
        attempts: u32,
    ) -> bool;
    /// Forwards the stage's watermark.
    async fn watermark(&self, watermark: Timestamp);
}

pub(crate) struct DeadLetterLink<F: SplittableDoFn> {
    pub tx: LinkSender<DeadLetter<F::Input, F::Restriction>>,
}

#[async_trait]
impl<F> DeadLetters<F> for DeadLetterLink<F>
where
    F: SplittableDoFn,
    F::Input: Clone,
{
    async fn send(
        &self,
        element: &Timestamped<F::Input>,
        restriction: F::Restriction,
        error: String,
        attempts: u32,
    ) -> bool {
        let letter = DeadLetter {
            element: element.value.clone(),
            restriction,
            error,
            attempts,
        };
        let record = Timestamped {
            value: letter,
            timestamp: element.timestamp,
        };
        self.tx
            .send(Message::Batch(vec![record], Lineage::default()))
            .await
            .is_ok()
    }

    async fn watermark(&self, watermark: Timestamp) {
        let _ = self.tx.send(Message::Watermark(watermark)).await;
    }
}

pub(crate) type DeadLetterOutput<F> = Option<Arc<dyn DeadLetters<F>>>;
