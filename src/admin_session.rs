//! Admin-app sessions: the cookie, the same-origin rule for cookie-authenticated writes,
//! what keeps a session alive, and the throttling of failed credential checks. The key
//! itself never reaches browser storage: it is exchanged once for an opaque session id in
//! an HttpOnly cookie.

use crate::auth::{secret_eq, sha256_hex};

pub const COOKIE: &str = "cgw_session";
pub const TTL_SECS: u64 = 12 * 3600;
/// Failed credential checks allowed per client within any `WINDOW_MS`, after which the
/// client is refused until the oldest of them leaves the window.
pub const MAX_FAILURES: usize = 10;
pub const WINDOW_MS: u64 = 15 * 60_000;

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

/// What an admin session stores to prove which ADMIN_KEY opened it. Bound to the session
/// id (never stored, only its hash), so the value cannot be used to test guesses of the key.
pub fn admin_binding(session_id: &str, admin_key: &str) -> String {
    sha256_hex(&format!("cgw-admin-session\n{session_id}\n{admin_key}"))
}

/// A stored session as read back with what it is checked against now.
#[derive(Debug, Clone, Copy)]
pub struct StoredSession<'a> {
    pub role: &'a str,
    /// What the session was bound to at login (None: a session from before binding).
    pub credential: Option<&'a str>,
    pub expires_at: u64,
    /// For key sessions: the key's hash now (None: the key is gone).
    pub key_hash_now: Option<&'a str>,
}

/// Whether a session still speaks for its credential: unexpired, and an admin session
/// only while ADMIN_KEY is the one it was opened with, a key session only while its key
/// has the hash it had (a rotation or deletion ends it).
pub fn session_valid(
    s: &StoredSession,
    session_id: &str,
    admin_key: Option<&str>,
    now_secs: u64,
) -> bool {
    if s.expires_at <= now_secs {
        return false;
    }
    let Some(bound) = s.credential else {
        return false;
    };
    match s.role {
        "admin" => admin_key.is_some_and(|k| secret_eq(bound, &admin_binding(session_id, k))),
        "key" => s.key_hash_now.is_some_and(|h| secret_eq(bound, h)),
        _ => false,
    }
}

/// Seconds a client must wait before its next credential check, given the times (ms) of
/// its most recent failures (at most `MAX_FAILURES` of them are needed): None when it
/// may try now. A sliding window: the wait ends when the oldest counted failure is
/// `WINDOW_MS` old.
pub fn throttled_for(failures: &[u64], now_ms: u64) -> Option<u64> {
    let mut recent: Vec<u64> = failures
        .iter()
        .copied()
        .filter(|&t| t.saturating_add(WINDOW_MS) > now_ms)
        .collect();
    if recent.len() < MAX_FAILURES {
        return None;
    }
    recent.sort_unstable();
    let free_at = recent[recent.len() - MAX_FAILURES] + WINDOW_MS;
    Some(free_at.saturating_sub(now_ms).div_ceil(1000).max(1))
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
    fn throttle_is_a_sliding_window() {
        let now = 1_795_668_699_000;
        let min = 60_000;
        // Nine failures: still allowed.
        let nine: Vec<u64> = (0..9).map(|i| now - i * min).collect();
        assert_eq!(throttled_for(&nine, now), None);
        // The tenth: refused until the oldest of the last ten is 15 minutes old.
        let ten: Vec<u64> = (0..10).map(|i| now - i * min).collect();
        assert_eq!(throttled_for(&ten, now), Some(6 * 60));
        assert_eq!(throttled_for(&ten, now + 6 * min - 1), Some(1));
        assert_eq!(throttled_for(&ten, now + 6 * min), None);
        // Failures older than the window do not count, in any order.
        let mut old: Vec<u64> = (0..9).map(|i| now - i * 1000).collect();
        old.push(now - WINDOW_MS);
        old.reverse();
        assert_eq!(throttled_for(&old, now), None);
        // No fixed buckets: ten failures straddling a quarter hour still count.
        let straddle: Vec<u64> = (0..10)
            .map(|i| 1_795_667_400_000 - 5 * min + i * min)
            .collect();
        assert!(throttled_for(&straddle, 1_795_667_400_000 + 5 * min).is_some());
        assert_eq!(throttled_for(&[], now), None);
    }

    #[test]
    fn sessions_end_with_their_credential() {
        let id = "ab".repeat(32);
        let admin = "the-admin-key-0123456789";
        let binding = admin_binding(&id, admin);
        assert_eq!(binding.len(), 64);
        assert!(!binding.contains(admin));
        assert_ne!(binding, admin_binding(&"cd".repeat(32), admin));
        let s = StoredSession {
            role: "admin",
            credential: Some(&binding),
            expires_at: 2_000,
            key_hash_now: None,
        };
        assert!(session_valid(&s, &id, Some(admin), 1_000));
        assert!(!session_valid(
            &s,
            &id,
            Some("a-new-admin-key-0123456789"),
            1_000
        ));
        assert!(!session_valid(&s, &id, None, 1_000));
        assert!(!session_valid(&s, &id, Some(admin), 2_000), "expired");
        assert!(!session_valid(
            &StoredSession {
                credential: None,
                ..s
            },
            &id,
            Some(admin),
            1_000
        ));

        let key = StoredSession {
            role: "key",
            credential: Some("hash-at-login"),
            expires_at: 2_000,
            key_hash_now: Some("hash-at-login"),
        };
        assert!(session_valid(&key, &id, None, 1_000));
        let rotated = StoredSession {
            key_hash_now: Some("hash-after-rotation"),
            ..key
        };
        assert!(!session_valid(&rotated, &id, None, 1_000));
        let deleted = StoredSession {
            key_hash_now: None,
            ..key
        };
        assert!(!session_valid(&deleted, &id, Some(admin), 1_000));
        assert!(!session_valid(
            &StoredSession {
                role: "other",
                ..key
            },
            &id,
            Some(admin),
            1_000
        ));
    }
}
