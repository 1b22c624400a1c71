//! Admin-app sessions: the cookie, the same-origin rule for cookie-authenticated writes,
//! and the login-throttling window. The key itself never reaches browser storage: it is
//! exchanged once for an opaque session id in an HttpOnly cookie.

pub const COOKIE: &str = "cgw_session";
pub const TTL_SECS: u64 = 12 * 3600;
/// Failed logins allowed per client per window before logins are refused for a while.
pub const MAX_FAILURES: u64 = 10;
pub const WINDOW_MINUTES: u64 = 15;

/// The session id from a `Cookie` header.
pub fn from_cookie_header(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={TTL_SECS}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A cookie-authenticated write must come from this origin: browsers send `Origin` on
/// every cross-origin request and on same-origin POST/PATCH/DELETE, so a missing or
/// foreign one is refused (CSRF).
pub fn same_origin(origin: Option<&str>, request_url: &str) -> bool {
    let Some(origin) = origin else { return false };
    let own = match request_url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
        None => return false,
    };
    origin.eq_ignore_ascii_case(&own)
}

/// The throttling window a moment falls in: `2026-11-26T04:45` for 04:45–04:59.
pub fn window(now_ms: u64) -> String {
    let t = crate::timestamp::iso8601(now_ms);
    let minute: u64 = t[14..16].parse().unwrap_or(0);
    format!("{}:{:02}", &t[..13], minute - minute % WINDOW_MINUTES)
}

pub fn seconds_left_in_window(now_ms: u64) -> u64 {
    let window_ms = WINDOW_MINUTES * 60_000;
    (window_ms - now_ms % window_ms).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_round_trip() {
        let c = set_cookie("abc", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"));
        assert!(!set_cookie("abc", false).contains("Secure"));
        assert_eq!(
            from_cookie_header(Some("theme=dark; cgw_session=abc; x=1")),
            Some("abc")
        );
        assert_eq!(from_cookie_header(Some("cgw_session=")), None);
        assert_eq!(from_cookie_header(Some("other=1")), None);
        assert_eq!(from_cookie_header(None), None);
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn origin_check() {
        assert!(same_origin(
            Some("https://gw.example.workers.dev"),
            "https://gw.example.workers.dev/api/keys"
        ));
        assert!(same_origin(
            Some("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/api/keys/1"
        ));
        assert!(!same_origin(
            Some("https://evil.example"),
            "https://gw.example.workers.dev/api/keys"
        ));
        assert!(!same_origin(
            Some("http://gw.example.workers.dev"),
            "https://gw.example.workers.dev/api/keys"
        ));
        assert!(!same_origin(
            None,
            "https://gw.example.workers.dev/api/keys"
        ));
        assert!(!same_origin(
            Some("null"),
            "https://gw.example.workers.dev/api/keys"
        ));
    }

    #[test]
    fn throttle_windows() {
        // 2026-11-26T04:51:39Z
        assert_eq!(window(1_795_668_699_000), "2026-11-26T04:45");
        assert_eq!(seconds_left_in_window(1_795_668_699_000), 8 * 60 + 21);
    }
}
