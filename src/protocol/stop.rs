//! Why an answer stopped, in no API's words.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished its turn (or hit a stop sequence).
    EndTurn,
    /// The output limit or the context window cut the answer short.
    MaxTokens,
    /// The model called tools and waits for their results.
    ToolUse,
    /// A content filter or the model's refusal ended the answer.
    Refusal,
}
