//! Runs `conformance/cases.json` through `Client::call` on the embedded default (format in
//! conformance/README.md; the runner is in support/conformance.rs).

mod support;

use avatarium::{Client, Config};
use support::conformance::{cases, CaseVars};
use support::{repo_root, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases() {
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    for (i, case) in cases().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            allow_loopback: true,
            fetch_allowed_ports: vec![server.addr.port()],
            max_photo_bytes: 100_000,
            ..Config::default()
        };
        let client = Client::open(config).await.unwrap();
        let mut vars = CaseVars::new(
            format!("http://{}", server.addr),
            format!("conformance-{i}"),
        );
        for (j, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("case {name:?} step {j}");
            let method = step["method"].as_str().unwrap();
            let r = client.call(method, &vars.params(step)).await.into_value();
            vars.check(step, &r, &ctx);
        }
    }
}
