//! Batch progress on both metadata backends (SQLite, and PostgreSQL when the scale-out
//! services are there: `support::scale`): a row's record replaces the earlier one, a range
//! read returns the rows of one input alone.

mod support;

use avatarium::store::{BatchRecord, MetaStore};
use support::scale::{kinds, Backend};

fn record(row: u64, code: u32) -> BatchRecord {
    BatchRecord {
        row,
        digest: format!("d{row}"),
        error_code: code,
        details: (code != 0).then(|| "why".to_string()),
    }
}

#[tokio::test]
async fn rows_are_recorded_per_input_and_replaced() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let meta = b.meta().await;
        for row in 0..10 {
            meta.record_batch_row("in-a", &record(row, 404004), 1)
                .await
                .unwrap();
        }
        meta.record_batch_row("in-b", &record(3, 0), 1)
            .await
            .unwrap();
        // A retried row's new result replaces the old one.
        meta.record_batch_row("in-a", &record(3, 0), 2)
            .await
            .unwrap();
        let mut rows = meta.batch_records("in-a", 2, 5).await.unwrap();
        rows.sort_by_key(|r| r.row);
        assert_eq!(
            rows,
            vec![
                record(2, 404004),
                record(3, 0),
                record(4, 404004),
                record(5, 404004)
            ],
            "{}",
            b.label()
        );
        assert_eq!(
            meta.batch_records("in-b", 0, 100).await.unwrap(),
            vec![record(3, 0)]
        );
        assert!(meta.batch_records("in-c", 0, 100).await.unwrap().is_empty());
        meta.close().await;
    }
}
