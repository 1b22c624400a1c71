//! The Worker's fetch entry: route, authenticate, dispatch, and render every failure in
//! the caller's API format.

use std::cell::OnceCell;

use worker::worker_sys::web_sys;
use worker::{event, Context, Env, Headers, Request, Response};

use crate::admin_session;
use crate::auth::{self, extract_credential, secret_eq, sha256_hex, Claimed};
use crate::http::incoming::Incoming;
use crate::http::metering::{self, Meter};
use crate::http::session::{self, Principal};
use crate::http::{self, admin, aliases, data_plane, gemini, portability, search_admin};
use crate::protocol::error::{ApiError, ApiFormat, ErrorKind};
use crate::protocol::Api;
use crate::route::{format_for_path, match_route, Route};
use crate::store::keys::{self, KeyIdentity};
use crate::store::{db, memory, now_ms};
use crate::timestamp::iso8601;

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(raw: web_sys::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let req = Incoming::new(raw);
    let path = req.path();
    let mut route = match_route(req.method().as_ref(), &path);
    // Google's SDKs list models at `/v1/models` too: their key header tells them apart.
    if route == Route::Models && gemini_credential(&req).is_some() {
        route = Route::GeminiModels;
    }
    let format = match route.is_gemini() {
        true => ApiFormat::Google,
        false => format_for_path(&path),
    };
    let ready = match (&route, db(&env)) {
        (Route::NotFound | Route::MethodNotAllowed(_), _) => Ok(()),
        // The Worker brings its schema: applied on an isolate's first request if missing.
        (_, Ok(db)) => crate::store::schema::ensure(&db).await,
        (_, Err(_)) => Ok(()),
    };
    let result = match ready {
        Ok(()) if route == Route::ResponsesSocket => responses_socket(req, &env, ctx).await,
        Ok(()) => handle(route, req, &env, &ctx).await,
        Err(e) => Err(e),
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => http::error(format, &e),
    };
    http::security_headers(&mut resp, format);
    Ok(resp)
}

async fn handle(
    route: Route,
    req: Incoming,
    env: &Env,
    ctx: &Context,
) -> Result<Response, ApiError> {
    match route {
        Route::NotFound => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no route for {} {}", req.method().as_ref(), req.path()),
        )),
        Route::MethodNotAllowed(allow) => {
            let mut r = http::error(
                format_for_path(&req.path()),
                &ApiError::new(
                    ErrorKind::MethodNotAllowed,
                    format!("method not allowed; use {allow}"),
                ),
            );
            let _ = r.headers_mut().set("allow", allow);
            Ok(r)
        }
        Route::Login => session::login(req.into_request(), env, admin_key(env).as_deref()).await,
        Route::Logout => session::logout(&req.into_request(), env).await,
        Route::Status => Ok(http::json(
            200,
            &serde_json::json!({ "admin_key": auth::admin_key_state(admin_key(env).as_deref()) }),
        )),
        Route::Session => {
            session::current(&req.into_request(), env, admin_key(env).as_deref()).await
        }
        r if r.is_admin() => {
            let req = req.into_request();
            match control_principal(&req, env).await? {
                Principal::Admin => admin_route(r, req, env, ctx).await,
                Principal::Key(_) => Err(ApiError::new(
                    ErrorKind::Permission,
                    "API keys cannot use the admin API; use ADMIN_KEY",
                )),
            }
        }
        Route::Usage => {
            let req = req.into_request();
            match control_principal(&req, env).await? {
                Principal::Admin => admin::usage(&req, env, None).await,
                Principal::Key(row) => admin::usage(&req, env, Some(&row.identity())).await,
            }
        }
        Route::SearchUsage => {
            let req = req.into_request();
            match control_principal(&req, env).await? {
                Principal::Admin => search_admin::usage(&req, env, None).await,
                Principal::Key(row) => search_admin::usage(&req, env, Some(&row.identity())).await,
            }
        }
        Route::AdminModels => {
            control_principal(&req.into_request(), env).await?;
            admin::models(env, ctx).await
        }
        r => {
            let given = match r.is_gemini() {
                true => gemini_credential(&req).or_else(|| credential(&req.headers())),
                false => credential(&req.headers()),
            };
            let caller = require_api_key(given, r.is_gemini(), env, ctx).await?;
            // Limits guard what costs: generation and embeddings. Every data-plane request
            // is recorded, a refusal by a limit as an error.
            let limited = matches!(
                r,
                Route::Embeddings
                    | Route::ChatCompletions
                    | Route::Messages
                    | Route::Responses
                    | Route::ResponsesCompact
                    | Route::GeminiGenerate(_)
                    | Route::GeminiStream(_)
            );
            let mut meter = Meter::for_key(&caller.id);
            let result = match limited {
                true => match metering::enforce_limits(env, &caller).await {
                    Ok(()) => data_route(r, req, env, ctx, &mut meter).await,
                    Err(refused) => Err(refused),
                },
                false => data_route(r, req, env, ctx, &mut meter).await,
            };
            metering::settle(ctx, env, &caller, meter, &result);
            result
        }
    }
}

