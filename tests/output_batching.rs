//! `Output` hands records downstream in batches that reuse one buffer: no allocation per record,
//! and an emitter that waits (backpressure) holds `process` back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::executor::block_on;
use sdf_core::{Emitter, Finalizer, Output, Result, Timestamp, Timestamped};

/// Records the address and capacity of every batch it is handed.
#[derive(Default)]
struct BufferSpy {
    batches: Vec<(usize, usize, usize)>,
    finalizer_after: Vec<usize>,
    records: usize,
}

#[async_trait]
impl Emitter<u64> for BufferSpy {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<u64>>) -> Result<()> {
        self.batches
            .push((batch.as_ptr() as usize, batch.capacity(), batch.len()));
        self.records += batch.len();
        batch.clear();
        Ok(())
    }
    fn register_finalizer(&mut self, _: Finalizer) {
        self.finalizer_after.push(self.records);
    }
}

#[test]
fn batches_reuse_one_buffer() {
    let mut spy = BufferSpy::default();
    block_on(async {
        let mut out = Output::new(&mut spy, Timestamp::MIN, 64);
        for i in 0..10_000u64 {
            out.emit(i).await.unwrap();
        }
        out.flush().await.unwrap();
        assert_eq!(out.emitted(), 10_000);
    });
    assert_eq!(
        spy.batches.len(),
        157,
        "156 full batches of 64 and one of 16"
    );
    let (ptr, cap, _) = spy.batches[0];
    assert!(
        spy.batches.iter().all(|&(p, c, _)| p == ptr && c == cap),
        "the buffer was reallocated"
    );
    assert!(spy.batches[..156].iter().all(|&(_, _, len)| len == 64));
}

#[test]
fn finalizers_are_registered_after_the_records_before_them() {
    let mut spy = BufferSpy::default();
    block_on(async {
        let mut out = Output::new(&mut spy, Timestamp::MIN, 100);
        for i in 0..5u64 {
            out.emit(i).await.unwrap();
        }
        out.after_commit(Box::new(|| Box::pin(async { Ok(()) })))
            .await
            .unwrap();
    });
    assert_eq!(
        spy.finalizer_after,
        vec![5],
        "buffered records are flushed before the finalizer"
    );
}

/// An emitter that takes a batch only every other time it is polled: backpressure.
struct Slow {
    polls: Arc<AtomicUsize>,
}

#[async_trait]
impl Emitter<u64> for Slow {
    async fn emit_batch(&mut self, batch: &mut Vec<Timestamped<u64>>) -> Result<()> {
        YieldOnce(false).await;
        self.polls.fetch_add(1, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }
    fn register_finalizer(&mut self, _: Finalizer) {}
}

struct YieldOnce(bool);
impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

#[test]
fn a_waiting_emitter_holds_the_emitting_loop_back() {
    let polls = Arc::new(AtomicUsize::new(0));
    let mut slow = Slow {
        polls: polls.clone(),
    };
    let mut emitted_when_first_batch_taken = None;
    block_on(async {
        let mut out = Output::new(&mut slow, Timestamp::from_micros(7), 4);
        for i in 0..8u64 {
            out.emit(i).await.unwrap();
            if emitted_when_first_batch_taken.is_none() && polls.load(Ordering::Relaxed) == 1 {
                emitted_when_first_batch_taken = Some(out.emitted());
            }
        }
        assert_eq!(out.max_timestamp(), Timestamp::from_micros(7));
    });
    // The fifth record was not accepted before the first batch of four was taken.
    assert_eq!(emitted_when_first_batch_taken, Some(4));
    assert_eq!(polls.load(Ordering::Relaxed), 2);
}
