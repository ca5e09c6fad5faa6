//! The committed header `include/profile_photo.h` is exactly what cbindgen (pinned
//! `=0.29.4`) generates from the sources: any drift fails `cargo test`.
//! `BLESS=1 cargo test -p profile-photo-ffi --test header` rewrites it.

use std::path::Path;

#[test]
fn header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let path = crate_dir.join("include/profile_photo.h");
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_diff = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date (first difference at line {}); run \
             `BLESS=1 cargo test -p profile-photo-ffi --test header` and commit it",
            path.display(),
            first_diff + 1
        );
    }
    // A few symbols the C tests and the example rely on must be in it.
    for symbol in [
        "pp_client_new",
        "pp_client_free",
        "pp_client_call",
        "pp_client_call_async",
        "pp_client_upload_photo",
        "pp_client_purge",
        "pp_string_free",
        "pp_version",
        "pp_last_error_message",
        "pp_error_code_name",
        "PP_STATUS_OK = 0",
        "PP_STATUS_PANIC = 6",
        "typedef struct pp_client pp_client;",
    ] {
        assert!(
            generated.contains(symbol),
            "{symbol} missing from the header"
        );
    }
}
