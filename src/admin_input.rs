//! Admin API request bodies, checked in full before anything is written: a request that
//! fails on one field changes nothing.

use serde_json::Value;

use crate::protocol::error::ApiError;

/// A required, trimmed, non-empty string of at most `max_chars` characters.
pub fn string_field(body: &Value, field: &str, max_chars: usize) -> Result<String, ApiError> {
    let s = body
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "`{field}` is required and must be a non-empty string"
            ))
            .with_param(field)
        })?;
    if s.chars().count() > max_chars {
        return Err(
            ApiError::invalid(format!("`{field}` is longer than {max_chars} characters"))
                .with_param(field),
        );
    }
    Ok(s.to_string())
}

/// A limit's change: None leaves it, Some(None) removes it, Some(Some(n)) sets it.
pub type LimitChange = Option<Option<u64>>;

/// `PATCH /api/keys/:id {"name"?, "limits"?: {"requests_per_minute"?, "tokens_per_month"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub rpm: LimitChange,
    pub monthly: LimitChange,
}

impl KeyUpdate {
    pub fn parse(body: &Value) -> Result<KeyUpdate, ApiError> {
        let limits = body.get("limits");
        if body.get("name").is_none() && limits.is_none() {
            return Err(ApiError::invalid(
                "nothing to change: send `name` and/or `limits`",
            ));
        }
        let name = match body.get("name") {
            Some(_) => Some(string_field(body, "name", 100)?),
            None => None,
        };
        let (rpm, monthly) = match limits {
            None => (None, None),
            Some(l) if !l.is_object() => {
                return Err(ApiError::invalid("`limits` must be an object").with_param("limits"))
            }
            Some(l) => (
                limit_field(l, "requests_per_minute")?,
                limit_field(l, "tokens_per_month")?,
            ),
        };
        Ok(KeyUpdate { name, rpm, monthly })
    }
}

fn limit_field(limits: &Value, field: &str) -> Result<LimitChange, ApiError> {
    match limits.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => match v.as_u64().filter(|n| *n > 0 && *n <= 1_000_000_000_000) {
            Some(n) => Ok(Some(Some(n))),
            None => Err(ApiError::invalid(format!(
                "`limits.{field}` must be a positive integer or null"
            ))
            .with_param(format!("limits.{field}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_update_is_checked_whole() {
        let u = KeyUpdate::parse(&json!({"name": " laptop ", "limits": {"requests_per_minute": 5, "tokens_per_month": null}})).unwrap();
        assert_eq!(
            u,
            KeyUpdate {
                name: Some("laptop".into()),
                rpm: Some(Some(5)),
                monthly: Some(None)
            }
        );
        let rename = KeyUpdate::parse(&json!({"name": "x"})).unwrap();
        assert_eq!((rename.rpm, rename.monthly), (None, None));
        // A good name with a bad limit is refused as a whole.
        let e = KeyUpdate::parse(&json!({"name": "ok", "limits": {"requests_per_minute": -3}}))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.requests_per_minute"));
        let e = KeyUpdate::parse(&json!({"name": "ok", "limits": 5})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits"));
        let e = KeyUpdate::parse(&json!({"name": "", "limits": {}})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("name"));
        assert!(KeyUpdate::parse(&json!({})).is_err());
        let e = KeyUpdate::parse(&json!({"name": "n".repeat(101)})).unwrap_err();
        assert!(e.message.contains("longer than 100"));
        let e = KeyUpdate::parse(&json!({"limits": {"tokens_per_month": 0}})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.tokens_per_month"));
    }
}
