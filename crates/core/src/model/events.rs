//! The event bus: the core announces that something changed (a source ingested new data, an
//! action was queued) and every listener — server-sent events, the desktop tray — re-reads what
//! it shows. Events carry what changed, not the data, so a slow listener that lags only misses
//! notifications, never data.
//!
//! Several instances on one PostgreSQL (a team) hear each other through the store's relay
//! (`store::relay`): what this process publishes also goes out on the bus's outbound side,
//! and what other instances published comes in through [`EventBus::publish_remote`], which
//! reaches this process's listeners without going out again.
//!
//! Every event a process's listeners hear carries a sequence number ([`Numbered`]): the event
//! stream sends it as the SSE `id`, so a client sees a gap, and a listener that fell behind
//! is told to re-read everything rather than silently missing what changed.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A source finished a pass; `topics` are the views whose data changed (none: any may
    /// have, as when the relay between instances lost track).
    Changed { source: String, topics: Vec<String> },
}

impl Event {
    /// Tells a listener that fell behind to re-read every view: it missed `missed` events.
    pub fn resync(missed: u64) -> Self {
        Event::Changed {
            source: format!("resync: {missed} missed"),
            topics: Vec::new(),
        }
    }
}

/// An event with its place in this process's sequence (1, 2, …, without gaps).
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    pub seq: u64,
    pub event: Event,
}

/// How many events a listener may fall behind before it is told to re-read everything.
const CAPACITY: usize = 256;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    /// The same events, numbered; the lock makes the numbers and the order of sending agree.
    numbered: broadcast::Sender<Numbered>,
    seq: Arc<Mutex<u64>>,
    /// What this process published, for the relay to send to other instances.
    outbound: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let (numbered, _) = broadcast::channel(CAPACITY);
        let (outbound, _) = broadcast::channel(CAPACITY);
        Self {
            tx,
            numbered,
            seq: Arc::new(Mutex::new(0)),
            outbound,
        }
    }

    /// Sends to every current subscriber (and the relay, if one runs); no subscriber is not an
    /// error.
    pub fn publish(&self, event: Event) {
        let _ = self.outbound.send(event.clone());
        self.send_local(event);
    }

    /// An event another instance published: to this process's subscribers only.
    pub fn publish_remote(&self, event: Event) {
        self.send_local(event);
    }

    fn send_local(&self, event: Event) {
        // A panic elsewhere while holding the lock leaves a valid number: go on with it.
        let mut seq = self.seq.lock().unwrap_or_else(PoisonError::into_inner);
        *seq += 1;
        let _ = self.numbered.send(Numbered {
            seq: *seq,
            event: event.clone(),
        });
        let _ = self.tx.send(event);
    }

    /// The number of the last event sent to this process's listeners (0: none yet).
    pub fn last_seq(&self) -> u64 {
        *self.seq.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Numbered events, for listeners that must know when they missed some (the event stream).
    pub fn subscribe_numbered(&self) -> broadcast::Receiver<Numbered> {
        self.numbered.subscribe()
    }

    /// What this process publishes, as it is published (the relay's side).
    pub fn outbound(&self) -> broadcast::Receiver<Event> {
        self.outbound.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_published_events() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish(Event::Changed {
            source: "git".into(),
            topics: vec!["repos".into()],
        });
        let got = rx.recv().await.expect("event");
        assert_eq!(
            got,
            Event::Changed {
                source: "git".into(),
                topics: vec!["repos".into()]
            }
        );
    }

    #[tokio::test]
    async fn numbers_run_without_gaps_across_local_and_remote_events() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe_numbered();
        let ev = |s: &str| Event::Changed {
            source: s.into(),
            topics: Vec::new(),
        };
        bus.publish(ev("a"));
        bus.publish_remote(ev("b"));
        bus.publish(ev("c"));
        let mut got = Vec::new();
        for _ in 0..3 {
            let n = rx.recv().await.expect("event");
            got.push((n.seq, n.event));
        }
        assert_eq!(got, vec![(1, ev("a")), (2, ev("b")), (3, ev("c"))]);
        assert_eq!(bus.last_seq(), 3);
    }
}
