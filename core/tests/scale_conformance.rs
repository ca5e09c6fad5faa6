//! `conformance/cases.json` through `Client::call` on both backends: the embedded default
//! and PostgreSQL + S3 (format and set-up in conformance/README.md; the runner is the one
//! of `conformance.rs`, with the stores of `support::scale` and a fresh database and bucket
//! prefix per case). On top of the cases' own expectations, every photo URL a response
//! returns must name a blob that exists in the store.

mod support;

use avatarium::Client;
use serde_json::Value;
use support::conformance::{cases, lookup, CaseVars};
use support::scale::{kinds, Backend};
use support::{repo_root, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases_on_every_backend() {
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let cases = cases();
    for kind in kinds() {
        let mut urls_checked = 0;
        for (i, case) in cases.iter().enumerate() {
            let name = case["name"].as_str().unwrap();
            let backend = Backend::new(kind).await;
            let mut config = backend.config();
            config.allow_loopback = true;
            config.fetch_allowed_ports = vec![server.addr.port()];
            config.max_photo_bytes = 100_000;
            let client = Client::open(config).await.unwrap();
            let mut vars = CaseVars::new(
                format!("http://{}", server.addr),
                format!("conformance-{i}"),
            );
            for (j, step) in case["steps"].as_array().unwrap().iter().enumerate() {
                let ctx = format!("{}: case {name:?} step {j}", backend.label());
                let method = step["method"].as_str().unwrap();
                let r = client.call(method, &vars.params(step)).await.into_value();
                vars.check(step, &r, &ctx);
                // Every URL handed out points at a stored blob, under the configured base.
                for path in [
                    "photoURL",
                    "thumbnailURL",
                    "profile.photoURL",
                    "profile.thumbnailURL",
                ] {
                    if let Some(url) = lookup(&r, path).and_then(Value::as_str) {
                        assert!(
                            backend.url_resolves(url).await,
                            "{ctx}: {path} {url} points at nothing"
                        );
                        urls_checked += 1;
                    }
                }
            }
        }
        assert!(
            urls_checked >= 10,
            "{kind:?}: only {urls_checked} URLs seen"
        );
    }
}
