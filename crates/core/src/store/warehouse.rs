//! A read-only connection to a team's PostgreSQL warehouse, where experiment metrics are asked
//! for by query (as GrowthBook's warehouse integrations do): a query's columns described, its
//! rows streamed, every column as a number, text or NULL. Numeric columns of any PostgreSQL type (NUMERIC from a
//! `SUM`, integers, reals) and times (as Unix seconds) are cast by wrapping the query, so a
//! query is written as the analyst would write it.

use futures_util::TryStreamExt;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Column, Executor, Row, TypeInfo};

/// One cell of a warehouse row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("the warehouse cannot be reached: {0}")]
    Connect(String),
    #[error("the query failed: {0}")]
    Query(String),
    #[error("column `{0}` is of type {1}, which is neither a number, a time nor text")]
    Type(String, String),
}

/// A connection pool to the warehouse.
pub struct Warehouse {
    pool: PgPool,
}

/// How a column is read: cast to a number, to Unix seconds, or as text.
enum Read {
    Number,
    Time,
    Text,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Warehouse {
    /// Connects to `url` (`postgres://…`); fails within 5 s when nothing answers. Every
    /// session is read-only: a query cannot change the warehouse.
    pub async fn connect(url: &str) -> Result<Self, WarehouseError> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                        .await?;
                    // A query that runs away is stopped rather than hanging the import.
                    conn.execute("SET statement_timeout = '15min'").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| WarehouseError::Connect(e.to_string()))?;
        Ok(Warehouse { pool })
    }

    /// The columns `sql` returns: name and PostgreSQL type (upper case), without running it.
    pub async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let sql = sql.trim().trim_end_matches(';');
        let described = self
            .pool
            .describe(sql)
            .await
            .map_err(|e| WarehouseError::Query(e.to_string()))?;
        Ok(described
            .columns()
            .iter()
            .map(|c| {
                (
                    c.name().to_string(),
                    c.type_info().name().to_ascii_uppercase(),
                )
            })
            .collect())
    }

    /// Runs `sql` and calls `row` with the column names once, then each row's cells in order,
    /// streaming (memory does not grow with the rows). `row` may stop the query with an error.
    pub async fn each_row<E: From<WarehouseError>>(
        &self,
        sql: &str,
        mut row: impl FnMut(&[String], &[Cell]) -> Result<(), E>,
    ) -> Result<u64, E> {
        let sql = sql.trim().trim_end_matches(';');
        let described = self
            .pool
            .describe(sql)
            .await
            .map_err(|e| WarehouseError::Query(e.to_string()))?;
        let mut names = Vec::new();
        let mut reads = Vec::new();
        let mut select = Vec::new();
        for c in described.columns() {
            let name = c.name().to_string();
            let ty = c.type_info().name().to_ascii_uppercase();
            let read = match ty.as_str() {
                "INT2" | "INT4" | "INT8" | "FLOAT4" | "FLOAT8" | "NUMERIC" | "OID" | "BOOL"
                | "SMALLINT" | "INTEGER" | "BIGINT" | "REAL" | "DOUBLE PRECISION" | "BOOLEAN" => {
                    Read::Number
                }
                "TIMESTAMPTZ" | "TIMESTAMP" | "DATE" => Read::Time,
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UUID" => Read::Text,
                _ => return Err(WarehouseError::Type(name, ty).into()),
            };
            let q = quote(&name);
            select.push(match read {
                Read::Number if ty == "BOOL" || ty == "BOOLEAN" => {
                    format!("({q})::int::float8 AS {q}")
                }
                Read::Number => format!("({q})::float8 AS {q}"),
                Read::Time => format!("extract(epoch from {q})::float8 AS {q}"),
                Read::Text => format!("({q})::text AS {q}"),
            });
            names.push(name);
            reads.push(read);
        }
        // The query on lines of its own: a comment closing its last line ends there.
        let wrapped = format!("SELECT {} FROM (\n{sql}\n) AS q", select.join(", "));
        let mut rows = sqlx::query(&wrapped).fetch(&self.pool);
        let mut n = 0;
        let mut cells = Vec::with_capacity(names.len());
        while let Some(r) = rows
            .try_next()
            .await
            .map_err(|e| WarehouseError::Query(e.to_string()))?
        {
            cells.clear();
            for (i, read) in reads.iter().enumerate() {
                let cell = match read {
                    Read::Number | Read::Time => r
                        .try_get::<Option<f64>, _>(i)
                        .map(|v| v.map_or(Cell::Null, Cell::Number)),
                    Read::Text => r
                        .try_get::<Option<String>, _>(i)
                        .map(|v| v.map_or(Cell::Null, Cell::Text)),
                }
                .map_err(|e| WarehouseError::Query(e.to_string()))?;
                cells.push(cell);
            }
            n += 1;
            row(&names, &cells)?;
        }
        Ok(n)
    }
}
