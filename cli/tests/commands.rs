//! The command line (not `serve`): which options each command takes, what `import` makes of
//! its argument, and the documented exit statuses (0 answered ok, 1 answered with an error,
//! 2 not made).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn repo_photo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/photos/astronaut.png")
        .to_string_lossy()
        .into_owned()
}

fn avatarium(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("AVATARIUM_LOG")
        .output()
        .expect("run avatarium")
}

fn envelope(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not an envelope ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn exit_status_is_0_when_answered_ok_and_1_when_answered_with_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = repo_photo();

    let imported = avatarium(dir.path(), &["import", &photo, "--uid", "u1", "--publish"]);
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let env = envelope(&imported);
    assert_eq!(env["errorCode"], 0);
    assert!(env["photoURL"].as_str().is_some_and(|u| !u.is_empty()));

    // Nothing pending any more: the call is made and answered with 409010.
    let publish = avatarium(dir.path(), &["publish", "--uid", "u1"]);
    assert_eq!(publish.status.code(), Some(1), "{}", stderr(&publish));
    assert_eq!(envelope(&publish)["errorCode"], 409010);

    // Both or neither account option: the core's refusal, as an envelope.
    let neither = avatarium(dir.path(), &["info"]);
    assert_eq!(neither.status.code(), Some(1));
    assert_eq!(envelope(&neither)["errorCode"], 400002);
}

#[test]
fn import_names_an_argument_that_is_neither_an_http_url_nor_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let dir = dir.as_path();
    for (source, says) in [
        (
            "file:///etc/passwd",
            "file:// URL is neither an http(s) URL",
        ),
        (
            "ftp://example.com/me.png",
            "ftp:// URL is neither an http(s) URL",
        ),
        ("no-such-photo.png", "no such file, and not an http(s) URL"),
    ] {
        let out = avatarium(dir, &["import", source, "--uid", "u1"]);
        assert_eq!(out.status.code(), Some(2), "{source}");
        assert!(
            out.stdout.is_empty(),
            "{source}: no envelope for a call not made"
        );
        let err = stderr(&out);
        assert!(err.contains(says), "{source}: {err}");
        assert!(err.contains("http:// or https:// URL"), "{source}: {err}");
        assert!(
            !dir.exists(),
            "{source}: a command not made created the store"
        );
    }
}

#[test]
fn account_options_belong_to_the_commands_that_act_on_an_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["purge", "--uid", "u1"][..],
        &["init-registration", "--reg-token", "t"],
        &["policies", "--uid", "u1"],
        &["call", "accounts.getAccountInfo", "{}", "--uid", "u1"],
        &["finalize-registration", "--uid", "u1"],
    ] {
        let out = avatarium(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("unexpected argument"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn help_shows_examples_and_the_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("--help")
        .output()
        .expect("run avatarium");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("avatarium import https://"), "{help}");
    assert!(help.contains("Exit status: 0"), "{help}");
}

#[test]
fn policies_set_the_crop_and_scales_with_the_cores_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = avatarium(
        dir.path(),
        &["policies", "--crop", "attention", "--scales", "2,1"],
    );
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    let policy = &envelope(&set)["profilePhoto"];
    assert_eq!(policy["thumbnailCrop"], "attention");
    assert_eq!(policy["thumbnailScales"], serde_json::json!([1, 2]));

    // Refused by the core: an envelope with 400006 naming the field, exit 1.
    for (args, field) in [
        (&["policies", "--crop", "middle"][..], "thumbnailCrop"),
        (&["policies", "--scales", "1,1"], "thumbnailScales"),
    ] {
        let out = avatarium(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let env = envelope(&out);
        assert_eq!(env["errorCode"], 400006, "{args:?}");
        assert!(
            env["errorDetails"].as_str().unwrap().contains(field),
            "{env}"
        );
    }

    let photo = repo_photo();
    let out = avatarium(dir.path(), &["import", &photo, "--uid", "u1", "--publish"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let renditions = envelope(&out)["profile"]["renditions"].clone();
    let scales: Vec<u64> = renditions
        .as_array()
        .expect("renditions")
        .iter()
        .map(|r| r["scale"].as_u64().unwrap())
        .collect();
    assert_eq!(scales, [1, 1, 2]);
}

fn generate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("generate")
        .args(args)
        .output()
        .expect("run avatarium generate")
}

#[test]
fn generate_writes_the_man_pages_and_completions_and_is_listed_nowhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = dir.path().join("man1");
    let man = generate(&["man", pages.to_str().expect("utf-8")]);
    assert!(man.status.success(), "{}", stderr(&man));
    let main_page = std::fs::read_to_string(pages.join("avatarium.1")).expect("avatarium.1");
    assert!(main_page.contains(".TH avatarium 1"), "{main_page}");
    // Every page the main page points at is there, and none for `generate`.
    for sub in ["import", "import-batch", "serve", "policies"] {
        assert!(main_page.contains(&format!("avatarium\\-{}", sub.replace('-', "\\-"))));
        assert!(pages.join(format!("avatarium-{sub}.1")).is_file(), "{sub}");
    }
    assert!(!pages.join("avatarium-generate.1").exists());
    for (shell, marker) in [
        ("bash", "complete -F _avatarium"),
        ("zsh", "#compdef avatarium"),
        ("fish", "complete -c avatarium"),
    ] {
        let out = generate(&[shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("import-batch"),
            "{shell} completes subcommands"
        );
        assert!(!text.contains("generate"), "{shell} lists generate");
    }
    let help = avatarium(dir.path(), &["--help"]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("generate"));
    for bad in [&["powershell"][..], &["man"]] {
        assert_eq!(generate(bad).status.code(), Some(2), "{bad:?}");
    }
}
