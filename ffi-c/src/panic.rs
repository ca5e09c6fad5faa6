//! Panic boundaries: nothing unwinds into C (STYLE.md §6; the model is rustls-ffi's
//! `ffi_panic_boundary!`). Each exported function runs its body through one of these.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{avatarium_status, clear_last_error, set_last_error, Failure};

/// The boundary of a function returning `avatarium_status`: clears the last error, runs `body`,
/// and turns its failure or panic into a status plus the thread's last-error message.
pub(crate) fn status_boundary(body: impl FnOnce() -> Result<(), Failure>) -> avatarium_status {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => avatarium_status::Ok,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            avatarium_status::Panic
        }
    }
}

/// The boundary of a function returning a pointer: NULL on panic.
pub(crate) fn pointer_boundary<T>(body: impl FnOnce() -> *const T) -> *const T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        set_last_error(&panic_message(payload.as_ref()));
        std::ptr::null()
    })
}

/// The boundary of a function returning nothing.
pub(crate) fn void_boundary(body: impl FnOnce()) {
    clear_last_error();
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        set_last_error(&panic_message(payload.as_ref()));
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("the library panicked (a bug): {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: the library's own thread-local string.
        unsafe { CStr::from_ptr(crate::avatarium_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_statuses() {
        let status = status_boundary(|| panic!("boom"));
        assert_eq!(status, avatarium_status::Panic);
        assert!(last_error().contains("boom"), "{}", last_error());

        let p: *const u8 = pointer_boundary(|| panic!("{}", String::from("again")));
        assert!(p.is_null());
        assert!(last_error().contains("again"));

        void_boundary(|| panic!("quiet"));
        assert!(last_error().contains("quiet"));
    }

    #[test]
    fn failures_set_and_success_clears_the_message() {
        let status = status_boundary(|| Err(Failure::null("client")));
        assert_eq!(status, avatarium_status::NullArgument);
        assert_eq!(last_error(), "client is NULL");
        assert_eq!(status_boundary(|| Ok(())), avatarium_status::Ok);
        assert_eq!(last_error(), "");
    }
}
