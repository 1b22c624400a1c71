//! Web-search settings as plain data: the stored row (credentials in their stored form,
//! sealed when TOKEN_ENCRYPTION_KEY is set), what the admin API shows of it (which
//! credentials are set, never their values), the admin's changes and test searches, and
//! the search-usage query.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::accounting::UsageQuery;
use crate::protocol::error::ApiError;
use crate::search::provider::{self, display_name, needs_key, BaseUrls, SearxngUrl, Target};
use crate::search::{ProviderKind, SearchErrorCode, SearchFailure};
use crate::secret::Secret;
use crate::token_crypto::{self, OpenError, TokenCipher, SECRET_NAME};

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

/// Providers with an API key, in the order the API lists them.
pub const KEYED: [ProviderKind; 3] = [
    ProviderKind::Tavily,
    ProviderKind::MicrosoftGrounding,
    ProviderKind::Brave,
];
pub const ALL: [ProviderKind; 4] = [
    ProviderKind::Tavily,
    ProviderKind::MicrosoftGrounding,
    ProviderKind::Brave,
    ProviderKind::Searxng,
];
/// Provider keys and URLs longer than this are refused.
pub const MAX_CREDENTIAL_CHARS: usize = 500;
pub const MAX_URL_CHARS: usize = 2000;
/// The test search's query when the admin gives none.
pub const DEFAULT_TEST_QUERY: &str = "Cloudflare Workers documentation";
/// Results a test search shows, and the preview length of each.
pub const TEST_RESULTS: usize = 3;
pub const PREVIEW_CHARS: usize = 280;

/// The one `search_config` row. Credentials and the SearXNG URL are as stored: sealed
/// (`enc:v1:…`) or, without a secret, in clear; `Secret` keeps either out of logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// As stored; a value this version does not know reads as "none".
    pub provider: Option<String>,
    pub tavily_key: Option<Secret>,
    pub microsoft_grounding_key: Option<Secret>,
    pub brave_key: Option<Secret>,
    pub searxng_url: Option<Secret>,
}

/// What a stored setting is sealed under: its column, so a value copied to another
/// column does not open.
pub fn label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Tavily => "search_config.tavily_key",
        ProviderKind::MicrosoftGrounding => "search_config.microsoft_grounding_key",
        ProviderKind::Brave => "search_config.brave_key",
        ProviderKind::Searxng => "search_config.searxng_url",
    }
}

/// What the admin calls a provider's setting.
fn setting_name(kind: ProviderKind) -> String {
    match kind {
        ProviderKind::Searxng => "the SearXNG URL".into(),
        k => format!("the {} API key", display_name(k)),
    }
}

impl StoredConfig {
    pub fn provider(&self) -> Option<ProviderKind> {
        self.provider.as_deref().and_then(ProviderKind::parse)
    }

    /// The stored form of a provider's credential (SearXNG: its URL).
    pub fn setting(&self, kind: ProviderKind) -> Option<&Secret> {
        match kind {
            ProviderKind::Tavily => self.tavily_key.as_ref(),
            ProviderKind::MicrosoftGrounding => self.microsoft_grounding_key.as_ref(),
            ProviderKind::Brave => self.brave_key.as_ref(),
            ProviderKind::Searxng => self.searxng_url.as_ref(),
        }
        .filter(|s| !s.is_empty())
    }

    fn setting_mut(&mut self, kind: ProviderKind) -> &mut Option<Secret> {
        match kind {
            ProviderKind::Tavily => &mut self.tavily_key,
            ProviderKind::MicrosoftGrounding => &mut self.microsoft_grounding_key,
            ProviderKind::Brave => &mut self.brave_key,
            ProviderKind::Searxng => &mut self.searxng_url,
        }
    }

    /// A setting opened (None when not set).
    pub fn opened(
        &self,
        cipher: Option<&TokenCipher>,
        kind: ProviderKind,
    ) -> Result<Option<Secret>, OpenError> {
        self.setting(kind)
            .map(|s| token_crypto::open_labeled(cipher, label(kind), s.expose()))
            .transpose()
    }

