//! The bindings' batch feed (`avatarium::batch::Feed`): rows offered without blocking,
//! held when the channel is full and handed over by `wait`, one result per row, the
//! counts, and misuse refused. Rows are refused without a fetch (a port the fetcher does
//! not allow), so this is the feed alone.

mod support;

use avatarium::batch::{BatchOptions, BatchRow, FeedMisuse, Waited, ROWS_AHEAD};
use avatarium::Client;
use support::*;

#[tokio::test]
async fn a_feed_takes_rows_as_it_has_room_and_answers_each() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let client = Client::open(test_config(dir.path(), &server))
        .await
        .unwrap();
    let (feed, run) = client.batch_feed("feed-test", BatchOptions::default());
    let task = tokio::spawn(run);

    let n = 3 * ROWS_AHEAD as u64;
    let row = |i: u64| BatchRow::new(i, format!("u{i}"), format!("http://127.0.0.1:1/{i}.jpg"));
    let (mut offered, mut full_seen, mut results) = (0u64, false, Vec::new());
    let mut full = false;
    loop {
        while !full && offered < n {
            full = !feed.offer(row).unwrap();
            offered += 1;
            if full {
                full_seen = true;
                assert_eq!(feed.offer(row), Err(FeedMisuse::Full));
            }
        }
        if offered == n && !full {
            feed.end_input().unwrap();
            assert_eq!(feed.offer(row), Err(FeedMisuse::Ended));
        }
        match feed.wait().await {
            Waited::Row(r) => results.push(*r),
            Waited::Room => full = false,
            Waited::End => break,
            Waited::Broken(e) => panic!("{e}"),
        }
    }
    task.await.unwrap();
    assert!(full_seen, "the rows channel is bounded");
    assert_eq!(results.len() as u64, n);
    let mut rows: Vec<u64> = results.iter().map(|r| r.row).collect();
    rows.sort_unstable();
    assert_eq!(rows, (0..n).collect::<Vec<_>>(), "positions in offer order");
    assert!(results.iter().all(|r| !r.is_ok() && !r.resumed));
    let t = feed.tally();
    assert_eq!((t.done, t.ok, t.failed, t.resumed), (n, 0, n, 0));
}

#[tokio::test]
async fn a_row_is_answered_before_the_input_ends_or_fills_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let client = Client::open(test_config(dir.path(), &server))
        .await
        .unwrap();
    let (feed, run) = client.batch_feed("slow-source", BatchOptions::default());
    let task = tokio::spawn(run);
    // One row, and the input left open: a source that is slow to give the next.
    let row = BatchRow::new(0, "u0", "http://127.0.0.1:1/0.jpg");
    assert_eq!(feed.offer(|_| row), Ok(true));
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match feed.wait().await {
                Waited::Row(r) => return Some(r.row),
                // Room for more, but the source has none yet.
                Waited::Room => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                Waited::Broken(e) => panic!("{e}"),
                Waited::End => return None,
            }
        }
    })
    .await
    .expect("the row is answered while the input is still open");
    assert_eq!(first, Some(0));
    feed.end_input().unwrap();
    while !matches!(feed.wait().await, Waited::End) {}
    task.await.unwrap();
}

#[tokio::test]
async fn after_stop_a_caller_following_the_protocol_stops_reading_an_endless_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let client = Client::open(test_config(dir.path(), &server))
        .await
        .unwrap();
    let (feed, run) = client.batch_feed("endless", BatchOptions::default());
    let task = tokio::spawn(run);
    let row = |i: u64| BatchRow::new(i, format!("u{i}"), format!("http://127.0.0.1:1/{i}.jpg"));
    // A binding's loop over an input that never ends: offer while there is room, else wait.
    let (mut offered, mut answered) = (0u64, 0u64);
    let drained = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut room = true;
        loop {
            if room {
                offered += 1;
                room = feed.offer(row).unwrap();
                continue;
            }
            match feed.wait().await {
                Waited::Row(_) => {
                    answered += 1;
                    if answered == 100 {
                        feed.stop();
                    }
                }
                Waited::Broken(e) => panic!("{e}"),
                Waited::Room => room = true,
                Waited::End => return,
            }
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the input was read on after stop: {offered} rows"
    );
    task.await.unwrap();
    // Bounded by the channel and the rows in flight, not by the input.
    assert!(offered < 100 + 4 * ROWS_AHEAD as u64, "{offered} rows read");
    assert_eq!(feed.tally().done, answered);
}

/// A batch whose task dies without being stopped (a panic, an abort) is reported broken,
/// never as a normal end that would pass for "every row done"; one stopped first ends.
#[tokio::test]
async fn a_task_that_dies_unstopped_is_broken_not_ended() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let client = Client::open(test_config(dir.path(), &server))
        .await
        .unwrap();
    let row = |i: u64| BatchRow::new(i, format!("u{i}"), format!("http://127.0.0.1:1/{i}.jpg"));
    for stopped in [false, true] {
        let (feed, run) = client.batch_feed(format!("dies-{stopped}"), BatchOptions::default());
        let task = tokio::spawn(run);
        assert!(feed.offer(row).unwrap());
        if stopped {
            feed.stop();
        }
        task.abort();
        let _ = task.await;
        let end = loop {
            match feed.wait().await {
                Waited::Row(_) | Waited::Room => continue,
                end => break end,
            }
        };
        match (stopped, end) {
            (false, Waited::Broken(e)) => {
                assert_eq!(e.error_code(), 500001);
                assert!(e.details().contains("before answering every row"), "{e}");
            }
            (true, Waited::End) => {}
            (_, end) => panic!("stopped={stopped}: {end:?}"),
        }
    }
}

/// A row offered after the batch stopped taking rows (a wait saw it) is not a misuse: the
/// caller did not end the input; the row is dropped and the answer is "offer no more".
#[tokio::test]
async fn an_offer_after_the_batch_stopped_taking_rows_is_dropped_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let client = Client::open(test_config(dir.path(), &server))
        .await
        .unwrap();
    let (feed, run) = client.batch_feed("stopped-offer", BatchOptions::default());
    let task = tokio::spawn(run);
    let row = |i: u64| BatchRow::new(i, format!("u{i}"), format!("http://127.0.0.1:1/{i}.jpg"));
    assert!(feed.offer(row).unwrap());
    feed.stop();
    loop {
        match feed.wait().await {
            Waited::Row(_) | Waited::Room => continue,
            Waited::End => break,
            Waited::Broken(e) => panic!("{e}"),
        }
    }
    assert_eq!(feed.offer(row), Ok(false));
    feed.end_input().unwrap();
    assert_eq!(feed.offer(row), Err(FeedMisuse::Ended));
    task.await.unwrap();
}
