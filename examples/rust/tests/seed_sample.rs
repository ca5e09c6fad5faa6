//! Runs the example binary as a user would (`cargo run -p avatarium-example`). Built by
//! `cargo test --workspace` with the same features as every other test, so the test command
//! compiles nothing twice for it.

use std::process::Command;

#[test]
fn the_seed_sample_imports_publishes_and_reads_back() {
    let out = Command::new(env!("CARGO_BIN_EXE_import-then-publish"))
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Photo imported:",
        "Published:",
        "Account:",
        "thumbnailURL = ",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains("\"errorCode\":0"), "{stdout}");
}
