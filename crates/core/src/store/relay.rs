//! Events between instances sharing one PostgreSQL (a team): what this process publishes on
//! its bus is sent with `pg_notify` on one channel, and what the other instances send is heard
//! with `LISTEN` and handed to this process's listeners (`EventBus::publish_remote`, so it does
//! not go out again). A decision, a merge or a new run on one instance reaches every other
//! instance's open UI this way. SQLite is one machine's file: nothing to relay.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Backend, Store};
use crate::model::error::{random_hex, Result};
use crate::model::events::{Event, EventBus};

/// The channel every instance listens on.
pub const CHANNEL: &str = "flightdeck_events";

/// An event as it travels: which instance sent it, so that one ignores its own.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    from: String,
    event: Event,
}

/// "Something changed, refetch everything": what the relay says when it may have missed events.
fn anything() -> Event {
    Event::Changed {
        source: "relay".into(),
        topics: Vec::new(),
    }
}

/// The relay's tasks; they stop when it is dropped.
pub struct Relay {
    /// This instance's id on the channel.
    pub id: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Store {
    /// Starts relaying `bus` through the database: `None` on SQLite. Returns once listening,
    /// so nothing another instance sends after this returns is missed.
    pub async fn relay(&self, bus: &EventBus) -> Result<Option<Relay>> {
        if self.target.backend != Backend::Postgres {
            return Ok(None);
        }
        let id = random_hex(8, "an instance id")?;
        // A database that refuses connections should cost a warning at start, not a long wait.
        let mut listener = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::postgres::PgListener::connect(&self.target.url),
        )
        .await
        .map_err(|_| crate::Error::Invalid {
            path: "database".into(),
            message: "no connection for LISTEN within 5 s".into(),
        })??;
        listener.listen(CHANNEL).await?;
        let heard = {
            let (bus, id) = (bus.clone(), id.clone());
            tokio::spawn(async move {
                loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => match serde_json::from_str::<Wire>(n.payload()) {
                            Ok(w) if w.from != id => bus.publish_remote(w.event),
                            Ok(_) => {}
                            // A newer Flightdeck's event: it still says something changed.
                            Err(_) => bus.publish_remote(anything()),
                        },
                        // The connection dropped; the next call reconnects. What was sent
                        // meanwhile is lost, so listeners refetch everything.
                        Ok(None) => bus.publish_remote(anything()),
                        Err(e) => {
                            tracing::warn!("event relay: {e}; listening again");
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            bus.publish_remote(anything());
                        }
                    }
                }
            })
        };
        let sent = {
            let (store, id) = (self.clone(), id.clone());
            let mut out = bus.outbound();
            tokio::spawn(async move {
                loop {
                    let event = match out.recv().await {
                        Ok(e) => e,
                        // Fell behind: the others refetch rather than miss something.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => anything(),
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    };
                    if let Err(e) = store.notify_others(&id, &event).await {
                        tracing::warn!("event relay: sending: {e}");
                    }
                }
            })
        };
        Ok(Some(Relay {
            id,
            tasks: vec![heard, sent],
        }))
    }

    /// For a one-shot process (the CLI), which runs no relay: sends the other instances what
    /// it published on a bus (`published` is that bus's [`EventBus::outbound`], taken before
    /// acting). Nothing on SQLite.
    pub async fn tell_others(
        &self,
        published: &mut tokio::sync::broadcast::Receiver<Event>,
    ) -> Result<()> {
        use tokio::sync::broadcast::error::TryRecvError;
        let from = format!("cli-{}", std::process::id());
        loop {
            match published.try_recv() {
                Ok(event) => self.notify_others(&from, &event).await?,
                Err(TryRecvError::Lagged(_)) => self.notify_others(&from, &anything()).await?,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Sends one event to the other instances (PostgreSQL; nothing on SQLite).
    pub async fn notify_others(&self, from: &str, event: &Event) -> Result<()> {
        if self.target.backend != Backend::Postgres {
            return Ok(());
        }
        let payload = serde_json::to_string(&Wire {
            from: from.to_string(),
            event: event.clone(),
        })
        .unwrap_or_default();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
