//! The REST parameter parser (`cli/src/serve/form.rs`, compiled here by path: the file has
//! no HTTP types) on arbitrary bytes, as a query string or a form body.
//!
//! Besides "never panics", it checks what `serve` relies on before authenticating:
//! - accepted text yields at most `MAX_PAIRS` pairs, no name twice, names within
//!   `MAX_NAME_BYTES` and values within `MAX_VALUE_BYTES` (but `photoBytes`);
//! - a refusal is one of the core's codes: 400006;
//! - parsing in two pieces (query, then body) refuses whatever one piece would with the
//!   same names, so the split cannot smuggle a duplicate;
//! - the prefix look-up only ever finds a value the full parse also has.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;

#[path = "../../cli/src/serve/form.rs"]
#[allow(dead_code)]
mod form;

use form::{Pairs, MAX_NAME_BYTES, MAX_PAIRS, MAX_VALUE_BYTES};

fuzz_target!(|data: &[u8]| {
    let mut whole = Pairs::default();
    match whole.parse(data) {
        Ok(()) => {
            assert!(whole.pairs().len() <= MAX_PAIRS);
            let mut seen = HashSet::new();
            for (k, v) in whole.pairs() {
                assert!(seen.insert(k.clone()), "duplicate {k:?} accepted");
                assert!(k.len() <= MAX_NAME_BYTES);
                assert!(k == "photoBytes" || v.len() <= MAX_VALUE_BYTES);
            }
            if let Some(found) = form::find_in_prefix(data, true, "apiKey") {
                assert_eq!(whole.get("apiKey"), Some(found.as_str()));
            }
        }
        Err(e) => assert_eq!(e.error_code(), 400006),
    }

    // The same bytes split at the first '?' into a query and a body.
    if let Some(cut) = data.iter().position(|&b| b == b'?') {
        let mut split = Pairs::default();
        let first = split.parse(&data[..cut]);
        let both = first.and_then(|()| split.parse(&data[cut + 1..]));
        if both.is_ok() {
            assert!(split.pairs().len() <= MAX_PAIRS);
            let names: HashSet<&str> = split.pairs().iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names.len(), split.pairs().len(), "duplicate across query and body");
        }
    }
});
