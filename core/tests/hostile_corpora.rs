//! Every file of ../shared/corpora (go-fuzz, image-rs incl. its regression files, PngSuite,
//! exif-orientation) through the full API path as an upload (`accounts.uploadProfilePhoto`):
//! no panic, no hang, and every file a clean envelope: 0, 409010 or 413004 (never 500001,
//! which would mean a panic caught or an internal failure; the three empty go-fuzz files
//! are an empty `photoBytes`, 400002). THREATS.md (b) 53, 54, 62–72,
//! 76, 77, 85. Skips with a message when the corpora folder is absent.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use avatarium::Config;
use futures::StreamExt;

use support::hostile::*;
use support::http_server;

/// A file that takes longer than this through the whole API is a hang.
const PER_FILE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_corpus_file_ends_in_a_clean_envelope() {
    let Some(root) = corpora() else {
        eprintln!(
            "SKIPPED every_corpus_file_ends_in_a_clean_envelope: ../shared/corpora is missing \
             (see its README for what belongs there)"
        );
        return;
    };
    let files = files_under(&root);
    assert!(
        files.len() > 100,
        "only {} files under {}",
        files.len(),
        root.display()
    );

    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_concurrent_imports: Some(4),
        max_queued_imports: Some(64),
        ..config(dir.path(), &[9])
    };
    let client = client(cfg, http_server::StubResolver::sequence(vec![])).await;

    let results: Vec<(PathBuf, u32, String, Duration)> =
        futures::stream::iter(files.iter().cloned().enumerate())
            .map(|(i, path)| {
                let client = client.clone();
                async move {
                    let bytes = std::fs::read(&path).unwrap();
                    let start = Instant::now();
                    let r = tokio::time::timeout(
                        PER_FILE,
                        upload(&client, &format!("c{}", i % 50), &bytes),
                    )
                    .await
                    .unwrap_or_else(|_| panic!("{} hung (> {PER_FILE:?})", path.display()));
                    let took = start.elapsed();
                    if r.error_code() != 0 {
                        assert_no_leak(&r);
                    }
                    (path, r.error_code(), details(&r), took)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;

    // Per top-level corpus: outcome counts.
    let mut table: BTreeMap<String, BTreeMap<u32, usize>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (path, code, details, _) in &results {
        let rel = path.strip_prefix(&root).unwrap();
        let mut parts = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string());
        let top = parts.next().unwrap_or_default();
        let group = match top.as_str() {
            "go-fuzz" | "image-rs" => format!("{top}/{}", parts.next().unwrap_or_default()),
            _ => top,
        };
        *table.entry(group).or_default().entry(*code).or_default() += 1;
        // An empty file is an empty photoBytes parameter: 400002 (missing), by SPEC.md.
        let empty = std::fs::metadata(path)
            .map(|m| m.len() == 0)
            .unwrap_or(false);
        let clean = matches!(code, 0 | 409010 | 413004) || (empty && *code == 400002);
        if !clean {
            bad.push(format!("{}: {code} {details}", rel.display()));
        }
    }
    for (group, counts) in &table {
        println!("{group:<28} {counts:?}");
    }
    let slowest = results.iter().max_by_key(|r| r.3).unwrap();
    println!(
        "{} files; slowest {} in {} ms",
        results.len(),
        slowest.0.strip_prefix(&root).unwrap().display(),
        slowest.3.as_millis()
    );
    assert!(bad.is_empty(), "unclean envelopes:\n{}", bad.join("\n"));

    // The known outcomes of THREATS.md (b) that the corpora contain.
    let code_of = |rel: &str| {
        results
            .iter()
            .find(|r| r.0.ends_with(rel))
            .map(|r| r.1)
            .unwrap_or_else(|| panic!("{rel} is not in the corpora"))
    };
    // 53: every x*.png of PngSuite is refused; 54: the valid files are processed.
    for (path, code, _, _) in &results {
        let name = path.file_name().unwrap().to_string_lossy();
        if path.starts_with(root.join("pngsuite")) && name.ends_with(".png") {
            if name.starts_with('x') {
                assert_eq!(*code, 409010, "{name}");
            } else {
                assert_eq!(*code, 0, "{name}");
            }
        }
        // 76, 77: every orientation sample (0–8) is processed.
        if path.starts_with(root.join("exif-orientation")) && name.ends_with(".jpg") {
            assert_eq!(*code, 0, "{name}");
        }
    }
    // 62–64: go-fuzz files with lying headers.
    assert_ne!(code_of("127f73e53412d58682f8acbefa0e09bc156a22ff-1"), 0);
    assert_ne!(code_of("ee2eaca8bb94fa4ed9b08db29ac4d50ec6d1e239-1"), 0);
    // 10×63498 is over the aspect-ratio limit.
    assert_eq!(
        code_of("4f68150cf9450d404a9930909aea2bcdb5562070-2"),
        413004
    );
    // 71, 72: image-rs regression files.
    assert_ne!(code_of("oss-fuzz-36829.jpeg"), 0);
    assert_ne!(code_of("zero-loop-count.gif"), 0);
}
