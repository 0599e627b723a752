//! Configuration in two stages: the raw TOML file (`RawConfig`, every field optional, unknown
//! keys refused) merged with command-line/env overrides into a validated `Settings`. Errors name
//! the file, the line and the key, so a typo is found without guessing.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_PORT: u16 = 7878;

use crate::model::toml_file::parse_toml;
pub use crate::model::toml_file::ConfigError;

/// The config file as written by the user. See README "Configuration" for every key.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Owned by the store (its URL).
    #[serde(default)]
    pub database: crate::store::Config,
    /// The server's address and UI folder; the server is above core, so its section is here.
    #[serde(default)]
    pub server: RawServer,
    /// Owned by `sources` (the repos and agent-log folders to read).
    #[serde(default)]
    pub sources: crate::sources::Config,
    /// Owned by `github` (the API URL, incident labels).
    #[serde(default)]
    pub github: crate::forge::github::Config,
    /// Price overrides and discounts (see `pricing::PriceOverrides`).
    #[serde(default)]
    pub prices: crate::model::pricing::PriceOverrides,
    /// Owned by `concentration` (the HHI threshold).
    #[serde(default)]
    pub spend: crate::metrics::concentration::Config,
    /// Owned by `billing` (the vendors' cost API URLs).
    #[serde(default)]
    pub billing: crate::sources::billing::Config,
    /// Owned by `growthbook` (the API host).
    #[serde(default)]
    pub growthbook: crate::sources::growthbook::Config,
    /// Agents work can be assigned and dispatched to (see `work::AgentConfig`).
    #[serde(default)]
    pub agents: std::collections::BTreeMap<String, crate::domain::work::AgentConfig>,
    /// Owned by `team` (members, teams, who may decide what).
    #[serde(default)]
    pub team: crate::domain::team::Config,
    /// Owned by `notify` (channels, rules, quiet hours).
    #[serde(default)]
    pub notify: crate::notify::Config,
    /// A demo workspace's file (`flightdeck demo` writes one): no token or key of this machine
    /// is looked up, and the demo's own fake keys go to the demo's fakes.
    #[serde(default)]
    pub demo: bool,
    /// Where Flightdeck keeps its data (the default database, the audit key, dispatch
    /// worktrees and logs); default the platform's data dir.
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub bind: Option<IpAddr>,
    pub port: Option<u16>,
    pub ui_dir: Option<PathBuf>,
    /// Host names this machine is reached by besides loopback names and IP addresses (a VPN
    /// or LAN name); requests naming any other host are refused.
    pub hosts: Option<Vec<String>>,
    /// Serve HTTPS with a certificate made here (`--tls`).
    pub tls: Option<bool>,
    /// Serve HTTPS with this certificate chain and key (PEM; `--tls-cert`, `--tls-key`).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A proxy in front terminates TLS (`--behind-proxy`): plain HTTP to it is fine.
    pub behind_proxy: Option<bool>,
}

/// How the server speaks to browsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP: loopback only.
    Plain,
    /// HTTPS with a certificate made here on first use (the data dir's `tls/`).
    TlsSelfMade,
    /// HTTPS with the user's certificate chain and key (PEM files).
    TlsFiles { cert: PathBuf, key: PathBuf },
    /// Plain HTTP to a proxy in front that terminates TLS.
    BehindProxy,
}

impl Transport {
    /// Whether browsers reach this server over HTTPS (directly or through the proxy).
    pub fn secure(&self) -> bool {
        !matches!(self, Transport::Plain)
    }

    /// Whether this server itself speaks HTTPS (not a proxy in front of it).
    pub fn serves_tls(&self) -> bool {
        matches!(self, Transport::TlsSelfMade | Transport::TlsFiles { .. })
    }
}

impl RawConfig {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        parse_toml(text, path)
    }

    /// [`RawConfig::load`] of a file that must exist.
    pub fn load_required(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Reads the file if it exists; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// Where Flightdeck keeps its files (XDG on Linux).
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Dirs {
    pub fn from_env() -> Result<Self, ConfigError> {
        let pd = directories::ProjectDirs::from("dev", "flightdeck", "flightdeck")
            .ok_or(ConfigError::NoHome)?;
        Ok(Self {
            config_file: pd.config_dir().join("config.toml"),
            data_dir: pd.data_dir().to_path_buf(),
        })
    }
}

/// Overrides from flags and environment; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub bind: Option<IpAddr>,
    pub port: Option<u16>,
    pub token: Option<String>,
    pub ui_dir: Option<PathBuf>,
    pub repos: Vec<PathBuf>,
    pub claude_dirs: Option<Vec<PathBuf>>,
    pub codex_home: Option<PathBuf>,
    pub gemini_dirs: Option<Vec<PathBuf>>,
    pub generic_dirs: Option<Vec<PathBuf>>,
    pub tls: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_proxy: bool,
}

