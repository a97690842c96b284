//! Channels between steps that count what was sent and what was fully processed, so that a
//! checkpoint can tell when every message in flight has landed in a queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

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

/// The sending end.
#[derive(Debug)]
pub(crate) struct LinkSender<T> {
    tx: mpsc::Sender<Message<T>>,
    counters: Arc<LinkCounters>,
}

impl<T> Clone for LinkSender<T> {
    fn clone(&self) -> Self {
        LinkSender {
            tx: self.tx.clone(),
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<T> LinkSender<T> {
    /// Sends `message`, waiting for room. `Err` if the receiver is gone.
    pub async fn send(&self, message: Message<T>) -> Result<(), ()> {
        self.counters.sent.fetch_add(1, Ordering::AcqRel);
        match self.tx.send(message).await {
            Ok(()) => Ok(()),
            Err(_) => {
                // Nobody will handle it: it is not in flight.
                self.counters.handled.fetch_add(1, Ordering::AcqRel);
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
}

impl<T> LinkReceiver<T> {
    pub async fn recv(&mut self) -> Option<Message<T>> {
        self.rx.recv().await
    }

    /// Marks the last received message as fully processed.
    pub fn handled(&self) {
        self.counters.handled.fetch_add(1, Ordering::AcqRel);
    }

    pub fn counters(&self) -> Arc<LinkCounters> {
        Arc::clone(&self.counters)
    }
}

impl<T> Drop for LinkReceiver<T> {
    /// Nobody will handle what is still in the channel, or what is sent from now on: close it,
    /// and count what is left as handled, so that no checkpoint waits for it.
    fn drop(&mut self) {
        self.rx.close();
        while self.rx.try_recv().is_ok() {
            self.counters.handled.fetch_add(1, Ordering::AcqRel);
        }
    }
}

pub(crate) fn link<T>(capacity: usize) -> (LinkSender<T>, LinkReceiver<T>) {
    let (tx, rx) = mpsc::channel(capacity);
    let counters = Arc::new(LinkCounters::default());
    (
        LinkSender {
            tx,
            counters: Arc::clone(&counters),
        },
        LinkReceiver { rx, counters },
    )
}
