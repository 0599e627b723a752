//! The core's error type. Each variant names the thing that failed (database URL or file, config
//! file and line, repository path, log file and line) so the binary can print one clear line.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported database URL `{0}`: use sqlite://PATH, a file path, or postgres://USER@HOST/DB")]
    UnsupportedDatabaseUrl(String),

    #[error("database {path} cannot be written: {reason}")]
    DatabaseUnwritable { path: PathBuf, reason: String },

    #[error("no Flightdeck database at {path}: run `flightdeck ingest` (or `serve`) first, or pass the right --database-url")]
    NoDatabase { path: PathBuf },

    #[error("database {path} is corrupt or not a Flightdeck database ({reason}); move it away or pass another --database-url")]
    DatabaseCorrupt { path: PathBuf, reason: String },

    #[error("cannot connect to database {url}: {source}")]
    DatabaseConnect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot migrate database {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("the database holds {column} `{value}`, which this version does not know (it knows {known}); a newer Flightdeck wrote it")]
    UnknownName {
        column: &'static str,
        value: String,
        known: String,
    },
    #[error("database query failed: {0}")]
    Db(#[from] sqlx::Error),

    #[error(transparent)]
    Config(#[from] crate::model::toml_file::ConfigError),

    #[error("git repository {path}: {source}")]
    Git {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error("audit: {0}")]
    Audit(#[from] crate::model::audit::AuditError),
}

impl Error {
    /// The database was locked by another writer for longer than the busy timeout (SQLite
    /// only): worth trying again later, never a reason to stop serving.
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Db(sqlx::Error::Database(d))
            | Error::DatabaseConnect {
                source: sqlx::Error::Database(d),
                ..
            } => {
                // SQLITE_BUSY and its extended codes (recovery, snapshot, timeout).
                matches!(d.code().as_deref(), Some("5" | "261" | "517" | "773"))
                    || d.message().contains("database is locked")
            }
            _ => false,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn git(path: impl Into<PathBuf>, source: git2::Error) -> Self {
        Error::Git {
            path: path.into(),
            source,
        }
    }
}

/// `bytes` random bytes as hex, for ids and keys; `what` says which, should the OS have no
/// randomness to give.
pub(crate) fn random_hex(bytes: usize, what: &str) -> Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::getrandom(&mut b).map_err(|e| Error::Invalid {
        path: what.into(),
        message: format!("no randomness for {what}: {e}"),
    })?;
    Ok(hex::encode(b))
}
