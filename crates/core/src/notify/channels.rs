//! What goes over the wire to each kind of channel: a generic webhook (a JSON body signed with
//! HMAC-SHA256 over the timestamp and body, so a receiver can refuse forgeries and replays) and
//! an ntfy topic (JSON publishing, so titles need no header encoding). Each channel's secret is
//! its own: a webhook's key never leaves this machine, an ntfy token goes only to its server.

use std::time::Duration;

use serde::Serialize;

use super::{ChannelConfig, Config};
use crate::store::SentNotification;

/// How long one send may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The headers of a signed webhook delivery.
pub const SIGNATURE_HEADER: &str = "x-flightdeck-signature";
pub const TIMESTAMP_HEADER: &str = "x-flightdeck-timestamp";
pub const DELIVERY_HEADER: &str = "x-flightdeck-delivery";

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
        /// Seconds a 429 or 503 asked to wait (`Retry-After`).
        retry_after: Option<i64>,
    },
    #[error("{url}: {message}")]
    Network { url: String, message: String },
}

impl SendError {
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            SendError::Status { retry_after, .. } => *retry_after,
            SendError::Network { .. } => None,
        }
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// An inbox item that is news.
    Notification,
    /// An item notified before has left the inbox (the release was approved, the check passed).
    Resolved,
    /// The items past the hourly limit, in one message.
    Digest,
    /// `flightdeck notify test`.
    Test,
}

/// One message, as a webhook receives it (JSON); other channels render it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Stable per notification (`CHANNEL/SUBJECT@VERSION`): a receiver can drop repeats, and
    /// an update names what it updates.
    pub id: String,
    /// The inbox kind (`release_gate`, `needs_you`, ...), `digest` or `test`.
    pub event: String,
    pub title: String,
    pub detail: String,
    pub repo: String,
    /// Into Flightdeck's view of it, when `[notify] link_base` is set.
    pub link: Option<String>,
    pub at: i64,
    /// A digest's items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Message>,
    /// What the channel called the message a `resolved` one updates (a Slack `ts`).
    #[serde(skip)]
    pub reference: Option<String>,
    /// This delivery's id ([`delivery_id`]): the same on a retry, another for an update or a
    /// later round. Sent in [`DELIVERY_HEADER`].
    #[serde(skip)]
    pub delivery: String,
}

/// A delivery's id: hex, so always a valid header; the same for every try of one message
/// (a receiver can drop repeats), different for its update and for a later round.
pub fn delivery_id(message_id: &str, round: i64, kind: MessageType) -> String {
    use sha2::Digest;
    let kind = serde_json::to_string(&kind).unwrap_or_default();
    let digest = sha2::Sha256::digest(format!("{message_id}#{round}:{kind}").as_bytes());
    hex::encode(&digest[..16])
}

