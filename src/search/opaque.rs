//! The gateway's own opaque payloads in Anthropic's search shapes: a result's
//! `encrypted_content` (the page text the model read, so a later turn can give it back)
//! and a citation's `encrypted_index`. Only this gateway reads them; a prefix tells ours
//! from a real Anthropic payload, which is left alone.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{base64url, unbase64url};

const PREFIX: &str = "cgws1.";

/// What a result's `encrypted_content` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultPayload {
    pub url: String,
    pub title: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_age: Option<String>,
}

/// What a citation's `encrypted_index` carries: where in the search results the model
/// cited (Anthropic's `search_result_location` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitationIndex {
    pub search_result_index: u64,
    pub start_block_index: u64,
    pub end_block_index: u64,
}

pub fn encode<T: Serialize>(payload: &T) -> String {
    let json = serde_json::to_vec(payload).unwrap_or_default();
    format!("{PREFIX}{}", base64url(&json))
}

/// None for anything this gateway did not write.
pub fn decode<T: for<'de> Deserialize<'de>>(s: &str) -> Option<T> {
    let bytes = unbase64url(s.strip_prefix(PREFIX)?)?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a `web_search_tool_result` block's results are all this gateway's own.
pub fn owned_results(content: &Value) -> Option<Vec<ResultPayload>> {
    content
        .as_array()?
        .iter()
        .map(|r| decode(r.get("encrypted_content")?.as_str()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_are_ours_or_nothing() {
        let p = ResultPayload {
            url: "https://example.org/a".into(),
            title: "A «title»".into(),
            content: "text".into(),
            page_age: Some("2 days ago".into()),
        };
        let s = encode(&p);
        assert!(s.starts_with("cgws1."));
        assert_eq!(decode::<ResultPayload>(&s), Some(p.clone()));
        assert_eq!(decode::<ResultPayload>("EqQBCkgIB…anthropic"), None);
        assert_eq!(decode::<ResultPayload>("cgws1.!!!"), None);
        let block = json!([{"type": "web_search_result", "encrypted_content": s}]);
        assert_eq!(owned_results(&block), Some(vec![p]));
        let foreign = json!([{"type": "web_search_result", "encrypted_content": "Eq…"}]);
        assert_eq!(owned_results(&foreign), None);
        let i = CitationIndex {
            search_result_index: 2,
            start_block_index: 0,
            end_block_index: 0,
        };
        assert_eq!(decode::<CitationIndex>(&encode(&i)), Some(i));
    }
}
