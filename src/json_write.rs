//! Compact JSON text of a `Value`, byte for byte what `serde_json::to_string` writes.
//! serde_json checks every byte of a string against its escape table one at a time;
//! strings are nearly all of a request body (prompts, tool results, file contents), and
//! here they are scanned eight bytes at a time (`push_json_str`). Encoding the body is
//! the last thing every request does before Copilot is called.

use serde_json::{Map, Number, Value};

/// The JSON text of an object; `capacity`: the expected length (the client's body, say).
pub fn object_to_string(map: &Map<String, Value>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    write_object(map, &mut out);
    out
}

/// The JSON text of any value.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => push_json_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, k);
        out.push(':');
        write(v, out);
    }
    out.push('}');
}

fn write_number(n: &Number, out: &mut String) {
    // Integers (nearly every number in a body) without going through `fmt`.
    if let Some(u) = n.as_u64() {
        push_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        out.push('-');
        push_u64(out, i.unsigned_abs());
    } else {
        // Floats as serde_json writes them (shortest round-trip form).
        out.push_str(&serde_json::to_string(n).unwrap_or_else(|_| "null".into()));
    }
}

/// Appends a number in decimal (no allocation, unlike `to_string`).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json escapes it.
pub fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        // Runs without anything to escape are found eight bytes at a time.
        let run = crate::json_read::plain_run(&bytes[i..]);
        out.push_str(&s[i..i + run]);
        i += run;
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        i += 1;
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_text_as_serde_json() {
        let v = json!({
            "model": "claude-sonnet-4.5",
            "max_tokens": 64000,
            "temperature": 0.7,
            "neg": -42,
            "min": i64::MIN,
            "max": u64::MAX,
            "tiny": 1e-300,
            "big": 1.5e300,
            "whole": 3.0,
            "flags": [true, false, null],
            "text": "quote \" backslash \\ slash / tab \t nl \n cr \r bell \u{7} del \u{7f} é 漢字 🦀",
            "empty": {},
            "nested": [[], [{}], {"a": [1, 2.5, "x"]}],
            "\u{1}key\"": "value",
        });
        assert_eq!(to_string(&v), serde_json::to_string(&v).unwrap());
        let map = v.as_object().unwrap();
        assert_eq!(
            object_to_string(map, 16),
            serde_json::to_string(map).unwrap()
        );
    }

    #[test]
    fn every_control_character_escaped_as_serde_json_does() {
        let s: String = (0u8..0x80).map(char::from).collect();
        let v = Value::String(s.repeat(3));
        assert_eq!(to_string(&v), serde_json::to_string(&v).unwrap());
    }
}
