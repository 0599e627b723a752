//! Notifications out: which inbox items go to which channel (the rules of `[notify]`), each
//! sent once across restarts and across instances sharing a database (claimed in the store),
//! nothing during quiet hours, a digest instead of single messages past a number an hour, and
//! an update when an item leaves the inbox. What goes over the wire to each kind of channel is
//! in [`channels`]. Every front end runs the same [`Notifier`] in the background
//! ([`spawn_periodic`]); a channel that is down delays only its own messages. It sits above
//! the views because what it sends is the Inbox.

pub mod channels;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::model::error::Result;
use crate::model::toml_file::ConfigError;
use crate::store::{ClaimAs, NotificationClaim, Store};
use crate::views::{InboxItem, InboxKind};

pub use channels::{Channel, Message, MessageType};

/// `[notify]` in the config file.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Channels by name.
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Which events go to which channels; an event no rule names is not sent.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `"22:00-07:00"`: nothing is sent between these times; what is still waiting afterwards
    /// goes out then (past `digest_after`, as a digest).
    pub quiet_hours: Option<String>,
    /// The quiet hours' time zone as an offset from UTC (`"+01:00"`); default UTC.
    pub utc_offset: Option<String>,
    /// Single messages a channel gets an hour before the rest go into one digest (default 10).
    pub digest_after: Option<u32>,
    /// Where Flightdeck is reached (`https://flightdeck.acme.dev`): messages link into its views.
    pub link_base: Option<String>,
}

/// `[notify.channels.NAME]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// A JSON POST signed with HMAC-SHA256. The signing secret comes from the environment
    /// variable `secret_env` names, else the keyring (`flightdeck notify secret NAME`).
    Webhook {
        url: String,
        secret_env: Option<String>,
    },
    /// An ntfy topic URL (`https://ntfy.sh/acme-leads`, or a self-hosted server). An access
    /// token, if the topic needs one, from `token_env` or the keyring.
    Ntfy {
        url: String,
        token_env: Option<String>,
    },
    /// A Slack channel (its ID, `C0123ABCD`), posted to by a bot (`chat:write`) with Block Kit
    /// messages that are updated in place when their item is resolved. The bot token
    /// (`xoxb-…`) from `token_env` or the keyring; `api_url` only for a proxy or a test.
    Slack {
        channel: String,
        token_env: Option<String>,
        api_url: Option<String>,
    },
    /// Email over SMTP: STARTTLS required by default (`tls = "starttls"`), or TLS from the
    /// start (`"tls"`, port 465); plain (`"none"`) only to this machine. With `username`, the
    /// password from `password_env` or the keyring. `ca_file`: a PEM of extra roots, for a
    /// server whose certificate a private CA signed.
    Email {
        /// `host` or `host:port` (default port 587, or 465 with `tls = "tls"`).
        smtp: String,
        from: String,
        to: Vec<String>,
        username: Option<String>,
        password_env: Option<String>,
        tls: Option<String>,
        ca_file: Option<std::path::PathBuf>,
    },
}

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api";

impl ChannelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Webhook { .. } => "webhook",
            ChannelConfig::Ntfy { .. } => "ntfy",
            ChannelConfig::Slack { .. } => "slack",
            ChannelConfig::Email { .. } => "email",
        }
    }

    /// Where its messages go (Slack: the Web API's base; email: `smtp://host:port`).
    pub fn url(&self) -> String {
        match self {
            ChannelConfig::Webhook { url, .. } | ChannelConfig::Ntfy { url, .. } => url.clone(),
            ChannelConfig::Slack { api_url, .. } => {
                api_url.as_deref().unwrap_or(SLACK_API).to_string()
            }
            ChannelConfig::Email { .. } => match channels::smtp_server(self) {
                Ok((host, port, _)) => format!("smtp://{host}:{port}"),
                Err(_) => String::new(),
            },
        }
    }

    /// The environment variable its secret is read from, when the config names one.
    pub fn secret_env(&self) -> Option<&str> {
        match self {
            ChannelConfig::Webhook { secret_env, .. } => secret_env.as_deref(),
            ChannelConfig::Ntfy { token_env, .. } | ChannelConfig::Slack { token_env, .. } => {
                token_env.as_deref()
            }
            ChannelConfig::Email { password_env, .. } => password_env.as_deref(),
        }
    }

    /// The key naming its secret variable, for messages.
    pub(crate) fn secret_key(&self) -> &'static str {
        match self {
            ChannelConfig::Webhook { .. } => "secret_env",
            ChannelConfig::Email { .. } => "password_env",
            _ => "token_env",
        }
    }
}

