//! Instances sharing one PostgreSQL hear each other: what one publishes reaches the others'
//! listeners (and never comes back to itself twice); on SQLite there is nothing to relay.

mod support;

use std::time::Duration;

use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::store::Store;
use support::TestDb;

fn changed(source: &str) -> Event {
    Event::Changed {
        source: source.into(),
        topics: vec!["changes".into(), "inbox".into()],
    }
}

async fn next(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
}

#[tokio::test]
async fn three_instances_on_one_postgres_hear_each_other() {
    let db = TestDb::postgres().await;
    let mut instances = Vec::new();
    for _ in 0..3 {
        let store = Store::open(&db.url).await.unwrap();
        let bus = EventBus::new();
        let relay = store.relay(&bus).await.unwrap().expect("PostgreSQL relays");
        instances.push((store, bus, relay));
    }
    let ids: std::collections::BTreeSet<&str> =
        instances.iter().map(|(_, _, r)| r.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each instance has its own id");
    let mut rx: Vec<_> = instances.iter().map(|(_, b, _)| b.subscribe()).collect();

    for (from, (_, bus, _)) in instances.iter().enumerate() {
        let event = changed(&format!("decision on {from}"));
        bus.publish(event.clone());
        for (i, r) in rx.iter_mut().enumerate() {
            // Its own listeners hear it once (published here), the others once (relayed).
            assert_eq!(
                next(r).await,
                Some(event.clone()),
                "instance {i} from {from}"
            );
        }
    }
    // Nothing echoes back: every receiver is now empty.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, r) in rx.iter_mut().enumerate() {
        assert!(r.try_recv().is_err(), "instance {i} heard an echo");
    }

    // A one-shot process (the CLI) tells the others without running a relay.
    instances[0]
        .0
        .notify_others("cli", &changed("cli approve"))
        .await
        .unwrap();
    for r in rx.iter_mut() {
        assert_eq!(next(r).await, Some(changed("cli approve")));
    }

    for (store, _, relay) in instances {
        drop(relay);
        store.close().await;
    }
    db.finish().await;
}

#[tokio::test]
async fn sqlite_has_nothing_to_relay() {
    let db = TestDb::sqlite().await;
    let bus = EventBus::new();
    assert!(db.store.relay(&bus).await.unwrap().is_none());
    db.store.notify_others("x", &changed("x")).await.unwrap();
    db.finish().await;
}
