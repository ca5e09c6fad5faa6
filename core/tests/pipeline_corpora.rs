//! The photo pipeline against public corpora (../shared/corpora, see its README) and a few
//! files of the benchmark corpus. Every file must end in a processed photo or a clean
//! 409010/413004, never a panic. No timing assertions: the slowest file is only printed.
//! `PIPELINE_CORPORA_VERBOSE=1` prints every file's outcome.
//!
//! A counting allocator records the largest single allocation made while each file runs: no
//! file may make a decoder ask for more than the memory budget in one go (a WebP declaring a
//! 4 GiB EXIF chunk did, before the chunk was read from the bytes: fuzz finding).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use avatarium::pipeline::{self, InputFormat, Limits, OutputFormat, Processed};
use image::imageops::FilterType;
use image::metadata::Orientation;

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora");
const BENCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-corpus");

/// The system allocator, remembering the largest size asked for.
struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to `System`; only a size is recorded.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

fn dir(base: &str, sub: &str) -> Option<PathBuf> {
    let p = Path::new(base).join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is missing (see shared/corpora/README.md)",
            p.display()
        );
        None
    }
}

/// Every regular file under `root`, recursively, sorted.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// `work` on the file `what`, alone; no allocation meanwhile may exceed the memory budget.
/// Runs are serialised so each is measured alone (other tests' own allocations, a file
/// read at most, stay far below the budget).
fn within_budget<T>(what: &str, work: impl FnOnce() -> T) -> T {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    LARGEST.store(0, Ordering::Relaxed);
    let result = work();
    let budget = pipeline::memory_budget(&Limits::default());
    let largest = LARGEST.load(Ordering::Relaxed) as u64;
    assert!(
        largest <= budget,
        "{what}: an allocation of {largest} bytes, over the budget of {budget}"
    );
    result
}

fn run(path: &Path) -> Result<Processed, avatarium::Error> {
    let bytes = std::fs::read(path).unwrap();
    within_budget(&name(path), || {
        pipeline::process(&bytes, &Limits::default(), 64, 64)
    })
}

/// The outputs are what they claim to be, and a thumbnail can be remade from the photo.
fn check_outputs(p: &Processed, what: &str) {
    for (e, format) in [
        (&p.photo, p.photo.format),
        (&p.thumbnail, p.thumbnail.format),
    ] {
        let img = image::load_from_memory(&e.bytes)
            .unwrap_or_else(|err| panic!("{what}: output does not decode: {err}"));
        assert_eq!((img.width(), img.height()), (e.width, e.height), "{what}");
        let magic_ok = match format {
            OutputFormat::Jpeg => {
                e.bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && e.bytes.ends_with(&[0xFF, 0xD9])
            }
            OutputFormat::Png => {
                e.bytes.starts_with(b"\x89PNG") && e.bytes.ends_with(&[0xAE, 0x42, 0x60, 0x82])
            }
        };
        assert!(magic_ok, "{what}: {format:?} output framing");
    }
    assert!(p.photo.width <= 1024 && p.photo.height <= 1024, "{what}");
    assert!(
        p.photo.width <= p.source_width && p.photo.height <= p.source_height,
        "{what}: upscaled"
    );
    assert_eq!((p.thumbnail.width, p.thumbnail.height), (64, 64), "{what}");
    let t = pipeline::thumbnail(&p.photo.bytes, &Limits::default(), 48, 32)
        .unwrap_or_else(|e| panic!("{what}: thumbnail of the stored photo: {e}"));
    assert_eq!((t.width, t.height), (48, 32), "{what}");
}

