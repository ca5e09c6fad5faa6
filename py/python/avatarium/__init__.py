"""avatarium: import, validate, store and publish users' profile photos.

The ``accounts.importProfilePhoto`` family of the Gigya Accounts API, self-hosted, on a Rust
core. Typed methods live on ``Client(...).accounts`` (blocking, plus ``*_async`` twins);
``Client.call`` is the Gigya-compatible form that returns the response envelope.
"""

import atexit as _atexit

from . import _native
from ._batch import AsyncBatchImport, BatchImport, BatchRowInput, ProgressCallback
from ._client import Accounts, Client
from ._native import (
    AccountInfo,
    BatchProgress,
    BusyError,
    ImportResult,
    InternalError,
    InvalidParameterError,
    InvalidUrlError,
    MissingParameterError,
    MissingPhotoError,
    PhotoTooLargeError,
    PhotoUrls,
    Rendition,
    Policies,
    RowResult,
    ProfilePhotoError,
    PurgeReport,
    Registration,
    RequestTimeoutError,
    UnauthorizedError,
    __version__,
)

# Stop the native runtime before the interpreter finalizes, so no worker thread touches a
# dying interpreter (STYLE.md §10; PyO3/pyo3-async-runtimes#40).
_atexit.register(_native._shutdown)

__all__ = [
    "__version__",
    "Client",
    "Accounts",
    "ImportResult",
    "PhotoUrls",
    "Rendition",
    "AccountInfo",
    "Registration",
    "Policies",
    "PurgeReport",
    "BatchImport",
    "AsyncBatchImport",
    "BatchRowInput",
    "ProgressCallback",
    "RowResult",
    "BatchProgress",
    "ProfilePhotoError",
    "MissingParameterError",
    "InvalidParameterError",
    "UnauthorizedError",
    "InvalidUrlError",
    "MissingPhotoError",
    "PhotoTooLargeError",
    "InternalError",
    "RequestTimeoutError",
    "BusyError",
]
