//! The store: one sqlx `AnyPool` over SQLite (default, WAL, in the user's data dir) or
//! PostgreSQL (a team's shared database), chosen by the database URL.
//!
//! Why `Any` with runtime queries rather than compile-time checked `query!`: checked queries
//! bind to one database kind, and Flightdeck must run the same code on both. Every statement
//! here is written in the common dialect (`$N` placeholders, `ON CONFLICT ... DO UPDATE`,
//! TEXT/BIGINT/DOUBLE PRECISION only), and the same migrations and the same test suite run on
//! both backends. Every write is an upsert on the source's natural key, so any ingest can be
//! re-run without duplicates.

mod agent_logs;
mod billing;
mod budgets;
pub mod cycle;
mod deploys;
mod dispatches;
mod experiments;
pub mod warehouse;
pub use experiments::ExperimentLink;
mod metrics;
mod notifications;
pub use notifications::{ClaimAs, NotificationClaim, SentNotification};
mod outbox;
mod reads;
pub mod relay;
mod repos;
mod rollups;
mod sessions;
pub mod spans;
mod trust;
mod writes;

/// The `[database]` section of the config file: the store's URL (`sqlite:…` or `postgres://…`;
/// the default, a SQLite file in the data dir, is resolved in `config`).
#[derive(Debug, Clone, Default, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub url: Option<String>,
}

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::model::error::{Error, Result};

pub use agent_logs::Stamp;
pub use billing::BilledLine;
pub use deploys::{CommitFacts, DeployMark, DeployTallies, DeployWindow};
pub use metrics::{MergedAgentChange, MergedTimes, SpendBy, UnpricedModel, UsageBy};
pub use outbox::MergeQueued;
pub use reads::{newest_first, AgentTotals, ChangeListing, Counts};
pub use relay::Relay;
pub use rollups::WeekCommits;
pub use sessions::{PairingRow, Redeemed, SessionRow};
pub use trust::TrustedKey;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database URL after validation: which backend, the URL sqlx gets, and for SQLite the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseTarget {
    pub backend: Backend,
    pub url: String,
    pub sqlite_path: Option<PathBuf>,
}

impl DatabaseTarget {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, a bare file path, or `postgres(ql)://...`.
    pub fn parse(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                url: url.to_string(),
                sqlite_path: None,
            });
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if url.contains("://") || url.is_empty() {
            return Err(Error::UnsupportedDatabaseUrl(url.to_string()));
        } else {
            url
        };
        // Query options (`?mode=...`) are ours to set; drop any the user passed.
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            return Err(Error::UnsupportedDatabaseUrl(url.to_string()));
        }
        let path = PathBuf::from(path);
        Ok(Self {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}?mode=rwc", path.display()),
            sqlite_path: Some(path),
        })
    }

    pub fn for_sqlite_file(path: &Path) -> Self {
        Self {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}?mode=rwc", path.display()),
            sqlite_path: Some(path.to_path_buf()),
        }
    }

    /// Which database this is, for what is kept per database outside it (the audit
    /// checkpoints): a SQLite file's full path, else the URL without its password.
    pub fn identity(&self) -> String {
        match &self.sqlite_path {
            Some(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            None => redact_password(&self.url),
        }
    }

    /// The URL without a password, for messages and logs.
    pub fn display_url(&self) -> String {
        match &self.sqlite_path {
            Some(p) => p.display().to_string(),
            None => redact_password(&self.url),
        }
    }
}

fn redact_password(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    target: DatabaseTarget,
    /// This machine's name: whose clones, branches and watched paths are whose.
    machine: std::sync::Arc<str>,
    /// SQLite: a connection of its own for [`Store::data_version`] (the number is per
    /// connection and counts the commits of every other one). Opened on first use.
    version_conn: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
    /// How many times that connection was opened: a new one counts from 1 again, so its
    /// numbers are told apart by this.
    version_opens: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Whether opening may create the database: commands that gather data may, read-only ones
/// must not (a mistyped `--database-url` would otherwise print an empty report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    Create,
    Existing,
}

