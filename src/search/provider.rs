//! The search providers' HTTP shapes, as plain data: one function builds a provider's
//! request for a `SearchRequest`, one reads its answer (status and body) into hits or a
//! `SearchFailure`. Every provider's hits then get the same treatment: domain filters
//! applied (whatever the provider did with them), text cleaned and trimmed, duplicates
//! and URLs that are not http(s) dropped, at most `max_results` kept.
//!
//! Credentials go into headers only (never into a URL, so a logged URL shows none), and
//! failure messages are scrubbed of them: a provider that echoes its key back does not
//! get it shown to the model or the admin.

use serde_json::{json, Value};

use super::{
    ProviderKind, SearchErrorCode, SearchFailure, SearchHit, SearchRequest, MAX_QUERY_CHARS,
};
use crate::secret::Secret;
use crate::upstream::{HttpRequest, Method};

pub const DEFAULT_TAVILY_BASE: &str = "https://api.tavily.com";
pub const DEFAULT_MICROSOFT_GROUNDING_BASE: &str = "https://api.microsoft.ai";
pub const DEFAULT_BRAVE_BASE: &str = "https://api.search.brave.com";

/// Results asked for when the request does not say.
pub const DEFAULT_RESULTS: usize = 10;
/// The most any provider is asked for (Tavily's and Brave's own maximum).
pub const MAX_RESULTS: usize = 20;
/// Page text kept per hit: enough to answer from, small enough that ten hits stay a few
/// thousand tokens of the model's context.
pub const MAX_CONTENT_CHARS: usize = 4000;
const MAX_TITLE_CHARS: usize = 300;
const MAX_MESSAGE_CHARS: usize = 300;
/// Microsoft Grounding's passage length (its recommended value).
const GROUNDING_MAX_LENGTH: usize = 3000;
/// Brave refuses longer queries (it counts the `site:` operators too).
const BRAVE_MAX_QUERY_CHARS: usize = 400;
const BRAVE_MAX_QUERY_WORDS: usize = 50;
/// Tavily's limits on its domain lists.
const TAVILY_MAX_INCLUDE: usize = 300;
const TAVILY_MAX_EXCLUDE: usize = 150;

/// The providers' base URLs (vars `TAVILY_BASE_URL`, `MICROSOFT_GROUNDING_BASE_URL`,
/// `BRAVE_SEARCH_BASE_URL`); SearXNG's comes from the admin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrls {
    pub tavily: String,
    pub microsoft_grounding: String,
    pub brave: String,
}

impl BaseUrls {
    pub fn new(tavily: Option<&str>, grounding: Option<&str>, brave: Option<&str>) -> BaseUrls {
        let clean = |v: Option<&str>, default: &str| {
            v.map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        BaseUrls {
            tavily: clean(tavily, DEFAULT_TAVILY_BASE),
            microsoft_grounding: clean(grounding, DEFAULT_MICROSOFT_GROUNDING_BASE),
            brave: clean(brave, DEFAULT_BRAVE_BASE),
        }
    }
}

impl Default for BaseUrls {
    fn default() -> Self {
        BaseUrls::new(None, None, None)
    }
}

/// What people call each provider, in messages.
pub fn display_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Tavily => "Tavily",
        ProviderKind::MicrosoftGrounding => "Microsoft Grounding",
        ProviderKind::Brave => "Brave Search",
        ProviderKind::Searxng => "SearXNG",
    }
}

/// Whether a provider needs an API key (SearXNG needs its URL instead).
pub fn needs_key(kind: ProviderKind) -> bool {
    kind != ProviderKind::Searxng
}

/// One provider, ready to call: where, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: ProviderKind,
    /// Without a trailing slash; SearXNG's without its user info.
    pub base_url: String,
    /// The API key, or `user:password` for a SearXNG behind basic auth.
    pub credential: Option<Secret>,
}

impl Target {
    /// The target for `kind`, from the vars' base URLs and the admin's settings (the
    /// provider's key, opened; SearXNG's URL, opened). A missing setting is a failure the
    /// model can pass on.
    pub fn new(
        kind: ProviderKind,
        bases: &BaseUrls,
        key: Option<Secret>,
        searxng_url: Option<&str>,
    ) -> Result<Target, SearchFailure> {
        let missing = |what: &str| {
            SearchFailure::new(
                SearchErrorCode::Unavailable,
                format!(
                    "Web search is set to use {} but its {what} is not set: an admin must set it \
                     on the gateway's Web search page.",
                    display_name(kind)
                ),
            )
        };
        if kind == ProviderKind::Searxng {
            let url = searxng_url.ok_or_else(|| missing("URL"))?;
            let parsed = SearxngUrl::parse(url).map_err(|_| missing("URL (a valid one)"))?;
            return Ok(Target {
                kind,
                base_url: parsed.base,
                credential: parsed.basic_auth,
            });
        }
        let base_url = match kind {
            ProviderKind::Tavily => &bases.tavily,
            ProviderKind::MicrosoftGrounding => &bases.microsoft_grounding,
            _ => &bases.brave,
        };
        let key = key.filter(|k| !k.expose().trim().is_empty());
        Ok(Target {
            kind,
            base_url: base_url.clone(),
            credential: Some(key.ok_or_else(|| missing("API key"))?),
        })
    }
}

/// A SearXNG instance's URL as an admin gives it: `http(s)://[user:password@]host[/path]`.
/// User info becomes a basic-auth credential (sent as a header, never in the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearxngUrl {
    /// `scheme://host[:port][/path]`, no trailing slash, no `/search`: safe to show.
    pub base: String,
    pub basic_auth: Option<Secret>,
}

