//! Copilot quota (`/copilot_internal/user`) in a shape an admin page can show directly:
//! "unlimited" sentinels (-1, `unlimited: true`) and overdrawn (negative) remainders made
//! explicit, so no client has to know GitHub's conventions. Both shapes GitHub serves
//! since usage-based billing (2026-06) are read: the legacy one, and the token-based one
//! (`token_based_billing`, `credits_used` and `overage_entitlement`; a business or
//! enterprise seat drawing on its organization's budget has no allotment of its own).
//! The quota headers of data-plane answers (`upstream::quota_headers`) keep it current
//! between calls to GitHub.

use serde_json::{json, Map, Value};

use crate::timestamp::iso8601;
use crate::upstream::quota_headers::{HeaderSnapshot, QuotaHeaders};

/// Header figures younger than this stand in for a call to GitHub.
pub const HEADERS_FRESH_MS: u64 = 15 * 60 * 1000;

/// One snapshot (chat, completions, premium_interactions = AI credits since 2026-06).
pub fn snapshot(s: &Value) -> Value {
    let num = |k: &str| s.get(k).and_then(Value::as_f64).filter(|n| n.is_finite());
    let entitlement = num("entitlement");
    let remaining = num("remaining").or_else(|| num("quota_remaining"));
    let credits_used = num("credits_used");
    let unlimited = s.get("unlimited").and_then(Value::as_bool).unwrap_or(false)
        || entitlement.is_some_and(|e| e < 0.0)
        || remaining.is_some_and(|r| r == -1.0 && entitlement.is_none_or(|e| e <= 0.0));
    if unlimited {
        return json!({ "unlimited": true, "entitlement": null, "remaining": null, "used": null,
                       "percent_used": null, "overdrawn": false, "org_billed": false });
    }
    // Token-based billing on a seat without an allotment: the organization's budget pays.
    let org_billed = credits_used.is_some()
        && entitlement.is_none_or(|e| e == 0.0)
        && remaining.is_none_or(|r| r == 0.0);
    if org_billed {
        return json!({
            "unlimited": false, "org_billed": true, "entitlement": null, "remaining": null,
            "used": credits_used, "credits_used": credits_used, "percent_used": null,
            "overdrawn": false, "overage_entitlement": num("overage_entitlement"),
            "overage_permitted": s.get("overage_permitted").and_then(Value::as_bool),
        });
    }
    let used = match (entitlement, remaining) {
        (Some(e), Some(r)) => Some(e - r),
        _ => credits_used,
    };
    let percent_used = match (entitlement, used) {
        (Some(e), Some(u)) if e > 0.0 => Some((u / e * 1000.0).round() / 10.0),
        _ => None,
    };
    json!({
        "unlimited": false,
        "org_billed": false,
        "entitlement": entitlement,
        "remaining": remaining,
        "used": used,
        "percent_used": percent_used,
        // A negative remainder: Copilot let the account go over (or counts overage).
        "overdrawn": remaining.is_some_and(|r| r < 0.0),
        "overage_count": num("overage_count"),
        "overage_permitted": s.get("overage_permitted").and_then(Value::as_bool),
        "credits_used": credits_used,
        "overage_entitlement": num("overage_entitlement"),
    })
}

pub fn normalize(body: &Value) -> Value {
    let snaps = body.get("quota_snapshots");
    let snap = |k: &str| {
        snaps
            .and_then(|s| s.get(k))
            .map(snapshot)
            .unwrap_or(Value::Null)
    };
    let token_based = body.get("token_based_billing").and_then(Value::as_bool) == Some(true);
    let mut q = json!({
        "plan": body.get("copilot_plan").cloned().unwrap_or(Value::Null),
        "sku": body.get("access_type_sku").cloned().unwrap_or(Value::Null),
        "reset_date": body.get("quota_reset_date_utc").or_else(|| body.get("quota_reset_date")).cloned().unwrap_or(Value::Null),
        "chat_enabled": body.get("chat_enabled").cloned().unwrap_or(Value::Null),
        // Premium requests (the legacy shape) or AI credits spent on tokens.
        "billing": if token_based { "tokens" } else { "premium_requests" },
        "snapshots": {
            "chat": snap("chat"),
            "completions": snap("completions"),
            "premium_interactions": snap("premium_interactions"),
        },
        "source": "github",
    });
    // A top-level figure (one variant of the token-based shape) when the snapshot has none.
    if let Some(p) = q["snapshots"]["premium_interactions"].as_object_mut() {
        for k in ["credits_used", "overage_entitlement"] {
            if p.get(k).is_none_or(Value::is_null) {
                if let Some(v) = body.get(k).filter(|v| v.is_number()) {
                    p.insert(k.into(), v.clone());
                }
            }
        }
    }
    q
}

