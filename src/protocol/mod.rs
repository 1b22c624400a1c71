//! What every layer shares: the three APIs, token usage and the error type. Nothing here
//! depends on another module of the crate except the tiny JSON helpers it builds on.

pub mod api;
pub mod content;
pub mod error;
pub mod stop;
pub mod tools;
pub mod usage;

pub use api::Api;
pub use error::{ApiError, ApiFormat, ErrorKind};
pub use usage::Usage;
