//! `flightdeck notify rules | list | test | secret`: the configured channels and rules, the
//! notifications sent, a test message to each channel, and a channel's secret in the keyring.
//! The sending itself runs in `serve` and the desktop app (`flightdeck_core::notify`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::model::secrets;
use flightdeck_core::notify::{self, channels};
use flightdeck_core::store::Store;

#[derive(Subcommand)]
pub enum NotifyCmd {
    /// The channels (and whether each has its secret), the rules, quiet hours and digest limit.
    Rules,
    /// The notifications sent lately, newest first: channel, event, status, last error.
    List {
        #[arg(long, default_value_t = 30)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send a test message to every channel, or to the one named, now.
    Test { channel: Option<String> },
    /// Store a channel's secret in the OS keyring, read from standard input: a webhook's
    /// signing secret, an ntfy access token. With --delete, remove it.
    Secret {
        channel: String,
        #[arg(long)]
        delete: bool,
    },
}

pub async fn run(settings: &Settings, cmd: &NotifyCmd) -> Result<ExitCode> {
    match cmd {
        NotifyCmd::Rules => rules(settings).await,
        NotifyCmd::List { limit, json } => {
            let store = Store::open_existing(&settings.database_url).await?;
            let sent = store.recent_notifications(*limit).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&sent)?);
                return Ok(ExitCode::SUCCESS);
            }
            if sent.is_empty() {
                outln!("no notification sent yet");
            }
            for n in &sent {
                let when = n.sent_at.unwrap_or(n.claimed_at);
                let when = chrono::DateTime::from_timestamp(when, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let error = n
                    .last_error
                    .as_deref()
                    .map(|e| format!(" · {e}"))
                    .unwrap_or_default();
                outln!(
                    "{when}  {:<10} {:<16} {:<8} {}{}{error}",
                    n.channel,
                    n.kind,
                    n.status,
                    n.title,
                    if n.via == "digest" {
                        " (in a digest)"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        NotifyCmd::Test { channel } => test(settings, channel.as_deref()).await,
        NotifyCmd::Secret { channel, delete } => secret(settings, channel, *delete),
    }
}

async fn rules(settings: &Settings) -> Result<ExitCode> {
    let n = &settings.notify;
    if n.channels.is_empty() {
        outln!("no channel is configured: add [notify.channels.NAME] to the config file (see docs/notifications.md)");
        return Ok(ExitCode::SUCCESS);
    }
    let (_, warnings) = open(settings).await?;
    outln!("channels:");
    for (name, c) in &n.channels {
        let (kind, url) = (c.kind(), c.url());
        let url = &url;
        let problem = warnings
            .iter()
            .find(|w| w.starts_with(&format!("notify.channels.{name}")));
        outln!(
            "  {name:<12} {kind:<8} {url}  {}",
            problem.map_or("ready".to_string(), |p| format!("NOT READY: {p}"))
        );
    }
    outln!("rules:");
    if n.rules.is_empty() {
        outln!("  none: nothing is sent until a [[notify.rules]] names events and channels");
    }
    for r in &n.rules {
        let repos = if r.repos.is_empty() {
            "every repo".to_string()
        } else {
            r.repos.join(", ")
        };
        outln!(
            "  {} of {repos} → {}",
            r.events.join(", "),
            r.channels.join(", ")
        );
    }
    outln!(
        "quiet hours: {}{}",
        n.quiet_hours.as_deref().unwrap_or("none"),
        n.utc_offset
            .as_deref()
            .map(|o| format!(" (UTC{o})"))
            .unwrap_or_default()
    );
    outln!(
        "digest after {} messages an hour per channel",
        n.digest_after.unwrap_or(10)
    );
    Ok(ExitCode::SUCCESS)
}

/// The notifier and the channels' problems; the keyring is asked off the async threads.
async fn open(settings: &Settings) -> Result<(Option<notify::Notifier>, Vec<String>)> {
    let s = settings.clone();
    tokio::task::spawn_blocking(move || flightdeck_app::notifier(&s))
        .await
        .context("looking up the channels' secrets")
}

async fn test(settings: &Settings, only: Option<&str>) -> Result<ExitCode> {
    if let Some(name) = only {
        if !settings.notify.channels.contains_key(name) {
            anyhow::bail!(
                "no channel `{name}` in [notify.channels] (configured: {})",
                names(settings)
            );
        }
    }
    let (notifier, warnings) = open(settings).await?;
    let mut failed = false;
    for w in &warnings {
        if only.is_none_or(|c| w.starts_with(&format!("notify.channels.{c}"))) {
            eprintln!("error: {w}");
            failed = true;
        }
    }
    let Some(notifier) = notifier else {
        if settings.notify.channels.is_empty() {
            anyhow::bail!(
                "no channel is configured: add [notify.channels.NAME] to the config file"
            );
        }
        return Ok(ExitCode::FAILURE);
    };
    let store = Store::open(&settings.database_url).await?;
    let now = chrono::Utc::now().timestamp();
    for ch in notifier.channels() {
        if only.is_some_and(|c| c != ch.name) {
            continue;
        }
        match notifier.test(&store, &ch.name, now).await? {
            Ok(()) => outln!("{}: sent a test message to {}", ch.name, ch.url()),
            Err(e) => {
                eprintln!("error: {}: {e}", ch.name);
                failed = true;
            }
        }
    }
    Ok(if failed {
        crate::output::failed();
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn names(settings: &Settings) -> String {
    let names: Vec<&str> = settings
        .notify
        .channels
        .keys()
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn secret(settings: &Settings, channel: &str, delete: bool) -> Result<ExitCode> {
    let Some(config) = settings.notify.channels.get(channel) else {
        anyhow::bail!(
            "no channel `{channel}` in [notify.channels] (configured: {})",
            names(settings)
        );
    };
    if let Some(var) = config.secret_env() {
        eprintln!(
            "note: channel {channel}'s config names `{var}`: that variable is read, not the keyring"
        );
    }
    let account = channels::keyring_account(channel, config);
    if delete {
        if secrets::delete(&account).context("removing the secret")? {
            outln!("removed the secret of channel {channel} from the OS keyring");
        } else {
            outln!("no secret for channel {channel} in the OS keyring");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let value = crate::token_cmd::read_secret(&format!("channel {channel}"))?;
    secrets::set(&account, &value).context("storing the secret")?;
    outln!("stored the secret of channel {channel} in the OS keyring");
    Ok(ExitCode::SUCCESS)
}