/// The Responses WebSocket mode: the key is checked on the upgrade request (as OpenAI
/// does); the connection's task keeps the fetch context, whose `waitUntil` no longer runs.
async fn responses_socket(req: Incoming, env: &Env, ctx: Context) -> Result<Response, ApiError> {
    let caller = require_api_key(credential(&req.headers()), false, env, &ctx).await?;
    http::responses_socket::upgrade(req, env, ctx, caller)
}

async fn admin_route(
    route: Route,
    req: Request,
    env: &Env,
    ctx: &Context,
) -> Result<Response, ApiError> {
    match route {
        Route::ListKeys => admin::list_keys(env).await,
        Route::CreateKey => admin::create_key(req, env).await,
        Route::RenameKey(id) => admin::update_key(req, env, &id).await,
        Route::RotateKey(id) => admin::rotate_key(env, &id).await,
        Route::DeleteKey(id) => admin::delete_key(env, &id).await,
        Route::StartDeviceFlow => admin::start_device_flow(env).await,
        Route::PollDeviceFlow => admin::poll_device_flow(req, env).await,
        Route::ListAccounts => admin::list_accounts(env).await,
        Route::AddAccount => admin::add_account(req, env).await,
        Route::ActivateAccount(id) => admin::activate_account(env, &id).await,
        Route::DeleteAccount(id) => admin::delete_account(env, ctx, &id).await,
        Route::UpdateAccount(id) => admin::update_account(req, env, &id).await,
        Route::Quota => admin::quota(env).await,
        Route::Export => portability::export(env).await,
        Route::Import => portability::import(req, env).await,
        Route::SearchConfig => search_admin::get_config(env).await,
        Route::UpdateSearchConfig => search_admin::put_config(req, env).await,
        Route::TestSearch => search_admin::test(req, env).await,
        Route::ListAliases => aliases::list(env, ctx).await,
        Route::PutAlias(name) => aliases::put(req, env, ctx, &name).await,
        Route::DeleteAlias(name) => aliases::delete(env, &name).await,
        Route::Playground => {
            // The admin app's playground: metered under its own name, like a key.
            let caller = KeyIdentity {
                id: "playground".into(),
                name: "Playground".into(),
                rpm_limit: None,
                monthly_token_limit: None,
            };
            let mut meter = Meter::for_key(&caller.id);
            let result = data_plane::generate(
                Api::ChatCompletions,
                Incoming::of(&req),
                env,
                ctx,
                &mut meter,
            )
            .await;
            metering::settle(ctx, env, &caller, meter, &result);
            result
        }
        _ => Err(ApiError::new(ErrorKind::NotFound, "no such admin route")),
    }
}

async fn data_route(
    route: Route,
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    match route {
        Route::Models => data_plane::models(env, ctx).await,
        Route::Embeddings => data_plane::embeddings(req, env, ctx, meter).await,
        Route::ChatCompletions => {
            data_plane::generate(Api::ChatCompletions, req, env, ctx, meter).await
        }
        Route::Messages => data_plane::generate(Api::Messages, req, env, ctx, meter).await,
        Route::Responses => data_plane::generate(Api::Responses, req, env, ctx, meter).await,
        Route::ResponsesCompact => data_plane::compact(req, env, ctx, meter).await,
        Route::CountTokens => data_plane::count_tokens(req, env, ctx, meter).await,
        Route::GeminiGenerate(model) => gemini::generate(&model, false, req, env, ctx, meter).await,
        Route::GeminiStream(model) => gemini::generate(&model, true, req, env, ctx, meter).await,
        Route::GeminiCountTokens(model) => gemini::count_tokens(&model, req, env, ctx, meter).await,
        Route::GeminiModels => gemini::models(env, ctx).await,
        Route::GeminiModel(model) => gemini::model(&model, env, ctx).await,
        _ => Err(ApiError::new(ErrorKind::NotFound, "no such route")),
    }
}

/// The key of a Gemini API client: `x-goog-api-key`, or `?key=` (accepted only on these
/// routes, as Google does; the URL is never logged or echoed).
fn gemini_credential(req: &Incoming) -> Option<String> {
    req.headers()
        .get("x-goog-api-key")
        .ok()
        .flatten()
        .or_else(|| req.query_param("key"))
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
}

fn credential(h: &Headers) -> Option<String> {
    let x_api_key = h.get("x-api-key").ok().flatten();
    let authorization = h.get("authorization").ok().flatten();
    extract_credential(x_api_key.as_deref(), authorization.as_deref()).map(str::to_string)
}