    /// The provider ready to call, with its credential opened; a setting that cannot
    /// be read is a failure the model can pass on (it names no secret).
    pub fn target(
        &self,
        cipher: Option<&TokenCipher>,
        bases: &BaseUrls,
        kind: ProviderKind,
    ) -> Result<Target, SearchFailure> {
        let opened = self.opened(cipher, kind).map_err(|_| {
            SearchFailure::new(
                SearchErrorCode::Unavailable,
                format!(
                    "Web search is unavailable: {} stored on this gateway cannot be read; an \
                     admin must set it again on the gateway's Web search page.",
                    setting_name(kind)
                ),
            )
        })?;
        match kind {
            ProviderKind::Searxng => {
                let url = opened.as_ref().map(|u| u.expose());
                Target::new(kind, bases, None, url)
            }
            _ => Target::new(kind, bases, opened, None),
        }
    }

    /// Every setting stored in clear, sealed (for when a secret was set after they were
    /// saved); None when there was nothing to seal.
    pub fn sealed(&self, cipher: &TokenCipher, nonce: impl Fn() -> [u8; 12]) -> Option<Self> {
        let mut out = self.clone();
        let mut changed = false;
        for kind in ALL {
            if let Some(s) = out.setting_mut(kind) {
                if !token_crypto::is_sealed(s.expose()) {
                    *s = Secret::new(cipher.seal_labeled(label(kind), s.expose(), nonce()));
                    changed = true;
                }
            }
        }
        changed.then_some(out)
    }

    /// `GET /api/search-config`: which settings are set, never their values. The SearXNG
    /// URL is shown without its user info (a basic-auth password).
    pub fn view(&self, cipher: Option<&TokenCipher>) -> Value {
        let mut credentials = Map::new();
        for kind in ALL {
            credentials.insert(kind.as_str().into(), json!(self.setting(kind).is_some()));
        }
        let mut problems = Vec::new();
        for kind in ALL {
            if let Err(e) = self.opened(cipher, kind) {
                problems.push(unreadable(kind, &e));
            }
        }
        let searxng_url = self
            .opened(cipher, ProviderKind::Searxng)
            .ok()
            .flatten()
            .and_then(|u| SearxngUrl::parse(u.expose()).ok())
            .map(|u| u.base);
        json!({
            "provider": self.provider().map(ProviderKind::as_str),
            "credentials": credentials,
            "searxng_url": searxng_url,
            "encrypted": cipher.is_some(),
            "problem": (!problems.is_empty()).then(|| problems.join(" ")),
        })
    }

    /// The row after the admin's change, every new setting already in its stored form
    /// (`store(kind, value)` seals it). The chosen provider must have its setting.
    pub fn apply(
        &self,
        update: &ConfigUpdate,
        store: impl Fn(ProviderKind, &str) -> String,
    ) -> Result<StoredConfig, ApiError> {
        let mut out = self.clone();
        if let Some(p) = update.provider {
            out.provider = p.map(|k| k.as_str().to_string());
        }
        for (kind, change) in &update.settings {
            *out.setting_mut(*kind) = change
                .as_ref()
                .map(|v| Secret::new(store(*kind, v.expose())));
        }
        out.check()?;
        Ok(out)
    }

    /// The chosen provider has what it needs.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(kind) = self.provider() {
            if self.setting(kind).is_none() {
                return Err(ApiError::invalid(format!(
                    "{} needs {} to be set (send `{}`), or choose another provider",
                    display_name(kind),
                    setting_name(kind),
                    param(kind)
                ))
                .with_param(param(kind)));
            }
        }
        Ok(())
    }
}

impl StoredConfig {
    /// The settings as an export carries them: opened (the document moves a deployment,
    /// whose secret may differ); one that cannot be opened goes out as stored.
    pub fn to_record(&self, cipher: Option<&TokenCipher>) -> SearchConfigRecord {
        let open = |kind| {
            self.setting(kind).map(|s| {
                token_crypto::open_labeled(cipher, label(kind), s.expose())
                    .unwrap_or_else(|_| s.clone())
            })
        };
        SearchConfigRecord {
            provider: self.provider(),
            credentials: SearchCredentials {
                tavily: open(ProviderKind::Tavily),
                microsoft_grounding: open(ProviderKind::MicrosoftGrounding),
                brave: open(ProviderKind::Brave),
            },
            searxng_url: open(ProviderKind::Searxng),
        }
    }