impl SearxngUrl {
    pub fn parse(url: &str) -> Result<SearxngUrl, String> {
        let url = url.trim();
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces".into());
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("must start with http:// or https://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err("must start with http:// or https://".into());
        }
        if rest.contains('?') || rest.contains('#') {
            return Err("must not have a query (?…) or fragment (#…)".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
            && !host.starts_with(':');
        if !host_ok {
            return Err("needs a host name".into());
        }
        let mut path = path.trim_end_matches('/');
        // A pasted search page URL: the instance is the part before it.
        if let Some(p) = path.strip_suffix("/search") {
            path = p;
        }
        let basic_auth = match userinfo {
            None => None,
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let user = percent_decode(user).ok_or("has a badly escaped user name")?;
                let pass = percent_decode(pass).ok_or("has a badly escaped password")?;
                if user.is_empty() && pass.is_empty() {
                    None
                } else {
                    Some(Secret::new(format!("{user}:{pass}")))
                }
            }
        };
        Ok(SearxngUrl {
            base: format!("{scheme}://{}{path}", host.to_ascii_lowercase()),
            basic_auth,
        })
    }
}

/// A query the model may send: not blank, not longer than Anthropic allows.
pub fn check_query(query: &str) -> Result<&str, SearchFailure> {
    let q = query.trim();
    if q.is_empty() {
        return Err(SearchFailure::new(
            SearchErrorCode::InvalidToolInput,
            "The search query is empty.",
        ));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(SearchFailure::new(
            SearchErrorCode::QueryTooLong,
            format!("The search query is longer than {MAX_QUERY_CHARS} characters."),
        ));
    }
    Ok(q)
}

/// How many results to ask for: the request's number, within what providers allow.
pub fn wanted(req: &SearchRequest) -> usize {
    match req.max_results {
        0 => DEFAULT_RESULTS,
        n => n.min(MAX_RESULTS),
    }
}

/// A domain as a filter matches it: lowercase, without scheme, path, port, `*.` or a
/// trailing dot. None when it is not a domain name.
pub fn normalize_domain(d: &str) -> Option<String> {
    let d = d.trim().to_ascii_lowercase();
    let d = d
        .strip_prefix("https://")
        .or_else(|| d.strip_prefix("http://"))
        .unwrap_or(&d);
    let d = d.split(['/', '?', '#']).next().unwrap_or("");
    let d = d.rsplit_once(':').map_or(d, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            d
        }
    });
    let d = d.strip_prefix("*.").unwrap_or(d).trim_end_matches('.');
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    ok.then(|| d.to_string())
}

/// The request's domain lists, normalized; a list entry that is not a domain is the
/// model's (or client's) mistake, never silently widened to "anywhere".
struct Domains {
    allowed: Vec<String>,
    blocked: Vec<String>,
}

fn domains(req: &SearchRequest) -> Result<Domains, SearchFailure> {
    let list = |items: &[String], field: &str| -> Result<Vec<String>, SearchFailure> {
        let mut out: Vec<String> = Vec::new();
        for d in items {
            let n = normalize_domain(d).ok_or_else(|| {
                SearchFailure::new(
                    SearchErrorCode::InvalidToolInput,
                    format!("`{field}` has an entry that is not a domain name: {d:?}"),
                )
            })?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    };
    Ok(Domains {
        allowed: list(&req.allowed_domains, "allowed_domains")?,
        blocked: list(&req.blocked_domains, "blocked_domains")?,
    })
}

/// `query (site:a OR site:b) -site:c`: the filters as search operators, for the
/// providers that take them in the query.
fn with_site_operators(query: &str, d: &Domains) -> String {
    let mut q = query.to_string();
    match d.allowed.as_slice() {
        [] => {}
        [one] => q.push_str(&format!(" site:{one}")),
        many => {
            let sites: Vec<String> = many.iter().map(|s| format!("site:{s}")).collect();
            q.push_str(&format!(" ({})", sites.join(" OR ")));
        }
    }
    for b in &d.blocked {
        q.push_str(&format!(" -site:{b}"));
    }
    q
}

/// The provider's request for one search. Fails (before any call) on a blank or too
/// long query, a bad domain, or a query that grows past the provider's own limit.
pub fn build_request(
    target: &Target,
    req: &SearchRequest,
) -> Result<HttpRequest<'static>, SearchFailure> {
    let query = check_query(&req.query)?;
    let d = domains(req)?;
    let count = wanted(req);
    let country = req
        .user_location
        .as_ref()
        .and_then(|l| l.country.as_deref())
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()));
    let key = || {
        target
            .credential
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default()
    };
    let json_headers = |auth: (&'static str, String)| {
        vec![
            auth,
            ("content-type", "application/json".to_string()),
            ("accept", "application/json".to_string()),
        ]
    };
    Ok(match target.kind {
        ProviderKind::Tavily => {
            let mut body = json!({ "query": query, "max_results": count });
            if !d.allowed.is_empty() {
                let list: Vec<&String> = d.allowed.iter().take(TAVILY_MAX_INCLUDE).collect();
                body["include_domains"] = json!(list);
            }
            if !d.blocked.is_empty() {
                let list: Vec<&String> = d.blocked.iter().take(TAVILY_MAX_EXCLUDE).collect();
                body["exclude_domains"] = json!(list);
            }
            if let Some(name) = country.as_deref().and_then(tavily_country) {
                body["country"] = json!(name);
            }
            HttpRequest {
                method: Method::Post,
                url: format!("{}/search", target.base_url),
                headers: json_headers(("authorization", format!("Bearer {}", key()))),
                body: Some(body.to_string().into()),
            }
        }
        ProviderKind::MicrosoftGrounding => {
            let q = with_site_operators(query, &d);
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(too_long_with_filters(target.kind, MAX_QUERY_CHARS));
            }
            let mut body = json!({
                "query": q,
                "maxResults": count,
                "contentFormat": "passage",
                "maxLength": GROUNDING_MAX_LENGTH,
            });
            if let Some(c) = &country {
                body["region"] = json!(c);
            }
            HttpRequest {
                method: Method::Post,
                url: format!("{}/v3/search/web", target.base_url),
                headers: json_headers(("x-apikey", key())),
                body: Some(body.to_string().into()),
            }
        }
        ProviderKind::Brave => {
            let q = with_site_operators(query, &d);
            if q.chars().count() > BRAVE_MAX_QUERY_CHARS
                || q.split_whitespace().count() > BRAVE_MAX_QUERY_WORDS
            {
                return Err(too_long_with_filters(target.kind, BRAVE_MAX_QUERY_CHARS));
            }
            let mut url = format!(
                "{}/res/v1/web/search?q={}&count={count}&result_filter=web&text_decorations=false",
                target.base_url,
                percent_encode(&q)
            );
            if let Some(c) = country.as_deref().filter(|c| BRAVE_COUNTRIES.contains(c)) {
                url.push_str(&format!("&country={c}"));
            }
            HttpRequest {
                method: Method::Get,
                url,
                headers: vec![
                    ("x-subscription-token", key()),
                    ("accept", "application/json".to_string()),
                ],
                body: None,
            }
        }
        ProviderKind::Searxng => {
            let q = with_site_operators(query, &d);
            let mut headers = vec![("accept", "application/json".to_string())];
            if let Some(basic) = &target.credential {
                headers.push((
                    "authorization",
                    format!("Basic {}", base64(basic.expose().as_bytes())),
                ));
            }
            HttpRequest {
                method: Method::Get,
                url: format!(
                    "{}/search?q={}&format=json",
                    target.base_url,
                    percent_encode(&q)
                ),
                headers,
                body: None,
            }
        }
    })
}