thread_local! {
    /// ADMIN_KEY, read once per isolate (a binding read costs tens of µs; an isolate's
    /// bindings never change).
    static ADMIN_KEY: OnceCell<Option<String>> = const { OnceCell::new() };
}

fn admin_key(env: &Env) -> Option<String> {
    ADMIN_KEY.with(|k| {
        k.get_or_init(|| env.secret("ADMIN_KEY").ok().map(|s| s.to_string()))
            .clone()
    })
}

/// Who a control-plane (`/api/*`, `/auth/session`) request speaks for: ADMIN_KEY or an API
/// key as a header, else the admin app's session cookie. Header credentials are throttled
/// per client like logins; cookie-authenticated writes must come from this origin (CSRF).
async fn control_principal(req: &Request, env: &Env) -> Result<Principal, ApiError> {
    let configured = admin_key(env);
    let admin = auth::admin_key(configured.as_deref());
    if let Some(given) = credential(req.headers()) {
        let db = db(env)?;
        let (who, now) = (session::client_of(req.headers()), now_ms());
        session::check_throttle(&db, &who, now).await?;
        match auth::claimed_control_credential(&given, admin.as_ref().ok().copied()) {
            Claimed::Admin => return Ok(Principal::Admin),
            Claimed::ApiKey => {
                if let Some(identity) = keys::find_by_hash(&db, &sha256_hex(&given)).await? {
                    if let Some(row) = keys::find_by_id(&db, &identity.id).await? {
                        return Ok(Principal::Key(row));
                    }
                }
            }
            Claimed::Unknown => {}
        }
        // Without a usable ADMIN_KEY nothing could have matched: say how to set one.
        admin?;
        crate::store::sessions::add_failure(&db, &who, now).await?;
        return Err(ApiError::new(
            ErrorKind::Authentication,
            "invalid ADMIN_KEY or API key",
        ));
    }
    match session::from_cookie(req, env, configured.as_deref()).await? {
        Some((principal, _)) => {
            let writes = !matches!(req.method(), worker::Method::Get | worker::Method::Head);
            let origin = req.headers().get("origin").ok().flatten();
            let url = req.url().map(|u| u.to_string()).unwrap_or_default();
            if writes && !admin_session::same_origin(origin.as_deref(), &url) {
                return Err(ApiError::new(ErrorKind::Permission, "cross-origin request refused"));
            }
            Ok(principal)
        }
        None => Err(match admin {
            Err(e) => e,
            Ok(_) => ApiError::new(
                ErrorKind::Authentication,
                "the admin API needs ADMIN_KEY as `Authorization: Bearer <ADMIN_KEY>`, or a session from POST /auth/login",
            ),
        }),
    }
}

async fn require_api_key(
    given: Option<String>,
    gemini: bool,
    env: &Env,
    ctx: &Context,
) -> Result<KeyIdentity, ApiError> {
    let Some(given) = given else {
        let how = match gemini {
            true => "missing API key: send it as `x-goog-api-key` (or `?key=`)",
            false => "missing API key: send it as `x-api-key` or `Authorization: Bearer <key>`",
        };
        return Err(ApiError::new(ErrorKind::Authentication, how).with_code("invalid_api_key"));
    };
    let configured = admin_key(env);
    if let Ok(admin) = auth::admin_key(configured.as_deref()) {
        if secret_eq(&given, admin) {
            return Err(ApiError::new(
                ErrorKind::Permission,
                "ADMIN_KEY only works on the admin API; create an API key for API calls",
            ));
        }
    }
    let now = now_ms();
    let hash = sha256_hex(&given);
    let identity = match memory::key(&hash, now) {
        Some(k) => k,
        None => {
            let found = match db(env) {
                Ok(db) => keys::find_by_hash(&db, &hash).await,
                Err(e) => Err(e),
            };
            // D1 unreachable: a key this isolate already knows keeps working.
            let found = match found {
                Ok(found) => found,
                Err(e) => match memory::key_stale(&hash) {
                    Some(known) => Some(known),
                    None => return Err(e),
                },
            };
            let k = found.ok_or_else(|| {
                // Without ADMIN_KEY no key can exist yet: say how to set the gateway up.
                auth::not_set_up(configured.as_deref()).unwrap_or_else(|| {
                    ApiError::new(ErrorKind::Authentication, "invalid API key")
                        .with_code("invalid_api_key")
                })
            })?;
            memory::put_key(&hash, k.clone(), now);
            k
        }
    };
    if memory::should_touch(&identity.id, now) {
        let env = env.clone();
        let id = identity.id.clone();
        ctx.wait_until(async move {
            let Ok(db) = db(&env) else { return };
            let _ = keys::touch(
                &db,
                &id,
                &iso8601(now),
                &iso8601(now.saturating_sub(60_000)),
            )
            .await;
        });
    }
    Ok(identity)
}
