//! Copilot quota (`/copilot_internal/user`) in a shape an admin page can show directly:
//! "unlimited" sentinels (-1, `unlimited: true`) and overdrawn (negative) remainders made
//! explicit, so no client has to know GitHub's conventions.

use serde_json::{json, Value};

/// One snapshot (chat, completions, premium_interactions = AI credits since 2026-06).
pub fn snapshot(s: &Value) -> Value {
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let entitlement = num("entitlement");
    let remaining = num("remaining").or_else(|| num("quota_remaining"));
    let unlimited = s.get("unlimited").and_then(Value::as_bool).unwrap_or(false)
        || entitlement.is_some_and(|e| e < 0.0)
        || remaining.is_some_and(|r| r == -1.0 && entitlement.is_none_or(|e| e <= 0.0));
    if unlimited {
        return json!({ "unlimited": true, "entitlement": null, "remaining": null, "used": null,
                       "percent_used": null, "overdrawn": false });
    }
    let used = match (entitlement, remaining) {
        (Some(e), Some(r)) => Some(e - r),
        _ => None,
    };
    let percent_used = match (entitlement, used) {
        (Some(e), Some(u)) if e > 0.0 => Some((u / e * 1000.0).round() / 10.0),
        _ => None,
    };
    json!({
        "unlimited": false,
        "entitlement": entitlement,
        "remaining": remaining,
        "used": used,
        "percent_used": percent_used,
        // A negative remainder: Copilot let the account go over (or counts overage).
        "overdrawn": remaining.is_some_and(|r| r < 0.0),
        "overage_count": num("overage_count"),
        "overage_permitted": s.get("overage_permitted").and_then(Value::as_bool),
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
    json!({
        "plan": body.get("copilot_plan").cloned().unwrap_or(Value::Null),
        "sku": body.get("access_type_sku").cloned().unwrap_or(Value::Null),
        "reset_date": body.get("quota_reset_date_utc").or_else(|| body.get("quota_reset_date")).cloned().unwrap_or(Value::Null),
        "chat_enabled": body.get("chat_enabled").cloned().unwrap_or(Value::Null),
        "snapshots": {
            "chat": snap("chat"),
            "completions": snap("completions"),
            "premium_interactions": snap("premium_interactions"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
