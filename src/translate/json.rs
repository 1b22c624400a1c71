//! The small JSON moves every pair translator makes.

use serde_json::{Map, Value};

use crate::protocol::error::ApiError;

/// A JSON object from owned pairs: values move in (`json!` would serialize a copy).
pub fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// A string value, moved out (None for any other JSON type).
pub fn take_string(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A 400 naming the offending parameter.
pub fn invalid(message: impl Into<String>, param: impl Into<String>) -> ApiError {
    ApiError::invalid(message).with_param(param)
}