/// How long a database that does not answer is waited for when opening it.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a SQLite writer waits for another process's write transaction before giving up
/// with "database is locked". Long: an ingest's batch or a rollup may hold the lock for
/// seconds, and waiting is always better than refusing work.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_target(DatabaseTarget::parse(url)?).await
    }

    /// Opens and migrates a database that must exist already (a SQLite file that is not there
    /// is an error naming it, and no file is made).
    pub async fn open_existing(url: &str) -> Result<Self> {
        Self::open_with(DatabaseTarget::parse(url)?, OpenMode::Existing).await
    }

    pub async fn open_target(target: DatabaseTarget) -> Result<Self> {
        Self::open_with(target, OpenMode::Create).await
    }

    pub async fn open_with(target: DatabaseTarget, mode: OpenMode) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if let Some(path) = &target.sqlite_path {
            if mode == OpenMode::Existing && !path.is_file() {
                return Err(Error::NoDatabase { path: path.clone() });
            }
            check_sqlite_file_writable(path)?;
        }
        let options =
            AnyConnectOptions::from_str(&target.url).map_err(|e| Error::DatabaseConnect {
                url: target.display_url(),
                source: e,
            })?;
        let backend = target.backend;
        // Two processes starting at once on a new SQLite file would both migrate it (sqlx
        // locks migrations on PostgreSQL only): the second waits here for the first. Held
        // until the migrations are done.
        let _migrating = match &target.sqlite_path {
            Some(path) => migration_lock(path).await?,
            None => None,
        };
        // Probe once outside the pool: a pool retries failing connections until it times out,
        // which would hide "connection refused" or "file is not a database" behind "pool timed
        // out" after 30 s.
        {
            use sqlx::Connection;
            let mut conn =
                tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect_with(&options))
                    .await
                    .map_err(|_| Error::DatabaseConnect {
                        url: target.display_url(),
                        source: sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                        )),
                    })?
                    .map_err(|e| classify_open_error(&target, e))?;
            if backend == Backend::Sqlite {
                // WAL is a property of the file, set once here under the migration lock: the
                // switch needs an exclusive lock that a busy timeout cannot wait for.
                conn.execute("PRAGMA journal_mode=WAL")
                    .await
                    .map_err(|e| classify_open_error(&target, e))?;
            }
            conn.close().await.ok();
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // The busy timeout makes a writer wait for another process's write
                        // transaction instead of failing (writes begin IMMEDIATE, see `begin`).
                        conn.execute(
                            format!("PRAGMA busy_timeout={}", BUSY_TIMEOUT.as_millis()).as_str(),
                        )
                        .await?;
                        conn.execute("PRAGMA synchronous=NORMAL").await?;
                    } else {
                        // Plan each statement for its values: the spans are skewed (a bucket
                        // holds thousands of rows or none), and the generic plan PostgreSQL
                        // switches a prepared statement to after five runs scans a whole
                        // range instead (a percentile lookup took 150 ms for 1 ms).
                        // (PostgreSQL 12 and later; an older server keeps its default.)
                        if let Err(e) = conn
                            .execute("SET plan_cache_mode = force_custom_plan")
                            .await
                        {
                            tracing::warn!("PostgreSQL keeps generic plans: {e}");
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| classify_open_error(&target, e))?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(source) => classify_open_error(&target, source),
            other => Error::Migrate {
                url: target.display_url(),
                source: other,
            },
        })?;
        Ok(Self {
            pool,
            target,
            machine: crate::model::repo_id::this_machine().into(),
            version_conn: Default::default(),
            version_opens: Default::default(),
        })
    }

    /// A value that changes whenever any writer, in this process or another, has committed
    /// since it was last read: answers computed at one value hold while it is unchanged.
    /// SQLite's `data_version` on a connection of its own; PostgreSQL's snapshot (which
    /// write transactions are running or done), which may also change for writes to other
    /// databases of the server — a change too many is safe, one missed is not.
    pub async fn data_version(&self) -> Result<String> {
        use sqlx::Connection;
        match self.target.backend {
            Backend::Sqlite => {
                let mut conn = self.version_conn.lock().await;
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => {
                        let options =
                            AnyConnectOptions::from_str(&self.target.url).map_err(|e| {
                                Error::DatabaseConnect {
                                    url: self.target.display_url(),
                                    source: e,
                                }
                            })?;
                        let c = sqlx::AnyConnection::connect_with(&options).await?;
                        self.version_opens
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        conn.insert(c)
                    }
                };
                let read = sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                    .fetch_one(&mut *c)
                    .await;
                let v = match read {
                    Ok(v) => v,
                    Err(e) => {
                        // A broken connection is opened again next time.
                        *conn = None;
                        return Err(e.into());
                    }
                };
                let opens = self
                    .version_opens
                    .load(std::sync::atomic::Ordering::Relaxed);
                Ok(format!("{opens}.{v}"))
            }
            Backend::Postgres => Ok(sqlx::query_scalar(
                "SELECT CAST(txid_current_snapshot() AS TEXT)",
            )
            .fetch_one(&self.pool)
            .await?),
        }
    }

    /// This machine's name (see [`crate::model::repo_id::this_machine`]).
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// The same database, as seen from machine `name`: its clones, branches and watched
    /// paths. For one process acting as several machines (tests, benchmarks).
    pub fn on_machine(&self, name: &str) -> Self {
        Self {
            machine: name.into(),
            ..self.clone()
        }
    }

    pub fn backend(&self) -> Backend {
        self.target.backend
    }

    pub fn target(&self) -> &DatabaseTarget {
        &self.target
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
        // The data-version connection too: a closed store holds no file open.
        if let Some(conn) = self.version_conn.lock().await.take() {
            use sqlx::Connection;
            let _ = conn.close().await;
        }
    }
}

