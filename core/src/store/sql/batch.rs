//! Batch imports' progress in the same database as the accounts, so every process (and,
//! on PostgreSQL, every machine) running a shard of one input sees the rows already done.

use sqlx::Row;

use super::{Pool, SqlMetaStore};
use crate::error::Result;
use crate::store::BatchRecord;

const READ: &str = "SELECT row_index, row_digest, error_code, details FROM avatarium_batch_rows
     WHERE input_key = $1 AND row_index >= $2 AND row_index <= $3";
const WRITE: &str = "INSERT INTO avatarium_batch_rows
     (input_key, row_index, row_digest, error_code, details, done_ms)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (input_key, row_index) DO UPDATE SET row_digest = excluded.row_digest,
     error_code = excluded.error_code, details = excluded.details, done_ms = excluded.done_ms";

/// Row positions are stored as BIGINT; no input has 2^63 rows.
fn to_db(row: u64) -> i64 {
    i64::try_from(row).unwrap_or(i64::MAX)
}

impl SqlMetaStore {
    pub(super) async fn read_batch_records(
        &self,
        input_key: &str,
        first: u64,
        last: u64,
    ) -> Result<Vec<BatchRecord>> {
        macro_rules! read {
            ($row:expr) => {{
                let row = $row;
                BatchRecord {
                    row: u64::try_from(row.try_get::<i64, _>("row_index")?).unwrap_or(0),
                    digest: row.try_get("row_digest")?,
                    error_code: u32::try_from(row.try_get::<i64, _>("error_code")?)
                        .unwrap_or(u32::MAX),
                    details: row.try_get("details")?,
                }
            }};
        }
        on_pool!(self, p => {
            let rows = sqlx::query(READ)
                .bind(input_key)
                .bind(to_db(first))
                .bind(to_db(last))
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(read!(row));
            }
            Ok(out)
        })
    }

    pub(super) async fn write_batch_row(
        &self,
        input_key: &str,
        record: &BatchRecord,
        now_ms: i64,
    ) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(WRITE)
                .bind(input_key)
                .bind(to_db(record.row))
                .bind(&record.digest)
                .bind(i64::from(record.error_code))
                .bind(record.details.as_deref())
                .bind(now_ms)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