fn too_long_with_filters(kind: ProviderKind, limit: usize) -> SearchFailure {
    SearchFailure::new(
        SearchErrorCode::QueryTooLong,
        format!(
            "The search query, with its domain filters, is longer than {} accepts ({limit} \
             characters); use a shorter query.",
            display_name(kind)
        ),
    )
}

/// The code a provider's HTTP status maps to (the seed's mapping).
pub fn failure_code(status: u16) -> SearchErrorCode {
    match status {
        429 => SearchErrorCode::TooManyRequests,
        400 | 422 => SearchErrorCode::InvalidToolInput,
        413 => SearchErrorCode::RequestTooLarge,
        _ => SearchErrorCode::Unavailable,
    }
}

/// Brave answers 422 for a bad subscription token too: that is the gateway's problem,
/// not the query's.
const BRAVE_ACCOUNT_CODES: &[&str] = &[
    "SUBSCRIPTION_TOKEN_INVALID",
    "SUBSCRIPTION_NOT_FOUND",
    "OPTION_NOT_IN_PLAN",
];

/// Reads a provider's answer: hits (filtered, cleaned, at most `max_results`), or the
/// failure its status says, with its message (scrubbed of the credential).
pub fn parse_answer(
    target: &Target,
    req: &SearchRequest,
    status: u16,
    body: &str,
) -> Result<Vec<SearchHit>, SearchFailure> {
    let name = display_name(target.kind);
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if !(200..300).contains(&status) {
        let detail = parsed
            .as_ref()
            .and_then(error_message)
            .unwrap_or_else(|| first_chars(body.trim(), MAX_MESSAGE_CHARS));
        let brave_code = parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/code"))
            .and_then(Value::as_str);
        let account_problem = status == 401
            || status == 403
            || (target.kind == ProviderKind::Brave
                && brave_code.is_some_and(|c| BRAVE_ACCOUNT_CODES.contains(&c)));
        let code = if account_problem {
            SearchErrorCode::Unavailable
        } else {
            failure_code(status)
        };
        let mut message = format!("{name} answered {status}");
        if !detail.is_empty() {
            message.push_str(&format!(": {detail}"));
        }
        if account_problem {
            message.push_str(" (check the provider's credential on the gateway's Web search page)");
        }
        return Err(SearchFailure::new(code, scrub(&message, target)));
    }
    let v = parsed.ok_or_else(|| {
        SearchFailure::new(
            SearchErrorCode::Unavailable,
            format!("{name} answered with something other than JSON"),
        )
    })?;
    let items = |ptr: &str| {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| a.as_slice())
            .unwrap_or(&[])
    };
    let s = |item: &Value, field: &str| {
        item.get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    let raw: Vec<SearchHit> = match target.kind {
        ProviderKind::Tavily => items("/results")
            .iter()
            .map(|r| {
                hit(
                    s(r, "url"),
                    s(r, "title"),
                    s(r, "content"),
                    s(r, "published_date"),
                )
            })
            .collect(),
        ProviderKind::MicrosoftGrounding => items("/webResults")
            .iter()
            .map(|r| {
                let age = s(r, "lastUpdatedAt").or_else(|| s(r, "crawledAt"));
                hit(s(r, "url"), s(r, "title"), s(r, "content"), age)
            })
            .collect(),
        ProviderKind::Brave => items("/web/results")
            .iter()
            .map(|r| {
                let mut content = s(r, "description").map(|d| clean_markup(&d));
                let extra: Vec<String> = r
                    .get("extra_snippets")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(clean_markup)
                            .collect()
                    })
                    .unwrap_or_default();
                if !extra.is_empty() {
                    let mut all: Vec<String> = content.into_iter().collect();
                    all.extend(extra);
                    content = Some(all.join("\n"));
                }
                let title = s(r, "title").map(|t| clean_markup(&t));
                let age = s(r, "page_age").or_else(|| s(r, "age"));
                hit(s(r, "url"), title, content, age)
            })
            .collect(),
        ProviderKind::Searxng => items("/results")
            .iter()
            .map(|r| {
                let title = s(r, "title").map(|t| clean_markup(&t));
                let content = s(r, "content").map(|c| clean_markup(&c));
                hit(s(r, "url"), title, content, s(r, "publishedDate"))
            })
            .collect(),
    };
    let d = domains(req)?;
    Ok(finish(raw, &d, wanted(req)))
}

