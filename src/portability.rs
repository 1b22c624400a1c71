//! Export and import of a whole deployment: a versioned JSON document, validated in full
//! before anything is changed, so a bad file never leaves a half-imported database.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::accounting::parse_hour;
use crate::api_error::ApiError;
use crate::search::ProviderKind;
use crate::secret::Secret;

pub const FORMAT: &str = "copilot-gateway-export";
pub const VERSION: u64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    /// SHA-256 of the key: raw keys are never stored, so never exported.
    pub key_hash: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub rpm_limit: Option<u64>,
    pub monthly_token_limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// The GitHub OAuth token: sensitive, listed in the document's `sensitive` field.
    pub token: Secret,
    pub account_type: String,
    pub active: bool,
    pub disabled: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub key_id: String,
    pub model: String,
    pub hour: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    /// AI credits billed, in nano-AIU (absent in exports made before credits were kept).
    #[serde(default)]
    pub nano_aiu: u64,
}

/// The web-search settings, credentials in clear (sensitive, listed in `sensitive`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfigRecord {
    pub provider: Option<ProviderKind>,
    #[serde(default)]
    pub credentials: SearchCredentials,
    /// May carry a basic-auth password.
    #[serde(default)]
    pub searxng_url: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCredentials {
    #[serde(default)]
    pub tavily: Option<Secret>,
    #[serde(default, rename = "microsoft-grounding")]
    pub microsoft_grounding: Option<Secret>,
    #[serde(default)]
    pub brave: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchUsageRecord {
    pub key_id: String,
    pub provider: ProviderKind,
    pub hour: String,
    pub requests: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Data {
    pub api_keys: Vec<KeyRecord>,
    pub github_accounts: Vec<AccountRecord>,
    pub usage: Vec<UsageRecord>,
    /// None: not configured (an import leaves the current settings, or with `replace`
    /// clears them).
    pub search_config: Option<SearchConfigRecord>,
    pub search_usage: Vec<SearchUsageRecord>,
    /// Absent in exports made before aliases existed.
    #[serde(default)]
    pub model_aliases: Vec<crate::model_aliases::Alias>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Upsert everything by id; usage rows take the imported values.
    Merge,
    /// Delete everything first.
    Replace,
}

pub fn document(data: &Data, exported_at: &str) -> Value {
    json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": exported_at,
        "sensitive": [
            "data.github_accounts[].token",
            "data.search_config.credentials",
            "data.search_config.searxng_url",
        ],
        "data": data,
    })
}

/// `{"mode": "merge"|"replace", "data": <export document or its data>}` → validated data.
pub fn parse_import(body: &Value) -> Result<(Mode, Data), ApiError> {
    let mode = match body.get("mode").and_then(Value::as_str) {
        Some("merge") => Mode::Merge,
        Some("replace") => Mode::Replace,
        _ => {
            return Err(
                ApiError::invalid("`mode` must be \"merge\" or \"replace\"").with_param("mode")
            )
        }
    };
    let doc = body.get("data").filter(|d| d.is_object()).ok_or_else(|| {
        ApiError::invalid("`data` is required: an export document").with_param("data")
    })?;
    // Accept the whole export document or just its `data`.
    let inner = if doc.get("format").is_some() || doc.get("version").is_some() {
        if doc.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(
                ApiError::invalid(format!("`data.format` must be \"{FORMAT}\""))
                    .with_param("data.format"),
            );
        }
        match doc.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            _ => {
                return Err(ApiError::invalid(format!(
                    "`data.version` {} is not supported (expected {VERSION})",
                    doc["version"]
                ))
                .with_param("data.version"))
            }
        }
        doc.get("data")
            .ok_or_else(|| ApiError::invalid("`data.data` is missing").with_param("data.data"))?
    } else {
        doc
    };
    let data = Data {
        api_keys: section(inner, "api_keys")?,
        github_accounts: section(inner, "github_accounts")?,
        usage: section(inner, "usage")?,
        search_config: match inner.get("search_config") {
            None | Some(Value::Null) => None,
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::invalid(format!("`search_config` is not valid: {e}"))
                    .with_param("data.search_config")
            })?),
        },
        search_usage: section(inner, "search_usage")?,
        model_aliases: section(inner, "model_aliases")?,
    };
    // Older exports wrote an empty `settings`; this version has none to apply, so a
    // non-empty one is refused rather than silently left behind.
    match inner.get("settings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) if m.is_empty() => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "`settings` is not part of this gateway's export format (it has no settings to \
                 import); remove it. Nothing was imported.",
            )
            .with_param("data.settings"))
        }
    }
    validate(&data)?;
    Ok((mode, data))
}

