//! The lead's context: who acts from this machine and with what. Built once from the settings
//! by whichever front end starts, then handed to the runtime and the use cases, so the CLI, the
//! server and the desktop act with the same identity, key, forge access and agents.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use flightdeck_core::config::Settings;
use flightdeck_core::domain::dispatch::Dispatcher;
use flightdeck_core::domain::ingest::Sources;
use flightdeck_core::domain::outbox::{
    self, Appliers, GitHubApplier, GrowthBookApplier, LocalApplier, Reach,
};
use flightdeck_core::domain::team::{self, Acting, Person};
use flightdeck_core::domain::work::AgentConfig;
use flightdeck_core::forge::github::{self, GitHub, GitHubError};
use flightdeck_core::model::audit::{self, AuditKey};
use flightdeck_core::model::events::EventBus;
use flightdeck_core::store::Store;

/// Who acts and with what. Cheap to clone; the GitHub token is looked up on first use.
#[derive(Clone)]
pub struct Lead {
    /// The name decisions and merge commits carry (see `outbox::lead_identity`).
    pub name: String,
    pub email: String,
    /// This machine's signing key (created on first use).
    pub audit_key: PathBuf,
    /// GitHub's API and this machine's token for it; `None`: no forge is acted on.
    pub github: Option<GitHubAccess>,
    /// GrowthBook's API host and the secret key sent to it (and only to it); `None`: no
    /// decision is sent back to GrowthBook.
    pub growthbook: Option<GrowthBookAccess>,
    /// The configured agents work can be dispatched to.
    pub agents: BTreeMap<String, AgentConfig>,
    /// Where dispatch worktrees and output logs go.
    pub data_dir: PathBuf,
    /// The configured sources: repos watched, and the agent logs a finished dispatch's session
    /// is read from (`None`: a dispatch's session is not read when it ends).
    pub sources: Option<Sources>,
    /// The merge policy decisions are judged by (a missing file: the built-in defaults).
    pub policy_file: PathBuf,
    /// Which forges answer: shared by the decisions and the background sender, so a forge
    /// found down is not knocked on by every decision (clones share it).
    pub reach: Reach,
    /// Who decides: this machine's user as a `[team]` member when they are one (`name` and
    /// `email` are theirs), or a signed-in person (see [`Lead::as_person`]).
    pub person: Person,
    /// `[team]`: who may decide what (empty: nothing restricted).
    pub team: Arc<team::Config>,
}

impl std::fmt::Debug for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Lead")
            .field("name", &self.name)
            .field("audit_key", &self.audit_key)
            .finish_non_exhaustive()
    }
}

/// GrowthBook's API host and the secret key sent to it (and only to it).
#[derive(Clone)]
pub struct GrowthBookAccess {
    pub api_url: String,
    pub key: String,
}

impl GrowthBookAccess {
    /// The configured host with the key from the environment or the keyring, when there is one.
    pub fn discover(api_url: &str) -> Option<Self> {
        Some(GrowthBookAccess {
            api_url: api_url.into(),
            key: flightdeck_core::sources::growthbook::key(api_url)?,
        })
    }
}

/// GitHub's API URL and the token sent to it (and only to it).
#[derive(Clone)]
pub struct GitHubAccess {
    pub api_url: String,
    /// Looked up once, when first needed: finding it may ask the OS keyring or run
    /// `gh auth token`, which a command that never talks to GitHub should not pay for.
    token: Arc<OnceLock<Option<String>>>,
}

impl GitHubAccess {
    /// This machine's token for `api_url` (environment, keyring, `gh`), found on first use.
    pub fn discover(api_url: &str) -> Self {
        GitHubAccess {
            api_url: api_url.to_string(),
            token: Arc::new(OnceLock::new()),
        }
    }

    /// Exactly this token (or none: the demo's local fake forge never gets the user's).
    pub fn with_token(api_url: &str, token: Option<String>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(token);
        GitHubAccess {
            api_url: api_url.to_string(),
            token: Arc::new(cell),
        }
    }

    pub fn token(&self) -> Option<String> {
        self.token
            .get_or_init(|| github::token(&self.api_url))
            .clone()
    }

    /// A client for this API with this token.
    pub fn client(&self) -> Result<GitHub, GitHubError> {
        GitHub::new(&self.api_url, self.token())
    }
}