/// A hit as read; `url` None when the provider gave none (dropped in `finish`).
fn hit(
    url: Option<String>,
    title: Option<String>,
    content: Option<String>,
    page_age: Option<String>,
) -> SearchHit {
    SearchHit {
        url: url.unwrap_or_default(),
        title: title.unwrap_or_default(),
        content: content.unwrap_or_default(),
        page_age,
    }
}

fn finish(raw: Vec<SearchHit>, d: &Domains, max: usize) -> Vec<SearchHit> {
    let mut out: Vec<SearchHit> = Vec::new();
    for mut h in raw {
        if out.len() >= max {
            break;
        }
        let Some(host) = url_host(&h.url) else {
            continue;
        };
        if !domain_allowed(&host, &d.allowed, &d.blocked) || out.iter().any(|o| o.url == h.url) {
            continue;
        }
        if h.title.is_empty() {
            h.title = h.url.clone();
        }
        h.title = first_chars(&h.title, MAX_TITLE_CHARS);
        h.content = first_chars(&h.content, MAX_CONTENT_CHARS);
        h.page_age = h.page_age.map(|a| first_chars(&a, 100));
        out.push(h);
    }
    out
}

/// Whether a host passes the filters: in an allowed domain (or a subdomain of one) when
/// any are given, and in no blocked one.
pub fn domain_allowed(host: &str, allowed: &[String], blocked: &[String]) -> bool {
    let within = |d: &String| host == d || host.ends_with(&format!(".{d}"));
    (allowed.is_empty() || allowed.iter().any(within)) && !blocked.iter().any(within)
}

/// The lowercase host of an http(s) URL; None for anything else.
pub fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next()?
    } else {
        host.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && !host.contains(char::is_whitespace)).then_some(host)
}

