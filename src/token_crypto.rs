//! GitHub tokens at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the
//! deployer's secret `TOKEN_ENCRYPTION_KEY`, so a copy of the D1 database alone does not
//! give away GitHub accounts.
//!
//! Stored form: `enc:v1:<key id>:<hex nonce ‖ ciphertext ‖ tag>`. The key id (a hash of
//! the derived key) tells a row sealed under another secret from a damaged one. The
//! account id is the associated data, so a sealed token copied to another row does not
//! open. Rows written before a secret was set stay in clear and are sealed when next seen.
//! Other secrets at rest (web-search provider keys) use the same key with a label of
//! their own as associated data (`seal_labeled`).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use crate::ids::hex;
use crate::secret::Secret;

const PREFIX: &str = "enc:v1:";
/// Secrets shorter than this are refused (the same floor as ADMIN_KEY).
pub const MIN_SECRET_LEN: usize = 16;
pub const SECRET_NAME: &str = "TOKEN_ENCRYPTION_KEY";
/// The error code of an account whose stored token cannot be opened.
pub const UNREADABLE_CODE: &str = "github_token_unreadable";

pub struct TokenCipher {
    aead: Aes256Gcm,
    key_id: String,
}

/// Why a stored token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed, but no secret is configured.
    NoKey,
    /// Sealed under a different secret.
    OtherKey,
    /// Not a valid sealed token (damaged or tampered with).
    Damaged,
}

impl OpenError {
    /// What the admin sees on the account.
    pub fn problem(&self) -> String {
        match self {
            OpenError::NoKey => format!(
                "The GitHub token is stored encrypted, but {SECRET_NAME} is not set. Set the same \
                 secret again (`wrangler secret put {SECRET_NAME}`), or reconnect the account."
            ),
            OpenError::OtherKey => format!(
                "The GitHub token was encrypted with a different {SECRET_NAME}. Restore that secret, \
                 or reconnect the account."
            ),
            OpenError::Damaged => {
                "The stored GitHub token is damaged; reconnect the account.".to_string()
            }
        }
    }
}

impl TokenCipher {
    /// None when the secret is missing or too short (tokens then stay in clear).
    pub fn from_secret(secret: Option<&str>) -> Option<TokenCipher> {
        let secret = secret?.trim();
        if secret.chars().count() < MIN_SECRET_LEN {
            return None;
        }
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"copilot-gateway"), secret.as_bytes())
            .expand(b"github-token-at-rest v1", &mut key)
            .ok()?;
        let key_id = hex(&Sha256::digest(key)[..4]);
        let aead = Aes256Gcm::new_from_slice(&key).ok()?;
        Some(TokenCipher { aead, key_id })
    }

    /// Seals `token` for account `account_id` with a fresh 96-bit nonce.
    pub fn seal(&self, account_id: i64, token: &str, nonce: [u8; 12]) -> String {
        self.seal_with(&aad(account_id), token, nonce)
    }

    /// Seals `secret` for the place named by `label` (another row or setting: a value
    /// copied elsewhere does not open).
    pub fn seal_labeled(&self, label: &str, secret: &str, nonce: [u8; 12]) -> String {
        self.seal_with(&labeled_aad(label), secret, nonce)
    }

    fn seal_with(&self, aad: &str, token: &str, nonce: [u8; 12]) -> String {
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: token.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // AES-GCM only fails for messages over 64 GB.
            .unwrap_or_default();
        format!("{PREFIX}{}:{}{}", self.key_id, hex(&nonce), hex(&sealed))
    }

    fn open_sealed(&self, aad: &str, rest: &str) -> Result<Secret, OpenError> {
        let (key_id, body) = rest.split_once(':').ok_or(OpenError::Damaged)?;
        if key_id != self.key_id {
            return Err(OpenError::OtherKey);
        }
        let bytes = unhex(body).ok_or(OpenError::Damaged)?;
        if bytes.len() < 12 + 16 {
            return Err(OpenError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| OpenError::Damaged)
    }
}

/// Whether a stored token is sealed (else it is a token in clear).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The token behind a stored value: sealed ones are opened, clear ones returned as they are.
pub fn open(
    cipher: Option<&TokenCipher>,
    account_id: i64,
    stored: &str,
) -> Result<Secret, OpenError> {
    open_with(cipher, &aad(account_id), stored)
}

/// `open` for a value sealed with `seal_labeled(label, …)`.
pub fn open_labeled(
    cipher: Option<&TokenCipher>,
    label: &str,
    stored: &str,
) -> Result<Secret, OpenError> {
    open_with(cipher, &labeled_aad(label), stored)
}

fn open_with(cipher: Option<&TokenCipher>, aad: &str, stored: &str) -> Result<Secret, OpenError> {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Ok(Secret::new(stored));
    };
    cipher.ok_or(OpenError::NoKey)?.open_sealed(aad, rest)
}