/// `[[notify.rules]]`: these events (the inbox's kinds, `InboxKind`, or `*` for all) of these repos (all when
/// empty) go to these channels.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub events: Vec<String>,
    #[serde(default)]
    pub repos: Vec<String>,
    pub channels: Vec<String>,
}

const DEFAULT_DIGEST_AFTER: u32 = 10;

impl Config {
    /// The first problem with this section, as `(key, message)`: an unknown channel or event
    /// in a rule, a URL a message may not go to, unreadable quiet hours.
    pub fn problem(&self) -> Option<(String, String)> {
        for (name, ch) in &self.channels {
            if let ChannelConfig::Email { .. } = ch {
                if let Err((key, e)) = channels::check_email(ch) {
                    return Some((format!("notify.channels.{name}.{key}"), e));
                }
                continue;
            }
            let key = match ch {
                ChannelConfig::Slack { channel, .. } => {
                    // An ID, not a name: chat.update takes only the ID.
                    let id = channel.len() >= 3
                        && channel.starts_with(['C', 'G', 'D'])
                        && channel
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                    if !id {
                        return Some((
                            format!("notify.channels.{name}.channel"),
                            format!(
                                "`{channel}` is not a Slack channel ID (as C0123ABCD: the \
                                 channel's details show it)"
                            ),
                        ));
                    }
                    "api_url"
                }
                _ => "url",
            };
            // What the messages carry (change titles, spend) is the team's: https only, plain
            // http only to this machine, as for any secret.
            if let Err(e) = crate::model::secrets::check_secret_url(&ch.url()) {
                return Some((format!("notify.channels.{name}.{key}"), e));
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.channels.is_empty() {
                return Some((
                    format!("notify.rules[{i}].channels"),
                    "names no channel".into(),
                ));
            }
            for c in &rule.channels {
                if !self.channels.contains_key(c) {
                    let known: Vec<&str> = self.channels.keys().map(String::as_str).collect();
                    return Some((
                        format!("notify.rules[{i}].channels"),
                        format!(
                            "unknown channel `{c}` (configured: {})",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
            for e in &rule.events {
                if e != "*" && InboxKind::parse(&event_name(e)).is_none() {
                    return Some((
                        format!("notify.rules[{i}].events"),
                        format!(
                            "unknown event `{e}` (one of {}, or *)",
                            <InboxKind as crate::model::Named>::names()
                        ),
                    ));
                }
            }
        }
        if let Some(q) = &self.quiet_hours {
            if let Err(e) = parse_quiet_hours(q) {
                return Some(("notify.quiet_hours".into(), e));
            }
        }
        if let Some(o) = &self.utc_offset {
            if let Err(e) = parse_offset(o) {
                return Some(("notify.utc_offset".into(), e));
            }
        }
        if let Some(base) = &self.link_base {
            if reqwest::Url::parse(base).is_err() {
                return Some(("notify.link_base".into(), format!("`{base}` is not a URL")));
            }
        }
        None
    }
}

/// `needs-you` and `needs_you` are one event.
fn event_name(e: &str) -> String {
    e.trim().to_ascii_lowercase().replace('-', "_")
}

/// `"HH:MM-HH:MM"` as minutes of the day, start and end.
fn parse_quiet_hours(text: &str) -> std::result::Result<(u32, u32), String> {
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let bad = || format!("`{text}`: write the quiet hours as HH:MM-HH:MM, as \"22:00-07:00\"");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    Ok((minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?))
}

/// `"+01:00"`, `"-05:30"`, `"UTC"` or `"Z"` as seconds east of UTC.
fn parse_offset(text: &str) -> std::result::Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let bad = || format!("`{text}`: write the offset from UTC as +HH:MM, as \"+01:00\"");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Which subject and version an inbox item is claimed under: its id (kind-prefixed already),
/// and the moment it became news where that moment is fixed (a session's wait, a release's
/// request, a deploy, a threshold crossed), so a later one is a new notification. An open
/// change's item is one subject whatever its kind does (review, checks green, review asked:
/// a push moves it between them) and whatever its last update: version 0. Concentration is
/// one subject whatever window it was computed over.
pub fn subject_of(item: &InboxItem) -> (String, i64) {
    match item.kind {
        InboxKind::Concentration => (item.kind.as_str().to_string(), 0),
        InboxKind::FailingCheck
        | InboxKind::Review
        | InboxKind::ReviewRequested
        | InboxKind::GreenWaiting => (item.id.clone(), 0),
        _ => (item.id.clone(), item.at),
    }
}

/// The rules a channel's baseline was taken under (the key is the channel's name, the value a
/// fingerprint of the rules naming it): when they change, what they newly route is not news.
const BASELINE_CURSOR: &str = "notify-baseline";
/// When a channel's last digest went (the key is the channel's name).
const DIGEST_CURSOR: &str = "notify-digest";

/// Makes `channel` send what the inbox already holds under `config`'s rules, instead of taking
/// it as not news on its first pass: the demo does, to show its receivers filled.
pub async fn send_what_is_there(
    store: &Store,
    config: &Config,
    channel: &str,
    now: i64,
) -> Result<()> {
    store
        .set_cursor(
            BASELINE_CURSOR,
            channel,
            &rules_fingerprint(&config.rules, channel),
            now,
        )
        .await
}

/// The row `item` is claimed (or skipped) as, for `channel`.
fn claim_of<'a>(
    channel: &'a str,
    subject: &'a str,
    version: i64,
    item: &'a InboxItem,
) -> NotificationClaim<'a> {
    NotificationClaim {
        channel,
        subject,
        version,
        kind: item.kind.as_str(),
        title: &item.title,
        repo: &item.repo,
    }
}

/// A fingerprint of the rules that name `channel`.
fn rules_fingerprint(rules: &[Rule], channel: &str) -> String {
    use sha2::Digest;
    let mine: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.channels.iter().any(|c| c == channel))
        .collect();
    let text = serde_json::to_string(&mine).unwrap_or_default();
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
}

/// What one pass did, for a log line, `notify` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Single messages sent.
    pub sent: usize,
    /// Items held for the next digest.
    pub held: usize,
    /// Items sent as lines of a digest.
    pub digested: usize,
    /// Updates sent for items that left the inbox.
    pub resolved: usize,
    /// One line per failed send: channel and reason.
    pub failed: Vec<String>,
    /// It was quiet hours: nothing was looked at.
    pub quiet: bool,
}

/// A claim whose sender never recorded an outcome is taken again this long after it was made
/// (its process died mid-send; a send gives up after [`channels::TIMEOUT`], and each claim is
/// made just before its send). Instances' clocks must agree to well within this.
const LEASE_MS: i64 = 120_000;
/// Tries before a notification is given up on.
const MAX_ATTEMPTS: i64 = 8;
/// How long "Send a test" waits between two tests of one channel (the API's button).
const TEST_COOLDOWN_SECS: u64 = 10;

/// The wall clock in ms: leases and the order of claims against inbox reads, across instances.
fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh claim token: only its holder records the claim's outcome.
fn token() -> Result<String> {
    let mut nonce = [0u8; 12];
    getrandom::getrandom(&mut nonce).map_err(|e| crate::Error::Invalid {
        path: std::path::PathBuf::from("notify"),
        message: format!("no randomness for a claim: {e}"),
    })?;
    Ok(hex::encode(nonce))
}

/// The rules and channels, ready to run passes.
pub struct Notifier {
    config: Config,
    /// The configured channels that could not be opened, one line each (key and reason).
    problems: Vec<String>,
    channels: Vec<Channel>,
    rules: Vec<Rule>,
    quiet: Option<(u32, u32)>,
    offset: i32,
    digest_after: u32,
    link_base: Option<String>,
    client: reqwest::Client,
    /// When each channel was last sent a test from the API.
    tests: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Notifier {
    /// A notifier for `config` with `channels` (those whose secrets were found) and the
    /// `problems` of the rest, as [`channels::open`] gives them. `config` must have passed
    /// [`Config::problem`].
    pub fn new(config: &Config, channels: Vec<Channel>, problems: Vec<String>) -> Notifier {
        Notifier {
            config: config.clone(),
            problems,
            channels,
            rules: config.rules.clone(),
            quiet: config
                .quiet_hours
                .as_deref()
                .and_then(|q| parse_quiet_hours(q).ok()),
            offset: config
                .utc_offset
                .as_deref()
                .and_then(|o| parse_offset(o).ok())
                .unwrap_or(0),
            digest_after: config.digest_after.unwrap_or(DEFAULT_DIGEST_AFTER),
            link_base: config
                .link_base
                .as_deref()
                .map(|b| b.trim_end_matches('/').to_string()),
            client: channels::client(),
            tests: Default::default(),
        }
    }

    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Whether `now` falls in the quiet hours.
    pub fn is_quiet(&self, now: i64) -> bool {
        let Some((start, end)) = self.quiet else {
            return false;
        };
        let minute = ((now + i64::from(self.offset)).rem_euclid(86_400) / 60) as u32;
        if start <= end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }

    /// Whether a rule sends `item` to `channel`.
    fn routes(&self, item: &InboxItem, channel: &str) -> bool {
        let kind = item.kind.as_str();
        self.rules.iter().any(|r| {
            r.channels.iter().any(|c| c == channel)
                && r.events.iter().any(|e| e == "*" || event_name(e) == kind)
                && (r.repos.is_empty() || r.repos.iter().any(|want| repo_matches(&item.repo, want)))
        })
    }

    fn link(&self, view: &str) -> Option<String> {
        self.link_base.as_ref().map(|b| format!("{b}/#/{view}"))
    }

    /// One pass over the inbox at `now`: for each channel, what is news is claimed and sent
    /// (past the hourly limit, held for the digest, which goes at most once an hour), and what
    /// left the inbox is resolved, with an update where the channel can show one.
    pub async fn pass(&self, store: &Store, now: i64) -> Result<PassReport> {
        let mut report = PassReport::default();
        if self.is_quiet(now) {
            report.quiet = true;
            return Ok(report);
        }
        let read_ms = wall_ms();
        let inbox = crate::views::inbox_at(store, now).await?.items;
        let current: HashSet<(String, i64)> = inbox.iter().map(subject_of).collect();
        for ch in &self.channels {
            let mine: Vec<&InboxItem> = inbox.iter().filter(|i| self.routes(i, &ch.name)).collect();
            // A channel's first pass takes what the inbox holds as not news (a team's holds
            // thousands of open reviews), and so does the first after its rules change, for
            // what they newly route: each is sent only if it leaves and comes back.
            let rules = rules_fingerprint(&self.rules, &ch.name);
            if store.cursor(BASELINE_CURSOR, &ch.name).await?.as_deref() != Some(&rules) {
                for item in &mine {
                    let (subject, version) = subject_of(item);
                    store
                        .skip_notification(&claim_of(&ch.name, &subject, version, item))
                        .await?;
                }
                store
                    .set_cursor(BASELINE_CURSOR, &ch.name, &rules, now)
                    .await?;
                continue;
            }
            let sent_this_hour = store
                .notifications_sent_since(&ch.name, now - 3_600)
                .await?;
            let mut room = (i64::from(self.digest_after) - sent_this_hour).max(0);
            let open = store.open_notification_states(&ch.name).await?;
            let lapsed = wall_ms() - LEASE_MS;
            for item in &mine {
                // Only what may be claimable is tried: an item without an open row (new, or
                // back after it left), a failed one now due, one whose sender died.
                if let Some((status, next_try, claimed_ms)) = open.get(&subject_of(item)) {
                    let due = match status.as_str() {
                        "failed" => next_try.is_some_and(|t| t <= now),
                        "sending" => *claimed_ms < lapsed,
                        _ => false,
                    };
                    if !due {
                        continue;
                    }
                }
                let token = token()?;
                let (status, via) = if room > 0 {
                    ("sending", "single")
                } else {
                    ("held", "digest")
                };
                // Claimed just before its send: the lease runs from here.
                if !self
                    .claim(store, ch, item, status, via, now, read_ms, &token)
                    .await?
                {
                    continue;
                }
                if status == "held" {
                    report.held += 1;
                    continue;
                }
                room -= 1;
                let (subject, version) = subject_of(item);
                // Which round this is: an item that came back is the next, a new delivery.
                let round = store
                    .notification_round(&ch.name, &subject, version)
                    .await?;
                let msg = self.item_message(&ch.name, &subject, version, round, item);
                let outcome = ch.send(&self.client, &msg).await;
                if self
                    .outcome(
                        store,
                        ch,
                        &subject,
                        version,
                        &token,
                        &outcome,
                        now,
                        &mut report,
                    )
                    .await?
                {
                    report.sent += 1;
                }
            }
            let routed: HashSet<(String, i64)> = mine.iter().map(|i| subject_of(i)).collect();
            self.digest(store, ch, &routed, now, &mut report).await?;
            // What left the inbox: resolved once, with its update where one is due. Only
            // claims older than the inbox read: a newer one's item may have come since.
            for open in store
                .open_notifications(&ch.name, read_ms, wall_ms() - LEASE_MS)
                .await?
            {
                if current.contains(&(open.subject.clone(), open.version)) {
                    continue;
                }
                if !store
                    .resolve_notification(
                        &ch.name,
                        &open.subject,
                        open.version,
                        wall_ms(),
                        wall_ms() - LEASE_MS,
                    )
                    .await?
                {
                    continue;
                }
                if open.status == "sent" && open.via != "test" && ch.updates(&open.via) {
                    let msg = Message::resolved(&ch.name, &open);
                    match ch.send(&self.client, &msg).await {
                        Ok(_) => report.resolved += 1,
                        // An update is courtesy: not retried, but said.
                        Err(e) => report.failed.push(format!("{}: {e}", ch.name)),
                    }
                }
            }
        }
        Ok(report)
    }

    /// Claims `item` for `ch` as `status`.
    #[allow(clippy::too_many_arguments)]
    async fn claim(
        &self,
        store: &Store,
        ch: &Channel,
        item: &InboxItem,
        status: &str,
        via: &str,
        now: i64,
        read_ms: i64,
        token: &str,
    ) -> Result<bool> {
        let (subject, version) = subject_of(item);
        store
            .claim_notification(
                &claim_of(&ch.name, &subject, version, item),
                &ClaimAs {
                    status,
                    via,
                    now,
                    wall_ms: wall_ms(),
                    read_ms,
                    lease_ms: LEASE_MS,
                    token,
                },
            )
            .await
    }

    /// Sends what is held for `ch` (and still `routed` to it) as one digest, when its last went
    /// an hour ago or more; items held that left the inbox meanwhile are dropped by the
    /// resolution after.
    async fn digest(
        &self,
        store: &Store,
        ch: &Channel,
        routed: &HashSet<(String, i64)>,
        now: i64,
        report: &mut PassReport,
    ) -> Result<()> {
        let last: Option<i64> = store
            .cursor(DIGEST_CURSOR, &ch.name)
            .await?
            .and_then(|t| t.parse().ok());
        if last.is_some_and(|t| now < t.saturating_add(3_600)) {
            return Ok(());
        }
        let token = token()?;
        let mut taken = Vec::new();
        for held in store.held_notifications(&ch.name).await? {
            if !routed.contains(&(held.subject.clone(), held.version)) {
                continue;
            }
            if store
                .claim_held_notification(&ch.name, &held.subject, held.version, wall_ms(), &token)
                .await?
            {
                taken.push(held);
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        let lines: Vec<Message> = taken
            .iter()
            .map(|n| Message {
                kind: MessageType::Notification,
                id: format!("{}/{}@{}", ch.name, n.subject, n.version),
                event: n.kind.clone(),
                title: n.title.clone(),
                detail: String::new(),
                repo: n.repo.clone(),
                link: None,
                at: n.claimed_at,
                items: Vec::new(),
                reference: None,
                delivery: String::new(),
            })
            .collect();
        let digest = Message::digest(&ch.name, now, lines, self.link("inbox"), &token);
        let outcome = ch.send(&self.client, &digest).await;
        for n in &taken {
            self.outcome(
                store, ch, &n.subject, n.version, &token, &outcome, now, report,
            )
            .await?;
        }
        // Only a digest that went starts the hour: a failed one's items are tried again at
        // their backoff.
        if outcome.is_ok() {
            report.digested += taken.len();
            store
                .set_cursor(DIGEST_CURSOR, &ch.name, &now.to_string(), now)
                .await?;
        }
        Ok(())
    }

    fn item_message(
        &self,
        channel: &str,
        subject: &str,
        version: i64,
        round: i64,
        i: &InboxItem,
    ) -> Message {
        let id = format!("{channel}/{subject}@{version}");
        Message {
            kind: MessageType::Notification,
            delivery: channels::delivery_id(&id, round, MessageType::Notification),
            id,
            event: i.kind.as_str().to_string(),
            title: i.title.clone(),
            detail: i.detail.clone(),
            repo: i.repo.clone(),
            link: self.link(&i.view),
            at: i.at,
            items: Vec::new(),
            reference: None,
        }
    }

    /// Records a send's outcome (as the claimant holding `token`); true when it went.
    #[allow(clippy::too_many_arguments)]
    async fn outcome(
        &self,
        store: &Store,
        ch: &Channel,
        subject: &str,
        version: i64,
        token: &str,
        outcome: &std::result::Result<Option<String>, channels::SendError>,
        now: i64,
        report: &mut PassReport,
    ) -> Result<bool> {
        match outcome {
            Ok(reference) => {
                store
                    .notification_sent(&ch.name, subject, version, token, reference.as_deref(), now)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                let attempts = store
                    .notification_attempts(&ch.name, subject, version)
                    .await?;
                let next =
                    (attempts < MAX_ATTEMPTS).then(|| now.saturating_add(backoff(attempts, e)));
                report.failed.push(format!("{}: {e}", ch.name));
                store
                    .notification_failed(&ch.name, subject, version, token, &e.to_string(), next)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Whether the API's "Send a test" may send to `channel` now: at most one test every
    /// [`TEST_COOLDOWN_SECS`] per channel. `Err` says how long to wait.
    pub fn test_allowed(&self, channel: &str) -> std::result::Result<(), String> {
        let mut tests = self.tests.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if let Some(last) = tests.get(channel) {
            let since = now.duration_since(*last).as_secs();
            if since < TEST_COOLDOWN_SECS {
                return Err(format!(
                    "a test went to {channel} {since} s ago; try again in {} s",
                    TEST_COOLDOWN_SECS - since
                ));
            }
        }
        tests.insert(channel.to_string(), now);
        Ok(())
    }

    /// Sends a test message to `channel` now, recorded like any other (and resolved at once:
    /// it is never updated); the outcome is returned.
    pub async fn test(
        &self,
        store: &Store,
        channel: &str,
        now: i64,
    ) -> Result<std::result::Result<(), String>> {
        let Some(ch) = self.channels.iter().find(|c| c.name == channel) else {
            return Ok(Err(format!("no channel `{channel}` is configured")));
        };
        // Each test its own: two asked within a second are two messages.
        let token = token()?;
        let subject = format!("test/{now}-{}", &token[..12]);
        let claim = NotificationClaim {
            channel: &ch.name,
            subject: &subject,
            version: 0,
            kind: "test",
            title: "Test from Flightdeck",
            repo: "",
        };
        let how = ClaimAs {
            status: "sending",
            via: "test",
            now,
            wall_ms: wall_ms(),
            read_ms: wall_ms(),
            lease_ms: LEASE_MS,
            token: &token,
        };
        store.claim_notification(&claim, &how).await?;
        let id = format!("{}/{subject}@0", ch.name);
        let msg = Message {
            kind: MessageType::Test,
            delivery: channels::delivery_id(&id, 0, MessageType::Test),
            id,
            event: "test".into(),
            title: "Test from Flightdeck".into(),
            detail: format!(
                "Channel `{}` works: notifications will arrive here.",
                ch.name
            ),
            repo: String::new(),
            link: self.link(""),
            at: now,
            items: Vec::new(),
            reference: None,
        };
        let outcome = ch.send(&self.client, &msg).await;
        // A test is not retried: the person who asked sees the outcome.
        match &outcome {
            Ok(r) => {
                store
                    .notification_sent(&ch.name, &subject, 0, &token, r.as_deref(), now)
                    .await?;
            }
            Err(e) => {
                store
                    .notification_failed(&ch.name, &subject, 0, &token, &e.to_string(), None)
                    .await?
            }
        }
        store
            .resolve_notification(&ch.name, &subject, 0, wall_ms(), wall_ms() - LEASE_MS)
            .await?;
        Ok(outcome.map(|_| ()).map_err(|e| e.to_string()))
    }
}

/// A channel as the Notifications panel shows it.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ChannelView {
    pub name: String,
    pub kind: String,
    /// Where it sends: scheme, host and path (never a query, which may carry a key).
    pub target: String,
    /// Why it sends nothing (no secret), when so.
    pub problem: Option<String>,
    #[ts(type = "number | null")]
    pub last_sent: Option<i64>,
    /// The last failed send's error, if the last try failed.
    pub last_error: Option<String>,
}

/// A rule as the panel shows it.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RuleView {
    pub events: Vec<String>,
    pub repos: Vec<String>,
    pub channels: Vec<String>,
}

/// The Notifications panel: channels, rules, limits, and what was sent lately.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct NotificationsView {
    pub channels: Vec<ChannelView>,
    pub rules: Vec<RuleView>,
    pub quiet_hours: Option<String>,
    pub utc_offset: Option<String>,
    pub digest_after: u32,
    pub recent: Vec<crate::store::SentNotification>,
}

impl Notifier {
    /// The panel's view: the configuration as loaded, each channel's state, the last 50 sent.
    pub async fn view(&self, store: &Store) -> Result<NotificationsView> {
        let recent = store.recent_notifications(50).await?;
        let channels = self
            .config
            .channels
            .iter()
            .map(|(name, c)| {
                let kind = c.kind();
                let target = reqwest::Url::parse(&c.url())
                    .map(|u| {
                        format!(
                            "{}://{}{}",
                            u.scheme(),
                            u.host_str().unwrap_or_default(),
                            u.port().map(|p| format!(":{p}")).unwrap_or_default()
                        ) + u.path()
                    })
                    .map(|t| match c {
                        ChannelConfig::Slack { channel, .. } => format!("{channel} via {t}"),
                        ChannelConfig::Email { to, .. } => format!("{} via {t}", to.join(", ")),
                        _ => t,
                    })
                    .unwrap_or_default();
                let mine = recent.iter().filter(|n| &n.channel == name);
                let last_sent = mine.clone().filter_map(|n| n.sent_at).max();
                let last_error = mine
                    .clone()
                    .max_by_key(|n| n.claimed_at)
                    .filter(|n| n.status == "failed" || n.status == "gave_up")
                    .and_then(|n| n.last_error.clone());
                ChannelView {
                    name: name.clone(),
                    kind: kind.into(),
                    target,
                    problem: self
                        .problems
                        .iter()
                        .find(|p| p.starts_with(&format!("notify.channels.{name}")))
                        .cloned(),
                    last_sent,
                    last_error,
                }
            })
            .collect();
        Ok(NotificationsView {
            channels,
            rules: self
                .config
                .rules
                .iter()
                .map(|r| RuleView {
                    events: r.events.clone(),
                    repos: r.repos.clone(),
                    channels: r.channels.clone(),
                })
                .collect(),
            quiet_hours: self.config.quiet_hours.clone(),
            utc_offset: self.config.utc_offset.clone(),
            digest_after: self.digest_after,
            recent,
        })
    }
}

/// How long before try `attempts + 1`: 30 s doubling to an hour, or what a 429 asked for (at
/// most a day).
fn backoff(attempts: i64, e: &channels::SendError) -> i64 {
    let doubling = 30_i64.saturating_mul(1 << attempts.clamp(1, 8).saturating_sub(1));
    doubling
        .min(3_600)
        .max(e.retry_after().unwrap_or(0).clamp(0, 86_400))
}

/// A rule's repo (`acme-api`, `acme/acme-api` or the full id) matches an item's repo id.
fn repo_matches(repo: &str, want: &str) -> bool {
    let want = want.trim().trim_end_matches('/');
    !want.is_empty()
        && (repo.eq_ignore_ascii_case(want)
            || repo
                .to_ascii_lowercase()
                .ends_with(&format!("/{}", want.to_ascii_lowercase())))
}

/// Runs a pass every `every`, and soon after the inbox may have changed (an event on `bus`).
/// Network sends happen here, never in a caller's path.
pub fn spawn_periodic(
    store: Store,
    bus: crate::model::events::EventBus,
    notifier: std::sync::Arc<Notifier>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if notifier.channels.is_empty() {
            return;
        }
        let mut events = bus.subscribe();
        loop {
            let now = chrono::Utc::now().timestamp();
            match notifier.pass(&store, now).await {
                Ok(r) => {
                    for f in &r.failed {
                        tracing::warn!("notification not sent: {f}");
                    }
                    if r.sent + r.digested + r.resolved > 0 {
                        bus.publish(crate::model::events::Event::Changed {
                            source: "notify".into(),
                            topics: vec!["notifications".into()],
                        });
                    }
                }
                Err(e) => tracing::warn!("notification pass failed: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                got = events.recv() => {
                    // Our own event, or a burst: let it settle before looking again.
                    if matches!(&got, Ok(crate::model::events::Event::Changed { source, .. }) if source == "notify") {
                        tokio::time::sleep(every).await;
                    } else {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        }
    })
}

/// Where the config's problems are named: `path` and the key.
pub fn check(config: &Config, path: &Path) -> std::result::Result<(), ConfigError> {
    match config.problem() {
        None => Ok(()),
        Some((key, message)) => Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        }),
    }
}
