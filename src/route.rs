//! Which handler a request goes to, decided from method and path alone.

use crate::protocol::error::ApiFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    // Data plane: API keys only. Every route also answers without the /v1 prefix.
    Models,
    Embeddings,
    ChatCompletions,
    Messages,
    CountTokens,
    Responses,
    /// OpenAI's `/responses/compact`: the conversation compacted into a summary.
    ResponsesCompact,
    /// Google's Gemini API (`/v1beta/models/…` and `/v1/models/…`), for the model named.
    GeminiGenerate(String),
    GeminiStream(String),
    GeminiCountTokens(String),
    /// `GET /v1beta/models` (and `GET /v1/models` asked with a Google-style key).
    GeminiModels,
    GeminiModel(String),
    /// `GET /responses` with `Upgrade: websocket`: the Responses WebSocket mode.
    ResponsesSocket,
    // Admin API: ADMIN_KEY only.
    ListKeys,
    CreateKey,
    RenameKey(String),
    DeleteKey(String),
    RotateKey(String),
    StartDeviceFlow,
    PollDeviceFlow,
    ListAccounts,
    AddAccount,
    DeleteAccount(String),
    ActivateAccount(String),
    UpdateAccount(String),
    Quota,
    Export,
    Import,
    /// Admin, or an API key reading its own usage.
    Usage,
    /// Web search: settings (never credential values), a test search, and usage (admin,
    /// or an API key reading its own).
    SearchConfig,
    UpdateSearchConfig,
    TestSearch,
    SearchUsage,
    /// The catalog with each API's route (admin or key session).
    AdminModels,
    /// Chat Completions on behalf of the admin session (the app's playground).
    Playground,
    /// Model aliases: list, set one, delete one.
    ListAliases,
    PutAlias(String),
    DeleteAlias(String),
    Login,
    Logout,
    Session,
    /// `GET /auth/status`: whether the gateway is set up (no credential needed).
    Status,
    /// Known path, other method: 405 with `Allow`.
    MethodNotAllowed(&'static str),
    NotFound,
}

impl Route {
    /// Routes of the Gemini API: Google's error shape, and the key may also come as
    /// `x-goog-api-key` or `?key=`.
    pub fn is_gemini(&self) -> bool {
        matches!(
            self,
            Route::GeminiGenerate(_)
                | Route::GeminiStream(_)
                | Route::GeminiCountTokens(_)
                | Route::GeminiModels
                | Route::GeminiModel(_)
        )
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Route::ListKeys
                | Route::CreateKey
                | Route::RenameKey(_)
                | Route::DeleteKey(_)
                | Route::RotateKey(_)
                | Route::StartDeviceFlow
                | Route::PollDeviceFlow
                | Route::ListAccounts
                | Route::AddAccount
                | Route::DeleteAccount(_)
                | Route::ActivateAccount(_)
                | Route::UpdateAccount(_)
                | Route::Quota
                | Route::Export
                | Route::Import
                | Route::Playground
                | Route::SearchConfig
                | Route::UpdateSearchConfig
                | Route::TestSearch
                | Route::ListAliases
                | Route::PutAlias(_)
                | Route::DeleteAlias(_)
        )
    }
}

/// The error envelope a path speaks, whether or not it matched a route.
pub fn format_for_path(path: &str) -> ApiFormat {
    let p = path.strip_prefix("/v1").unwrap_or(path);
    if p == "/messages" || p.starts_with("/messages/") {
        ApiFormat::Anthropic
    } else if path.starts_with("/v1beta/") || p.starts_with("/models/") {
        ApiFormat::Google
    } else if path.starts_with("/api/") || path.starts_with("/auth/") {
        ApiFormat::Control
    } else {
        ApiFormat::OpenAi
    }
}

pub fn match_route(method: &str, path: &str) -> Route {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/api/") {
        return match_admin(method, rest);
    }
    if let Some(rest) = path.strip_prefix("/auth/") {
        return match (rest, method) {
            ("login", "POST") => Route::Login,
            ("logout", "POST") => Route::Logout,
            ("session", "GET") => Route::Session,
            ("status", "GET") => Route::Status,
            ("login", _) | ("logout", _) => Route::MethodNotAllowed("POST"),
            ("session", _) | ("status", _) => Route::MethodNotAllowed("GET"),
            _ => Route::NotFound,
        };
    }
    if let Some(route) = match_gemini(method, path) {
        return route;
    }
    let data = path
        .strip_prefix("/v1")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    if data == "/responses" && method == "GET" {
        return Route::ResponsesSocket;
    }
    let (route, allow) = match data {
        "/models" => (Route::Models, "GET"),
        "/embeddings" => (Route::Embeddings, "POST"),
        "/chat/completions" => (Route::ChatCompletions, "POST"),
        "/messages" => (Route::Messages, "POST"),
        "/messages/count_tokens" => (Route::CountTokens, "POST"),
        "/responses" => (Route::Responses, "POST"),
        "/responses/compact" => (Route::ResponsesCompact, "POST"),
        _ => return Route::NotFound,
    };
    if method == allow {
        route
    } else {
        Route::MethodNotAllowed(allow)
    }
}

