//! The one error type of the crate. Every Gigya error code is born here and only travels
//! outward: the envelope, the C status, Python's exception classes and Node's `err.code` all
//! map from [`ErrorKind`], never from message text.

use std::fmt;

/// What went wrong, as a stable category. Each kind has one Gigya `errorCode`, one HTTP
/// `statusCode` and one SCREAMING_SNAKE `code()` that never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400002: a required parameter is absent.
    MissingParameter,
    /// 400006: a parameter has a value we cannot accept.
    InvalidParameter,
    /// 403005: bad, expired or finalized regToken; unknown UID.
    Unauthorized,
    /// 404004: the URL is refused or cannot be fetched.
    InvalidUrl,
    /// 409010: nothing pending to publish, or the bytes are not a valid GIF/PNG/JPEG/WebP.
    MissingPhoto,
    /// 413004: over the byte, pixel or side limit.
    PhotoTooLarge,
    /// 500001: storage or internal failure (details logged, not returned).
    Internal,
    /// 504002: a deadline passed.
    Timeout,
    /// 503001 (ours; SPEC.md has no code for it): more imports are waiting than the
    /// configured queue holds, so the call fails fast instead of piling up memory.
    Busy,
}

impl ErrorKind {
    /// Gigya's numeric `errorCode`.
    pub const fn error_code(self) -> u32 {
        match self {
            ErrorKind::MissingParameter => 400002,
            ErrorKind::InvalidParameter => 400006,
            ErrorKind::Unauthorized => 403005,
            ErrorKind::InvalidUrl => 404004,
            ErrorKind::MissingPhoto => 409010,
            ErrorKind::PhotoTooLarge => 413004,
            ErrorKind::Internal => 500001,
            ErrorKind::Timeout => 504002,
            ErrorKind::Busy => 503001,
        }
    }

    /// The HTTP status that goes with the error code.
    pub const fn status_code(self) -> u16 {
        match self {
            ErrorKind::MissingParameter | ErrorKind::InvalidParameter => 400,
            ErrorKind::Unauthorized => 403,
            ErrorKind::InvalidUrl => 404,
            ErrorKind::MissingPhoto => 409,
            ErrorKind::PhotoTooLarge => 413,
            ErrorKind::Internal => 500,
            ErrorKind::Timeout => 504,
            ErrorKind::Busy => 503,
        }
    }

    /// Gigya's `errorMessage` for the code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorKind::MissingParameter => "Missing required parameter",
            ErrorKind::InvalidParameter => "Invalid parameter value",
            ErrorKind::Unauthorized => "Unauthorized user",
            ErrorKind::InvalidUrl => "Invalid URL",
            ErrorKind::MissingPhoto => "Missing user photo",
            ErrorKind::PhotoTooLarge => "Profile photo too large",
            ErrorKind::Internal => "General server error",
            ErrorKind::Timeout => "Request timeout",
            ErrorKind::Busy => "Service unavailable",
        }
    }

    /// The stable SCREAMING_SNAKE name every binding exposes (`err.code` in Node, the
    /// exception class in Python, `avatarium_error_code_name` in C).
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::MissingParameter => "MISSING_PARAMETER",
            ErrorKind::InvalidParameter => "INVALID_PARAMETER",
            ErrorKind::Unauthorized => "UNAUTHORIZED",
            ErrorKind::InvalidUrl => "INVALID_URL",
            ErrorKind::MissingPhoto => "MISSING_PHOTO",
            ErrorKind::PhotoTooLarge => "PHOTO_TOO_LARGE",
            ErrorKind::Internal => "INTERNAL",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::Busy => "BUSY",
        }
    }

    /// Every kind, for tests and for bindings that build tables.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::MissingParameter,
        ErrorKind::InvalidParameter,
        ErrorKind::Unauthorized,
        ErrorKind::InvalidUrl,
        ErrorKind::MissingPhoto,
        ErrorKind::PhotoTooLarge,
        ErrorKind::Internal,
        ErrorKind::Timeout,
        ErrorKind::Busy,
    ];

    /// The kind for a Gigya error code, if it is one of ours.
    pub fn from_error_code(code: u32) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.error_code() == code)
    }
}

/// An API error: a kind plus `details` safe to show the caller (it becomes `errorDetails`),
/// and an optional internal cause that is logged but never returned.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    details: String,
    /// Set where the error is born when the same call may succeed later (see
    /// [`Error::is_transient`]).
    transient: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, details: impl Into<String>) -> Self {
        Error {
            kind,
            details: details.into(),
            transient: false,
            source: None,
        }
    }

    /// Mark the error as one that may pass if the same call is made again later: a fetch
    /// deadline, an origin's 5xx. Set only where the error is born.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// Whether making the same call again later may succeed: a fetch that timed out, an
    /// origin that answered 5xx, or a full queue (503001; not a closed client). Never a refusal (4xx, the
    /// address policy, a photo over the limits, a decode that ran out of time or budget):
    /// those fail the same way every time, and retrying a hostile one only pays its cost
    /// again. Batch imports retry these alone.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Attach the internal cause (kept for logs and `source()`, never put in a response).
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn details(&self) -> &str {
        &self.details
    }

    pub fn error_code(&self) -> u32 {
        self.kind.error_code()
    }

    pub fn status_code(&self) -> u16 {
        self.kind.status_code()
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn missing(param: &str) -> Self {
        Error::new(
            ErrorKind::MissingParameter,
            format!("Missing parameter: {param}"),
        )
    }

    pub fn invalid(param: &str, why: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::InvalidParameter,
            format!("Invalid parameter {param}: {why}"),
        )
    }

    pub fn unauthorized(why: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthorized, why)
    }

    pub fn invalid_url(why: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidUrl, why)
    }

    pub fn bad_photo(why: impl Into<String>) -> Self {
        Error::new(ErrorKind::MissingPhoto, why)
    }

    pub fn too_large(why: impl Into<String>) -> Self {
        Error::new(ErrorKind::PhotoTooLarge, why)
    }

    /// A photo file of `len` bytes over the `max` limit.
    pub fn photo_too_large(len: u64, max: u64) -> Self {
        Error::too_large(format!(
            "The photo is {len} bytes; the limit is {max} bytes"
        ))
    }

    pub fn timeout(why: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, why)
    }

    /// A storage or internal failure. The caller sees only a generic detail; the cause is
    /// logged where the error is turned into a response.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Error::new(ErrorKind::Internal, "Internal error").with_source(cause)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.message(),
            self.kind.error_code(),
            self.details
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(feature = "service")]
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::internal(e)
    }
}

#[cfg(feature = "service")]
impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        Error::internal(e)
    }
}
