//! Copilot's quirks, one module per Copilot API: fixes applied to every body sent there,
//! whether the client spoke that API or was translated into it.

pub mod chat;
pub mod messages;
pub mod responses;
