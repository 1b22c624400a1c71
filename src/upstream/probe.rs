//! Capability probes of models the catalog lists without `supported_endpoints`: which
//! APIs to ask in what order, what the answers add up to, how long that is kept, and the
//! isolate's book of results and probes in flight. Pure; `session` sends the probes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::routing;
use crate::models::Endpoints;
use crate::protocol::Api;
use crate::ttl_cache::TtlCache;

/// A clear result (every API answered yes or no) is kept a day.
pub const CLEAR_TTL_SECS: u64 = 24 * 3600;
/// An unclear one (429, 5xx, no answer) is retried after five minutes, not on every
/// request: a throttled account is not asked again while it is throttled.
pub const UNCLEAR_TTL_SECS: u64 = 300;
/// A copy read from KV lives this long in isolate memory (KV's own TTL rules).
pub const MEMORY_COPY_MS: u64 = 60_000;
/// A probe running longer than this in the isolate is presumed dead (its request went
/// away): the next request probes again.
pub const IN_FLIGHT_MS: u64 = 60_000;

/// A probe's result as cached (KV and isolate memory). A clear result serializes exactly
/// as `Endpoints` did before unclear results were kept, so older entries still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub messages: bool,
    pub responses: bool,
    pub chat: bool,
    /// Some API gave no clear answer; its entry is the name's guess.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unclear: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ProbeRecord {
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            messages: self.messages,
            responses: self.responses,
            chat: self.chat,
        }
    }

    /// How long to keep it.
    pub fn ttl_secs(&self) -> u64 {
        if self.unclear {
            UNCLEAR_TTL_SECS
        } else {
            CLEAR_TTL_SECS
        }
    }
}

/// The next API to probe after `answers` (in `Api::all()` order), or None when done. An
/// unclear answer ends the probe: the account is throttled or failing, and asking the
/// other APIs now would only add to its load.
pub fn next_api(answers: &[(Api, Option<bool>)]) -> Option<Api> {
    if answers.iter().any(|(_, a)| a.is_none()) {
        return None;
    }
    Api::all()
        .into_iter()
        .find(|api| !answers.iter().any(|(a, _)| a == api))
}

/// What the answers add up to: the clear ones as given, the rest guessed from the name.
pub fn record(model: &str, answers: &[(Api, Option<bool>)]) -> ProbeRecord {
    let guess = routing::guess_endpoints(model);
    let mut unclear = false;
    let mut answer = |api: Api| match answers
        .iter()
        .find(|(a, _)| *a == api)
        .and_then(|(_, x)| *x)
    {
        Some(x) => x,
        None => {
            unclear = true;
            routing::supports(guess, api)
        }
    };
    let (messages, responses, chat) = (
        answer(Api::Messages),
        answer(Api::Responses),
        answer(Api::ChatCompletions),
    );
    ProbeRecord {
        messages,
        responses,
        chat,
        unclear,
    }
}

/// (account id, model id)
pub type ProbeKey = (i64, String);

/// What the isolate knows about a model's probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Result(ProbeRecord),
    /// Another request of this isolate is probing it now.
    InFlight,
    Nothing,
}

/// Results and probes in flight, per account and model, in isolate memory.
pub struct ProbeBook {
    results: TtlCache<ProbeKey, ProbeRecord>,
    /// Start time of each probe in flight.
    in_flight: HashMap<ProbeKey, u64>,
}

impl ProbeBook {
    pub fn new(capacity: usize) -> ProbeBook {
        ProbeBook {
            results: TtlCache::new(capacity),
            in_flight: HashMap::new(),
        }
    }

    pub fn known(&self, key: &ProbeKey, now_ms: u64) -> Known {
        if let Some(r) = self.results.get(key, now_ms) {
            return Known::Result(r);
        }
        match self.in_flight.get(key) {
            Some(&started) if now_ms.saturating_sub(started) < IN_FLIGHT_MS => Known::InFlight,
            _ => Known::Nothing,
        }
    }