/// The value to store: sealed when a cipher is configured, else the token itself.
pub fn store_form(
    cipher: Option<&TokenCipher>,
    account_id: i64,
    token: &str,
    nonce: [u8; 12],
) -> String {
    store_with(cipher, &aad(account_id), token, nonce)
}

/// `store_form` for a value sealed with `seal_labeled(label, …)`.
pub fn store_form_labeled(
    cipher: Option<&TokenCipher>,
    label: &str,
    secret: &str,
    nonce: [u8; 12],
) -> String {
    store_with(cipher, &labeled_aad(label), secret, nonce)
}

fn store_with(cipher: Option<&TokenCipher>, aad: &str, secret: &str, nonce: [u8; 12]) -> String {
    match cipher {
        Some(c) => c.seal_with(aad, secret, nonce),
        None => secret.to_string(),
    }
}

fn aad(account_id: i64) -> String {
    format!("github_accounts.token:{account_id}")
}

/// A scope of its own ("labeled:"), so no label can ever name an account's token.
fn labeled_aad(label: &str) -> String {
    format!("labeled:{label}")
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a long deployer secret 0123456789";

    #[test]
    fn seals_and_opens() {
        let c = TokenCipher::from_secret(Some(SECRET)).unwrap();
        let stored = c.seal(42, "gho_abc123", [7; 12]);
        assert!(is_sealed(&stored));
        assert!(!stored.contains("gho_abc123"));
        assert_eq!(open(Some(&c), 42, &stored).unwrap().expose(), "gho_abc123");
        // A fresh nonce gives a different text for the same token.
        assert_ne!(stored, c.seal(42, "gho_abc123", [8; 12]));
    }

    #[test]
    fn refuses_other_rows_keys_and_damage() {
        let c = TokenCipher::from_secret(Some(SECRET)).unwrap();
        let stored = c.seal(42, "gho_abc123", [7; 12]);
        assert_eq!(open(Some(&c), 43, &stored), Err(OpenError::Damaged));
        let other = TokenCipher::from_secret(Some("another secret, also long")).unwrap();
        assert_eq!(open(Some(&other), 42, &stored), Err(OpenError::OtherKey));
        assert_eq!(open(None, 42, &stored), Err(OpenError::NoKey));
        let mut flipped = stored.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(open(Some(&c), 42, &flipped), Err(OpenError::Damaged));
        for bad in ["enc:v1:", "enc:v1:xx", "enc:v1:abcd:zz", "enc:v1:abcd:00"] {
            assert!(open(Some(&c), 42, bad).is_err(), "{bad}");
        }
        assert!(OpenError::OtherKey.problem().contains(SECRET_NAME));
    }

    #[test]
    fn labeled_values_open_only_under_their_label() {
        let c = TokenCipher::from_secret(Some(SECRET)).unwrap();
        let stored = store_form_labeled(Some(&c), "search_config.tavily_key", "tvly-1", [3; 12]);
        assert!(is_sealed(&stored) && !stored.contains("tvly-1"));
        let opened = open_labeled(Some(&c), "search_config.tavily_key", &stored).unwrap();
        assert_eq!(opened.expose(), "tvly-1");
        assert_eq!(
            open_labeled(Some(&c), "search_config.brave_key", &stored),
            Err(OpenError::Damaged)
        );
        assert_eq!(
            open_labeled(None, "search_config.tavily_key", &stored),
            Err(OpenError::NoKey)
        );
        // An account's token and a labeled value never open as each other.
        let account = c.seal(7, "gho_x", [4; 12]);
        assert!(open_labeled(Some(&c), "github_accounts.token:7", &account).is_err());
        let labeled = c.seal_labeled("7", "gho_x", [4; 12]);
        assert!(open(Some(&c), 7, &labeled).is_err());
        // Clear values pass through, as for accounts.
        assert_eq!(open_labeled(None, "x", "plain").unwrap().expose(), "plain");
        assert_eq!(store_form_labeled(None, "x", "plain", [0; 12]), "plain");
    }

    #[test]
    fn clear_tokens_and_short_secrets() {
        assert_eq!(open(None, 1, "gho_plain").unwrap().expose(), "gho_plain");
        assert!(TokenCipher::from_secret(Some("short")).is_none());
        assert!(TokenCipher::from_secret(None).is_none());
        assert_eq!(store_form(None, 1, "gho_plain", [0; 12]), "gho_plain");
        let c = TokenCipher::from_secret(Some(SECRET)).unwrap();
        assert!(is_sealed(&store_form(Some(&c), 1, "gho_plain", [0; 12])));
        // The same secret derives the same key in every isolate.
        let again = TokenCipher::from_secret(Some(SECRET)).unwrap();
        let stored = c.seal(5, "t", [1; 12]);
        assert_eq!(open(Some(&again), 5, &stored).unwrap().expose(), "t");
    }
}