    /// An imported record as stored: values in clear go through `store` (sealed when a
    /// secret is set); sealed ones stay as they are.
    pub fn from_record(
        r: &SearchConfigRecord,
        store: impl Fn(ProviderKind, &str) -> String,
    ) -> StoredConfig {
        let keep = |kind: ProviderKind, v: &Option<Secret>| {
            v.as_ref().map(|s| {
                if token_crypto::is_sealed(s.expose()) {
                    s.clone()
                } else {
                    Secret::new(store(kind, s.expose()))
                }
            })
        };
        StoredConfig {
            provider: r.provider.map(|p| p.as_str().to_string()),
            tavily_key: keep(ProviderKind::Tavily, &r.credentials.tavily),
            microsoft_grounding_key: keep(
                ProviderKind::MicrosoftGrounding,
                &r.credentials.microsoft_grounding,
            ),
            brave_key: keep(ProviderKind::Brave, &r.credentials.brave),
            searxng_url: keep(ProviderKind::Searxng, &r.searxng_url),
        }
    }
}

/// An imported search config: every value as the admin API would take it (sealed values
/// from another deployment as they are), and the chosen provider's setting present.
pub fn check_record(r: &SearchConfigRecord) -> Result<(), ApiError> {
    let at = |p: &str| format!("data.search_config.{p}");
    let prefixed = |e: ApiError| {
        let p = e.param.clone().unwrap_or_default();
        ApiError::invalid(format!("`data.search_config`: {}", e.message)).with_param(at(&p))
    };
    let values = [
        (ProviderKind::Tavily, &r.credentials.tavily),
        (
            ProviderKind::MicrosoftGrounding,
            &r.credentials.microsoft_grounding,
        ),
        (ProviderKind::Brave, &r.credentials.brave),
        (ProviderKind::Searxng, &r.searxng_url),
    ];
    for (kind, v) in values {
        let Some(v) = v else { continue };
        if token_crypto::is_sealed(v.expose()) {
            continue;
        }
        let json = Value::String(v.expose().to_string());
        match kind {
            ProviderKind::Searxng => searxng_url_field(&json).map(|_| ()),
            k => credential_field(&json, &param(k)).map(|_| ()),
        }
        .map_err(prefixed)?;
    }
    StoredConfig::from_record(r, |_, v| v.to_string())
        .check()
        .map_err(prefixed)
}

fn unreadable(kind: ProviderKind, e: &OpenError) -> String {
    let what = setting_name(kind);
    let what = format!("{}{}", what[..1].to_uppercase(), &what[1..]);
    match e {
        OpenError::NoKey => format!(
            "{what} is stored encrypted, but {SECRET_NAME} is not set: set the same secret \
             again, or set {} again here.",
            setting_name(kind)
        ),
        OpenError::OtherKey => format!(
            "{what} was encrypted with a different {SECRET_NAME}: restore that secret, or set \
             {} again here.",
            setting_name(kind)
        ),
        OpenError::Damaged => format!("{what} is damaged; set it again here."),
    }
}

/// Where a provider's setting goes in a request body.
pub fn param(kind: ProviderKind) -> String {
    match kind {
        ProviderKind::Searxng => "searxng_url".into(),
        k => format!("credentials.{}", k.as_str()),
    }
}

/// A setting change: None leaves it, Some(None) removes it, Some(Some(v)) sets it.
pub type SettingChange = Option<Secret>;

/// `PUT /api/search-config {provider?, credentials?: {<provider>: key|null}, searxng_url?}`,
/// checked whole before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// Some(None): web search off.
    pub provider: Option<Option<ProviderKind>>,
    pub settings: Vec<(ProviderKind, SettingChange)>,
}

