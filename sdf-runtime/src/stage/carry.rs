//! A worker's output carry: the output of successful calls, coalesced into full batches before
//! it goes downstream, with the watermark holds of those calls.
//!
//! Many short calls (an element-wise function, one record each) would otherwise send a batch of
//! one record per call. The carry sends when it holds a full batch, and whenever its worker is
//! about to stop taking work (idle, done, a checkpoint): records never wait for more input. The
//! holds of the calls whose records it carries stay in the stage's watermark until the records
//! are sent, so a watermark never passes a record still here.

use std::sync::Arc;

use sdf_core::{Timestamp, Timestamped};

use crate::lineage::{Lineage, Pending};

pub(crate) struct Carry<T> {
    batch_size: usize,
    full: Vec<Vec<Timestamped<T>>>,
    open: Vec<Timestamped<T>>,
    holds: Vec<Timestamp>,
    /// The finalizers of the calls whose records it carries: every batch sent refers to all
    /// of them (a finalizer waits at most a little longer than it must).
    lineage: Lineage,
    /// Emptied batch buffers, reused by calls.
    pool: Vec<Vec<Timestamped<T>>>,
    /// The `Output` buffer, passed from call to call.
    pub output_buffer: Vec<Timestamped<T>>,
}

impl<T> Carry<T> {
    pub fn new(batch_size: usize) -> Self {
        Carry {
            batch_size: batch_size.max(1),
            full: Vec::new(),
            open: Vec::new(),
            holds: Vec::new(),
            lineage: Lineage::default(),
            pool: Vec::new(),
            output_buffer: Vec::new(),
        }
    }

    /// An empty buffer for a full batch.
    pub fn buffer(&mut self) -> Vec<Timestamped<T>> {
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.batch_size))
    }

    /// Takes the output of a successful call (its full batches and the records of its last,
    /// partial one), the hold it kept, and its finalizers, if it registered any.
    pub fn absorb(
        &mut self,
        batches: Vec<Vec<Timestamped<T>>>,
        tail: &mut Vec<Timestamped<T>>,
        hold: Timestamp,
        pending: Option<Arc<Pending>>,
    ) {
        if let Some(pending) = pending {
            self.lineage.push(pending);
        }
        for batch in batches {
            if batch.len() >= self.batch_size && self.open.is_empty() {
                self.full.push(batch);
            } else {
                let mut batch = batch;
                self.extend(&mut batch);
                self.pool.push(batch);
            }
        }
        self.extend(tail);
        self.holds.push(hold);
    }

    fn extend(&mut self, records: &mut Vec<Timestamped<T>>) {
        for record in records.drain(..) {
            if self.open.capacity() == 0 {
                self.open = self.buffer();
            }
            self.open.push(record);
            if self.open.len() >= self.batch_size {
                let full = std::mem::take(&mut self.open);
                self.full.push(full);
            }
        }
    }

    /// Whether a full batch is waiting.
    pub fn has_full_batch(&self) -> bool {
        !self.full.is_empty()
    }

    /// Whether nothing is carried (no records, no holds).
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty() && self.full.is_empty() && self.open.is_empty()
    }

    /// Everything to send, in order, the holds to release once it is sent, and the lineage
    /// every batch carries.
    pub fn take(&mut self) -> (Vec<Vec<Timestamped<T>>>, Vec<Timestamp>, Lineage) {
        let mut batches = std::mem::take(&mut self.full);
        if !self.open.is_empty() {
            batches.push(std::mem::take(&mut self.open));
        }
        (
            batches,
            std::mem::take(&mut self.holds),
            std::mem::take(&mut self.lineage),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(range: std::ops::Range<u32>) -> Vec<Timestamped<u32>> {
        range
            .map(|value| Timestamped {
                value,
                timestamp: Timestamp::MIN,
            })
            .collect()
    }

    #[test]
    fn small_outputs_of_many_calls_make_full_batches_in_order() {
        let mut carry = Carry::new(4);
        for call in 0..5u32 {
            carry.absorb(
                Vec::new(),
                &mut records(call * 2..call * 2 + 2),
                Timestamp::from_micros(i64::from(call)),
                None,
            );
        }
        assert!(carry.has_full_batch());
        let (batches, holds, _) = carry.take();
        let lens: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![4, 4, 2]);
        let values: Vec<u32> = batches.into_iter().flatten().map(|r| r.value).collect();
        assert_eq!(values, (0..10).collect::<Vec<_>>());
        assert_eq!(holds.len(), 5);
        assert!(carry.is_empty());
    }

    #[test]
    fn full_batches_pass_through_whole() {
        let mut carry = Carry::new(3);
        carry.absorb(
            vec![records(0..3), records(3..6)],
            &mut records(6..7),
            Timestamp::MIN,
            None,
        );
        let (batches, _, _) = carry.take();
        let lens: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![3, 3, 1]);
    }
}
