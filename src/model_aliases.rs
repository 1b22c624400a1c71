//! Admin-defined model names: an alias stands for one Copilot model, or for an ordered
//! list of them of which the first the catalog has serves. Applied before the catalog
//! resolves a name, so routing, translation and metering see the real model.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api_error::{ApiError, ErrorKind};
use crate::models::Catalog;

/// At most this many aliases (they are read by every request, from memory).
pub const MAX_ALIASES: usize = 200;
/// At most this many models behind one alias.
pub const MAX_TARGETS: usize = 8;
const MAX_NAME: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub alias: String,
    /// In order of preference.
    pub models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aliases {
    pub list: Vec<Alias>,
}

impl Aliases {
    pub fn new(mut list: Vec<Alias>) -> Aliases {
        list.sort_by(|a, b| a.alias.cmp(&b.alias));
        Aliases { list }
    }

    /// Aliases are matched like model ids are by clients: case-insensitively.
    pub fn find(&self, name: &str) -> Option<&Alias> {
        self.list
            .iter()
            .find(|a| a.alias.eq_ignore_ascii_case(name))
    }

    /// The name the catalog should resolve: the first model behind an alias that the
    /// catalog has, else the name as asked. A name the catalog resolves (its ids and
    /// Claude Code's spellings of them) always means that model (Copilot may add one an
    /// alias already took). An alias none of whose models is available is a 404 naming
    /// them.
    pub fn apply<'a>(&'a self, requested: &'a str, catalog: &Catalog) -> Result<&'a str, ApiError> {
        if self.list.is_empty() || catalog.resolve(requested).is_ok() {
            return Ok(requested);
        }
        let Some(alias) = self.find(requested) else {
            return Ok(requested);
        };
        alias
            .models
            .iter()
            .find(|m| catalog.resolve(m).is_ok())
            .map(String::as_str)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NotFound,
                    format!(
                        "model alias '{}' names no model available on this Copilot account ({}).",
                        alias.alias,
                        alias.models.join(", ")
                    ),
                )
                .with_param("model")
                .with_code("model_not_found")
            })
    }

    /// `/v1/models` entries for the aliases whose model is available: that model's entry
    /// under the alias's name, with `alias_of` naming it.
    pub fn describe(&self, catalog: &Catalog) -> Vec<Value> {
        self.list
            .iter()
            .filter(|a| catalog.resolve(&a.alias).is_err())
            .filter_map(|a| {
                let target = a.models.iter().find_map(|m| catalog.resolve(m).ok())?;
                let mut v = target.describe();
                v["id"] = json!(a.alias);
                v["display_name"] = json!(format!("{} ({})", a.alias, target.name));
                v["alias_of"] = json!(target.id);
                Some(v)
            })
            .collect()
    }
}

/// Checks one alias as an admin sent it: its name a model-id-like token, its models
/// 1 to `MAX_TARGETS` distinct non-empty names, none of them an alias (no chains).
/// `is_model` says whether a name is a real catalog model, which an alias may not shadow.
pub fn check(a: &Alias, others: &Aliases, is_model: impl Fn(&str) -> bool) -> Result<(), ApiError> {
    check_name(&a.alias)?;
    if is_model(&a.alias) {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!(
                "'{}' is a model of the catalog; an alias may not hide it",
                a.alias
            ),
        )
        .with_param("alias"));
    }
    if a.models.is_empty() || a.models.len() > MAX_TARGETS {
        return Err(ApiError::invalid(format!(
            "`models` must list 1 to {MAX_TARGETS} model ids, in order of preference"
        ))
        .with_param("models"));
    }
    for (i, m) in a.models.iter().enumerate() {
        if m.trim().is_empty() || m.len() > MAX_NAME || m.chars().any(char::is_control) {
            return Err(bad_model(i, "must be a model id of 1 to 100 characters"));
        }
        if a.models[..i].iter().any(|x| x.eq_ignore_ascii_case(m)) {
            return Err(bad_model(i, "repeats an earlier model"));
        }
        let chained = m.eq_ignore_ascii_case(&a.alias)
            || others
                .find(m)
                .is_some_and(|o| !o.alias.eq_ignore_ascii_case(&a.alias));
        if chained && !is_model(m) {
            return Err(bad_model(i, "is an alias; name the model itself"));
        }
    }
    Ok(())
}

fn bad_model(i: usize, msg: &str) -> ApiError {
    ApiError::invalid(format!("`models[{i}]` {msg}")).with_param(format!("models[{i}]"))
}

/// Letters, digits and `.-_:@` (no slash: the name is a path segment of the admin API).
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(
            ApiError::invalid("`alias` must be 1 to 100 letters, digits or . _ - : @")
                .with_param("alias"),
        )
    }
}

/// A whole list (an import): every alias valid, no name twice.
pub fn check_all(list: &[Alias]) -> Result<(), ApiError> {
    if list.len() > MAX_ALIASES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_ALIASES} model aliases"
        )));
    }
    let all = Aliases::new(list.to_vec());
    for (i, a) in list.iter().enumerate() {
        if list[..i]
            .iter()
            .any(|b| b.alias.eq_ignore_ascii_case(&a.alias))
        {
            return Err(ApiError::invalid(format!(
                "model alias '{}' is listed twice",
                a.alias
            )));
        }
        // The catalog is not consulted on import: it may be another account's.
        check(a, &all, |_| false)?;
    }
    Ok(())
}

