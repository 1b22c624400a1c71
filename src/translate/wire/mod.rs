//! Each API's wire forms, read into and written from `protocol::content`: one module per
//! API, used by every pair that has that API on either side.

pub mod chat;
pub mod messages;
pub mod responses;
