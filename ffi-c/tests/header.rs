//! The committed header `include/avatarium.h` is exactly what cbindgen (pinned
//! `=0.29.4`) generates from the sources: any drift fails `cargo test`.
//! `BLESS=1 cargo test -p avatarium-ffi --test header` rewrites it.

use std::path::Path;

#[test]
fn header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    // The version macros come from Cargo.toml, so a release cannot forget them.
    config.after_includes = Some(format!(
        "\n/* The version of this header; avatarium_version() gives the library's. */\n\
         #define AVATARIUM_VERSION_MAJOR {}\n#define AVATARIUM_VERSION_MINOR {}\n\
         #define AVATARIUM_VERSION_PATCH {}\n#define AVATARIUM_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");

    let path = crate_dir.join("include/avatarium.h");
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
             `BLESS=1 cargo test -p avatarium-ffi --test header` and commit it",
            path.display(),
            first_diff + 1
        );
    }
    // A few symbols the C tests and the example rely on must be in it.
    for symbol in [
        "avatarium_client_new",
        "avatarium_client_free",
        "avatarium_client_call",
        "avatarium_client_call_async",
        "avatarium_client_upload_photo",
        "avatarium_client_purge",
        "avatarium_string_free",
        "avatarium_version",
        "avatarium_last_error_message",
        "avatarium_error_code_name",
        "AVATARIUM_STATUS_OK = 0",
        "#define AVATARIUM_VERSION_MAJOR ",
        "AVATARIUM_STATUS_PANIC = 6",
        "typedef struct avatarium_client avatarium_client;",
    ] {
        assert!(
            generated.contains(symbol),
            "{symbol} missing from the header"
        );
    }
}
