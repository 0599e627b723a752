//! The event bus: the core announces that something changed (a source ingested new data, an
//! action was queued) and every listener — server-sent events, the desktop tray — re-reads what
//! it shows. Events carry what changed, not the data, so a slow listener that lags only misses
//! notifications, never data.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A source finished a pass; `topics` are the views whose data changed.
    Changed { source: String, topics: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(256);
        Self { tx }
    }

    /// Sends to every current subscriber; no subscriber is not an error.
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
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
