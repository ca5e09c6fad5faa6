//! `avatarium::pipeline::process` on arbitrary bytes with the default limits.
//!
//! The pipeline runs decoders behind `catch_unwind` and turns a decoder panic into 409010;
//! libfuzzer-sys aborts on *any* panic, caught or not, so this target installs a quieter
//! hook: a panic that the pipeline catches is printed once per source location (a finding
//! about a dependency, not a crash of ours), while a panic that escapes `process` still
//! aborts (libfuzzer-sys wraps the target in `catch_unwind` + `abort`).
//!
//! Crashes are: a panic out of `process`, an `Internal` error (the pipeline's guard around
//! resizing/encoding fired: a bug of ours), any other error kind than 409010/413004, a
//! result that breaks the output contract, and ASan/OOM/timeout reports from libFuzzer.
#![no_main]

use std::collections::HashSet;
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;
use avatarium::pipeline::{process, Limits};
use avatarium::ErrorKind;

static HOOK: Once = Once::new();
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn install_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get_or_insert_with(HashSet::new).insert(at.clone()) {
                eprintln!("fuzz/pipeline: panic (caught by the pipeline unless it aborts next) at {at}: {info}");
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    install_hook();
    let limits = Limits::default();
    match process(data, &limits, 64, 64) {
        Ok(p) => {
            assert_eq!((p.thumbnail.width, p.thumbnail.height), (64, 64));
            assert!(p.photo.width.max(p.photo.height) <= limits.photo_max_side);
            assert!(p.photo.width > 0 && p.photo.height > 0);
            assert!(!p.photo.bytes.is_empty() && !p.thumbnail.bytes.is_empty());
            let pixels = u64::from(p.source_width) * u64::from(p.source_height);
            assert!(pixels <= limits.max_pixels, "decoded over the pixel cap");
        }
        Err(e) => match e.kind() {
            ErrorKind::MissingPhoto | ErrorKind::PhotoTooLarge => {}
            other => panic!("pipeline returned {other:?}: {e}"),
        },
    }
});