/// The resolved, validated settings every command runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: IpAddr,
    pub port: u16,
    /// A bearer token scripts may use. Never written to disk or logs.
    pub token: Option<String>,
    /// HTTP, HTTPS, or HTTP behind a TLS proxy; anything but loopback needs one of the last two.
    pub transport: Transport,
    pub ui_dir: Option<PathBuf>,
    /// `[server] hosts`: names the server also answers to (lower case).
    pub hosts: Vec<String>,
    pub repos: Vec<PathBuf>,
    pub claude_dirs: Option<Vec<PathBuf>>,
    pub codex_home: Option<PathBuf>,
    pub gemini_dirs: Option<Vec<PathBuf>>,
    pub generic_dirs: Option<Vec<PathBuf>>,
    pub data_dir: PathBuf,
    /// Merge policies (`crate::domain::policy`): `policy.toml` beside the config file.
    pub policy_file: PathBuf,
    /// GitHub's REST base URL (`FLIGHTDECK_GITHUB_API`, else `[github] api_url`, else
    /// api.github.com). The token is never configured here: see `github::token`.
    pub github_api_url: String,
    /// Issue labels that mark an incident (`[github] incident_labels`, default `["incident"]`).
    pub incident_labels: Vec<String>,
    /// The user's prices and discounts over the built-in table.
    pub prices: crate::model::pricing::PriceOverrides,
    /// HHI above which vendor concentration is an inbox warning.
    pub concentration_threshold: f64,
    /// Cost API base URLs: `FLIGHTDECK_ANTHROPIC_API` / `FLIGHTDECK_OPENAI_API`, else
    /// `[billing]`, else the vendors' own.
    pub anthropic_api_url: String,
    pub openai_api_url: String,
    /// GrowthBook's API host: `FLIGHTDECK_GROWTHBOOK_API`, else `[growthbook] api_url`, else
    /// GrowthBook Cloud. The key is never configured here (`GROWTHBOOK_API_KEY` or the keyring).
    pub growthbook_api_url: String,
    /// The configured agents, by name.
    pub agents: std::collections::BTreeMap<String, crate::domain::work::AgentConfig>,
    /// `[team]`: members, teams and who may decide what (empty: one lead, nothing restricted).
    pub team: crate::domain::team::Config,
    /// `[notify]`: where notifications go (checked: every rule names a configured channel).
    pub notify: crate::notify::Config,
    /// A demo's settings (`demo = true`): the front ends look up no secret of this machine
    /// (environment, keyring, `gh`) and give the demo's fakes the demo's keys ([`demo_keys`]).
    pub demo: bool,
}

/// The demo's own credentials for its local fakes: public, worthless anywhere else, and the
/// only ones a demo's front end sends.
pub mod demo_keys {
    pub const GROWTHBOOK: &str = "secret_demo_growthbook";
    pub const ANTHROPIC_ADMIN: &str = "demo-anthropic-admin";
    pub const OPENAI_ADMIN: &str = "demo-openai-admin";
    /// Signs the demo's webhook deliveries to its local receiver.
    pub const NOTIFY_SECRET: &str = "demo-notify-secret";
}

impl Settings {
    pub fn resolve(raw: RawConfig, o: Overrides, dirs: &Dirs) -> Result<Self, ConfigError> {
        let transport = transport(&o, &raw.server)?;
        let data_dir = raw
            .data_dir
            .clone()
            .unwrap_or_else(|| dirs.data_dir.clone());
        let database_url = o
            .database_url
            .or(raw.database.url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("flightdeck.db").display()));
        raw.prices.validate(&dirs.config_file)?;
        crate::domain::work::validate_agents(&raw.agents, &dirs.config_file)?;
        let concentration_threshold = raw.spend.threshold(&dirs.config_file)?;
        let incident_labels = raw.github.incident_labels(&dirs.config_file)?;
        let (anthropic_api_url, openai_api_url) = raw.billing.urls();
        if let Some(problem) = raw.team.problems().into_iter().next() {
            return Err(ConfigError::Invalid {
                path: dirs.config_file.clone(),
                key: "team".into(),
                message: problem,
            });
        }
        crate::notify::check(&raw.notify, &dirs.config_file)?;
        let mut repos = raw.sources.repos;
        repos.extend(o.repos);
        let s = Settings {
            database_url,
            bind: o
                .bind
                .or(raw.server.bind)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: o.port.or(raw.server.port).unwrap_or(DEFAULT_PORT),
            token: o.token.filter(|t| !t.is_empty()),
            transport,
            ui_dir: o.ui_dir.or(raw.server.ui_dir),
            hosts: raw
                .server
                .hosts
                .unwrap_or_default()
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            repos,
            claude_dirs: o.claude_dirs.or(raw.sources.claude_dirs),
            codex_home: o.codex_home.or(raw.sources.codex_home),
            gemini_dirs: o.gemini_dirs.or(raw.sources.gemini_dirs),
            generic_dirs: o.generic_dirs.or(raw.sources.generic_dirs),
            data_dir,
            policy_file: dirs.config_file.with_file_name("policy.toml"),
            github_api_url: raw.github.api_url(),
            incident_labels,
            prices: raw.prices,
            concentration_threshold,
            anthropic_api_url,
            openai_api_url,
            growthbook_api_url: raw.growthbook.url(),
            agents: raw.agents,
            team: raw.team,
            notify: raw.notify,
            demo: raw.demo,
        };
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.bind.is_loopback() && self.transport == Transport::Plain {
            return Err(ConfigError::NonLoopbackPlain { bind: self.bind });
        }
        Ok(())
    }
}