/// `quota` (as `normalize` made it) updated with what data-plane answers' headers
/// reported at `at_ms`: each snapshot they name, the reset, and the 5-hour and weekly
/// usage windows. A header's absolute figures may be in another unit than GitHub's (an
/// enterprise seat was seen with `ent=10000000`), so where GitHub's allotment is known and
/// differs, the remaining figure follows from the header's percentage.
pub fn with_headers(mut quota: Value, h: &QuotaHeaders, at_ms: u64) -> Value {
    if !quota.is_object() {
        quota = json!({ "snapshots": {} });
    }
    if !quota["snapshots"].is_object() {
        quota["snapshots"] = json!({});
    }
    for (id, hs) in &h.quota {
        let before = &quota["snapshots"][id.as_str()];
        if before["org_billed"] == true {
            continue; // the header has no allotment to show either
        }
        let known = before["entitlement"].as_f64().filter(|e| *e > 0.0);
        let fresh = github_shaped(hs, known);
        quota["snapshots"][id.as_str()] = snapshot(&fresh);
        if id == "premium_interactions" && quota["reset_date"].is_null() {
            if let Some(r) = hs.reset_ms {
                quota["reset_date"] = json!(iso8601(r));
            }
        }
    }
    quota["usage_limits"] = usage_limits(h);
    quota["source"] = json!("headers");
    quota["as_of"] = json!(iso8601(at_ms));
    quota
}

/// The 5-hour session and weekly usage windows the headers reported: percent left, reset.
pub fn usage_limits(h: &QuotaHeaders) -> Value {
    let window = |w: &Option<HeaderSnapshot>| {
        w.as_ref().map(|s| {
            json!({
                "percent_remaining": s.percent_remaining,
                "resets_at": s.reset_ms.map(iso8601),
            })
        })
    };
    json!({ "session": window(&h.session), "weekly": window(&h.weekly) })
}

