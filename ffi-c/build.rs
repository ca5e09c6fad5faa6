//! The shared library's SONAME is `libavatarium.so.<major>`: programs record the ABI
//! generation they were linked against, not the file (`libavatarium.so.0.1.0`), so a patch
//! release replaces the file under them. scripts/install-c.sh makes the links.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libavatarium.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