/// The body of `PUT /api/model-aliases/{alias}`: `{"models": [..]}` (or `"model": ".."`).
pub fn parse_update(alias: &str, body: &Value) -> Result<Alias, ApiError> {
    let models = match (body.get("models"), body.get("model")) {
        (Some(Value::Array(a)), None) => a
            .iter()
            .map(|m| m.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<Vec<String>>>(),
        (None, Some(Value::String(m))) => Some(vec![m.trim().to_string()]),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid("send `models`: an array of model ids, in order of preference")
            .with_param("models")
    })?;
    Ok(Alias {
        alias: alias.to_string(),
        models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::tests::catalog;

    fn alias(name: &str, models: &[&str]) -> Alias {
        Alias {
            alias: name.into(),
            models: models.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn first_available_model_serves() {
        let c = catalog();
        let a = Aliases::new(vec![
            alias(
                "team-fast",
                &["no-such-model", "gpt-5-mini", "claude-sonnet-4.5"],
            ),
            alias("team-smart", &["claude-sonnet-4-5-20250929"]),
            alias("gone", &["no-such-model", "nor-this"]),
        ]);
        assert_eq!(a.apply("team-fast", &c).unwrap(), "gpt-5-mini");
        assert_eq!(a.apply("TEAM-FAST", &c).unwrap(), "gpt-5-mini");
        // Claude Code's spellings behind an alias resolve as they would when asked.
        assert_eq!(
            a.apply("team-smart", &c).unwrap(),
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(
            c.resolve(a.apply("team-smart", &c).unwrap()).unwrap().id,
            "claude-sonnet-4.5"
        );
        assert_eq!(a.apply("gpt-5-mini", &c).unwrap(), "gpt-5-mini");
        assert_eq!(a.apply("unknown", &c).unwrap(), "unknown");
        let e = a.apply("gone", &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(
            e.message.contains("no-such-model, nor-this"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_real_model_wins_over_an_alias_of_its_name() {
        let c = catalog();
        let a = Aliases::new(vec![
            alias("gpt-5-mini", &["claude-sonnet-4.5"]),
            alias("claude-sonnet-4-5-20250929", &["gpt-5-mini"]),
        ]);
        assert_eq!(a.apply("gpt-5-mini", &c).unwrap(), "gpt-5-mini");
        // Claude Code's spelling of a catalog model is that model too.
        assert_eq!(
            a.apply("claude-sonnet-4-5-20250929", &c).unwrap(),
            "claude-sonnet-4-5-20250929"
        );
        assert!(a.describe(&c).is_empty());
    }

    #[test]
    fn describes_available_aliases_as_their_model() {
        let c = catalog();
        let a = Aliases::new(vec![
            alias("team", &["nope", "claude-sonnet-4.5"]),
            alias("gone", &["nope"]),
        ]);
        let d = a.describe(&c);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["id"], "team");
        assert_eq!(d[0]["alias_of"], "claude-sonnet-4.5");
        assert_eq!(d[0]["context_window"], 200000);
        assert_eq!(d[0]["display_name"], "team (Claude Sonnet 4.5)");
    }

    #[test]
    fn checks_names_models_and_shadowing() {
        let none = Aliases::default();
        let is_model = |m: &str| m == "gpt-5-mini";
        assert!(check(&alias("team-1.a:b@c", &["gpt-5-mini"]), &none, is_model).is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(101)] {
            assert!(
                check(&alias(bad, &["gpt-5-mini"]), &none, is_model).is_err(),
                "{bad}"
            );
        }
        let e = check(&alias("gpt-5-mini", &["claude"]), &none, is_model).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(check(&alias("t", &[]), &none, is_model).is_err());
        assert!(check(&alias("t", &["a"; 9]), &none, is_model).is_err());
        assert!(check(&alias("t", &["a", "A"]), &none, is_model).is_err());
        assert!(check(&alias("t", &[" "]), &none, is_model).is_err());
        assert!(check(&alias("t", &["t"]), &none, is_model).is_err());
        let others = Aliases::new(vec![alias("u", &["gpt-5-mini"])]);
        let e = check(&alias("t", &["u"]), &others, is_model).unwrap_err();
        assert!(e.message.contains("is an alias"), "{}", e.message);
        // Updating an alias is not a chain to itself.
        assert!(check(&alias("u", &["gpt-5-mini", "x"]), &others, is_model).is_ok());
    }

    #[test]
    fn checks_a_whole_list() {
        assert!(check_all(&[alias("a", &["m"]), alias("b", &["m"])]).is_ok());
        assert!(check_all(&[alias("a", &["m"]), alias("A", &["m"])]).is_err());
        assert!(check_all(&[alias("a", &["b"]), alias("b", &["m"])]).is_err());
        let many: Vec<Alias> = (0..=MAX_ALIASES)
            .map(|i| alias(&format!("a{i}"), &["m"]))
            .collect();
        assert!(check_all(&many).is_err());
    }

    #[test]
    fn parses_updates() {
        let a = parse_update("t", &json!({"models": ["x", " y "]})).unwrap();
        assert_eq!(a.models, vec!["x", "y"]);
        assert_eq!(
            parse_update("t", &json!({"model": "x"})).unwrap().models,
            vec!["x"]
        );
        for bad in [
            json!({}),
            json!({"models": "x"}),
            json!({"models": [1]}),
            json!({"model": "x", "models": ["y"]}),
        ] {
            assert!(parse_update("t", &bad).is_err(), "{bad}");
        }
    }
}
