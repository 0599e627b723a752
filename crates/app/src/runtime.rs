//! The running app's background work, started in one place for every front end: the first
//! scan of the sources, live watching, periodic rescans, the forge sync, the outbox sender,
//! the vendors' cost reports, GrowthBook's experiments, notifications out, and resuming the dispatches an earlier process left queued.
//! Everything stops when the [`Runtime`] is dropped.

use std::time::Duration;

use flightdeck_core::config::Settings;
use flightdeck_core::domain::ingest::{self, IngestReport};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::sources::billing::{self, CostApi};
use flightdeck_core::store::Store;
use flightdeck_core::{domain::forge_sync, domain::outbox, notify, watch};

use crate::{AppError, Lead};

/// How often each part runs, and what it reads.
pub struct RuntimeOptions {
    /// Scan the sources once before the background starts (off when the caller just did, as
    /// the demo does before seeding).
    pub first_scan: bool,
    /// Between full rescans (changes are also picked up live) and forge syncs.
    pub rescan_every: Duration,
    /// Between passes of the outbox sender over due actions.
    pub send_every: Duration,
    /// Vendors whose cost reports are fetched, and how often (hourly is plenty: they are daily).
    pub billing: Vec<CostApi>,
    pub billing_every: Duration,
    /// GrowthBook, when a key is here, and how often its experiments are read.
    pub growthbook: Option<flightdeck_core::sources::growthbook::GrowthBookApi>,
    pub growthbook_every: Duration,
    /// Issue labels that make an incident (`[github] incident_labels`).
    pub incident_labels: Vec<String>,
    /// Notifications out (`[notify]`), when a channel is ready, and how often its pass runs
    /// besides after each change.
    pub notifier: Option<std::sync::Arc<notify::Notifier>>,
    pub notify_every: Duration,
    /// Channels that could not be opened (a webhook without its secret), one line each.
    pub notify_warnings: Vec<String>,
}

impl RuntimeOptions {
    /// The defaults, with the vendors that have an admin key here and the configured labels.
    /// A demo's settings get its fakes with the demo's keys, and no key of this machine.
    pub fn from_settings(settings: &Settings) -> RuntimeOptions {
        use flightdeck_core::config::demo_keys;
        use flightdeck_core::sources::growthbook::GrowthBookApi;
        let (billing, growthbook) = if settings.demo {
            let apis = [
                (
                    billing::Vendor::Anthropic,
                    &settings.anthropic_api_url,
                    demo_keys::ANTHROPIC_ADMIN,
                ),
                (
                    billing::Vendor::OpenAi,
                    &settings.openai_api_url,
                    demo_keys::OPENAI_ADMIN,
                ),
            ];
            (
                apis.into_iter()
                    .filter_map(|(v, url, key)| {
                        billing::CostApi::new(v, url, key.into())
                            .map_err(|e| tracing::warn!("{e}; its cost reports are not fetched"))
                            .ok()
                    })
                    .collect(),
                GrowthBookApi::new(&settings.growthbook_api_url, demo_keys::GROWTHBOOK.into())
                    .map(Some),
            )
        } else {
            (
                billing::configured(&settings.anthropic_api_url, &settings.openai_api_url),
                GrowthBookApi::configured(&settings.growthbook_api_url),
            )
        };
        let (notifier, notify_warnings) = notifier(settings);
        RuntimeOptions {
            first_scan: true,
            rescan_every: Duration::from_secs(60),
            send_every: Duration::from_secs(15),
            billing,
            billing_every: Duration::from_secs(3_600),
            growthbook: growthbook.unwrap_or_else(|e| {
                tracing::warn!("{e}");
                None
            }),
            growthbook_every: Duration::from_secs(600),
            incident_labels: settings.incident_labels.clone(),
            notifier: notifier.map(std::sync::Arc::new),
            notify_every: Duration::from_secs(30),
            notify_warnings,
        }
    }
}

/// The notifier `settings` configure (`None` without a channel), and a line for each
/// channel that could not be opened. A demo's channels get the demo's secret (they go to its
/// local receivers), never one of this machine. May block on the keyring.
pub fn notifier(settings: &Settings) -> (Option<notify::Notifier>, Vec<String>) {
    if settings.notify.channels.is_empty() {
        return (None, Vec::new());
    }
    let (channels, warnings) = if settings.demo {
        notify::channels::open(&settings.notify, &|_, _| {
            Some(flightdeck_core::config::demo_keys::NOTIFY_SECRET.into())
        })
    } else {
        notify::channels::open(&settings.notify, &notify::channels::lookup_secret)
    };
    let notifier = notify::Notifier::new(&settings.notify, channels, warnings.clone());
    (Some(notifier), warnings)
}