    /// Claims the probe of `key`: false when another live probe holds it.
    pub fn begin(&mut self, key: &ProbeKey, now_ms: u64) -> bool {
        if self.known(key, now_ms) == Known::InFlight {
            return false;
        }
        self.in_flight
            .retain(|_, started| now_ms.saturating_sub(*started) < IN_FLIGHT_MS);
        self.in_flight.insert(key.clone(), now_ms);
        true
    }

    /// Stores a result for `ttl_ms` (a probe's own, or a copy read from KV).
    pub fn put(&mut self, key: &ProbeKey, record: ProbeRecord, ttl_ms: u64, now_ms: u64) {
        self.results
            .put(key.clone(), record, now_ms.saturating_add(ttl_ms), now_ms);
    }

    /// The probe of `key` ended (with a result stored, or abandoned).
    pub fn end(&mut self, key: &ProbeKey) {
        self.in_flight.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Api::*;

    #[test]
    fn probing_stops_at_the_first_unclear_answer() {
        assert_eq!(next_api(&[]), Some(Messages));
        assert_eq!(next_api(&[(Messages, Some(false))]), Some(Responses));
        assert_eq!(
            next_api(&[(Messages, Some(false)), (Responses, Some(true))]),
            Some(ChatCompletions)
        );
        let all = [
            (Messages, Some(false)),
            (Responses, Some(true)),
            (ChatCompletions, Some(true)),
        ];
        assert_eq!(next_api(&all), None);
        assert_eq!(
            next_api(&[(Messages, None)]),
            None,
            "throttled: ask no more"
        );
        assert_eq!(next_api(&[(Messages, Some(true)), (Responses, None)]), None);
    }

    #[test]
    fn clear_answers_are_kept_a_day() {
        let r = record(
            "gpt-3.5-turbo",
            &[
                (Messages, Some(false)),
                (Responses, Some(false)),
                (ChatCompletions, Some(true)),
            ],
        );
        assert_eq!(
            r,
            ProbeRecord {
                messages: false,
                responses: false,
                chat: true,
                unclear: false
            }
        );
        assert_eq!(r.ttl_secs(), 24 * 3600);
        // Exactly the old cached shape.
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"messages":false,"responses":false,"chat":true}"#
        );
    }

    #[test]
    fn unclear_answers_are_guessed_and_kept_minutes() {
        // The first API answered 429: nothing else was asked; everything is the guess.
        let r = record("claude-x", &[(Messages, None)]);
        assert_eq!(r.endpoints(), routing::guess_endpoints("claude-x"));
        assert!(r.unclear);
        assert_eq!(r.ttl_secs(), 300);
        // Clear answers keep their value next to guessed ones.
        let r = record("legacy", &[(Messages, Some(true)), (Responses, None)]);
        assert!(r.messages && !r.responses && r.chat && r.unclear);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""unclear":true"#), "{json}");
        let back: ProbeRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let old: ProbeRecord =
            serde_json::from_str(r#"{"messages":true,"responses":false,"chat":true}"#).unwrap();
        assert!(!old.unclear, "entries written before are clear");
    }

    #[test]
    fn one_probe_per_model_in_flight() {
        let mut book = ProbeBook::new(8);
        let k = (1, "m".to_string());
        let other = (2, "m".to_string());
        assert_eq!(book.known(&k, 0), Known::Nothing);
        assert!(book.begin(&k, 0));
        assert_eq!(book.known(&k, 10), Known::InFlight);
        assert!(!book.begin(&k, 10), "a second request waits");
        assert!(book.begin(&other, 10), "another account probes on its own");
        let r = record("m", &[(Messages, None)]);
        book.put(&k, r, r.ttl_secs() * 1000, 20);
        book.end(&k);
        assert_eq!(book.known(&k, 20), Known::Result(r));
        assert_eq!(
            book.known(&k, 20 + 300_000),
            Known::Nothing,
            "retried later"
        );
        // A probe whose request died is not waited for forever.
        assert!(book.begin(&k, 400_000));
        assert_eq!(book.known(&k, 400_000 + IN_FLIGHT_MS), Known::Nothing);
        assert!(book.begin(&k, 400_000 + IN_FLIGHT_MS));
        // An abandoned probe frees the model at once.
        book.end(&k);
        assert_eq!(book.known(&k, 400_000 + IN_FLIGHT_MS), Known::Nothing);
    }
}
