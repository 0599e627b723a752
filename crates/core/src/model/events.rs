//! The event bus: the core announces that something changed (a source ingested new data, an
//! action was queued) and every listener — server-sent events, the desktop tray — re-reads what
//! it shows. Events carry what changed, not the data, so a slow listener that lags only misses
//! notifications, never data.
//!
//! Several instances on one PostgreSQL (a team) hear each other through the store's relay
//! (`store::relay`): what this process publishes also goes out on the bus's outbound side,
//! and what other instances published comes in through [`EventBus::publish_remote`], which
//! reaches this process's listeners without going out again.

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

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
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
        let (tx, _) = broadcast::channel(256);
        let (outbound, _) = broadcast::channel(256);
        Self { tx, outbound }
    }

    /// Sends to every current subscriber (and the relay, if one runs); no subscriber is not an
    /// error.
    pub fn publish(&self, event: Event) {
        let _ = self.outbound.send(event.clone());
        let _ = self.tx.send(event);
    }

    /// An event another instance published: to this process's subscribers only.
    pub fn publish_remote(&self, event: Event) {
        let _ = self.tx.send(event);
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
}