/// A header snapshot as `/copilot_internal/user` would state it.
fn github_shaped(hs: &HeaderSnapshot, known_entitlement: Option<f64>) -> Value {
    let mut m = Map::new();
    if hs.unlimited() {
        m.insert("unlimited".into(), json!(true));
        return Value::Object(m);
    }
    let (entitlement, remaining) = match (known_entitlement, hs.percent_remaining) {
        (Some(e), Some(p)) if hs.entitlement != Some(e) => (Some(e), Some(e * p / 100.0)),
        _ => (hs.entitlement, hs.remaining),
    };
    m.insert("entitlement".into(), json!(entitlement));
    m.insert("remaining".into(), json!(remaining));
    m.insert("overage_count".into(), json!(hs.overage));
    m.insert("overage_permitted".into(), json!(hs.overage_permitted));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_iso8601;

    #[test]
    fn unlimited_and_overdrawn() {
        let body = json!({
            "copilot_plan": "individual_pro", "quota_reset_date": "2026-12-01",
            "quota_snapshots": {
                "chat": {"entitlement": -1, "remaining": -1, "unlimited": true, "percent_remaining": 100},
                "completions": {"entitlement": 0, "remaining": -1, "unlimited": false},
                "premium_interactions": {"entitlement": 1500, "remaining": -12.5, "percent_remaining": 0, "overage_count": 3, "overage_permitted": true}
            }
        });
        let q = normalize(&body);
        assert_eq!(q["plan"], "individual_pro");
        assert_eq!(q["reset_date"], "2026-12-01");
        assert_eq!(q["billing"], "premium_requests");
        assert_eq!(q["snapshots"]["chat"]["unlimited"], true);
        assert_eq!(q["snapshots"]["completions"]["unlimited"], true);
        let p = &q["snapshots"]["premium_interactions"];
        assert_eq!(p["unlimited"], false);
        assert_eq!(p["used"], 1512.5);
        assert_eq!(p["overdrawn"], true);
        assert_eq!(p["percent_used"], 100.8);
        let fine = snapshot(&json!({"entitlement": 300, "remaining": 225}));
        assert_eq!(fine["used"], 75.0);
        assert_eq!(fine["percent_used"], 25.0);
        assert_eq!(fine["overdrawn"], false);
        assert_eq!(normalize(&json!({}))["snapshots"]["chat"], Value::Null);
    }

    #[test]
    fn token_based_billing_shapes() {
        // An individual seat: its monthly credits, and what it spent.
        let own = normalize(&json!({
            "copilot_plan": "individual", "token_based_billing": true,
            "access_type_sku": "copilot_pro_usage_based",
            "quota_snapshots": {"premium_interactions": {"entitlement": 1500, "remaining": 1234.5,
                "credits_used": 265.5, "overage_entitlement": 0, "overage_permitted": false, "unlimited": false}}
        }));
        assert_eq!(own["billing"], "tokens");
        let p = &own["snapshots"]["premium_interactions"];
        assert_eq!(
            (p["used"].clone(), p["credits_used"].clone()),
            (json!(265.5), json!(265.5))
        );
        assert_eq!(p["overage_entitlement"], 0.0);
        assert_eq!(p["org_billed"], false);
        // A business seat drawing on the organization's budget: no allotment, credits spent.
        let org = normalize(&json!({
            "copilot_plan": "business", "token_based_billing": true,
            "quota_snapshots": {"premium_interactions": {"entitlement": 0, "remaining": 0,
                "credits_used": 531.0, "overage_entitlement": 50000, "overage_permitted": true}}
        }));
        let p = &org["snapshots"]["premium_interactions"];
        assert_eq!(p["org_billed"], true);
        assert_eq!(p["used"], 531.0);
        assert_eq!(p["entitlement"], Value::Null);
        assert_eq!(p["overage_entitlement"], 50000.0);
        // Figures at the top level are taken when the snapshot lacks them.
        let top = normalize(&json!({"token_based_billing": true, "credits_used": 12.5,
            "quota_snapshots": {"premium_interactions": {"entitlement": 300, "remaining": 287.5}}}));
        assert_eq!(
            top["snapshots"]["premium_interactions"]["credits_used"],
            12.5
        );
    }

    #[test]
    fn headers_keep_the_quota_current() {
        let base = normalize(&json!({
            "copilot_plan": "enterprise", "quota_reset_date_utc": "2026-12-01T00:00:00Z",
            "quota_snapshots": {
                "chat": {"entitlement": -1, "remaining": -1, "unlimited": true},
                "premium_interactions": {"entitlement": 10000, "remaining": 9000}
            }
        }));
        let h = QuotaHeaders::read([
            // Another unit than GitHub's body (seen on an enterprise seat).
            ("x-quota-snapshot-premium_interactions", "ent=10000000&ov=0.0&ovPerm=true&rem=80.0&rst=2026-12-01T00%3A00%3A00Z&totRem=8000000"),
            ("x-quota-snapshot-chat", "ent=-1&rem=100.0&totRem=-1"),
            ("x-usage-ratelimit-weekly", "ent=0&rem=74.9&rst=2026-11-30T00%3A00%3A00Z"),
        ])
        .unwrap();
        let at = parse_iso8601("2026-11-26T04:51:39Z").unwrap();
        let q = with_headers(base, &h, at);
        let p = &q["snapshots"]["premium_interactions"];
        assert_eq!(p["entitlement"], 10000.0);
        assert_eq!(
            p["remaining"], 8000.0,
            "from the percentage, in GitHub's unit"
        );
        assert_eq!(p["used"], 2000.0);
        assert_eq!(q["snapshots"]["chat"]["unlimited"], true);
        assert_eq!(q["plan"], "enterprise", "what the headers do not say stays");
        assert_eq!(q["source"], "headers");
        assert_eq!(q["as_of"], "2026-11-26T04:51:39Z");
        assert_eq!(q["usage_limits"]["weekly"]["percent_remaining"], 74.9);
        assert_eq!(
            q["usage_limits"]["weekly"]["resets_at"],
            "2026-11-30T00:00:00Z"
        );
        assert_eq!(q["usage_limits"]["session"], Value::Null);
        // Same unit: the header's own figures.
        let same = with_headers(
            normalize(
                &json!({"quota_snapshots": {"premium_interactions": {"entitlement": 1500, "remaining": 1400}}}),
            ),
            &QuotaHeaders::read([(
                "x-quota-snapshot-premium_interactions",
                "ent=1500&rem=80.0&totRem=1200.5",
            )])
            .unwrap(),
            at,
        );
        assert_eq!(
            same["snapshots"]["premium_interactions"]["remaining"],
            1200.5
        );
        // Without GitHub's figures at all, the headers alone.
        let alone = with_headers(Value::Null, &h, at);
        assert_eq!(
            alone["snapshots"]["premium_interactions"]["entitlement"],
            10_000_000.0
        );
        assert_eq!(alone["reset_date"], "2026-12-01T00:00:00Z");
        // An org-billed seat keeps GitHub's figures.
        let org = normalize(&json!({"token_based_billing": true,
            "quota_snapshots": {"premium_interactions": {"entitlement": 0, "remaining": 0, "credits_used": 5}}}));
        let kept = with_headers(org, &h, at);
        assert_eq!(
            kept["snapshots"]["premium_interactions"]["org_billed"],
            true
        );
    }
}