#[test]
fn pngsuite_valid_files_process_and_corrupt_ones_are_409010() {
    let Some(root) = dir(CORPORA, "pngsuite") else {
        return;
    };
    let (mut ok, mut refused) = (0, 0);
    for path in files(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
    {
        let n = name(&path);
        let result = run(&path);
        if n.starts_with('x') {
            let e = result.expect_err(&n);
            assert_eq!(e.error_code(), 409010, "{n}: {e}");
            refused += 1;
        } else {
            let p = result.unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(p.input_format, InputFormat::Png);
            assert_eq!(p.photo.format, OutputFormat::Png, "{n}");
            check_outputs(&p, &n);
            ok += 1;
        }
    }
    eprintln!("pngsuite: {ok} OK, {refused} refused");
    assert_eq!((ok, refused), (161, 14));
}

/// The photo shrunk to 24x24 RGB, for comparisons that survive JPEG noise.
fn thumb24(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes)
        .unwrap()
        .resize_exact(24, 24, FilterType::Triangle)
        .to_rgb8()
}

fn mad(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

const ALL: [Orientation; 8] = [
    Orientation::NoTransforms,
    Orientation::FlipHorizontal,
    Orientation::Rotate180,
    Orientation::FlipVertical,
    Orientation::Rotate90FlipH,
    Orientation::Rotate90,
    Orientation::Rotate270FlipH,
    Orientation::Rotate270,
];

#[test]
fn exif_orientation_examples_all_come_out_like_1() {
    let Some(root) = dir(CORPORA, "exif-orientation") else {
        return;
    };
    for kind in ["Landscape", "Portrait"] {
        let reference = run(&root.join(format!("{kind}_1.jpg"))).unwrap();
        let ref_dims = (reference.photo.width, reference.photo.height);
        if kind == "Landscape" {
            assert!(ref_dims.0 > ref_dims.1, "{ref_dims:?}");
        } else {
            assert!(ref_dims.0 < ref_dims.1, "{ref_dims:?}");
        }
        let ref_small = thumb24(&reference.photo.bytes);
        let ref_thumb = thumb24(&reference.thumbnail.bytes);
        for n in 0..=8 {
            let what = format!("{kind}_{n}");
            let p =
                run(&root.join(format!("{what}.jpg"))).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(p.input_format, InputFormat::Jpeg);
            assert_eq!((p.photo.width, p.photo.height), ref_dims, "{what}");
            assert_eq!(
                (p.source_width, p.source_height),
                (reference.source_width, reference.source_height),
                "{what}"
            );
            check_outputs(&p, &what);

            // The output must match _1 better than any other orientation of it would.
            let got = image::DynamicImage::ImageRgb8(thumb24(&p.photo.bytes));
            let mut scores = Vec::new();
            for o in ALL {
                let mut candidate = got.clone();
                candidate.apply_orientation(o);
                scores.push((o, mad(&candidate.to_rgb8(), &ref_small)));
            }
            let identity = scores[0].1;
            assert!(identity < 4.0, "{what}: differs from _1 by {identity:.1}");
            for &(o, d) in &scores[1..] {
                assert!(
                    d > identity + 10.0,
                    "{what}: {o:?} scores {d:.1}, identity {identity:.1}"
                );
            }
            let t = mad(&thumb24(&p.thumbnail.bytes), &ref_thumb);
            assert!(t < 6.0, "{what}: thumbnail differs from _1's by {t:.1}");
        }
    }
}

/// Ok, or a clean 409010/413004; never a panic (the pipeline must not unwind).
fn survive(paths: &[PathBuf], label: &str) {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut slowest = (Duration::ZERO, String::new());
    for path in paths {
        let n = path
            .strip_prefix(CORPORA)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let start = Instant::now();
        let result = within_budget(&n, || {
            std::panic::catch_unwind(|| pipeline::process(&bytes, &Limits::default(), 64, 64))
        });
        let took = start.elapsed();
        if took > slowest.0 {
            slowest = (took, n.clone());
        }
        let key = match result {
            Err(_) => panic!("{n}: the pipeline panicked"),
            Ok(Ok(p)) => {
                check_outputs(&p, &n);
                "ok".to_string()
            }
            Ok(Err(e)) => {
                assert!(matches!(e.error_code(), 409010 | 413004), "{n}: {e}");
                assert!(!e.details().is_empty(), "{n}");
                if std::env::var_os("PIPELINE_CORPORA_VERBOSE").is_some() {
                    eprintln!("        {n}: {}", e.details());
                }
                e.error_code().to_string()
            }
        };
        if std::env::var_os("PIPELINE_CORPORA_VERBOSE").is_some() {
            eprintln!("{key:>6} {took:>10.1?} {n}");
        }
        *counts.entry(key).or_default() += 1;
    }
    eprintln!(
        "{label}: {} files {counts:?}; slowest {:?} ({})",
        paths.len(),
        slowest.0,
        slowest.1
    );
    assert!(!paths.is_empty(), "{label}: no files");
}

#[test]
fn go_fuzz_corpora_never_panic() {
    for sub in ["gif", "png", "jpeg"] {
        let Some(root) = dir(CORPORA, &format!("go-fuzz/{sub}")) else {
            return;
        };
        survive(&files(&root), &format!("go-fuzz/{sub}"));
    }
}

#[test]
fn image_rs_files_never_panic() {
    let Some(root) = dir(CORPORA, "image-rs") else {
        return;
    };
    let images: Vec<PathBuf> = files(&root)
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| matches!(e.to_str(), Some("png" | "gif" | "jpg" | "jpeg")))
        })
        .collect();
    survive(&images, "image-rs");
    // The regression (crasher) files are refused.
    for f in [
        "tests/regression/gif/zero-loop-count.gif",
        "tests/regression/jpg/oss-fuzz-36829.jpeg",
    ] {
        let e = run(&root.join(f)).expect_err(f);
        assert!(matches!(e.error_code(), 409010 | 413004), "{f}: {e}");
    }
}