/// The n-th (1-based) bind placeholder of a generated many-row statement. SQLite gets plain
/// `?`: its named-parameter lookup is linear per parameter, which made 800-parameter
/// statements spend a fifth of the ingest in `sqlite3_bind_parameter_name`.
/// Token and cost sums over `usage_entries` aliased `u`, under the column names `tokens_of`
/// reads. Cast because PostgreSQL's SUM(bigint) is NUMERIC, which the `Any` driver cannot decode.
pub(crate) const USAGE_SUMS: &str = "CAST(SUM(u.input_tokens) AS BIGINT) AS input_tokens,
   CAST(SUM(u.output_tokens) AS BIGINT) AS output_tokens,
   CAST(SUM(u.cache_write_tokens) AS BIGINT) AS cache_write_tokens,
   CAST(SUM(u.cache_read_tokens) AS BIGINT) AS cache_read_tokens,
   CAST(SUM(u.reasoning_tokens) AS BIGINT) AS reasoning_tokens,
   CAST(SUM(u.cost_usd) AS DOUBLE PRECISION) AS cost";

/// Tokens of unpriced usage records (`usage_entries` only).
pub(crate) const UNPRICED_SUM: &str = "CAST(SUM(CASE WHEN u.priced = 1 THEN 0
     ELSE u.input_tokens + u.output_tokens + u.cache_write_tokens + u.cache_read_tokens END)
     AS BIGINT) AS unpriced_tokens";

/// The token columns of a row (`input_tokens`, `output_tokens`, …).
pub(crate) fn tokens_of(row: &sqlx::any::AnyRow) -> Result<crate::model::Tokens> {
    use sqlx::Row;
    Ok(crate::model::Tokens {
        input: row.try_get("input_tokens")?,
        output: row.try_get("output_tokens")?,
        cache_write: row.try_get("cache_write_tokens")?,
        cache_read: row.try_get("cache_read_tokens")?,
        reasoning: row.try_get("reasoning_tokens")?,
    })
}

/// A `Named` column (`what` names it in an error): a value this version does not know is an
/// error naming it, never a silent default.
pub(crate) fn named<T: crate::model::Named>(
    row: &sqlx::any::AnyRow,
    column: &'static str,
    what: &'static str,
) -> Result<T> {
    use sqlx::Row;
    parse_named(row.try_get(column)?, what)
}

