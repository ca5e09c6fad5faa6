//! A batch's progress: which rows an earlier run of the same input finished (read a block
//! of rows at a time), and each row's record once it has finished.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Batch, BatchRow, RowResult};
use crate::api::Method;
use crate::error::{Error, ErrorKind};
use crate::store::BatchRecord;

/// Rows read from the input, and looked up in the store, at a time.
pub(super) const BLOCK: usize = 256;

/// What to do with a row.
pub(super) enum Step {
    /// An earlier run finished it: its recorded result.
    /// Boxed: a result carries its whole response envelope.
    Recorded(Box<RowResult>),
    Run(BatchRow),
}

/// The row's identity within its position: a record made for other content at the same
/// position (the input was edited), or with another publish choice (a `--no-publish` run
/// left the photo pending; a run that publishes must redo the row), is not this row's.
fn digest(row: &BatchRow, publish: bool) -> String {
    let mut h = Sha256::new();
    h.update(row.uid.as_bytes());
    h.update([0]);
    h.update(row.url.as_bytes());
    h.update([0, u8::from(publish)]);
    hex::encode(&h.finalize()[..16])
}

impl Batch {
    /// Decide each row of `block`: recorded (done, or failed and not retried) or to run.
    pub(super) async fn plan(&self, block: Vec<BatchRow>) -> Vec<Step> {
        let (Some(first), Some(last)) = (
            block.iter().map(|r| r.row).min(),
            block.iter().map(|r| r.row).max(),
        ) else {
            return Vec::new();
        };
        let records = match self
            .client
            .meta()
            .batch_records(&self.input_key, first, last)
            .await
        {
            Ok(records) => records
                .into_iter()
                .map(|r| (r.row, r))
                .collect::<HashMap<_, _>>(),
            Err(e) => {
                // Without the progress a row done before would be fetched again: fail the
                // block instead (500001, transient for the operator: rerun later).
                tracing::error!(error = ?e, "batch: progress could not be read");
                return block
                    .into_iter()
                    .map(|row| Step::Recorded(Box::new(self.unrecorded(row))))
                    .collect();
            }
        };
        block
            .into_iter()
            .map(|row| match records.get(&row.row) {
                Some(r)
                    if r.digest == digest(&row, self.options.publish)
                        && (r.error_code == 0 || !self.options.retry_failed) =>
                {
                    Step::Recorded(Box::new(RowResult {
                        row: row.row,
                        uid: row.uid,
                        error_code: r.error_code,
                        details: r.details.clone(),
                        attempts: 0,
                        resumed: true,
                        response: None,
                    }))
                }
                _ => Step::Run(row),
            })
            .collect()
    }

    /// A row that could not be looked up: 500001, not run, not recorded.
    fn unrecorded(&self, row: BatchRow) -> RowResult {
        let response = self.client.refused(
            Method::ImportProfilePhoto,
            Error::internal("batch progress could not be read"),
        );
        RowResult {
            row: row.row,
            uid: row.uid,
            error_code: response.error_code(),
            details: response.error().map(|e| e.details().to_string()),
            attempts: 0,
            resumed: false,
            response: Some(response),
        }
    }

    /// Record a finished row. A failed write turns the row's result into a failure
    /// (500001, "progress not saved: …"): the row runs again next time, and the run must
    /// not report it as done.
    pub(super) async fn record(&self, row: &BatchRow, result: RowResult) -> RowResult {
        let record = BatchRecord {
            row: row.row,
            digest: digest(row, self.options.publish),
            error_code: result.error_code,
            details: result.details.clone(),
        };
        let now = self.client.now_ms();
        let Err(e) = self
            .client
            .meta()
            .record_batch_row(&self.input_key, &record, now)
            .await
        else {
            return result;
        };
        tracing::error!(error = ?e, row = row.row, "batch: row result not recorded");
        let response = self.client.refused(
            Method::ImportProfilePhoto,
            Error::new(
                ErrorKind::Internal,
                format!(
                    "progress not saved: the import ended with errorCode {}; the row runs again next time",
                    result.error_code
                ),
            ),
        );
        RowResult {
            error_code: response.error_code(),
            details: response.error().map(|e| e.details().to_string()),
            response: Some(response),
            ..result
        }
    }
}