/// `url` without what may carry a secret (user info, query, fragment), for messages and logs.
pub fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Message {
    /// One message standing for `items`, sent by the claimant holding `token` (two instances'
    /// digests are two messages).
    pub fn digest(
        channel: &str,
        now: i64,
        items: Vec<Message>,
        link: Option<String>,
        token: &str,
    ) -> Message {
        let id = format!("{channel}/digest@{now}-{token}");
        Message {
            kind: MessageType::Digest,
            delivery: delivery_id(&id, 0, MessageType::Digest),
            id,
            event: "digest".into(),
            title: format!("{} more from Flightdeck", items.len()),
            // The first 30 by title; every one is in `items`.
            detail: {
                let mut lines: Vec<String> = items
                    .iter()
                    .take(30)
                    .map(|m| format!("- {}", m.title))
                    .collect();
                if items.len() > 30 {
                    lines.push(format!("…and {} more", items.len() - 30));
                }
                lines.join("\n")
            },
            repo: String::new(),
            link,
            at: now,
            items,
            reference: None,
        }
    }

    /// The update of a notification whose item left the inbox.
    pub fn resolved(channel: &str, n: &SentNotification) -> Message {
        let id = format!("{channel}/{}@{}", n.subject, n.version);
        Message {
            kind: MessageType::Resolved,
            delivery: delivery_id(&id, n.round, MessageType::Resolved),
            id,
            event: n.kind.clone(),
            title: n.title.clone(),
            detail: "no longer waiting".into(),
            repo: n.repo.clone(),
            link: None,
            at: n.claimed_at,
            items: Vec::new(),
            reference: n.message_ref.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    Webhook,
    Ntfy,
    /// Posts to this Slack channel ID.
    Slack {
        channel: String,
    },
    /// Mails over SMTP.
    Email(Box<EmailSetup>),
}

/// An email channel, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSetup {
    host: String,
    port: u16,
    tls: EmailTls,
    from: String,
    to: Vec<String>,
    username: Option<String>,
    /// Extra roots (PEM), read from `ca_file`.
    roots: Option<Vec<u8>>,
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTls {
    /// STARTTLS, required: never sent in the clear.
    StartTls,
    /// TLS from the first byte (port 465).
    Wrapper,
    /// Plain: only to this machine.
    None,
}

/// The SMTP server of an email channel: host, port, how it is secured; `Err` names the key.
pub fn smtp_server(c: &ChannelConfig) -> Result<(String, u16, EmailTls), (&'static str, String)> {
    let ChannelConfig::Email { smtp, tls, .. } = c else {
        return Err(("kind", "not an email channel".into()));
    };
    let tls = match tls.as_deref().unwrap_or("starttls") {
        "starttls" => EmailTls::StartTls,
        "tls" => EmailTls::Wrapper,
        "none" => EmailTls::None,
        other => {
            return Err((
                "tls",
                format!("`{other}`: one of starttls (the default), tls, none"),
            ))
        }
    };
    let default_port = if tls == EmailTls::Wrapper { 465 } else { 587 };
    let port_of = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| ("smtp", format!("`{smtp}`: the port is not a number")))
    };
    let (host, port) = match smtp.strip_prefix('[') {
        // `[::1]` or `[::1]:25`.
        Some(rest) => match rest.split_once(']') {
            Some((h, "")) => (h.to_string(), default_port),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h.to_string(), port_of(p)?),
                None => return Err(("smtp", format!("`{smtp}` is not a host or host:port"))),
            },
            None => return Err(("smtp", format!("`{smtp}` is not a host or host:port"))),
        },
        None => match smtp.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), port_of(p)?),
            _ => (smtp.clone(), default_port),
        },
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(("smtp", format!("`{smtp}` is not a host or host:port")));
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if tls == EmailTls::None && !loopback {
        return Err((
            "tls",
            format!("mail goes to {host} only encrypted: tls = \"none\" is for this machine only"),
        ));
    }
    Ok((host, port, tls))
}

/// The problems of an email channel's config, as `(key, message)`; nothing is read.
pub fn check_email(c: &ChannelConfig) -> Result<(), (&'static str, String)> {
    let ChannelConfig::Email { from, to, .. } = c else {
        return Ok(());
    };
    smtp_server(c)?;
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| ("from", format!("`{from}` is not an address: {e}")))?;
    if to.is_empty() {
        return Err(("to", "names no address".into()));
    }
    for t in to {
        t.parse::<lettre::message::Mailbox>()
            .map_err(|e| ("to", format!("`{t}` is not an address: {e}")))?;
    }
    Ok(())
}