/// The fuzzer's hostile seeds (fuzz/seeds/pipeline: earlier findings and crafted bombs)
/// end in a clean refusal or a photo, never in an allocation over the budget.
#[test]
fn fuzz_seeds_never_allocate_over_the_budget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/pipeline");
    let seeds = files(&root);
    assert!(
        seeds.len() >= 7,
        "{} seeds in {}",
        seeds.len(),
        root.display()
    );
    for path in seeds {
        if let Err(e) = run(&path) {
            let n = name(&path);
            assert!(matches!(e.error_code(), 409010 | 413004), "{n}: {e}");
        }
    }
}

#[test]
fn bench_corpus_small_files() {
    let Some(root) = dir(BENCH, "") else { return };
    let cases = [
        ("small_avatar400_Aqua.jpg", OutputFormat::Jpeg, (400, 400)),
        ("small_avatar400_Dune.jpg", OutputFormat::Jpeg, (400, 400)),
        (
            "small_avatar400_Dune_orient8.jpg",
            OutputFormat::Jpeg,
            (400, 400),
        ),
        (
            "small_ColorfulCups_screenshot.jpg",
            OutputFormat::Jpeg,
            (400, 250),
        ),
        ("gif_Autumn_static800.gif", OutputFormat::Png, (800, 500)),
        ("gif_Kite_anim480.gif", OutputFormat::Png, (480, 480)),
        ("gif_chelsea_static.gif", OutputFormat::Png, (451, 300)),
        ("gif_no_time_for_that_tiny.gif", OutputFormat::Png, (14, 25)),
        ("png_horse.png", OutputFormat::Png, (400, 328)),
        ("png_camera.png", OutputFormat::Png, (512, 512)),
    ];
    for (file, format, dims) in cases {
        let p = run(&root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.photo.format, format, "{file}");
        assert_eq!((p.photo.width, p.photo.height), dims, "{file}");
        check_outputs(&p, file);
    }
    // RGBA with real transparency keeps it: PNG thumbnail.
    let horse = run(&root.join("png_horse.png")).unwrap();
    assert_eq!(horse.thumbnail.format, OutputFormat::Png);
}