fn section<T: serde::de::DeserializeOwned>(inner: &Value, name: &str) -> Result<Vec<T>, ApiError> {
    let Some(v) = inner.get(name).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = v.as_array().ok_or_else(|| {
        ApiError::invalid(format!("`{name}` must be an array")).with_param(format!("data.{name}"))
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item.clone()).map_err(|e| {
                ApiError::invalid(format!("`{name}[{i}]` is not a valid record: {e}"))
                    .with_param(format!("data.{name}[{i}]"))
            })
        })
        .collect()
}

fn bad(path: String, msg: &str) -> ApiError {
    ApiError::invalid(format!("`{path}` {msg}")).with_param(path)
}

fn validate(d: &Data) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for (i, k) in d.api_keys.iter().enumerate() {
        let p = |f: &str| format!("data.api_keys[{i}].{f}");
        if k.id.is_empty() || k.id.len() > 100 {
            return Err(bad(p("id"), "must be 1 to 100 characters"));
        }
        if !seen.insert(k.id.as_str()) {
            return Err(bad(p("id"), "repeats another key's id"));
        }
        if k.name.trim().is_empty() || k.name.chars().count() > 100 {
            return Err(bad(p("name"), "must be 1 to 100 characters"));
        }
        if k.key_hash.len() != 64 || !k.key_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                p("key_hash"),
                "must be a SHA-256 hex digest (64 hex digits)",
            ));
        }
        if k.prefix.is_empty() || k.prefix.len() > 32 {
            return Err(bad(p("prefix"), "must be 1 to 32 characters"));
        }
        if k.rpm_limit == Some(0) || k.monthly_token_limit == Some(0) {
            return Err(bad(p("rpm_limit"), "limits must be positive or null"));
        }
    }
    let mut hashes = std::collections::HashSet::new();
    for (i, k) in d.api_keys.iter().enumerate() {
        if !hashes.insert(k.key_hash.as_str()) {
            return Err(bad(
                format!("data.api_keys[{i}].key_hash"),
                "repeats another key's hash",
            ));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, a) in d.github_accounts.iter().enumerate() {
        let p = |f: &str| format!("data.github_accounts[{i}].{f}");
        if !ids.insert(a.id) {
            return Err(bad(p("id"), "repeats another account's id"));
        }
        if a.login.is_empty() || a.token.is_empty() {
            return Err(bad(p("token"), "and `login` must not be empty"));
        }
        if !matches!(
            a.account_type.as_str(),
            "individual" | "business" | "enterprise"
        ) {
            return Err(bad(
                p("account_type"),
                "must be individual, business or enterprise",
            ));
        }
    }
    if d.github_accounts.iter().filter(|a| a.active).count() > 1 {
        return Err(bad(
            "data.github_accounts".into(),
            "has more than one active account",
        ));
    }
    let mut rows = std::collections::HashSet::new();
    for (i, u) in d.usage.iter().enumerate() {
        let p = |f: &str| format!("data.usage[{i}].{f}");
        if u.key_id.is_empty() || u.model.is_empty() {
            return Err(bad(p("key_id"), "and `model` must not be empty"));
        }
        if parse_hour(&u.hour).is_none() {
            return Err(bad(p("hour"), "must be an UTC hour like 2026-11-26T04"));
        }
        if !rows.insert((u.key_id.as_str(), u.model.as_str(), u.hour.as_str())) {
            return Err(bad(p("hour"), "repeats another row's key, model and hour"));
        }
        // Stored and shown as exact integers.
        if u.nano_aiu > 1 << 53 {
            return Err(bad(p("nano_aiu"), "must be at most 2^53"));
        }
    }
    if let Some(c) = &d.search_config {
        crate::search_config::check_record(c)?;
    }
    crate::model_aliases::check_all(&d.model_aliases).map_err(|e| {
        ApiError::invalid(format!("`data.model_aliases`: {}", e.message))
            .with_param("data.model_aliases")
    })?;
    let mut rows = std::collections::HashSet::new();
    for (i, u) in d.search_usage.iter().enumerate() {
        let p = |f: &str| format!("data.search_usage[{i}].{f}");
        if u.key_id.is_empty() || u.key_id.len() > 100 {
            return Err(bad(p("key_id"), "must be 1 to 100 characters"));
        }
        if parse_hour(&u.hour).is_none() {
            return Err(bad(p("hour"), "must be an UTC hour like 2026-11-26T04"));
        }
        if u.errors > u.requests {
            return Err(bad(p("errors"), "must not be more than `requests`"));
        }
        if !rows.insert((u.key_id.as_str(), u.provider, u.hour.as_str())) {
            return Err(bad(
                p("hour"),
                "repeats another row's key, provider and hour",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Data {
        Data {
            api_keys: vec![KeyRecord {
                id: "k1".into(),
                name: "laptop".into(),
                key_hash: "a".repeat(64),
                prefix: "cgw_abcd1234".into(),
                created_at: "2026-11-01T00:00:00Z".into(),
                last_used_at: None,
                rpm_limit: Some(60),
                monthly_token_limit: None,
            }],
            github_accounts: vec![AccountRecord {
                id: 1001,
                login: "octocat".into(),
                name: None,
                avatar_url: None,
                token: "gho_x".into(),
                account_type: "individual".into(),
                active: true,
                disabled: false,
                created_at: "2026-11-01T00:00:00Z".into(),
            }],
            usage: vec![UsageRecord {
                key_id: "k1".into(),
                model: "gpt-4.1".into(),
                hour: "2026-11-01T03".into(),
                requests: 3,
                errors: 1,
                input_tokens: 100,
                output_tokens: 20,
                cache_read_tokens: 50,
                cache_creation_tokens: 0,
                nano_aiu: 1_234_500_000,
            }],
            search_config: Some(SearchConfigRecord {
                provider: Some(ProviderKind::Brave),
                credentials: SearchCredentials {
                    brave: Some("BSA-key".into()),
                    ..Default::default()
                },
                searxng_url: Some("https://u:p@searx.example.org".into()),
            }),
            search_usage: vec![SearchUsageRecord {
                key_id: "k1".into(),
                provider: ProviderKind::Brave,
                hour: "2026-11-01T03".into(),
                requests: 2,
                errors: 1,
            }],
            model_aliases: vec![crate::model_aliases::Alias {
                alias: "team-default".into(),
                models: vec!["claude-sonnet-4.5".into(), "gpt-4.1".into()],
            }],
        }
    }

    #[test]
    fn model_aliases_travel_and_are_checked() {
        let doc = document(&sample(), "t");
        assert_eq!(doc["data"]["model_aliases"][0]["alias"], "team-default");
        assert_eq!(doc["data"]["model_aliases"][0]["models"][1], "gpt-4.1");
        let (_, data) = parse_import(&json!({"mode": "merge", "data": doc})).unwrap();
        assert_eq!(data.model_aliases, sample().model_aliases);
        // Exports from before aliases have none.
        let mut before = doc.clone();
        before["data"]
            .as_object_mut()
            .unwrap()
            .remove("model_aliases");
        let (_, data) = parse_import(&json!({"mode": "merge", "data": before})).unwrap();
        assert!(data.model_aliases.is_empty());
        let refused = |f: &dyn Fn(&mut Value)| {
            let mut d = doc.clone();
            f(&mut d);
            parse_import(&json!({"mode": "merge", "data": d}))
                .unwrap_err()
                .param
        };
        assert_eq!(
            refused(&|d| d["data"]["model_aliases"][0]["alias"] = json!("a b")).as_deref(),
            Some("data.model_aliases")
        );
        assert_eq!(
            refused(&|d| d["data"]["model_aliases"][0]["models"] = json!([])).as_deref(),
            Some("data.model_aliases")
        );
        assert_eq!(
            refused(&|d| d["data"]["model_aliases"][0]["extra"] = json!(1)).as_deref(),
            Some("data.model_aliases[0]")
        );
    }

    #[test]
    fn document_round_trips() {
        let doc = document(&sample(), "2026-11-26T00:00:00Z");
        assert_eq!(
            doc["sensitive"],
            json!([
                "data.github_accounts[].token",
                "data.search_config.credentials",
                "data.search_config.searxng_url"
            ])
        );
        assert_eq!(
            doc["data"]["search_config"]["credentials"]["brave"],
            "BSA-key"
        );
        assert_eq!(
            doc["data"]["search_config"]["credentials"]["microsoft-grounding"],
            Value::Null
        );
        assert_eq!(doc["data"]["search_usage"][0]["provider"], "brave");
        let (mode, data) = parse_import(&json!({"mode": "replace", "data": doc})).unwrap();
        assert_eq!(mode, Mode::Replace);
        assert_eq!(data, sample());
        assert!(doc["data"].get("settings").is_none());
        // Older exports carried an empty `settings`: still accepted.
        let mut old = doc.clone();
        old["data"]["settings"] = json!({});
        assert_eq!(
            parse_import(&json!({"mode": "merge", "data": old}))
                .unwrap()
                .1,
            sample()
        );
        // The bare `data` object is accepted too.
        let (_, again) = parse_import(&json!({"mode": "merge", "data": doc["data"]})).unwrap();
        assert_eq!(again, sample());
        // Exports from before web search have neither section.
        let mut before = doc.clone();
        let inner = before["data"].as_object_mut().unwrap();
        inner.remove("search_config");
        inner.remove("search_usage");
        let (_, data) = parse_import(&json!({"mode": "merge", "data": before})).unwrap();
        assert_eq!((data.search_config, data.search_usage.len()), (None, 0));
        // Exports from before AI credits were kept: usage rows without them count none.
        assert_eq!(doc["data"]["usage"][0]["nano_aiu"], 1_234_500_000u64);
        let mut no_credits = doc.clone();
        no_credits["data"]["usage"][0]
            .as_object_mut()
            .unwrap()
            .remove("nano_aiu");
        let (_, data) = parse_import(&json!({"mode": "merge", "data": no_credits})).unwrap();
        assert_eq!(data.usage[0].nano_aiu, 0);
        let mut absurd = doc.clone();
        absurd["data"]["usage"][0]["nano_aiu"] = json!(u64::MAX);
        let e = parse_import(&json!({"mode": "merge", "data": absurd})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("data.usage[0].nano_aiu"));
    }

    #[test]
    fn search_sections_are_checked() {
        let doc = document(&sample(), "t");
        let param = |f: &dyn Fn(&mut Value)| {
            let mut d = doc.clone();
            f(&mut d);
            parse_import(&json!({"mode": "merge", "data": d}))
                .unwrap_err()
                .param
                .unwrap()
        };
        assert_eq!(
            param(&|d| d["data"]["search_config"]["provider"] = json!("bing")),
            "data.search_config"
        );
        assert_eq!(
            param(&|d| d["data"]["search_config"]["credentials"]["google"] = json!("k")),
            "data.search_config"
        );
        assert_eq!(
            param(&|d| d["data"]["search_config"]["credentials"]["brave"] = Value::Null),
            "data.search_config.credentials.brave"
        );
        assert_eq!(
            param(&|d| d["data"]["search_config"]["credentials"]["tavily"] = json!("a b")),
            "data.search_config.credentials.tavily"
        );
        assert_eq!(
            param(&|d| d["data"]["search_config"]["searxng_url"] = json!("searx")),
            "data.search_config.searxng_url"
        );
        assert_eq!(
            param(&|d| d["data"]["search_usage"][0]["provider"] = json!("bing")),
            "data.search_usage[0]"
        );
        assert_eq!(
            param(&|d| d["data"]["search_usage"][0]["hour"] = json!("x")),
            "data.search_usage[0].hour"
        );
        assert_eq!(
            param(&|d| d["data"]["search_usage"][0]["errors"] = json!(3)),
            "data.search_usage[0].errors"
        );
        let dup = param(&|d| {
            let r = d["data"]["search_usage"][0].clone();
            d["data"]["search_usage"].as_array_mut().unwrap().push(r);
        });
        assert_eq!(dup, "data.search_usage[1].hour");
        // A disabled config with no credentials is fine; so is a sealed value as stored.
        let mut d = doc.clone();
        d["data"]["search_config"] =
            json!({"provider": null, "credentials": {}, "searxng_url": null});
        assert!(parse_import(&json!({"mode": "merge", "data": d})).is_ok());
        let mut d = doc.clone();
        d["data"]["search_config"]["searxng_url"] = json!("enc:v1:abcd:00ff");
        assert!(parse_import(&json!({"mode": "merge", "data": d})).is_ok());
    }

    #[test]
    fn every_problem_is_named() {
        let doc = document(&sample(), "t");
        let param = |f: &dyn Fn(&mut Value)| {
            let mut d = doc.clone();
            f(&mut d);
            parse_import(&json!({"mode": "merge", "data": d}))
                .unwrap_err()
                .param
                .unwrap()
        };
        assert_eq!(param(&|d| d["version"] = json!(99)), "data.version");
        assert_eq!(param(&|d| d["format"] = json!("other")), "data.format");
        assert_eq!(
            param(&|d| d["data"]["api_keys"][0]["key_hash"] = json!("raw-key")),
            "data.api_keys[0].key_hash"
        );
        assert_eq!(
            param(&|d| d["data"]["usage"][0]["hour"] = json!("2026-11-01")),
            "data.usage[0].hour"
        );
        assert_eq!(
            param(&|d| d["data"]["usage"][0]["requests"] = json!(-1)),
            "data.usage[0]"
        );
        assert_eq!(
            param(&|d| d["data"]["github_accounts"][0]["account_type"] = json!("free")),
            "data.github_accounts[0].account_type"
        );
        assert_eq!(
            param(&|d| d["data"]["api_keys"] = json!({})),
            "data.api_keys"
        );
        assert_eq!(
            param(&|d| d["data"]["settings"] = json!({"theme": "dark"})),
            "data.settings"
        );
        let dup = param(&|d| {
            let k = d["data"]["api_keys"][0].clone();
            d["data"]["api_keys"].as_array_mut().unwrap().push(k);
        });
        assert_eq!(dup, "data.api_keys[1].id");
        assert_eq!(
            parse_import(&json!({"mode": "wipe", "data": {}}))
                .unwrap_err()
                .param
                .as_deref(),
            Some("mode")
        );
        assert_eq!(
            parse_import(&json!({"mode": "merge"}))
                .unwrap_err()
                .param
                .as_deref(),
            Some("data")
        );
    }
}