/// An email channel's setup, its `ca_file` read.
fn email(c: &ChannelConfig) -> Result<EmailSetup, (&'static str, String)> {
    check_email(c)?;
    let (host, port, tls) = smtp_server(c)?;
    let ChannelConfig::Email {
        from,
        to,
        username,
        ca_file,
        ..
    } = c
    else {
        return Err(("kind", "not an email channel".into()));
    };
    let roots = match ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| ("ca_file", format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    Ok(EmailSetup {
        host,
        port,
        tls,
        from: from.clone(),
        to: to.clone(),
        username: username.clone(),
        roots,
    })
}

/// A channel ready to send.
#[derive(Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    url: reqwest::Url,
    /// A webhook's signing key (never sent), an ntfy access token (sent to `url` only).
    secret: Option<String>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redact(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The keyring account of a channel's secret: per channel and per host it goes to, so a
/// channel pointed elsewhere does not take its old secret along.
pub fn keyring_account(channel: &str, config: &ChannelConfig) -> String {
    let host = reqwest::Url::parse(&config.url())
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_default();
    format!("notify:{channel}@{host}")
}

/// This machine's secret for `channel`: the environment variable its config names, else the
/// keyring's (`flightdeck notify secret NAME`). May block on the keyring: call off async threads.
pub fn lookup_secret(channel: &str, config: &ChannelConfig) -> Option<String> {
    match config.secret_env() {
        Some(var) => std::env::var(var).ok(),
        None => crate::model::secrets::get(&keyring_account(channel, config))
            .map_err(|e| tracing::warn!("notify channel {channel}: {e}"))
            .ok()
            .flatten(),
    }
}

/// The configured channels, each with its secret from `lookup(name, channel)`; a webhook or
/// Slack channel without one is left out, with a one-line warning naming the key.
pub fn open(
    config: &Config,
    lookup: &dyn Fn(&str, &ChannelConfig) -> Option<String>,
) -> (Vec<Channel>, Vec<String>) {
    let mut channels = Vec::new();
    let mut warnings = Vec::new();
    for (name, c) in &config.channels {
        let env = c.secret_env();
        let kind = match c {
            ChannelConfig::Webhook { .. } => ChannelKind::Webhook,
            ChannelConfig::Ntfy { .. } => ChannelKind::Ntfy,
            ChannelConfig::Slack { channel, .. } => ChannelKind::Slack {
                channel: channel.clone(),
            },
            ChannelConfig::Email { .. } => match email(c) {
                Ok(e) => ChannelKind::Email(Box::new(e)),
                Err((key, e)) => {
                    warnings.push(format!("notify.channels.{name}.{key}: {e}"));
                    continue;
                }
            },
        };
        let url = match &kind {
            ChannelKind::Email(_) => reqwest::Url::parse(&c.url()).map_err(|e| e.to_string()),
            _ => crate::model::secrets::check_secret_url(&c.url()),
        };
        let url = match url {
            Ok(u) => u,
            Err(e) => {
                warnings.push(format!("notify.channels.{name}.url: {e}"));
                continue;
            }
        };
        let secret = lookup(name, c).filter(|s| !s.is_empty());
        let needs = match &kind {
            ChannelKind::Webhook => Some("no signing secret"),
            ChannelKind::Slack { .. } => Some("no bot token"),
            ChannelKind::Email(e) if e.username.is_some() => Some("no password"),
            ChannelKind::Ntfy | ChannelKind::Email(_) => None,
        };
        if let (Some(missing), None) = (needs, &secret) {
            let key = if env.is_some() {
                format!(".{}", c.secret_key())
            } else {
                String::new()
            };
            warnings.push(format!(
                "notify.channels.{name}{key}: {missing}, so nothing is sent to it ({})",
                match env {
                    Some(v) => format!("`{v}` is not set"),
                    None => format!(
                        "name a variable with `{}`, or store one with `flightdeck notify \
                         secret {name}`",
                        c.secret_key()
                    ),
                }
            ));
            continue;
        }
        channels.push(Channel {
            name: name.clone(),
            kind,
            url,
            secret,
        });
    }
    (channels, warnings)
}

/// The client every channel sends with: a timeout, and no redirect followed (a token must not
/// follow one elsewhere, and a webhook that moved should say so).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// HMAC-SHA256 of `TIMESTAMP.BODY` with `secret`, hex: the webhook's signature (`sha256=` and
/// this, in [`SIGNATURE_HEADER`]).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    hex::encode(ctx.sign().as_ref())
}

impl Channel {
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Whether the channel gets an update when an item sent `via` leaves the inbox: a webhook
    /// always (by id); Slack a message of its own (a digest's line is not one); ntfy never (it
    /// cannot change a message already shown: it would be a second notification).
    pub fn updates(&self, via: &str) -> bool {
        match self.kind {
            ChannelKind::Webhook => true,
            ChannelKind::Slack { .. } => via == "single",
            // A mail, once sent, is the reader's.
            ChannelKind::Ntfy | ChannelKind::Email(_) => false,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Email(_) => "email",
        }
    }

    /// Sends `msg`; what the channel calls the message, when it says.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        msg: &Message,
    ) -> Result<Option<String>, SendError> {
        let network = |e: reqwest::Error| SendError::Network {
            url: redact(&self.url),
            message: if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if e.is_connect() {
                "cannot connect".into()
            } else {
                e.without_url().to_string()
            },
        };
        let request = match &self.kind {
            ChannelKind::Webhook => {
                let body = serde_json::to_vec(msg).unwrap_or_default();
                let now = chrono::Utc::now().timestamp();
                let sig = signature(self.secret.as_deref().unwrap_or_default(), now, &body);
                client
                    .post(self.url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(DELIVERY_HEADER, &msg.delivery)
                    .header(TIMESTAMP_HEADER, now.to_string())
                    .header(SIGNATURE_HEADER, format!("sha256={sig}"))
                    .body(body)
            }
            ChannelKind::Slack { channel } => return self.send_slack(client, channel, msg).await,
            ChannelKind::Email(setup) => return self.send_email(setup, msg).await,
            ChannelKind::Ntfy => {
                let (base, topic) = ntfy_topic(&self.url);
                let body = serde_json::to_vec(&ntfy_body(&topic, msg)).unwrap_or_default();
                let mut r = client
                    .post(base)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                if let Some(t) = &self.secret {
                    r = r.bearer_auth(t);
                }
                r
            }
        };
        let resp = request.send().await.map_err(network)?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|s| s.clamp(0, 86_400));
            let body = resp.text().await.unwrap_or_default();
            return Err(SendError::Status {
                url: redact(&self.url),
                status: status.as_u16(),
                body: one_line(&body),
                retry_after,
            });
        }
        Ok(match self.kind {
            ChannelKind::Webhook | ChannelKind::Slack { .. } | ChannelKind::Email(_) => None,
            ChannelKind::Ntfy => resp
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("id")?.as_str().map(str::to_string)),
        })
    }
}