/// The transport the flags (over the config file) ask for; half of a certificate pair, or
/// TLS here and a TLS proxy at once, is an error.
fn transport(o: &Overrides, raw: &RawServer) -> Result<Transport, ConfigError> {
    let cert = o.tls_cert.clone().or(raw.tls_cert.clone());
    let key = o.tls_key.clone().or(raw.tls_key.clone());
    let made = o.tls || raw.tls.unwrap_or(false);
    let proxy = o.behind_proxy || raw.behind_proxy.unwrap_or(false);
    let t = match (cert, key) {
        (Some(cert), Some(key)) => Transport::TlsFiles { cert, key },
        (Some(_), None) | (None, Some(_)) => return Err(ConfigError::TlsHalfPair),
        (None, None) if made => Transport::TlsSelfMade,
        (None, None) if proxy => Transport::BehindProxy,
        (None, None) => Transport::Plain,
    };
    if proxy && t != Transport::BehindProxy {
        return Err(ConfigError::TlsAndProxy);
    }
    Ok(t)
}

/// Both stages at once: reads the config file (`config_file`, or the XDG default) and resolves it
/// with `overrides`. Returns the settings and where the files are.
pub fn load(
    config_file: Option<PathBuf>,
    overrides: Overrides,
) -> Result<(Settings, Dirs), ConfigError> {
    let dirs = Dirs::from_env()?;
    let raw = match &config_file {
        // Named on purpose (--config, FLIGHTDECK_CONFIG): it must be there; only the default
        // file may be absent.
        Some(path) => RawConfig::load_required(path)?,
        None => RawConfig::load(&dirs.config_file)?,
    };
    let config_file = config_file.unwrap_or_else(|| dirs.config_file.clone());
    // Problems are named in the file that was read, not the default one.
    let dirs = Dirs {
        config_file: config_file.clone(),
        ..dirs
    };
    let mut settings = Settings::resolve(raw, overrides, &dirs)?;
    settings.policy_file = std::env::var_os("FLIGHTDECK_POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_file.with_file_name("policy.toml"));
    Ok((settings, dirs))
}

impl Settings {
    /// The sources to ingest: configured repos, and agent logs at their configured or default
    /// locations.
    pub fn sources(&self) -> crate::domain::ingest::Sources {
        crate::domain::ingest::Sources {
            repos: self.repos.clone(),
            claude_dirs: self
                .claude_dirs
                .clone()
                .unwrap_or_else(crate::sources::claude::default_dirs),
            codex_homes: self
                .codex_home
                .clone()
                .or_else(crate::sources::codex::default_home)
                .into_iter()
                .collect(),
            gemini_dirs: self
                .gemini_dirs
                .clone()
                .unwrap_or_else(crate::sources::gemini::default_dirs),
            generic_dirs: self
                .generic_dirs
                .clone()
                .unwrap_or_else(|| vec![self.data_dir.join("agent-logs")]),
            only_log_files: None,
            prices: self.prices.clone(),
            concentration_threshold: Some(self.concentration_threshold),
            person: crate::domain::outbox::lead_identity().0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Dirs {
        Dirs {
            config_file: "/cfg/config.toml".into(),
            data_dir: "/data".into(),
        }
    }

    #[test]
    fn malformed_config_names_file_line_and_key() {
        let text = "[server]\nbind = \"127.0.0.1\"\nport = \"eighty\"\n";
        let err = RawConfig::parse(text, Path::new("/cfg/config.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/cfg/config.toml:3:"), "{msg}");
        assert!(msg.contains("(key `server.port`)"), "{msg}");
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let text = "[database]\nurl = \"x.db\"\n\n[server]\nprot = 80\n";
        let msg = RawConfig::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("c.toml:5:"), "{msg}");
        assert!(msg.contains("prot"), "{msg}");
    }

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let raw = RawConfig::parse(
            "[server]\nport = 9000\n[database]\nurl = \"/x.db\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let s = Settings::resolve(
            raw.clone(),
            Overrides {
                port: Some(9100),
                ..Default::default()
            },
            &dirs(),
        )
        .unwrap();
        assert_eq!(s.port, 9100);
        assert_eq!(s.database_url, "/x.db");
        assert!(s.bind.is_loopback());
        let s = Settings::resolve(RawConfig::default(), Overrides::default(), &dirs()).unwrap();
        assert_eq!(s.database_url, "sqlite:///data/flightdeck.db");
        assert_eq!(s.port, DEFAULT_PORT);
    }

    #[test]
    fn non_loopback_bind_needs_tls_or_a_proxy() {
        let o = Overrides {
            bind: Some("0.0.0.0".parse().unwrap()),
            ..Default::default()
        };
        let resolve = |o: Overrides| Settings::resolve(RawConfig::default(), o, &dirs());
        let err = resolve(o.clone()).unwrap_err();
        assert!(matches!(err, ConfigError::NonLoopbackPlain { .. }));
        assert!(err.to_string().contains("--tls"), "{err}");
        // A token alone does not make plain HTTP safe to send cookies over.
        let err = resolve(Overrides {
            token: Some("s3cret".into()),
            ..o.clone()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::NonLoopbackPlain { .. }));
        let made = resolve(Overrides {
            tls: true,
            ..o.clone()
        })
        .unwrap();
        assert_eq!(made.transport, Transport::TlsSelfMade);
        let proxied = resolve(Overrides {
            behind_proxy: true,
            ..o.clone()
        })
        .unwrap();
        assert_eq!(proxied.transport, Transport::BehindProxy);
        assert!(proxied.transport.secure());
        let files = resolve(Overrides {
            tls_cert: Some("/c.pem".into()),
            tls_key: Some("/k.pem".into()),
            ..o.clone()
        })
        .unwrap();
        assert_eq!(
            files.transport,
            Transport::TlsFiles {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            }
        );
        let half = resolve(Overrides {
            tls_cert: Some("/c.pem".into()),
            ..o.clone()
        })
        .unwrap_err();
        assert!(matches!(half, ConfigError::TlsHalfPair), "{half}");
        let both = resolve(Overrides {
            tls: true,
            behind_proxy: true,
            ..o
        })
        .unwrap_err();
        assert!(matches!(both, ConfigError::TlsAndProxy), "{both}");
        // From the config file too.
        let raw = RawConfig::parse(
            "[server]\nbind = \"0.0.0.0\"\ntls = true\n",
            Path::new("/c/config.toml"),
        )
        .unwrap();
        let s = Settings::resolve(raw, Overrides::default(), &dirs()).unwrap();
        assert_eq!(s.transport, Transport::TlsSelfMade);
    }

    #[test]
    fn spend_settings_are_checked() {
        let raw = |text: &str| RawConfig::parse(text, Path::new("/c/config.toml")).unwrap();
        let s = Settings::resolve(raw(""), Overrides::default(), &dirs()).unwrap();
        assert_eq!(
            s.concentration_threshold,
            crate::metrics::concentration::DEFAULT_THRESHOLD
        );
        let s = Settings::resolve(
            raw("[spend]\nconcentration_threshold = 2500\n"),
            Overrides::default(),
            &dirs(),
        )
        .unwrap();
        assert_eq!(s.concentration_threshold, 2500.0);
        let err = Settings::resolve(
            raw("[spend]\nconcentration_threshold = 20000\n"),
            Overrides::default(),
            &dirs(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("spend.concentration_threshold") && err.contains("0 to 10000"),
            "{err}"
        );
        let err = Settings::resolve(
            raw("[prices.discounts]\nopenai = 2\n"),
            Overrides::default(),
            &dirs(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("prices.discounts.openai"), "{err}");
    }

    #[test]
    fn incident_labels_default_and_are_checked() {
        let raw = |text: &str| RawConfig::parse(text, Path::new("/c/config.toml")).unwrap();
        let resolve = |text: &str| Settings::resolve(raw(text), Overrides::default(), &dirs());
        assert_eq!(resolve("").unwrap().incident_labels, ["incident"]);
        let s = resolve("[github]\nincident_labels = [\"sev1\", \"outage\"]\n").unwrap();
        assert_eq!(s.incident_labels, ["sev1", "outage"]);
        // An empty list turns incidents from issues off.
        assert!(resolve("[github]\nincident_labels = []\n")
            .unwrap()
            .incident_labels
            .is_empty());
        let err = resolve("[github]\nincident_labels = [\"a,b\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("github.incident_labels") && err.contains("`a,b`"),
            "{err}"
        );
    }
}
