//! How long an event published on one instance takes to reach another instance's listeners
//! through PostgreSQL LISTEN/NOTIFY (the team's live updates). Two instances on one
//! database, `N` events published one after another from the first; prints p50, p99 and max of
//! publish-to-heard on the second.
//!
//! Usage: bench_relay POSTGRES_URL_OF_AN_EMPTY_DATABASE [N]

use std::time::{Duration, Instant};

use flightdeck_core::model::events::{Event, EventBus};
use flightdeck_core::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: bench_relay POSTGRES_URL [N]"))?;
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let (a, b) = (Store::open(&url).await?, Store::open(&url).await?);
    let (bus_a, bus_b) = (EventBus::new(), EventBus::new());
    let _ra = a
        .relay(&bus_a)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not PostgreSQL"))?;
    let _rb = b
        .relay(&bus_b)
        .await?
        .ok_or_else(|| anyhow::anyhow!("not PostgreSQL"))?;
    let mut heard = bus_b.subscribe();
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let source = format!("bench {i}");
        let t0 = Instant::now();
        bus_a.publish(Event::Changed {
            source: source.clone(),
            topics: vec!["changes".into()],
        });
        loop {
            let got = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await??;
            if matches!(&got, Event::Changed { source: s, .. } if *s == source) {
                break;
            }
        }
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    println!(
        "{n} events, instance A -> instance B: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(50.0),
        at(99.0),
        at(100.0)
    );
    Ok(())
}