impl Channel {
    /// Slack's Web API: `chat.postMessage`, or `chat.update` of the message a `resolved` one
    /// names. Slack answers most errors with 200 and `{"ok": false, "error": …}`.
    async fn send_slack(
        &self,
        client: &reqwest::Client,
        channel: &str,
        msg: &Message,
    ) -> Result<Option<String>, SendError> {
        let (method, body) = match (msg.kind, &msg.reference) {
            (MessageType::Resolved, Some(ts)) => ("chat.update", slack_resolved(channel, ts, msg)),
            // Nothing of its own to update (sent in a digest): nothing to say.
            (MessageType::Resolved, None) => return Ok(None),
            _ => ("chat.postMessage", slack_message(channel, msg)),
        };
        let url = format!("{}/{method}", self.url.as_str().trim_end_matches('/'));
        let shown = format!("{}/{method}", redact(&self.url).trim_end_matches('/'));
        let err = |message: String| SendError::Network {
            url: shown.clone(),
            message,
        };
        let resp = client
            .post(&url)
            .bearer_auth(self.secret.as_deref().unwrap_or_default())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .send()
            .await
            .map_err(|e| {
                err(if e.is_timeout() {
                    format!("no answer within {} s", TIMEOUT.as_secs())
                } else if e.is_connect() {
                    "cannot connect".into()
                } else {
                    e.without_url().to_string()
                })
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|s| s.clamp(0, 86_400));
        let text = resp.text().await.unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if !status.is_success() || answer["ok"] != serde_json::Value::Bool(true) {
            let error = answer["error"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| one_line(&text));
            return Err(SendError::Status {
                url: shown,
                status: status.as_u16(),
                body: slack_hint(&error),
                retry_after,
            });
        }
        Ok(answer["ts"].as_str().map(str::to_string))
    }
}

impl Channel {
    /// One mail to every address of the channel, over SMTP secured as configured (lettre).
    async fn send_email(
        &self,
        setup: &EmailSetup,
        msg: &Message,
    ) -> Result<Option<String>, SendError> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        let shown = format!("smtp://{}:{}", setup.host, setup.port);
        let fail = |message: String| SendError::Network {
            url: shown.clone(),
            message,
        };
        let mut email = lettre::Message::builder()
            .from(setup.from.parse().map_err(|e| fail(format!("from: {e}")))?)
            .subject(msg.title.replace(['\r', '\n'], " "))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for t in &setup.to {
            email = email.to(t.parse().map_err(|e| fail(format!("to: {e}")))?);
        }
        let email = email
            .body(email_body(msg))
            .map_err(|e| fail(format!("building the mail: {e}")))?;
        let tls = match setup.tls {
            EmailTls::None => Tls::None,
            secured => {
                let mut params = TlsParameters::builder(setup.host.clone());
                if let Some(pem) = &setup.roots {
                    let cert =
                        Certificate::from_pem(pem).map_err(|e| fail(format!("ca_file: {e}")))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| fail(format!("TLS: {e}")))?;
                if secured == EmailTls::Wrapper {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&setup.host)
            .port(setup.port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let (Some(user), Some(password)) = (&setup.username, &self.secret) {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let transport = transport.build();
        match tokio::time::timeout(TIMEOUT * 3, transport.send(email)).await {
            Ok(Ok(response)) => Ok(response.message().next().map(str::to_string)),
            Ok(Err(e)) => Err(fail(if e.is_permanent() {
                format!("refused: {e}")
            } else {
                e.to_string()
            })),
            Err(_) => Err(fail(format!(
                "no answer within {} s",
                (TIMEOUT * 3).as_secs()
            ))),
        }
    }
}

/// A notification as a plain-text mail: the detail, what and where, the link.
fn email_body(msg: &Message) -> String {
    let mut body = String::new();
    // A digest's detail lists its first items; a mail lists them all.
    if msg.items.is_empty() {
        if !msg.detail.is_empty() {
            body.push_str(&msg.detail);
            body.push_str("\n\n");
        }
    } else {
        for m in &msg.items {
            body.push_str(&format!("- {}\n", m.title));
        }
        body.push('\n');
    }
    let mut what = msg.event.replace('_', " ");
    if !msg.repo.is_empty() {
        what.push_str(&format!(" · {}", msg.repo));
    }
    body.push_str(&what);
    body.push('\n');
    if let Some(link) = &msg.link {
        body.push_str(&format!("\nOpen in Flightdeck: {link}\n"));
    }
    body.push_str(&format!("\n-- \nFlightdeck · {}\n", msg.id));
    body
}

/// Slack's error code, with what to do about the ones a setup causes.
fn slack_hint(error: &str) -> String {
    let hint = match error {
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            "the bot token was refused: store a current one with `flightdeck notify secret NAME`"
        }
        "channel_not_found" => "no such channel, or the bot cannot see it: use the channel's ID",
        "not_in_channel" => "the bot is not in the channel: invite it (/invite @bot)",
        "missing_scope" => "the bot lacks the chat:write scope",
        _ => "",
    };
    if hint.is_empty() {
        error.to_string()
    } else {
        format!("{error}: {hint}")
    }
}

/// The most a Block Kit text object holds (Slack refuses more with `invalid_blocks`).
const SLACK_TEXT_MAX: usize = 3_000;

/// `text` (escaped already) cut to at most `max` bytes, never inside a character or an
/// escape (`&amp;`), marked with an ellipsis when cut.
fn slack_cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // An escape is at most 5 bytes: one begun in the last 4 and not closed is dropped.
    if let Some(amp) = text[end.saturating_sub(4)..end].rfind('&') {
        let at = end.saturating_sub(4) + amp;
        if !text[at..end].contains(';') {
            end = at;
        }
    }
    format!("{}…", &text[..end])
}

/// Text for Slack's mrkdwn: `&`, `<` and `>` escaped as Slack asks, so a title cannot mention
/// `@channel`, link elsewhere or break the formatting.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A notification, digest or test as Block Kit: the title, the detail, what it is and where,
/// and a button into Flightdeck when there is a link.
fn slack_message(channel: &str, msg: &Message) -> serde_json::Value {
    let mut text = format!("*{}*", slack_escape(&msg.title));
    if !msg.detail.is_empty() {
        text.push('\n');
        text.push_str(&slack_escape(&msg.detail));
    }
    let text = slack_cut(&text, SLACK_TEXT_MAX);
    let mut context = msg.event.replace('_', " ");
    if !msg.repo.is_empty() {
        context.push_str(" · ");
        context.push_str(&msg.repo);
    }
    let mut blocks = vec![
        // `verbatim`: Slack links and mentions nothing by itself in what the text says.
        serde_json::json!({"type": "section",
            "text": {"type": "mrkdwn", "text": text, "verbatim": true}}),
        serde_json::json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": slack_cut(&slack_escape(&context), SLACK_TEXT_MAX),
             "verbatim": true}
        ]}),
    ];
    if let Some(link) = &msg.link {
        blocks.push(serde_json::json!({"type": "actions", "elements": [{
            "type": "button", "action_id": "open", "url": link,
            "text": {"type": "plain_text", "text": "Open in Flightdeck"}
        }]}));
    }
    serde_json::json!({
        "channel": channel,
        // The notification's own text, for phones' banners and screen readers (escaped too:
        // Slack parses it as mrkdwn).
        "text": slack_cut(&slack_escape(&msg.title), SLACK_TEXT_MAX),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// The update of a resolved item's message: struck through, marked done.
fn slack_resolved(channel: &str, ts: &str, msg: &Message) -> serde_json::Value {
    serde_json::json!({
        "channel": channel,
        "ts": ts,
        "text": slack_cut(&format!("Resolved: {}", slack_escape(&msg.title)), SLACK_TEXT_MAX),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "verbatim": true,
                "text": slack_cut(&format!("~{}~", slack_escape(&msg.title)), SLACK_TEXT_MAX)}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "resolved: no longer waiting"}
            ]}
        ],
    })
}