impl Lead {
    /// The lead of this machine: identity from `FLIGHTDECK_USER` or git's config, the audit
    /// key, GitHub, agents, data dir, sources and policy from the settings.
    pub fn from_settings(settings: &Settings) -> Lead {
        let (name, email) = outbox::lead_identity();
        let person = settings.team.person(&name, &email);
        Lead {
            name: person.name.clone(),
            email: person.email.clone(),
            person,
            team: Arc::new(settings.team.clone()),
            audit_key: audit::key_path(&settings.data_dir),
            github: Some(if settings.demo {
                // The demo's GitHub is its local fake: no token, least of all this machine's.
                GitHubAccess::with_token(&settings.github_api_url, None)
            } else {
                GitHubAccess::discover(&settings.github_api_url)
            }),
            growthbook: if settings.demo {
                Some(GrowthBookAccess {
                    api_url: settings.growthbook_api_url.clone(),
                    key: flightdeck_core::config::demo_keys::GROWTHBOOK.into(),
                })
            } else {
                GrowthBookAccess::discover(&settings.growthbook_api_url)
            },
            agents: settings.agents.clone(),
            data_dir: settings.data_dir.clone(),
            sources: Some(settings.sources()),
            policy_file: settings.policy_file.clone(),
            reach: Reach::default(),
        }
    }

    /// Who decides, with the team's rules.
    pub fn acting(&self) -> Acting<'_> {
        Acting {
            person: &self.person,
            team: &self.team,
        }
    }

    /// This lead's context acting as `person` (`[team]` member id or name): a signed-in
    /// browser's or paired device's decisions are theirs, signed with this machine's key.
    pub fn as_person(&self, person: &str) -> Lead {
        let p = self
            .team
            .member(person)
            .unwrap_or_else(|| Person::named(person));
        Lead {
            name: p.name.clone(),
            email: p.email.clone(),
            person: p,
            ..self.clone()
        }
    }

    /// How a code made by this lead names who its session acts as: the member id, else the
    /// name.
    pub fn person_key(&self) -> String {
        self.person
            .id
            .clone()
            .unwrap_or_else(|| self.person.name.clone())
    }

    /// The signing key (made on first use).
    pub fn key(&self) -> Result<AuditKey, flightdeck_core::Error> {
        Ok(AuditKey::load_or_create(&self.audit_key)?)
    }

    /// The configured sources and the repos added with `flightdeck repo add`.
    pub async fn sources_with_watched(
        &self,
        store: &Store,
    ) -> Result<Sources, flightdeck_core::Error> {
        let mut sources = self.sources.clone().unwrap_or_default();
        for p in store.watched_repos().await? {
            let p = PathBuf::from(p);
            if !sources.repos.contains(&p) {
                sources.repos.push(p);
            }
        }
        Ok(sources)
    }

    /// Appliers for local branches and (when configured) GitHub and GrowthBook. A GrowthBook
    /// host the key may not be sent to is left out, with a warning.
    pub fn appliers(&self, store: &Store) -> Result<Appliers, GitHubError> {
        let github = match &self.github {
            Some(g) => Some(GitHubApplier { gh: g.client()? }),
            None => None,
        };
        let growthbook = self.growthbook.as_ref().and_then(|g| {
            flightdeck_core::sources::growthbook::GrowthBookApi::new(&g.api_url, g.key.clone())
                .map(|api| GrowthBookApplier { api })
                .map_err(|e| tracing::warn!("{e}"))
                .ok()
        });
        Ok(Appliers {
            local: LocalApplier {
                store: store.clone(),
                name: self.name.clone(),
                email: self.email.clone(),
            },
            github,
            growthbook,
            reach: self.reach.clone(),
        })
    }

    /// A dispatcher acting as this lead, publishing progress on `bus` when given. A finished
    /// dispatch's session and branch are read through the configured sources and the watched
    /// repos.
    pub async fn dispatcher(
        &self,
        store: &Store,
        bus: Option<&EventBus>,
    ) -> Result<Dispatcher, flightdeck_core::Error> {
        let d = Dispatcher::new(
            store.clone(),
            self.agents.clone(),
            &self.data_dir,
            Arc::new(self.key()?),
            &self.name,
        );
        let d = match &self.sources {
            Some(_) => d.with_sources(self.sources_with_watched(store).await?),
            None => d,
        };
        Ok(match bus {
            Some(bus) => d.with_bus(bus.clone()),
            None => d,
        })
    }
}
