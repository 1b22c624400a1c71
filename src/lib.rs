//! copilot-gateway: GitHub Copilot behind the Anthropic Messages, OpenAI Responses and
//! OpenAI Chat Completions APIs, as a Cloudflare Worker.
//!
//! Everything outside the wasm-only modules is pure (plain data in, plain data out) and
//! unit-tested natively; `entry`, `http` and `store` are the thin I/O shell.

pub mod accounting;
pub mod admin_input;
pub mod admin_session;
pub mod api_error;
pub mod assemble;
pub mod auth;
pub mod client_stream;
pub mod compaction;
pub mod content_encoding;
pub mod conversation;
pub mod credits;
pub mod custom_tools;
pub mod ids;
pub mod inbound;
pub mod json_read;
pub mod json_write;
pub mod model_aliases;
pub mod models;
pub mod portability;
pub mod quirks;
pub mod quota;
pub mod relay;
pub mod responses_socket;
pub mod route;
pub mod schema;
pub mod search;
pub mod search_config;
pub mod secret;
pub mod silence;
pub mod sse;
pub mod timestamp;
pub mod token_crypto;
pub mod token_estimate;
pub mod translate;
pub mod ttl_cache;
pub mod upstream;
pub mod usage_batch;

#[cfg(test)]
mod properties;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod entry;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod http;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod store;