/// A nullable `Named` column: none stays none, a name this version does not know is an error.
pub(crate) fn named_opt<T: crate::model::Named>(
    row: &sqlx::any::AnyRow,
    column: &'static str,
    what: &'static str,
) -> Result<Option<T>> {
    use sqlx::Row;
    row.try_get::<Option<String>, _>(column)?
        .map(|v| parse_named(v, what))
        .transpose()
}

/// A `Named` value as stored (`what` names it in an error), for values read other than by
/// column (a tuple row).
pub(crate) fn parse_named<T: crate::model::Named>(value: String, what: &'static str) -> Result<T> {
    T::parse(&value).ok_or_else(|| Error::UnknownName {
        column: what,
        value,
        known: T::names(),
    })
}

pub(crate) fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".into(),
        Backend::Postgres => format!("${n}"),
    }
}

/// An exclusive lock on `<database>-migrate.lock`, taken off the async threads (it waits for
/// another process's migrations, however long they take). A lock file beside the database
/// rather than the database itself: closing any descriptor of the database file would drop
/// SQLite's own POSIX locks on it. On a file system without file locks (some network and FUSE
/// ones) it goes on without, as before there was a lock, and says so.
async fn migration_lock(db: &Path) -> Result<Option<std::fs::File>> {
    let mut name = db.as_os_str().to_owned();
    name.push("-migrate.lock");
    let path = PathBuf::from(name);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::DatabaseUnwritable {
                reason: format!("cannot create {}: {e}", path.display()),
                path: path.clone(),
            })?;
        loop {
            return match file.lock() {
                Ok(()) => Ok(Some(file)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EOPNOTSUPP, ENOLCK: the file system has no locks.
                Err(e)
                    if e.kind() == std::io::ErrorKind::Unsupported
                        || matches!(e.raw_os_error(), Some(37 | 95)) =>
                {
                    tracing::warn!(
                        "no lock on {} ({e}): two processes starting together may both migrate",
                        path.display()
                    );
                    Ok(None)
                }
                Err(e) => Err(Error::DatabaseUnwritable {
                    reason: format!("cannot lock {}: {e}", path.display()),
                    path: path.clone(),
                }),
            };
        }
    })
    .await
    .map_err(|e| Error::Invalid {
        path: db.to_path_buf(),
        message: format!("migration lock task failed: {e}"),
    })?
}

fn check_sqlite_file_writable(path: &Path) -> Result<()> {
    let unwritable = |reason: String| Error::DatabaseUnwritable {
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return Err(unwritable("it is a directory".into()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| unwritable(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| unwritable(e.to_string()))?;
    Ok(())
}

fn classify_open_error(target: &DatabaseTarget, e: sqlx::Error) -> Error {
    if let Some(path) = &target.sqlite_path {
        let msg = e.to_string();
        if msg.contains("not a database") || msg.contains("malformed") || msg.contains("corrupt") {
            return Error::DatabaseCorrupt {
                path: path.clone(),
                reason: msg,
            };
        }
        if msg.contains("readonly") || msg.contains("read-only") || msg.contains("unable to open") {
            return Error::DatabaseUnwritable {
                path: path.clone(),
                reason: msg,
            };
        }
    }
    Error::DatabaseConnect {
        url: target.display_url(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        let t = DatabaseTarget::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!(t.backend, Backend::Sqlite);
        assert_eq!(t.sqlite_path.as_deref(), Some(Path::new("/tmp/x.db")));
        let t = DatabaseTarget::parse("/var/fd.db").unwrap();
        assert_eq!(t.url, "sqlite:///var/fd.db?mode=rwc");
        let t = DatabaseTarget::parse("postgres://u:pw@127.0.0.1/db").unwrap();
        assert_eq!(t.backend, Backend::Postgres);
        assert_eq!(t.display_url(), "postgres://u:***@127.0.0.1/db");
        assert!(matches!(
            DatabaseTarget::parse("mysql://x/y"),
            Err(Error::UnsupportedDatabaseUrl(_))
        ));
    }
}