/// The background tasks of a running app; dropping it stops them.
pub struct Runtime {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Events to and from the other instances on a shared PostgreSQL (`None` on SQLite).
    _relay: Option<flightdeck_core::store::Relay>,
    _watch: Option<watch::WatchHandle>,
    /// What the first scan found (`None` when it was not asked for).
    pub first_scan: Option<IngestReport>,
    /// What could not be started or watched, one line each, for the front end to show.
    pub warnings: Vec<String>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Runtime {
    /// Starts the background work for `lead` on `store`, telling views through `bus`. The
    /// first scan (when asked for) is awaited, so what it found is in the store on return;
    /// a failure of it is an error, a source that cannot be watched live is a warning.
    pub async fn start(
        lead: &Lead,
        store: &Store,
        bus: &EventBus,
        opts: RuntimeOptions,
    ) -> Result<Runtime, AppError> {
        let sources = lead.sources_with_watched(store).await?;
        // Before the first scan, so what it finds reaches the team's other open UIs too. A
        // relay that cannot start costs live updates across instances, not the instance.
        let (relay, relay_warning) = match store.relay(bus).await {
            Ok(r) => (r, None),
            Err(e) => (
                None,
                Some(format!(
                    "other instances on this database will not see changes live ({e})"
                )),
            ),
        };
        // The link search's ear, opened before the first scan so no pass after it goes unseen;
        // the search itself starts with the other tasks, once nothing here can fail.
        let linker_rx = bus.subscribe();
        let mut warnings: Vec<String> = relay_warning.into_iter().collect();
        warnings.extend(opts.notify_warnings.iter().cloned());
        let first_scan = if opts.first_scan {
            match ingest::run(store, &sources, Some(bus), crate::now()).await {
                Ok(r) => Some(r),
                // Another process (an ingest, a second serve) held the write lock past the
                // busy timeout: serve what is stored; the periodic rescan reads the rest.
                Err(e) if e.is_busy() => {
                    warnings.push(format!(
                        "the first scan waited too long for another writer ({e}); it is retried \
                         every {} s",
                        opts.rescan_every.as_secs()
                    ));
                    None
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        warnings.extend(first_scan.iter().flat_map(|r| r.problems.iter().cloned()));
        // Which changes put which experiment in code, found before the views are served; later
        // searches run in the background after every pass of a source.
        if let Err(e) = flightdeck_core::domain::experiment_links::link(store).await {
            warnings.push(format!("searching changes for experiment keys: {e}"));
        }

        let watch = match watch::spawn(store.clone(), bus.clone(), sources.clone()) {
            Ok(h) => {
                warnings.extend(h.problems.iter().map(|p| format!("not watching {p}")));
                Some(h)
            }
            Err(e) => {
                warnings.push(format!(
                    "live updates are off ({e}); sources are rescanned every {} s",
                    opts.rescan_every.as_secs()
                ));
                None
            }
        };

        // Finding the token may run `gh auth token`: off the async threads.
        let forge = lead.github.clone();
        let token =
            tokio::task::spawn_blocking(move || forge.map(|g| (g.api_url.clone(), g.token())))
                .await
                .ok()
                .flatten();
        let appliers = lead.appliers(store)?;

        // Dispatches queued before a restart start now; ones whose runner died are failed.
        let dispatcher = lead.dispatcher(store, Some(bus)).await?;
        let resume = tokio::spawn(async move {
            if let Err(e) = dispatcher.resume(crate::now()).await {
                tracing::warn!("resuming dispatches: {e}");
            }
        });

        let mut tasks = vec![
            resume,
            flightdeck_core::domain::experiment_links::spawn_linker(
                store.clone(),
                bus.clone(),
                linker_rx,
            ),
            ingest::spawn_periodic(store.clone(), bus.clone(), sources, opts.rescan_every),
            outbox::spawn_sender(
                store.clone(),
                bus.clone(),
                lead.audit_key.clone(),
                appliers,
                opts.send_every,
            ),
            billing::spawn_periodic(store.clone(), bus.clone(), opts.billing, opts.billing_every),
            flightdeck_core::sources::growthbook::spawn_periodic(
                store.clone(),
                bus.clone(),
                opts.growthbook,
                opts.growthbook_every,
            ),
        ];
        if let Some(notifier) = opts.notifier {
            tasks.push(notify::spawn_periodic(
                store.clone(),
                bus.clone(),
                notifier,
                opts.notify_every,
            ));
        }
        if let Some((api_url, token)) = token {
            tasks.push(forge_sync::spawn_periodic(
                store.clone(),
                bus.clone(),
                api_url,
                token,
                opts.incident_labels,
                opts.rescan_every,
            ));
        }
        Ok(Runtime {
            tasks,
            _relay: relay,
            _watch: watch,
            first_scan,
            warnings,
        })
    }
}