impl ConfigUpdate {
    pub fn parse(body: &Value) -> Result<ConfigUpdate, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("request body must be a JSON object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !["provider", "credentials", "searxng_url"].contains(&k.as_str()))
        {
            return Err(ApiError::invalid(format!(
                "unknown field `{k}`: send `provider`, `credentials` and/or `searxng_url`"
            ))
            .with_param(k.clone()));
        }
        if obj.is_empty() {
            return Err(ApiError::invalid(
                "nothing to change: send `provider`, `credentials` and/or `searxng_url`",
            ));
        }
        let provider = match obj.get("provider") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(provider_field(v, "provider")?)),
        };
        let mut settings = Vec::new();
        match obj.get("credentials") {
            None | Some(Value::Null) => {}
            Some(Value::Object(c)) => {
                for (name, v) in c {
                    let kind = ProviderKind::parse(name)
                        .filter(|k| needs_key(*k))
                        .ok_or_else(|| {
                            ApiError::invalid(format!(
                                "`credentials.{name}` is not a provider with an API key (tavily, \
                                 microsoft-grounding, brave)"
                            ))
                            .with_param(format!("credentials.{name}"))
                        })?;
                    let change = match v {
                        Value::Null => None,
                        v => Some(credential_field(v, &format!("credentials.{name}"))?),
                    };
                    settings.push((kind, change));
                }
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "`credentials` must be an object like {\"tavily\": \"tvly-…\"}",
                )
                .with_param("credentials"))
            }
        }
        match obj.get("searxng_url") {
            None => {}
            Some(Value::Null) => settings.push((ProviderKind::Searxng, None)),
            Some(v) => settings.push((ProviderKind::Searxng, Some(searxng_url_field(v)?))),
        }
        Ok(ConfigUpdate { provider, settings })
    }
}

