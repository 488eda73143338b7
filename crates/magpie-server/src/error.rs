//! The single place where internal errors become protocol errors.
//!
//! Storage errors carry text that may name tables, files or hosts; clients
//! get only a code and a generic message, the details go to the log.

use magpie_proto::{ErrorBody, ErrorCode};
use magpie_store::StoreError;

/// Convert a storage failure into what the client is told.
pub fn from_store(e: StoreError) -> ErrorBody {
    match e {
        StoreError::UsernameTaken => {
            ErrorBody::new(ErrorCode::UsernameTaken, "username already taken")
        }
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "storage unavailable");
            ErrorBody::new(
                ErrorCode::Unavailable,
                "storage temporarily unavailable, nothing was stored; retry",
            )
        }
        StoreError::Backend(detail) => {
            tracing::error!(%detail, "storage failure");
            ErrorBody::new(ErrorCode::Internal, "internal error")
        }
    }
}

/// Shorthand for an `invalid_args` error.
pub fn invalid_args(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgs, message)
}