/// The human part of a provider's error body, in any of their shapes.
fn error_message(v: &Value) -> Option<String> {
    let candidates = [
        v.pointer("/detail/error"),  // Tavily
        v.get("detail"),             // Tavily (older), FastAPI-style
        v.pointer("/error/detail"),  // Brave
        v.pointer("/error/message"), // Microsoft
        v.get("message"),
        v.get("error"),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
        .map(|m| first_chars(m.trim(), MAX_MESSAGE_CHARS))
        .filter(|m| !m.is_empty())
}

/// The message with the target's credential (and a basic-auth password on its own)
/// replaced.
fn scrub(message: &str, target: &Target) -> String {
    let mut out = message.to_string();
    if let Some(c) = &target.credential {
        let whole = c.expose();
        let mut secrets = vec![whole];
        if target.kind == ProviderKind::Searxng {
            if let Some((_, pass)) = whole.split_once(':') {
                secrets.push(pass);
            }
        }
        for s in secrets.into_iter().filter(|s| s.len() >= 4) {
            out = out.replace(s, "[redacted]");
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
fn first_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
    }
}

/// Text without HTML tags and with the common entities decoded (Brave marks matches up
/// with `<strong>`; SearXNG engines pass snippets through as they got them).
pub fn clean_markup(s: &str) -> String {
    let mut text = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let n = if let Some(h) =
                        name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                    {
                        u32::from_str_radix(h, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    n.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Query-string encoding: everything but RFC 3986's unreserved characters escaped.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Standard base64 with padding (for a basic-auth header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (chunk.get(1).copied().unwrap_or(0) as u32) << 8
            | chunk.get(2).copied().unwrap_or(0) as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The countries Brave's `country` parameter takes (others are refused with a 422).
const BRAVE_COUNTRIES: &[&str] = &[
    "AR", "AU", "AT", "BE", "BR", "CA", "CL", "DK", "FI", "FR", "DE", "HK", "IN", "ID", "IT", "JP",
    "KR", "MY", "MX", "NL", "NZ", "NO", "CN", "PL", "PT", "PH", "RU", "SA", "ZA", "ES", "SE", "CH",
    "TW", "TR", "GB", "US",
];

/// Tavily's `country` takes English names; only unambiguous ones are sent (it is a boost,
/// so leaving it out is harmless).
fn tavily_country(code: &str) -> Option<&'static str> {
    Some(match code {
        "US" => "united states",
        "GB" => "united kingdom",
        "CA" => "canada",
        "AU" => "australia",
        "NZ" => "new zealand",
        "IE" => "ireland",
        "DE" => "germany",
        "FR" => "france",
        "ES" => "spain",
        "PT" => "portugal",
        "IT" => "italy",
        "NL" => "netherlands",
        "BE" => "belgium",
        "CH" => "switzerland",
        "AT" => "austria",
        "SE" => "sweden",
        "NO" => "norway",
        "DK" => "denmark",
        "FI" => "finland",
        "PL" => "poland",
        "GR" => "greece",
        "HU" => "hungary",
        "RO" => "romania",
        "UA" => "ukraine",
        "TR" => "turkey",
        "IL" => "israel",
        "EG" => "egypt",
        "SA" => "saudi arabia",
        "AE" => "united arab emirates",
        "IN" => "india",
        "PK" => "pakistan",
        "BD" => "bangladesh",
        "CN" => "china",
        "JP" => "japan",
        "KR" => "south korea",
        "SG" => "singapore",
        "MY" => "malaysia",
        "ID" => "indonesia",
        "TH" => "thailand",
        "VN" => "vietnam",
        "PH" => "philippines",
        "BR" => "brazil",
        "MX" => "mexico",
        "AR" => "argentina",
        "CL" => "chile",
        "CO" => "colombia",
        "PE" => "peru",
        "ZA" => "south africa",
        "NG" => "nigeria",
        "KE" => "kenya",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::UserLocation;

    fn target(kind: ProviderKind) -> Target {
        let key = match kind {
            ProviderKind::Searxng => None,
            _ => Some(Secret::new("sk-test-0123456789")),
        };
        let searxng = (kind == ProviderKind::Searxng).then_some("https://searx.example.org/");
        Target::new(kind, &BaseUrls::default(), key, searxng).unwrap()
    }

    fn request(query: &str) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            max_results: 5,
            ..Default::default()
        }
    }

    fn body(r: &HttpRequest) -> Value {
        serde_json::from_str(r.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn base_urls_default_and_trim() {
        let b = BaseUrls::new(Some(" http://127.0.0.1:9/search/tavily/ "), Some(""), None);
        assert_eq!(b.tavily, "http://127.0.0.1:9/search/tavily");
        assert_eq!(b.microsoft_grounding, "https://api.microsoft.ai");
        assert_eq!(b.brave, "https://api.search.brave.com");
    }

    #[test]
    fn targets_need_their_setting() {
        let b = BaseUrls::default();
        for kind in [
            ProviderKind::Tavily,
            ProviderKind::MicrosoftGrounding,
            ProviderKind::Brave,
        ] {
            let e = Target::new(kind, &b, None, None).unwrap_err();
            assert_eq!(e.code, SearchErrorCode::Unavailable);
            assert!(e.message.contains("API key"), "{}", e.message);
            assert!(Target::new(kind, &b, Some(Secret::new("  ")), None).is_err());
        }
        let e = Target::new(ProviderKind::Searxng, &b, None, None).unwrap_err();
        assert!(e.message.contains("URL"));
        let t = Target::new(ProviderKind::Searxng, &b, None, Some("ftp://x")).unwrap_err();
        assert_eq!(t.code, SearchErrorCode::Unavailable);
        let t = target(ProviderKind::Searxng);
        assert_eq!(t.base_url, "https://searx.example.org");
        assert_eq!(t.credential, None);
    }

    #[test]
    fn searxng_urls() {
        let u = SearxngUrl::parse("HTTPS://Searx.Example.org/searxng/search/").unwrap();
        assert_eq!(u.base, "https://searx.example.org/searxng");
        assert!(u.basic_auth.is_none());
        let u = SearxngUrl::parse("http://me:p%40ss%3Aword@127.0.0.1:8080").unwrap();
        assert_eq!(u.base, "http://127.0.0.1:8080");
        assert_eq!(u.basic_auth.unwrap().expose(), "me:p@ss:word");
        assert!(
            !format!("{:?}", SearxngUrl::parse("http://a:secret1@h").unwrap()).contains("secret1")
        );
        for bad in [
            "searx.example.org",
            "ftp://searx.example.org",
            "https://",
            "https://host/search?q=x",
            "https://host/#x",
            "https://ho st/",
            "https://u:%zz@host",
            "javascript://alert(1)",
        ] {
            assert!(SearxngUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queries_are_checked_before_any_call() {
        let t = target(ProviderKind::Tavily);
        let e = build_request(&t, &request("   ")).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::InvalidToolInput);
        let e = build_request(&t, &request(&"x".repeat(MAX_QUERY_CHARS + 1))).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::QueryTooLong);
        assert!(build_request(&t, &request(&"é".repeat(MAX_QUERY_CHARS))).is_ok());
        let mut r = request("rust");
        r.allowed_domains = vec!["not a domain".into()];
        let e = build_request(&t, &r).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::InvalidToolInput);
        assert!(e.message.contains("allowed_domains"));
    }

    #[test]
    fn tavily_request() {
        let mut r = request("  rust async  ");
        r.allowed_domains = vec!["https://Docs.rs/".into(), "docs.rs".into()];
        r.blocked_domains = vec!["*.spam.example".into()];
        r.user_location = Some(UserLocation {
            country: Some("de".into()),
            ..Default::default()
        });
        r.max_results = 50;
        let req = build_request(&target(ProviderKind::Tavily), &r).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://api.tavily.com/search");
        assert_eq!(
            req.header("authorization"),
            Some("Bearer sk-test-0123456789")
        );
        assert_eq!(
            body(&req),
            json!({
                "query": "rust async",
                "max_results": 20,
                "include_domains": ["docs.rs"],
                "exclude_domains": ["spam.example"],
                "country": "germany",
            })
        );
        // The key is in a header only, and never in a debug print.
        assert!(!format!("{req:?}").contains("sk-test"));
        // A country Tavily has no name for here is left out.
        r.user_location.as_mut().unwrap().country = Some("XX".into());
        assert!(
            body(&build_request(&target(ProviderKind::Tavily), &r).unwrap())
                .get("country")
                .is_none()
        );
    }

    #[test]
    fn grounding_request() {
        let mut r = request("weather");
        r.allowed_domains = vec!["a.example".into(), "b.example".into()];
        r.blocked_domains = vec!["c.example".into()];
        r.user_location = Some(UserLocation {
            country: Some("jp".into()),
            ..Default::default()
        });
        let t = target(ProviderKind::MicrosoftGrounding);
        let req = build_request(&t, &r).unwrap();
        assert_eq!(req.url, "https://api.microsoft.ai/v3/search/web");
        assert_eq!(req.header("x-apikey"), Some("sk-test-0123456789"));
        assert!(!format!("{req:?}").contains("sk-test"));
        assert_eq!(
            body(&req),
            json!({
                "query": "weather (site:a.example OR site:b.example) -site:c.example",
                "maxResults": 5,
                "contentFormat": "passage",
                "maxLength": 3000,
                "region": "JP",
            })
        );
        r.allowed_domains = vec!["one.example".into()];
        r.blocked_domains.clear();
        r.user_location = None;
        assert_eq!(
            body(&build_request(&t, &r).unwrap())["query"],
            "weather site:one.example"
        );
        // Operators that push the query over the limit.
        let mut long = request(&"q".repeat(990));
        long.allowed_domains = vec!["example.org".into()];
        assert_eq!(
            build_request(&t, &long).unwrap_err().code,
            SearchErrorCode::QueryTooLong
        );
    }

    #[test]
    fn brave_request() {
        let mut r = request("rust & wasm?");
        r.allowed_domains = vec!["rust-lang.org".into()];
        r.user_location = Some(UserLocation {
            country: Some("GB".into()),
            ..Default::default()
        });
        let t = target(ProviderKind::Brave);
        let req = build_request(&t, &r).unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.url,
            "https://api.search.brave.com/res/v1/web/search?q=rust%20%26%20wasm%3F%20site%3Arust-lang.org\
             &count=5&result_filter=web&text_decorations=false&country=GB"
        );
        assert_eq!(
            req.header("x-subscription-token"),
            Some("sk-test-0123456789")
        );
        assert!(req.body.is_none());
        assert!(!format!("{req:?}").contains("sk-test"));
        // A country Brave does not take is left out rather than refused.
        r.user_location.as_mut().unwrap().country = Some("IS".into());
        assert!(!build_request(&t, &r).unwrap().url.contains("country"));
        let e = build_request(&t, &request(&"word ".repeat(60))).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::QueryTooLong);
        assert!(build_request(&t, &request(&"q".repeat(401)))
            .is_err_and(|e| e.message.contains("Brave")));
    }

    #[test]
    fn searxng_request() {
        let mut r = request("zig comptime");
        r.blocked_domains = vec!["pinterest.com".into()];
        let req = build_request(&target(ProviderKind::Searxng), &r).unwrap();
        assert_eq!(
            req.url,
            "https://searx.example.org/search?q=zig%20comptime%20-site%3Apinterest.com&format=json"
        );
        assert_eq!(req.header("authorization"), None);
        let t = Target::new(
            ProviderKind::Searxng,
            &BaseUrls::default(),
            None,
            Some("https://gw:hunter22@searx.example.org/sx"),
        )
        .unwrap();
        let req = build_request(&t, &r).unwrap();
        assert!(req.url.starts_with("https://searx.example.org/sx/search?"));
        assert!(!req.url.contains("hunter22"));
        assert_eq!(req.header("authorization"), Some("Basic Z3c6aHVudGVyMjI="));
        assert!(!format!("{req:?}").contains("Z3c6"));
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn domains_normalize_and_filter_with_subdomains() {
        assert_eq!(
            normalize_domain(" HTTPS://Example.COM:443/x "),
            Some("example.com".into())
        );
        assert_eq!(
            normalize_domain("*.example.com."),
            Some("example.com".into())
        );
        for bad in ["", "exa mple.com", "-x.com", "a..b", "https://", "ex*.com"] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
        let allowed = vec!["example.com".to_string()];
        let blocked = vec!["ads.example.com".to_string()];
        assert!(domain_allowed("example.com", &allowed, &blocked));
        assert!(domain_allowed("docs.example.com", &allowed, &blocked));
        assert!(!domain_allowed("badexample.com", &allowed, &blocked));
        assert!(!domain_allowed("x.ads.example.com", &allowed, &blocked));
        assert!(domain_allowed("anything.org", &[], &[]));
        assert_eq!(
            url_host("https://User@Docs.Example.com:8443/a?b"),
            Some("docs.example.com".into())
        );
        assert_eq!(url_host("http://[::1]:80/"), Some("[::1]".into()));
        for bad in [
            "javascript:alert(1)",
            "ftp://x.org/",
            "https:///x",
            "//x.org",
        ] {
            assert_eq!(url_host(bad), None, "{bad}");
        }
    }

    // ---- answers, in each provider's recorded shape ----

    const TAVILY_OK: &str = r#"{
      "query": "rust async runtime",
      "follow_up_questions": null,
      "answer": null,
      "images": [],
      "results": [
        {"url": "https://tokio.rs/tokio/tutorial", "title": "Tutorial | Tokio - An asynchronous Rust runtime",
         "content": "Tokio is an asynchronous runtime for the Rust programming language.", "score": 0.92,
         "raw_content": null},
        {"url": "https://blog.spam.example/rust", "title": "Top 10 runtimes", "content": "...", "score": 0.4,
         "raw_content": null},
        {"url": "https://docs.rs/async-std", "title": "async_std - Rust", "content": "Async version of the Rust standard library.",
         "score": 0.81, "raw_content": null, "published_date": "Tue, 04 Mar 2025 10:00:00 GMT"}
      ],
      "response_time": 1.67,
      "request_id": "123e4567-e89b-12d3-a456-426614174111"
    }"#;

    #[test]
    fn tavily_answer() {
        let t = target(ProviderKind::Tavily);
        let mut r = request("rust async runtime");
        r.blocked_domains = vec!["spam.example".into()];
        let hits = parse_answer(&t, &r, 200, TAVILY_OK).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].url, "https://tokio.rs/tokio/tutorial");
        assert_eq!(
            hits[0].title,
            "Tutorial | Tokio - An asynchronous Rust runtime"
        );
        assert!(hits[0].content.starts_with("Tokio is"));
        assert_eq!(hits[0].page_age, None);
        assert_eq!(
            hits[1].page_age.as_deref(),
            Some("Tue, 04 Mar 2025 10:00:00 GMT")
        );
        r.max_results = 1;
        r.blocked_domains.clear();
        assert_eq!(parse_answer(&t, &r, 200, TAVILY_OK).unwrap().len(), 1);
    }

    #[test]
    fn tavily_errors() {
        let t = target(ProviderKind::Tavily);
        let r = request("q");
        let e = parse_answer(
            &t,
            &r,
            401,
            r#"{"detail":{"error":"Unauthorized: missing or invalid API key."}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, SearchErrorCode::Unavailable);
        assert!(
            e.message.starts_with("Tavily answered 401: Unauthorized"),
            "{}",
            e.message
        );
        assert!(e.message.contains("Web search page"));
        let e =
            parse_answer(&t, &r, 429, r#"{"detail":{"error":"Rate limit exceeded"}}"#).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::TooManyRequests);
        let e = parse_answer(&t, &r, 400, r#"{"detail":{"error":"Invalid country"}}"#).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::InvalidToolInput);
        let e = parse_answer(&t, &r, 413, "").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (SearchErrorCode::RequestTooLarge, "Tavily answered 413")
        );
        let e = parse_answer(
            &t,
            &r,
            432,
            r#"{"detail":{"error":"This request exceeds your plan's set usage limit."}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, SearchErrorCode::Unavailable);
        let e = parse_answer(&t, &r, 502, "<html>Bad gateway</html>").unwrap_err();
        assert_eq!(e.code, SearchErrorCode::Unavailable);
        assert!(e.message.contains("Bad gateway"));
        // A provider that echoes the key does not get it repeated.
        let e = parse_answer(
            &t,
            &r,
            401,
            r#"{"detail":{"error":"key sk-test-0123456789 is revoked"}}"#,
        )
        .unwrap_err();
        assert!(!e.message.contains("sk-test-0123456789"), "{}", e.message);
        assert!(e.message.contains("[redacted]"));
        let e = parse_answer(&t, &r, 200, "not json").unwrap_err();
        assert_eq!(e.code, SearchErrorCode::Unavailable);
    }

    const GROUNDING_OK: &str = r#"{
      "webResults": [
        {"url": "https://learn.microsoft.com/azure/", "title": "Azure documentation",
         "content": "Learn how to build and manage powerful applications using Microsoft Azure cloud services.",
         "lastUpdatedAt": "2025-10-01T08:00:00Z", "crawledAt": "2025-10-03T02:11:00Z"},
        {"url": "https://azure.microsoft.com/en-us/", "title": "Microsoft Azure",
         "content": "Invent with purpose.", "crawledAt": "2025-09-28T12:00:00Z"},
        {"title": "no url", "content": "dropped"}
      ],
      "traceId": "0HN7D2C3"
    }"#;

    #[test]
    fn grounding_answer() {
        let t = target(ProviderKind::MicrosoftGrounding);
        let hits = parse_answer(&t, &request("azure"), 200, GROUNDING_OK).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].page_age.as_deref(), Some("2025-10-01T08:00:00Z"));
        assert_eq!(hits[1].page_age.as_deref(), Some("2025-09-28T12:00:00Z"));
        let e = parse_answer(
            &t,
            &request("azure"),
            401,
            r#"{"error":{"code":"Unauthorized","message":"Access denied due to invalid subscription key."}}"#,
        )
        .unwrap_err();
        assert!(
            e.message.contains("invalid subscription key"),
            "{}",
            e.message
        );
        assert_eq!(e.code, SearchErrorCode::Unavailable);
        let e = parse_answer(
            &t,
            &request("azure"),
            429,
            r#"{"error":{"code":"TooManyRequests","message":"Rate limit is exceeded."}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, SearchErrorCode::TooManyRequests);
        assert_eq!(
            parse_answer(&t, &request("x"), 200, r#"{"webResults":[]}"#).unwrap(),
            vec![]
        );
    }

    const BRAVE_OK: &str = r#"{
      "query": {"original": "brave search api", "more_results_available": true},
      "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": false}]},
      "type": "search",
      "web": {
        "type": "search",
        "results": [
          {"title": "Brave <strong>Search</strong> API", "url": "https://brave.com/search/api/",
           "is_source_local": false, "is_source_both": false,
           "description": "Power your search and AI apps with the <strong>Brave</strong> Search API &amp; more. It&#x27;s fast.",
           "page_age": "2025-05-20T00:00:00", "age": "May 20, 2025", "language": "en",
           "family_friendly": true, "type": "search_result", "subtype": "generic",
           "meta_url": {"scheme": "https", "netloc": "brave.com", "hostname": "brave.com"},
           "extra_snippets": ["Free tier: 2,000 queries a month.", "Pro <strong>plans</strong>."]},
          {"title": "Docs", "url": "https://api-dashboard.search.brave.com/app/documentation",
           "description": "API documentation", "age": "2 days ago", "type": "search_result"},
          {"title": "Dup", "url": "https://brave.com/search/api/", "description": "again"},
          {"title": "Bad", "url": "javascript:alert(1)", "description": "no"}
        ],
        "family_friendly": true
      }
    }"#;

    #[test]
    fn brave_answer() {
        let t = target(ProviderKind::Brave);
        let hits = parse_answer(&t, &request("brave search api"), 200, BRAVE_OK).unwrap();
        assert_eq!(
            hits.len(),
            2,
            "the duplicate and the javascript: URL are dropped"
        );
        assert_eq!(hits[0].title, "Brave Search API");
        assert_eq!(
            hits[0].content,
            "Power your search and AI apps with the Brave Search API & more. It's fast.\n\
             Free tier: 2,000 queries a month.\nPro plans."
        );
        assert_eq!(hits[0].page_age.as_deref(), Some("2025-05-20T00:00:00"));
        assert_eq!(hits[1].page_age.as_deref(), Some("2 days ago"));
        // No web results at all (e.g. only news matched): none, not an error.
        assert_eq!(
            parse_answer(
                &t,
                &request("x"),
                200,
                r#"{"type":"search","query":{"original":"x"}}"#
            )
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn brave_errors() {
        let t = target(ProviderKind::Brave);
        let r = request("q");
        let invalid_token = r#"{"type":"ErrorResponse","error":{"id":"ade84851","status":422,"code":"SUBSCRIPTION_TOKEN_INVALID","detail":"The provided subscription token is invalid.","meta":{}},"time":1754364294}"#;
        let e = parse_answer(&t, &r, 422, invalid_token).unwrap_err();
        assert_eq!(
            e.code,
            SearchErrorCode::Unavailable,
            "a bad token is not the query's fault"
        );
        assert!(e.message.contains("subscription token is invalid"));
        let validation = r#"{"type":"ErrorResponse","error":{"id":"x","status":422,"code":"VALIDATION","detail":"Unable to validate request parameter(s)","meta":{}},"time":1}"#;
        assert_eq!(
            parse_answer(&t, &r, 422, validation).unwrap_err().code,
            SearchErrorCode::InvalidToolInput
        );
        let limited = r#"{"type":"ErrorResponse","error":{"id":"x","status":429,"code":"RATE_LIMITED","detail":"Request rate limit exceeded for plan.","meta":{"plan":"Free","rate_limit":1}},"time":1}"#;
        let e = parse_answer(&t, &r, 429, limited).unwrap_err();
        assert_eq!(e.code, SearchErrorCode::TooManyRequests);
        assert!(e.message.contains("rate limit exceeded"));
    }

    const SEARXNG_OK: &str = r#"{
      "query": "zig comptime -site:pinterest.com",
      "number_of_results": 0,
      "results": [
        {"url": "https://ziglang.org/documentation/master/", "title": "Documentation - The Zig Programming Language",
         "content": "comptime &quot;blocks&quot; run at compile time", "engine": "duckduckgo",
         "parsed_url": ["https", "ziglang.org", "/documentation/master/", "", "", ""],
         "template": "default.html", "engines": ["duckduckgo", "brave"], "positions": [1, 2],
         "publishedDate": null, "score": 4.0, "category": "general"},
        {"url": "https://www.pinterest.com/pin/1", "title": "Zig pins", "content": "ignored the operator",
         "engine": "bing", "engines": ["bing"], "score": 1.0, "category": "general"},
        {"url": "https://kristoff.it/blog/what-is-zig-comptime/", "title": "What is Zig's Comptime?",
         "content": "", "publishedDate": "2021-03-02T00:00:00", "engine": "google", "score": 2.0}
      ],
      "answers": [], "corrections": [], "infoboxes": [], "suggestions": ["zig"],
      "unresponsive_engines": [["wikidata", "timeout"]]
    }"#;

    #[test]
    fn searxng_answer_is_filtered_after_the_fact() {
        let t = target(ProviderKind::Searxng);
        let mut r = request("zig comptime");
        r.blocked_domains = vec!["pinterest.com".into()];
        let hits = parse_answer(&t, &r, 200, SEARXNG_OK).unwrap();
        let urls: Vec<&str> = hits.iter().map(|h| h.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://ziglang.org/documentation/master/",
                "https://kristoff.it/blog/what-is-zig-comptime/"
            ]
        );
        assert_eq!(hits[0].content, "comptime \"blocks\" run at compile time");
        assert_eq!(hits[0].page_age, None);
        assert_eq!(hits[1].page_age.as_deref(), Some("2021-03-02T00:00:00"));
        // Allowed domains, subdomains included.
        r.blocked_domains.clear();
        r.allowed_domains = vec!["ziglang.org".into()];
        assert_eq!(parse_answer(&t, &r, 200, SEARXNG_OK).unwrap().len(), 1);
        // JSON output switched off on the instance: 403 from SearXNG.
        let e = parse_answer(&t, &r, 403, "<html><title>403 Forbidden</title></html>").unwrap_err();
        assert_eq!(e.code, SearchErrorCode::Unavailable);
        assert!(e.message.starts_with("SearXNG answered 403"));
    }

    #[test]
    fn searxng_password_is_scrubbed() {
        let t = Target::new(
            ProviderKind::Searxng,
            &BaseUrls::default(),
            None,
            Some("https://gw:hunter22@searx.example.org"),
        )
        .unwrap();
        let e = parse_answer(&t, &request("q"), 401, "bad password hunter22 for gw").unwrap_err();
        assert!(!e.message.contains("hunter22"), "{}", e.message);
    }

    #[test]
    fn content_is_trimmed_and_titles_default_to_the_url() {
        let long = "é".repeat(MAX_CONTENT_CHARS + 50);
        let body =
            json!({"results": [{"url": "https://x.example/a", "title": "", "content": long}]});
        let hits = parse_answer(
            &target(ProviderKind::Tavily),
            &request("q"),
            200,
            &body.to_string(),
        )
        .unwrap();
        assert_eq!(hits[0].title, "https://x.example/a");
        assert_eq!(hits[0].content.chars().count(), MAX_CONTENT_CHARS + 1);
        assert!(hits[0].content.ends_with('…'));
    }

    #[test]
    fn markup_is_cleaned() {
        assert_eq!(
            clean_markup("a <b>bold</b> &lt;tag&gt; &#65;&#x42; &bogus; & x"),
            "a bold <tag> AB &bogus; & x"
        );
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
        assert_eq!(percent_decode("a%20b%2f"), Some("a b/".into()));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn status_mapping() {
        assert_eq!(failure_code(429), SearchErrorCode::TooManyRequests);
        assert_eq!(failure_code(400), SearchErrorCode::InvalidToolInput);
        assert_eq!(failure_code(422), SearchErrorCode::InvalidToolInput);
        assert_eq!(failure_code(413), SearchErrorCode::RequestTooLarge);
        assert_eq!(failure_code(500), SearchErrorCode::Unavailable);
        assert_eq!(failure_code(404), SearchErrorCode::Unavailable);
    }
}