/// `/v1beta/models`, `/v1beta/models/{model}[:{method}]` and the `/v1/models/…` forms
/// (`/v1/models` itself is OpenAI's list, unless asked with a Google-style key).
fn match_gemini(method: &str, path: &str) -> Option<Route> {
    if path == "/v1beta/models" {
        return Some(match method {
            "GET" => Route::GeminiModels,
            _ => Route::MethodNotAllowed("GET"),
        });
    }
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let rest = rest.replace("%3A", ":").replace("%3a", ":");
    let (model, action) = match rest.rsplit_once(':') {
        Some((m, a)) => (m.to_string(), Some(a.to_string())),
        None => (rest, None),
    };
    if model.is_empty() || model.contains('/') {
        return Some(Route::NotFound);
    }
    let (route, allow) = match action.as_deref() {
        None => (Route::GeminiModel(model), "GET"),
        Some("generateContent") => (Route::GeminiGenerate(model), "POST"),
        Some("streamGenerateContent") => (Route::GeminiStream(model), "POST"),
        Some("countTokens") => (Route::GeminiCountTokens(model), "POST"),
        Some(_) => return Some(Route::NotFound),
    };
    Some(if method == allow {
        route
    } else {
        Route::MethodNotAllowed(allow)
    })
}

fn match_admin(method: &str, rest: &str) -> Route {
    let segs: Vec<&str> = rest.split('/').collect();
    let id = |i: usize| segs[i].to_string();
    match (segs.as_slice(), method) {
        (["keys"], "GET") => Route::ListKeys,
        (["keys"], "POST") => Route::CreateKey,
        (["keys"], _) => Route::MethodNotAllowed("GET, POST"),
        (["keys", s], "PATCH") if !s.is_empty() => Route::RenameKey(id(1)),
        (["keys", s], "DELETE") if !s.is_empty() => Route::DeleteKey(id(1)),
        (["keys", s], _) if !s.is_empty() => Route::MethodNotAllowed("PATCH, DELETE"),
        (["keys", s, "rotate"], "POST") if !s.is_empty() => Route::RotateKey(id(1)),
        (["keys", s, "rotate"], _) if !s.is_empty() => Route::MethodNotAllowed("POST"),
        (["github", "device"], "POST") => Route::StartDeviceFlow,
        (["github", "device"], _) => Route::MethodNotAllowed("POST"),
        (["github", "device", "poll"], "POST") => Route::PollDeviceFlow,
        (["github", "device", "poll"], _) => Route::MethodNotAllowed("POST"),
        (["github", "accounts"], "GET") => Route::ListAccounts,
        (["github", "accounts"], "POST") => Route::AddAccount,
        (["github", "accounts"], _) => Route::MethodNotAllowed("GET, POST"),
        (["github", "accounts", s], "DELETE") if !s.is_empty() => Route::DeleteAccount(id(2)),
        (["github", "accounts", s], "PATCH") if !s.is_empty() => Route::UpdateAccount(id(2)),
        (["github", "accounts", s], _) if !s.is_empty() => Route::MethodNotAllowed("PATCH, DELETE"),
        (["usage"], "GET") => Route::Usage,
        (["usage"], _) => Route::MethodNotAllowed("GET"),
        (["search-config"], "GET") => Route::SearchConfig,
        (["search-config"], "PUT") => Route::UpdateSearchConfig,
        (["search-config"], _) => Route::MethodNotAllowed("GET, PUT"),
        (["search-config", "test"], "POST") => Route::TestSearch,
        (["search-config", "test"], _) => Route::MethodNotAllowed("POST"),
        (["search-usage"], "GET") => Route::SearchUsage,
        (["search-usage"], _) => Route::MethodNotAllowed("GET"),
        (["quota"], "GET") => Route::Quota,
        (["quota"], _) => Route::MethodNotAllowed("GET"),
        (["export"], "GET") => Route::Export,
        (["export"], _) => Route::MethodNotAllowed("GET"),
        (["import"], "POST") => Route::Import,
        (["import"], _) => Route::MethodNotAllowed("POST"),
        (["models"], "GET") => Route::AdminModels,
        (["models"], _) => Route::MethodNotAllowed("GET"),
        (["model-aliases"], "GET") => Route::ListAliases,
        (["model-aliases"], _) => Route::MethodNotAllowed("GET"),
        (["model-aliases", s], "PUT") if !s.is_empty() => Route::PutAlias(id(1)),
        (["model-aliases", s], "DELETE") if !s.is_empty() => Route::DeleteAlias(id(1)),
        (["model-aliases", s], _) if !s.is_empty() => Route::MethodNotAllowed("PUT, DELETE"),
        (["playground"], "POST") => Route::Playground,
        (["playground"], _) => Route::MethodNotAllowed("POST"),
        (["github", "accounts", s, "activate"], "POST") if !s.is_empty() => {
            Route::ActivateAccount(id(2))
        }
        (["github", "accounts", s, "activate"], _) if !s.is_empty() => {
            Route::MethodNotAllowed("POST")
        }
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_alias_routes() {
        assert_eq!(match_route("GET", "/api/model-aliases"), Route::ListAliases);
        assert_eq!(
            match_route("PUT", "/api/model-aliases/team"),
            Route::PutAlias("team".into())
        );
        assert_eq!(
            match_route("DELETE", "/api/model-aliases/team"),
            Route::DeleteAlias("team".into())
        );
        assert_eq!(
            match_route("POST", "/api/model-aliases/team"),
            Route::MethodNotAllowed("PUT, DELETE")
        );
        assert!(Route::PutAlias("x".into()).is_admin());
        assert!(Route::ListAliases.is_admin());
    }

    #[test]
    fn data_plane_with_and_without_v1() {
        for (p, r) in [
            ("/v1/models", Route::Models),
            ("/models", Route::Models),
            ("/v1/chat/completions", Route::ChatCompletions),
            ("/chat/completions", Route::ChatCompletions),
            ("/v1/messages", Route::Messages),
            ("/messages/", Route::Messages),
            ("/v1/messages/count_tokens", Route::CountTokens),
            ("/responses", Route::Responses),
            ("/v1/responses/compact", Route::ResponsesCompact),
            ("/responses/compact/", Route::ResponsesCompact),
            ("/v1/embeddings", Route::Embeddings),
        ] {
            let m = if r == Route::Models { "GET" } else { "POST" };
            assert_eq!(match_route(m, p), r, "{p}");
        }
        assert_eq!(
            match_route("GET", "/v1/messages"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(match_route("POST", "/v1/nope"), Route::NotFound);
        assert_eq!(match_route("POST", "/v1"), Route::NotFound);
        assert_eq!(match_route("POST", "/v1v1/messages"), Route::NotFound);
    }

    #[test]
    fn gemini_routes() {
        let m = || "gemini-2.5-pro".to_string();
        for (method, p, r) in [
            (
                "POST",
                "/v1beta/models/gemini-2.5-pro:generateContent",
                Route::GeminiGenerate(m()),
            ),
            (
                "POST",
                "/v1/models/gemini-2.5-pro:streamGenerateContent",
                Route::GeminiStream(m()),
            ),
            (
                "POST",
                "/v1beta/models/gemini-2.5-pro%3AcountTokens",
                Route::GeminiCountTokens(m()),
            ),
            ("GET", "/v1beta/models", Route::GeminiModels),
            ("GET", "/v1beta/models/", Route::GeminiModels),
            (
                "GET",
                "/v1beta/models/gemini-2.5-pro",
                Route::GeminiModel(m()),
            ),
            ("GET", "/v1/models/gemini-2.5-pro", Route::GeminiModel(m())),
            (
                "GET",
                "/v1beta/models/gemini-2.5-pro:generateContent",
                Route::MethodNotAllowed("POST"),
            ),
            ("POST", "/v1beta/models", Route::MethodNotAllowed("GET")),
            ("POST", "/v1beta/models/m:embedContent", Route::NotFound),
            ("POST", "/v1beta/models/:generateContent", Route::NotFound),
            (
                "POST",
                "/v1beta/models/a/b:generateContent",
                Route::NotFound,
            ),
            ("GET", "/v1/models", Route::Models),
        ] {
            assert_eq!(match_route(method, p), r, "{method} {p}");
        }
        assert!(Route::GeminiModels.is_gemini() && !Route::Models.is_gemini());
        assert_eq!(
            format_for_path("/v1beta/models/x:generateContent"),
            ApiFormat::Google
        );
        assert_eq!(
            format_for_path("/v1/models/x:generateContent"),
            ApiFormat::Google
        );
        assert_eq!(format_for_path("/v1/models"), ApiFormat::OpenAi);
    }

    #[test]
    fn admin_routes() {
        assert_eq!(match_route("GET", "/api/keys"), Route::ListKeys);
        assert_eq!(match_route("POST", "/api/keys"), Route::CreateKey);
        assert_eq!(
            match_route("PATCH", "/api/keys/abc"),
            Route::RenameKey("abc".into())
        );
        assert_eq!(
            match_route("DELETE", "/api/keys/abc"),
            Route::DeleteKey("abc".into())
        );
        assert_eq!(
            match_route("POST", "/api/keys/abc/rotate"),
            Route::RotateKey("abc".into())
        );
        assert_eq!(
            match_route("POST", "/api/github/device"),
            Route::StartDeviceFlow
        );
        assert_eq!(
            match_route("POST", "/api/github/device/poll"),
            Route::PollDeviceFlow
        );
        assert_eq!(
            match_route("GET", "/api/github/accounts"),
            Route::ListAccounts
        );
        assert_eq!(
            match_route("POST", "/api/github/accounts"),
            Route::AddAccount
        );
        assert_eq!(
            match_route("POST", "/api/github/accounts/42/activate"),
            Route::ActivateAccount("42".into())
        );
        assert_eq!(
            match_route("DELETE", "/api/github/accounts/42"),
            Route::DeleteAccount("42".into())
        );
        assert_eq!(
            match_route("PATCH", "/api/github/accounts/42"),
            Route::UpdateAccount("42".into())
        );
        assert_eq!(match_route("GET", "/api/usage"), Route::Usage);
        assert!(
            !Route::Usage.is_admin(),
            "API keys may read their own usage"
        );
        assert_eq!(
            match_route("GET", "/api/search-config"),
            Route::SearchConfig
        );
        assert_eq!(
            match_route("PUT", "/api/search-config/"),
            Route::UpdateSearchConfig
        );
        assert_eq!(
            match_route("POST", "/api/search-config"),
            Route::MethodNotAllowed("GET, PUT")
        );
        assert_eq!(
            match_route("POST", "/api/search-config/test"),
            Route::TestSearch
        );
        assert_eq!(match_route("GET", "/api/search-usage"), Route::SearchUsage);
        for r in [
            Route::SearchConfig,
            Route::UpdateSearchConfig,
            Route::TestSearch,
        ] {
            assert!(r.is_admin(), "{r:?}");
        }
        assert!(
            !Route::SearchUsage.is_admin(),
            "API keys may read their own search usage"
        );
        assert_eq!(match_route("GET", "/api/quota"), Route::Quota);
        assert_eq!(match_route("GET", "/api/export"), Route::Export);
        assert_eq!(match_route("POST", "/api/import"), Route::Import);
        assert_eq!(
            match_route("GET", "/api/import"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(match_route("GET", "/api/models"), Route::AdminModels);
        assert_eq!(match_route("POST", "/api/playground"), Route::Playground);
        assert!(Route::Playground.is_admin());
        assert_eq!(match_route("POST", "/auth/login"), Route::Login);
        assert_eq!(match_route("POST", "/auth/logout"), Route::Logout);
        assert_eq!(match_route("GET", "/auth/session"), Route::Session);
        assert_eq!(match_route("GET", "/auth/status"), Route::Status);
        assert_eq!(
            match_route("POST", "/auth/status"),
            Route::MethodNotAllowed("GET")
        );
        assert_eq!(
            match_route("GET", "/auth/login"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(match_route("GET", "/auth/nope"), Route::NotFound);
        assert_eq!(
            match_route("PUT", "/api/keys"),
            Route::MethodNotAllowed("GET, POST")
        );
        assert_eq!(match_route("GET", "/api/keys//rotate"), Route::NotFound);
        assert_eq!(match_route("GET", "/api/nope"), Route::NotFound);
        assert!(match_route("GET", "/api/keys").is_admin());
        assert!(!match_route("GET", "/v1/models").is_admin());
    }

    #[test]
    fn error_format_follows_the_path() {
        assert_eq!(format_for_path("/v1/messages"), ApiFormat::Anthropic);
        assert_eq!(
            format_for_path("/messages/count_tokens"),
            ApiFormat::Anthropic
        );
        assert_eq!(format_for_path("/v1/messages_x"), ApiFormat::OpenAi);
        assert_eq!(format_for_path("/v1/responses"), ApiFormat::OpenAi);
        assert_eq!(format_for_path("/api/keys"), ApiFormat::Control);
        assert_eq!(format_for_path("/auth/login"), ApiFormat::Control);
    }
}