/// An ntfy topic URL split into the server to publish to and the topic.
fn ntfy_topic(url: &reqwest::Url) -> (reqwest::Url, String) {
    let mut base = url.clone();
    let topic = url
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_string))
        .unwrap_or_default();
    if let Ok(mut segments) = base.path_segments_mut() {
        segments.pop();
    }
    // `pop` leaves `/prefix`; the server is published to at `/prefix/`.
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    (base, topic)
}

/// ntfy's JSON publishing body for `msg` (the ntfy docs' "Publish as JSON").
fn ntfy_body(topic: &str, msg: &Message) -> serde_json::Value {
    let priority = match msg.event.as_str() {
        "needs_you" | "action_failed" | "failed_deploy" | "release_gate" => 4,
        _ => 3,
    };
    let mut body = serde_json::json!({
        "topic": topic,
        "title": msg.title,
        "message": if msg.detail.is_empty() { msg.title.clone() } else { msg.detail.clone() },
        "tags": [msg.event],
        "priority": priority,
    });
    if let Some(link) = &msg.link {
        body["click"] = serde_json::Value::String(link.clone());
    }
    body
}

/// The first line of an error body, at most 200 characters.
fn one_line(body: &str) -> String {
    let line = body.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_is_cut_within_its_limit_never_inside_an_escape() {
        let long = slack_escape(&"a&".repeat(2_000));
        let cut = slack_cut(&long, SLACK_TEXT_MAX);
        assert!(cut.len() <= SLACK_TEXT_MAX, "{}", cut.len());
        assert!(
            cut.ends_with("&amp;…") || cut.ends_with("a…"),
            "{}",
            &cut[cut.len() - 12..]
        );
        assert_eq!(slack_cut("short", SLACK_TEXT_MAX), "short");
        let wide = "é".repeat(2_000);
        assert!(slack_cut(&wide, SLACK_TEXT_MAX).len() <= SLACK_TEXT_MAX);
    }

    #[test]
    fn smtp_servers_read_with_and_without_ports_and_brackets() {
        let at = |smtp: &str, tls: Option<&str>| {
            smtp_server(&ChannelConfig::Email {
                smtp: smtp.into(),
                from: "a@b.c".into(),
                to: vec![],
                username: None,
                password_env: None,
                tls: tls.map(str::to_string),
                ca_file: None,
            })
        };
        assert_eq!(
            at("mail.acme.dev", None).unwrap(),
            ("mail.acme.dev".into(), 587, EmailTls::StartTls)
        );
        assert_eq!(at("mail.acme.dev", Some("tls")).unwrap().1, 465);
        assert_eq!(at("mail.acme.dev:2525", None).unwrap().1, 2525);
        assert_eq!(
            at("[::1]", Some("none")).unwrap(),
            ("::1".into(), 587, EmailTls::None)
        );
        assert_eq!(at("[::1]:25", Some("none")).unwrap().1, 25);
        assert_eq!(at("mail.acme.dev:x", None).unwrap_err().0, "smtp");
        assert_eq!(at("mail.acme.dev", Some("none")).unwrap_err().0, "tls");
        assert_eq!(at("mail.acme.dev", Some("ssl")).unwrap_err().0, "tls");
    }

    #[test]
    fn an_ntfy_topic_url_splits_into_server_and_topic() {
        let (base, topic) = ntfy_topic(&reqwest::Url::parse("https://ntfy.sh/acme-leads").unwrap());
        assert_eq!(
            (base.as_str(), topic.as_str()),
            ("https://ntfy.sh/", "acme-leads")
        );
        let (base, topic) =
            ntfy_topic(&reqwest::Url::parse("http://127.0.0.1:8080/ntfy/leads").unwrap());
        assert_eq!(
            (base.as_str(), topic.as_str()),
            ("http://127.0.0.1:8080/ntfy/", "leads")
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed apart, with Python's hmac: key "Jefe" (RFC 4231 case 2), "0." and its data.
        assert_eq!(
            signature("Jefe", 0, b"what do ya want for nothing?"),
            "37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }
}
