//! Channels between steps that count what was sent and what was fully processed, so that a
//! checkpoint can tell when every message in flight has landed in a queue; and that tell the
//! sender when the receiving stage's queue is full ([`Room`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::message::Message;

#[derive(Debug, Default)]
pub(crate) struct LinkCounters {
    /// Messages a sender started to send (counted before the send, so one in flight counts).
    sent: AtomicU64,
    /// Messages the receiver has fully handled.
    handled: AtomicU64,
}

impl LinkCounters {
    /// No message is in flight or being handled.
    pub fn drained(&self) -> bool {
        self.handled.load(Ordering::Acquire) == self.sent.load(Ordering::Acquire)
    }
}

/// How full the receiving stage is: its queue and the records in the channel to it. Its
/// producers start no new work while it is full.
///
/// The channel alone does not bound what piles up in front of a slow stage: a checkpoint must
/// move everything in flight into the receiver's queue (past its limit), and once the channel
/// is empty again a producer that only waited for the channel would fill it again before the
/// next checkpoint, so each checkpoint added a channel's worth (16 batches of 1,024 records)
/// to the queue, and to every checkpoint after it, however slow the receiver. A producer that
/// waits for room before it starts work adds at most the work it had started: the queue stays
/// within its limit plus what one checkpoint moved. A sink's room is never full.
#[derive(Debug, Default)]
pub(crate) struct Room {
    queued: AtomicUsize,
    /// Records sent and not yet received.
    in_flight: AtomicUsize,
    /// 0: no limit.
    limit: AtomicUsize,
    freed: Notify,
}

impl Room {
    /// The receiver queues at most `limit` items before it stops taking input.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Release);
        self.freed.notify_waiters();
    }

    /// The receiver's queue now holds `n` items.
    pub fn set_queued(&self, n: usize) {
        let before = self.queued.swap(n, Ordering::AcqRel);
        if n < before {
            self.freed.notify_waiters();
        }
    }

    /// The receiver's queue and channel hold as much as its limit, or more.
    pub fn is_full(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        limit > 0
            && self.queued.load(Ordering::Acquire) + self.in_flight.load(Ordering::Acquire) >= limit
    }

    fn sent(&self, records: usize) {
        self.in_flight.fetch_add(records, Ordering::AcqRel);
    }

    fn received(&self, records: usize) {
        // Never below zero: a receiver counts only what a sender counted.
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(records))
            });
        self.freed.notify_waiters();
    }

    /// Returns once the receiver's queue is below its limit.
    pub async fn wait(&self) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if !self.is_full() {
                return;
            }
            freed.await;
        }
    }
}

/// The sending end.
#[derive(Debug)]
pub(crate) struct LinkSender<T> {
    tx: mpsc::Sender<Message<T>>,
    counters: Arc<LinkCounters>,
    room: Arc<Room>,
}

impl<T> Clone for LinkSender<T> {
    fn clone(&self) -> Self {
        LinkSender {
            tx: self.tx.clone(),
            counters: Arc::clone(&self.counters),
            room: Arc::clone(&self.room),
        }
    }
}

impl<T> LinkSender<T> {
    /// Whether the receiver's queue is full: start no new work.
    pub fn is_full(&self) -> bool {
        self.room.is_full()
    }

    /// Returns once the receiver's queue has room.
    pub async fn room(&self) {
        self.room.wait().await
    }

    /// Sends `message`, waiting for room. `Err` if the receiver is gone.
    pub async fn send(&self, message: Message<T>) -> Result<(), ()> {
        self.counters.sent.fetch_add(1, Ordering::AcqRel);
        let records = records(&message);
        self.room.sent(records);
        match self.tx.send(message).await {
            Ok(()) => Ok(()),
            Err(_) => {
                // Nobody will handle it: it is not in flight.
                self.counters.handled.fetch_add(1, Ordering::AcqRel);
                self.room.received(records);
                Err(())
            }
        }
    }
}

/// The receiving end. Call [`handled`](Self::handled) after each message is fully processed.
#[derive(Debug)]
pub(crate) struct LinkReceiver<T> {
    rx: mpsc::Receiver<Message<T>>,
    counters: Arc<LinkCounters>,
    room: Arc<Room>,
}

impl<T> LinkReceiver<T> {
    pub async fn recv(&mut self) -> Option<Message<T>> {
        let message = self.rx.recv().await;
        if let Some(message) = &message {
            self.room.received(records(message));
        }
        message
    }

    /// Marks the last received message as fully processed.
    pub fn handled(&self) {
        self.counters.handled.fetch_add(1, Ordering::AcqRel);
    }

    pub fn counters(&self) -> Arc<LinkCounters> {
        Arc::clone(&self.counters)
    }

    /// Where the receiving stage says how full its queue is.
    pub fn room(&self) -> Arc<Room> {
        Arc::clone(&self.room)
    }
}

impl<T> Drop for LinkReceiver<T> {
    /// Nobody will handle what is still in the channel, or what is sent from now on: close it,
    /// and count what is left as handled, so that no checkpoint waits for it.
    fn drop(&mut self) {
        // Nobody queues what is sent from now on: never keep a sender waiting for room.
        self.room.set_limit(0);
        self.rx.close();
        while self.rx.try_recv().is_ok() {
            self.counters.handled.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn records<T>(message: &Message<T>) -> usize {
    match message {
        Message::Batch(batch, _) => batch.len(),
        Message::Watermark(_) => 0,
    }
}

pub(crate) fn link<T>(capacity: usize) -> (LinkSender<T>, LinkReceiver<T>) {
    let (tx, rx) = mpsc::channel(capacity);
    let counters = Arc::new(LinkCounters::default());
    let room = Arc::new(Room::default());
    (
        LinkSender {
            tx,
            counters: Arc::clone(&counters),
            room: Arc::clone(&room),
        },
        LinkReceiver { rx, counters, room },
    )
}
