//! `flightdeck login` (a new one-time sign-in link for a running server), `flightdeck pair` (the
//! same for a phone, as a QR code) and `flightdeck devices` (the browsers signed in: list,
//! revoke). The rules are `flightdeck_core::domain::access`'s.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use flightdeck_core::config::Settings;
use flightdeck_core::domain::access;
use flightdeck_core::store::Store;

#[derive(Subcommand)]
pub enum DevicesCmd {
    /// The browsers signed in, most recently seen first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Sign a browser out (a lost phone, a shared machine), by the id `list` shows.
    Revoke { id: String },
}

/// Prints a sign-in link for the server at `url` (default: the configured address).
pub async fn login(
    settings: &Settings,
    url: Option<&str>,
    person: Option<&str>,
) -> Result<ExitCode> {
    let base = server_base(settings, url, false)?;
    let person = acting_person(settings, person)?;
    let store = Store::open(&settings.database_url).await?;
    let code = access::issue_login_code_for(&store, Some(&person), crate::now()).await?;
    outln!("{}", login_url(&base, &code));
    eprintln!(
        "(opens a session once, within {} minutes; for a server on another address, pass --url)",
        access::LOGIN_CODE_SECS / 60
    );
    Ok(ExitCode::SUCCESS)
}

/// Who a code's session acts as: `--for MEMBER` (a `[team]` member, when the team names any),
/// else this machine's user.
fn acting_person(settings: &Settings, wanted: Option<&str>) -> Result<String> {
    let team = &settings.team;
    match wanted {
        Some(id) if team.is_set() && team.member(id).is_none() => anyhow::bail!(
            "--for {id}: not a member of [team] (members: {})",
            team.members.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Some(id) => Ok(id.to_string()),
        None => Ok(flightdeck_app::Lead::from_settings(settings).person_key()),
    }
}

/// Prints a QR code (and the link in it) that pairs a phone once, within five minutes, as a
/// device named `name` with a key of its own.
pub async fn pair(
    settings: &Settings,
    name: Option<&str>,
    url: Option<&str>,
    person: Option<&str>,
) -> Result<ExitCode> {
    let base = server_base(settings, url, true)?;
    let person = acting_person(settings, person)?;
    let store = Store::open(&settings.database_url).await?;
    let code = access::issue_pairing_code_for(&store, name, Some(&person), crate::now()).await?;
    let link = flightdeck_server::pairing::pair_url(&base, &code);
    let qr = flightdeck_server::pairing::qr_terminal(&link)
        .map_err(|e| anyhow::anyhow!("drawing the QR code: {e}"))?;
    outln!("{qr}");
    outln!("{link}");
    eprintln!(
        "(scan it with the phone's camera within {} minutes: the phone makes a key of its own and pairs once; the code after # never leaves it{})",
        access::PAIR_CODE_SECS / 60,
        if base.starts_with("https://") {
            "; with a certificate made by `serve --tls`, install its CA on the phone first: \
             /tls/ca.pem"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The server's address: `--url`, else the configured one — for another device, the first
/// `[server] hosts` name (a phone cannot reach 127.0.0.1).
fn server_base(settings: &Settings, url: Option<&str>, for_device: bool) -> Result<String> {
    if let Some(u) = url {
        let u = u.trim_end_matches('/');
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            anyhow::bail!("--url `{u}`: give the server's address, like http://127.0.0.1:7878");
        }
        return Ok(format!("{u}/"));
    }
    let scheme = if settings.transport.serves_tls() {
        "https"
    } else {
        "http"
    };
    match settings.hosts.first().filter(|_| for_device) {
        Some(name) => Ok(format!("{scheme}://{name}:{}/", settings.port)),
        None => Ok(crate::serve_cmd::base_url(
            scheme,
            settings.bind,
            settings.port,
        )),
    }
}

/// The link that signs a browser in: the server's address and a one-time code.
pub fn login_url(base: &str, code: &str) -> String {
    format!("{}/login?code={code}", base.trim_end_matches('/'))
}

pub async fn devices(settings: &Settings, cmd: &DevicesCmd) -> Result<ExitCode> {
    let store = Store::open(&settings.database_url).await?;
    let now = crate::now();
    match cmd {
        DevicesCmd::List { json } => {
            let sessions = store.open_sessions(now).await?;
            if *json {
                outln!("{}", serde_json::to_string_pretty(&sessions)?);
            } else if sessions.is_empty() {
                outln!("no browser is signed in (`flightdeck login` prints a sign-in link)");
            } else {
                outln!(
                    "{:<10} {:<20} {:<20} {:<17} NAME",
                    "ID",
                    "SIGNED IN",
                    "LAST SEEN",
                    "DEVICE KEY"
                );
                for s in sessions {
                    // A paired device's own key, by fingerprint; a browser signed in by link
                    // has none.
                    let key = s
                        .device_key
                        .as_deref()
                        .map(flightdeck_core::model::device::fingerprint)
                        .unwrap_or_else(|| "-".into());
                    outln!(
                        "{:<10} {:<20} {:<20} {:<17} {}",
                        s.id,
                        when(s.created_at),
                        when(s.last_seen),
                        key,
                        s.label
                    );
                }
            }
        }
        DevicesCmd::Revoke { id } => {
            access::revoke(&store, id, now)
                .await
                .with_context(|| format!("revoking {id}"))?;
            outln!("signed out {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}
