//! Credentials: where callers put them, how API keys are minted and stored, and
//! how they are compared.
//!
//! API keys are stored only as SHA-256 hashes; the raw key is shown once. ADMIN_KEY and
//! hashes are compared in constant time so response timing says nothing about a guess.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::hex;
use crate::protocol::error::{ApiError, ErrorKind};
use crate::secret::Secret;

/// API keys start with this, so they are recognisable in configs and secret scanners.
pub const KEY_PREFIX: &str = "cgw_";
/// Characters of the key shown in listings: the prefix plus 8 hex digits (32 of 192 bits).
const DISPLAY_LEN: usize = KEY_PREFIX.len() + 8;
/// Shorter ADMIN_KEYs are refused: the admin API never runs on a guessable secret.
pub const ADMIN_KEY_MIN_LEN: usize = 16;

/// The credential a request carries: `x-api-key` (Anthropic style) first, then
/// `Authorization: Bearer` (OpenAI style). Query strings are never read: they end up in logs.
pub fn extract_credential<'a>(
    x_api_key: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(k) = x_api_key.map(str::trim).filter(|k| !k.is_empty()) {
        return Some(k);
    }
    let auth = authorization?.trim_start();
    let token = match auth.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => auth[7..].trim(),
        _ => auth.trim(),
    };
    (!token.is_empty()).then_some(token)
}

pub fn sha256_hex(data: &str) -> String {
    hex(&Sha256::digest(data.as_bytes()))
}

/// Constant-time string equality that also hides the length of `expected`.
pub fn secret_eq(candidate: &str, expected: &str) -> bool {
    let a = Sha256::digest(candidate.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Shown once, to whoever created it.
    pub key: Secret,
    pub prefix: String,
    pub hash: String,
}

/// Mints a key from 24 random bytes (192 bits).
pub fn new_api_key(random: [u8; 24]) -> NewApiKey {
    let key = format!("{KEY_PREFIX}{}", hex(&random));
    NewApiKey {
        prefix: key[..DISPLAY_LEN].to_string(),
        hash: sha256_hex(&key),
        key: Secret::new(key),
    }
}

/// What a control-plane header credential claims to be, before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// It is ADMIN_KEY.
    Admin,
    /// It looks like an API key (it still has to be found).
    ApiKey,
    /// Neither: a failed check.
    Unknown,
}

/// `admin` is the usable ADMIN_KEY, if one is configured.
pub fn claimed_control_credential(given: &str, admin: Option<&str>) -> Claimed {
    if admin.is_some_and(|a| secret_eq(given, a)) {
        Claimed::Admin
    } else if given.starts_with(KEY_PREFIX) {
        Claimed::ApiKey
    } else {
        Claimed::Unknown
    }
}

/// How to set ADMIN_KEY, for every message that needs it.
pub const SET_ADMIN_KEY: &str =
    "Set it with `npx wrangler secret put ADMIN_KEY` (or in the Cloudflare \
     dashboard: Workers & Pages → copilot-gateway → Settings → Variables and Secrets → Add, type \
     Secret; locally, in .dev.vars)";

/// Whether ADMIN_KEY is usable: `set`, `missing` or `too_short` (for the first-run page).
pub fn admin_key_state(configured: Option<&str>) -> &'static str {
    match admin_key(configured) {
        Ok(_) => "set",
        Err(_) if configured.is_none() => "missing",
        Err(_) => "too_short",
    }
}

/// The data plane's answer to a key it does not know while ADMIN_KEY is unusable: no key
/// can exist yet, so the gateway is not set up.
pub fn not_set_up(configured: Option<&str>) -> Option<ApiError> {
    admin_key(configured).err().map(|_| {
        ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "This gateway is not set up yet: its ADMIN_KEY is not set. {SET_ADMIN_KEY}; then \
                 sign in on the gateway's page, connect a GitHub account and create an API key."
            ),
        )
    })
}

/// The configured ADMIN_KEY, or the 503 that explains how to set one.
pub fn admin_key(configured: Option<&str>) -> Result<&str, ApiError> {
    match configured {
        Some(k) if k.chars().count() >= ADMIN_KEY_MIN_LEN => Ok(k),
        Some(_) => Err(ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "ADMIN_KEY is shorter than {ADMIN_KEY_MIN_LEN} characters, so the admin API is disabled. \
                 {SET_ADMIN_KEY} to a longer one."
            ),
        )),
        None => Err(ApiError::new(
            ErrorKind::Unavailable,
            format!("ADMIN_KEY is not set, so the admin API is disabled. {SET_ADMIN_KEY}."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_from_either_header() {
        assert_eq!(
            extract_credential(Some("k1"), Some("Bearer k2")),
            Some("k1")
        );
        assert_eq!(extract_credential(None, Some("Bearer k2")), Some("k2"));
        assert_eq!(extract_credential(None, Some("bearer   k2 ")), Some("k2"));
        assert_eq!(
            extract_credential(Some("  "), Some("BEARER k3")),
            Some("k3")
        );
        assert_eq!(extract_credential(None, Some("raw")), Some("raw"));
        assert_eq!(extract_credential(None, Some("Bearer ")), None);
        assert_eq!(extract_credential(None, None), None);
    }

    #[test]
    fn keys_are_hashed_and_prefixed() {
        let k = new_api_key([0xab; 24]);
        assert_eq!(k.key.expose(), format!("cgw_{}", "ab".repeat(24)));
        assert!(!format!("{k:?}").contains(&"ab".repeat(24)));
        assert_eq!(k.prefix, "cgw_abababab");
        assert_eq!(k.hash, sha256_hex(k.key.expose()));
        assert_eq!(k.hash.len(), 64);
        assert_ne!(new_api_key([1; 24]).hash, k.hash);
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secret_comparison() {
        assert!(secret_eq("correct horse battery", "correct horse battery"));
        assert!(!secret_eq("correct horse batterY", "correct horse battery"));
        assert!(!secret_eq("", "x"));
    }

    #[test]
    fn first_run_states() {
        assert_eq!(admin_key_state(None), "missing");
        assert_eq!(admin_key_state(Some("short")), "too_short");
        assert_eq!(admin_key_state(Some("0123456789abcdef")), "set");
        let e = not_set_up(None).unwrap();
        assert_eq!(e.status, 503);
        assert!(e.message.contains("npx wrangler secret put ADMIN_KEY"));
        assert!(not_set_up(Some("0123456789abcdef")).is_none());
    }

    #[test]
    fn control_credentials() {
        let admin = Some("0123456789abcdef-admin");
        assert_eq!(
            claimed_control_credential("0123456789abcdef-admin", admin),
            Claimed::Admin
        );
        assert_eq!(
            claimed_control_credential("cgw_abc", admin),
            Claimed::ApiKey
        );
        assert_eq!(claimed_control_credential("guess", admin), Claimed::Unknown);
        assert_eq!(
            claimed_control_credential("0123456789abcdef-admin", None),
            Claimed::Unknown
        );
    }

    #[test]
    fn admin_key_must_be_long_enough() {
        assert_eq!(
            admin_key(Some("0123456789abcdef")).unwrap(),
            "0123456789abcdef"
        );
        assert_eq!(admin_key(Some("short")).unwrap_err().status, 503);
        assert!(admin_key(None)
            .unwrap_err()
            .message
            .contains("wrangler secret put ADMIN_KEY"));
    }
}