fn provider_field(v: &Value, param: &str) -> Result<ProviderKind, ApiError> {
    v.as_str().and_then(ProviderKind::parse).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{param}` must be one of tavily, microsoft-grounding, brave, searxng (or null)"
        ))
        .with_param(param)
    })
}

/// An API key: a non-empty string of at most 500 visible characters.
pub fn credential_field(v: &Value, param: &str) -> Result<Secret, ApiError> {
    let s = v.as_str().map(str::trim).unwrap_or("");
    let ok = !s.is_empty()
        && s.chars().count() <= MAX_CREDENTIAL_CHARS
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(ApiError::invalid(format!(
            "`{param}` must be an API key: a string of 1 to {MAX_CREDENTIAL_CHARS} characters \
             without spaces (or null to remove it)"
        ))
        .with_param(param));
    }
    Ok(Secret::new(s))
}

/// A SearXNG URL (kept whole: its user info is a credential too).
pub fn searxng_url_field(v: &Value) -> Result<Secret, ApiError> {
    let s = v.as_str().map(str::trim).unwrap_or("");
    let problem = if s.chars().count() > MAX_URL_CHARS {
        Err(format!("is longer than {MAX_URL_CHARS} characters"))
    } else {
        SearxngUrl::parse(s).map(|_| ())
    };
    problem.map_err(|why| {
        ApiError::invalid(format!(
            "`searxng_url` {why}: give the instance's address, like https://searx.example.org \
             (its JSON output must be enabled)"
        ))
        .with_param("searxng_url")
    })?;
    Ok(Secret::new(s))
}

/// `POST /api/search-config/test {query?, provider?, credential?, searxng_url?}`: the
/// saved settings, or a draft (a provider with a credential or URL not saved yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    pub query: String,
    /// None: the saved provider.
    pub provider: Option<ProviderKind>,
    /// The draft's key or SearXNG URL; None: the saved one of that provider.
    pub setting: Option<Secret>,
}

impl TestRequest {
    pub fn parse(body: &Value) -> Result<TestRequest, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("request body must be a JSON object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !["query", "provider", "credential", "searxng_url"].contains(&k.as_str()))
        {
            return Err(ApiError::invalid(format!(
                "unknown field `{k}`: send `query`, and for a draft `provider` with `credential` \
                 or `searxng_url`"
            ))
            .with_param(k.clone()));
        }
        let query = match obj.get("query") {
            None | Some(Value::Null) => DEFAULT_TEST_QUERY.to_string(),
            Some(v) => {
                let q = v.as_str().ok_or_else(|| {
                    ApiError::invalid("`query` must be a string").with_param("query")
                })?;
                let q = provider::check_query(q)
                    .map_err(|f| ApiError::invalid(f.message).with_param("query"))?;
                q.to_string()
            }
        };
        let provider = match obj.get("provider") {
            None | Some(Value::Null) => None,
            Some(v) => Some(provider_field(v, "provider")?),
        };
        let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
        let setting = match (provider, present("credential"), present("searxng_url")) {
            (_, true, true) => {
                return Err(ApiError::invalid(
                    "send `credential` (an API key) or `searxng_url`, not both",
                ))
            }
            (None, true, _) | (None, _, true) => {
                let p = if present("credential") {
                    "credential"
                } else {
                    "searxng_url"
                };
                return Err(ApiError::invalid(format!(
                    "a draft `{p}` needs the `provider` it is for"
                ))
                .with_param("provider"));
            }
            (Some(ProviderKind::Searxng), true, _) => {
                return Err(
                    ApiError::invalid("SearXNG takes `searxng_url`, not `credential`")
                        .with_param("credential"),
                )
            }
            (Some(k), _, true) if k != ProviderKind::Searxng => {
                return Err(ApiError::invalid(format!(
                    "{} takes `credential` (an API key), not `searxng_url`",
                    display_name(k)
                ))
                .with_param("searxng_url"))
            }
            (Some(_), true, _) => Some(credential_field(&obj["credential"], "credential")?),
            (Some(_), _, true) => Some(searxng_url_field(&obj["searxng_url"])?),
            (_, false, false) => None,
        };
        Ok(TestRequest {
            query,
            provider,
            setting,
        })
    }
}

/// A result as the test shows it.
pub fn test_result(hit: &crate::search::SearchHit) -> Value {
    let preview = hit.content.split_whitespace().collect::<Vec<_>>().join(" ");
    let preview = match preview.char_indices().nth(PREVIEW_CHARS) {
        None => preview,
        Some((i, _)) => format!("{}…", preview[..i].trim_end()),
    };
    json!({
        "title": hit.title,
        "url": hit.url,
        "page_age": hit.page_age,
        "preview": preview,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchGroupBy {
    Key,
    Provider,
    Hour,
}

impl SearchGroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchGroupBy::Key => "key",
            SearchGroupBy::Provider => "provider",
            SearchGroupBy::Hour => "hour",
        }
    }
}

/// `GET /api/search-usage?start=…&end=…[&key_id=…][&provider=…][&group_by=key|provider|hour]`:
/// hours and key as `/api/usage` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchUsageQuery {
    pub start: String,
    pub end: String,
    pub key_id: Option<String>,
    pub provider: Option<ProviderKind>,
    pub group_by: Option<SearchGroupBy>,
}

impl SearchUsageQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<SearchUsageQuery, ApiError> {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let common: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "group_by" && k != "provider")
            .cloned()
            .collect();
        let base = UsageQuery::parse(&common)?;
        let provider = match get("provider") {
            None | Some("") => None,
            Some(p) => Some(ProviderKind::parse(p).ok_or_else(|| {
                ApiError::invalid(
                    "`provider` must be tavily, microsoft-grounding, brave or searxng",
                )
                .with_param("provider")
            })?),
        };
        let group_by = match get("group_by") {
            None | Some("") => None,
            Some("key") => Some(SearchGroupBy::Key),
            Some("provider") => Some(SearchGroupBy::Provider),
            Some("hour") => Some(SearchGroupBy::Hour),
            Some(_) => {
                return Err(
                    ApiError::invalid("`group_by` must be key, provider or hour")
                        .with_param("group_by"),
                )
            }
        };
        Ok(SearchUsageQuery {
            start: base.start,
            end: base.end,
            key_id: base.key_id,
            provider,
            group_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a long deployer secret 0123456789";

    fn cipher() -> TokenCipher {
        TokenCipher::from_secret(Some(SECRET)).unwrap()
    }

    fn seal_with(c: &TokenCipher) -> impl Fn(ProviderKind, &str) -> String + '_ {
        move |k, v| c.seal_labeled(label(k), v, [9; 12])
    }

    #[test]
    fn an_update_is_checked_whole() {
        let ok = ConfigUpdate::parse(&json!({
            "provider": "tavily",
            "credentials": {"tavily": " tvly-abc ", "brave": null},
            "searxng_url": "https://searx.example.org",
        }))
        .unwrap();
        assert_eq!(ok.provider, Some(Some(ProviderKind::Tavily)));
        assert_eq!(
            ok.settings,
            vec![
                (ProviderKind::Tavily, Some(Secret::new("tvly-abc"))),
                (ProviderKind::Brave, None),
                (
                    ProviderKind::Searxng,
                    Some(Secret::new("https://searx.example.org"))
                ),
            ]
        );
        assert_eq!(
            ConfigUpdate::parse(&json!({"provider": null}))
                .unwrap()
                .provider,
            Some(None)
        );
        let param = |b: Value| ConfigUpdate::parse(&b).unwrap_err().param;
        assert_eq!(
            param(json!({"provider": "google"})),
            Some("provider".into())
        );
        assert_eq!(param(json!({"provider": 3})), Some("provider".into()));
        assert_eq!(
            param(json!({"credentials": {"searxng": "x"}})),
            Some("credentials.searxng".into())
        );
        assert_eq!(
            param(json!({"credentials": {"tavily": "has space"}})),
            Some("credentials.tavily".into())
        );
        assert_eq!(
            param(json!({"credentials": {"tavily": ""}})),
            Some("credentials.tavily".into())
        );
        assert_eq!(
            param(json!({"credentials": {"tavily": "x".repeat(501)}})),
            Some("credentials.tavily".into())
        );
        assert_eq!(
            param(json!({"credentials": "k"})),
            Some("credentials".into())
        );
        assert_eq!(
            param(json!({"searxng_url": "ftp://x"})),
            Some("searxng_url".into())
        );
        assert_eq!(param(json!({"api_key": "x"})), Some("api_key".into()));
        assert!(ConfigUpdate::parse(&json!({})).is_err());
        assert!(ConfigUpdate::parse(&json!([])).is_err());
    }

    #[test]
    fn applying_seals_and_requires_the_chosen_providers_setting() {
        let c = cipher();
        let empty = StoredConfig::default();
        let update = ConfigUpdate::parse(&json!({"provider": "brave"})).unwrap();
        let e = empty.apply(&update, seal_with(&c)).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("credentials.brave"));
        assert!(e.message.contains("Brave Search API key"), "{}", e.message);

        let update = ConfigUpdate::parse(&json!({
            "provider": "brave", "credentials": {"brave": "BSA-key-1"}
        }))
        .unwrap();
        let saved = empty.apply(&update, seal_with(&c)).unwrap();
        assert_eq!(saved.provider(), Some(ProviderKind::Brave));
        let stored = saved.brave_key.as_ref().unwrap().expose();
        assert!(token_crypto::is_sealed(stored) && !stored.contains("BSA-key-1"));
        assert_eq!(
            saved
                .opened(Some(&c), ProviderKind::Brave)
                .unwrap()
                .unwrap()
                .expose(),
            "BSA-key-1"
        );
        // Removing the chosen provider's key is refused; switching off first works.
        let remove = ConfigUpdate::parse(&json!({"credentials": {"brave": null}})).unwrap();
        assert!(saved.apply(&remove, seal_with(&c)).is_err());
        let off = ConfigUpdate::parse(&json!({"provider": null, "credentials": {"brave": null}}))
            .unwrap();
        let after = saved.apply(&off, seal_with(&c)).unwrap();
        assert_eq!(after, StoredConfig::default());
        // SearXNG needs its URL.
        let e = empty
            .apply(
                &ConfigUpdate::parse(&json!({"provider": "searxng"})).unwrap(),
                seal_with(&c),
            )
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("searxng_url"));
    }

    #[test]
    fn the_view_never_shows_a_value() {
        let c = cipher();
        let saved = StoredConfig::default()
            .apply(
                &ConfigUpdate::parse(&json!({
                    "provider": "searxng",
                    "credentials": {"tavily": "tvly-secret-1"},
                    "searxng_url": "https://admin:pw-secret-2@Searx.Example.org/sx/",
                }))
                .unwrap(),
                seal_with(&c),
            )
            .unwrap();
        let v = saved.view(Some(&c));
        assert_eq!(
            v,
            json!({
                "provider": "searxng",
                "credentials": {"tavily": true, "microsoft-grounding": false, "brave": false, "searxng": true},
                "searxng_url": "https://searx.example.org/sx",
                "encrypted": true,
                "problem": null,
            })
        );
        let text = v.to_string();
        assert!(
            !text.contains("secret-1") && !text.contains("pw-secret-2") && !text.contains("admin")
        );
        // Without the secret the settings stay "set" but cannot be read.
        let v = saved.view(None);
        assert_eq!(v["credentials"]["tavily"], true);
        assert_eq!(v["searxng_url"], Value::Null);
        assert_eq!(v["encrypted"], false);
        let problem = v["problem"].as_str().unwrap();
        assert!(
            problem.contains("The Tavily API key is stored encrypted"),
            "{problem}"
        );
        assert!(problem.contains("The SearXNG URL"), "{problem}");
        assert!(problem.contains(SECRET_NAME));
        // And calling it is a failure that names no secret.
        let f = saved
            .target(None, &BaseUrls::default(), ProviderKind::Searxng)
            .unwrap_err();
        assert_eq!(f.code, SearchErrorCode::Unavailable);
        assert!(f.message.contains("cannot be read"));
        let t = saved
            .target(Some(&c), &BaseUrls::default(), ProviderKind::Searxng)
            .unwrap();
        assert_eq!(t.base_url, "https://searx.example.org/sx");
        assert_eq!(t.credential.unwrap().expose(), "admin:pw-secret-2");
        let t = saved
            .target(Some(&c), &BaseUrls::default(), ProviderKind::Tavily)
            .unwrap();
        assert_eq!(t.credential.unwrap().expose(), "tvly-secret-1");
        assert!(saved
            .target(Some(&c), &BaseUrls::default(), ProviderKind::Brave)
            .is_err());
    }

    #[test]
    fn clear_settings_are_sealed_when_a_secret_appears() {
        let clear = StoredConfig::default()
            .apply(
                &ConfigUpdate::parse(
                    &json!({"provider": "tavily", "credentials": {"tavily": "tvly-1"}}),
                )
                .unwrap(),
                |_, v| v.to_string(),
            )
            .unwrap();
        assert_eq!(clear.tavily_key.as_ref().unwrap().expose(), "tvly-1");
        assert_eq!(clear.view(None)["problem"], Value::Null);
        let c = cipher();
        let sealed = clear.sealed(&c, || [1; 12]).unwrap();
        assert!(token_crypto::is_sealed(
            sealed.tavily_key.as_ref().unwrap().expose()
        ));
        assert_eq!(
            sealed
                .opened(Some(&c), ProviderKind::Tavily)
                .unwrap()
                .unwrap()
                .expose(),
            "tvly-1"
        );
        assert_eq!(sealed.sealed(&c, || [1; 12]), None, "nothing left to seal");
        // A value moved to another column does not open there.
        let mut moved = sealed.clone();
        moved.brave_key = moved.tavily_key.clone();
        assert_eq!(
            moved.opened(Some(&c), ProviderKind::Brave),
            Err(OpenError::Damaged)
        );
        // An unknown stored provider reads as none.
        let odd = StoredConfig {
            provider: Some("bing".into()),
            ..Default::default()
        };
        assert_eq!(odd.provider(), None);
        assert!(!format!("{sealed:?} {clear:?}").contains("tvly-1"));
    }

    #[test]
    fn test_requests() {
        let t = TestRequest::parse(&json!({})).unwrap();
        assert_eq!(t.query, DEFAULT_TEST_QUERY);
        assert_eq!((t.provider, t.setting), (None, None));
        let t = TestRequest::parse(
            &json!({"query": " rust ", "provider": "brave", "credential": "BSA1"}),
        )
        .unwrap();
        assert_eq!(t.query, "rust");
        assert_eq!(t.provider, Some(ProviderKind::Brave));
        assert_eq!(t.setting, Some(Secret::new("BSA1")));
        let t = TestRequest::parse(
            &json!({"provider": "searxng", "searxng_url": "http://127.0.0.1:8/sx"}),
        )
        .unwrap();
        assert_eq!(t.setting, Some(Secret::new("http://127.0.0.1:8/sx")));
        // A saved provider other than the chosen one can be tested with its saved key.
        let t = TestRequest::parse(&json!({"provider": "tavily"})).unwrap();
        assert_eq!((t.provider, t.setting), (Some(ProviderKind::Tavily), None));
        let param = |b: Value| TestRequest::parse(&b).unwrap_err().param;
        assert_eq!(param(json!({"credential": "k"})), Some("provider".into()));
        assert_eq!(
            param(json!({"provider": "searxng", "credential": "k"})),
            Some("credential".into())
        );
        assert_eq!(
            param(json!({"provider": "tavily", "searxng_url": "http://x"})),
            Some("searxng_url".into())
        );
        assert_eq!(param(json!({"query": "  "})), Some("query".into()));
        assert_eq!(param(json!({"query": 5})), Some("query".into()));
        assert_eq!(
            param(json!({"query": "x".repeat(1001)})),
            Some("query".into())
        );
        assert_eq!(param(json!({"provider": "nope"})), Some("provider".into()));
        assert_eq!(param(json!({"key": "x"})), Some("key".into()));
        assert!(TestRequest::parse(
            &json!({"provider": "searxng", "credential": "a", "searxng_url": "http://x"})
        )
        .is_err());
    }

    #[test]
    fn test_results_are_previews() {
        let hit = crate::search::SearchHit {
            url: "https://x.example".into(),
            title: "X".into(),
            content: format!("a\n\n b {}", "c".repeat(400)),
            page_age: Some("2025-01-01".into()),
        };
        let v = test_result(&hit);
        let preview = v["preview"].as_str().unwrap();
        assert!(preview.starts_with("a b ccc"));
        assert_eq!(preview.chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(v["page_age"], "2025-01-01");
    }

    #[test]
    fn records_round_trip_sealed_and_opened() {
        let c = cipher();
        let record = SearchConfigRecord {
            provider: Some(ProviderKind::Tavily),
            credentials: SearchCredentials {
                tavily: Some("tvly-1".into()),
                ..Default::default()
            },
            searxng_url: Some("https://a:b@searx.example.org".into()),
        };
        check_record(&record).unwrap();
        let stored = StoredConfig::from_record(&record, seal_with(&c));
        assert!(token_crypto::is_sealed(
            stored.tavily_key.as_ref().unwrap().expose()
        ));
        assert!(token_crypto::is_sealed(
            stored.searxng_url.as_ref().unwrap().expose()
        ));
        assert_eq!(stored.to_record(Some(&c)), record);
        // Without the secret a sealed value is exported as stored, and imported as is.
        let out = stored.to_record(None);
        assert_eq!(out.credentials.tavily, stored.tavily_key);
        assert_eq!(StoredConfig::from_record(&out, seal_with(&c)), stored);
        let mut bad = record.clone();
        bad.provider = Some(ProviderKind::MicrosoftGrounding);
        assert_eq!(
            check_record(&bad).unwrap_err().param.as_deref(),
            Some("data.search_config.credentials.microsoft-grounding")
        );
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn usage_queries() {
        let q = SearchUsageQuery::parse(&pairs(&[
            ("start", "2026-11-01T00"),
            ("end", "2026-11-02T00"),
            ("provider", "brave"),
            ("group_by", "provider"),
            ("key_id", "k1"),
        ]))
        .unwrap();
        assert_eq!(q.provider, Some(ProviderKind::Brave));
        assert_eq!(q.group_by, Some(SearchGroupBy::Provider));
        assert_eq!(q.key_id.as_deref(), Some("k1"));
        let param = |p: &[(&str, &str)]| SearchUsageQuery::parse(&pairs(p)).unwrap_err().param;
        let range = [("start", "2026-11-01T00"), ("end", "2026-11-02T00")];
        assert_eq!(param(&[("start", "2026-11-01T00")]), Some("end".into()));
        assert_eq!(
            param(&[range[0], range[1], ("group_by", "model")]),
            Some("group_by".into())
        );
        assert_eq!(
            param(&[range[0], range[1], ("provider", "bing")]),
            Some("provider".into())
        );
    }
}
