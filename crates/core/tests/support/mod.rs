//! Test databases: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database.

use flightdeck_core::store::Store;

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

fn pg_admin_url() -> String {
    std::env::var("FLIGHTDECK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Self {
            store: Store::open(&url).await.unwrap(),
            _dir: Some(dir),
            pg: None,
        }
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let admin = pg_admin_url();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is not reachable ({e}); start it (scripts/test.sh does) or set FLIGHTDECK_TEST_PG_URL")
        });
        let name = format!(
            "fd_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin.clone());
        let url = format!("{base}/{name}");
        Self {
            store: Store::open(&url).await.unwrap(),
            _dir: None,
            pg: Some((admin, name)),
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::support::TestDb::sqlite().await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::support::TestDb::postgres().await).await
            }
        }
    };
}
pub(crate) use both;
