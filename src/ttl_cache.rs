//! A small expiring map for isolate memory, so hot requests skip KV and D1.
//! Time is passed in, which keeps it pure and testable.

use std::collections::HashMap;
use std::hash::Hash;

pub struct TtlCache<K, V> {
    entries: HashMap<K, (V, u64)>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    pub fn get(&self, key: &K, now_ms: u64) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(_, exp)| *exp > now_ms)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&mut self, key: K, value: V, expires_at_ms: u64, now_ms: u64) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (_, exp)| *exp > now_ms);
            // Still full of live entries: drop the one closest to expiry.
            if self.entries.len() >= self.capacity {
                if let Some(k) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, exp))| *exp)
                    .map(|(k, _)| k.clone())
                {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, (value, expires_at_ms));
    }

    /// An entry even past its expiry (entries are only dropped to make room): the last
    /// known value, for when its source of truth cannot be reached.
    pub fn get_stale(&self, key: &K) -> Option<V> {
        self.entries.get(key).map(|(v, _)| v.clone())
    }

    /// Changes a live entry in place, keeping its expiry.
    pub fn update(&mut self, key: &K, now_ms: u64, f: impl FnOnce(&mut V)) {
        if let Some((v, exp)) = self.entries.get_mut(key) {
            if *exp > now_ms {
                f(v);
            }
        }
    }

    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_evicts() {
        let mut c = TtlCache::new(2);
        c.put("a", 1, 100, 0);
        assert_eq!(c.get(&"a", 99), Some(1));
        assert_eq!(c.get(&"a", 100), None);
        c.put("b", 2, 200, 0);
        c.put("c", 3, 300, 0); // full: "a" (soonest to expire) goes
        assert_eq!(c.get(&"a", 0), None);
        assert_eq!(c.get(&"b", 0), Some(2));
        c.put("d", 4, 400, 250); // "b" expired by now: swept, "c" stays
        assert_eq!(c.get(&"c", 250), Some(3));
        assert_eq!(c.get(&"d", 250), Some(4));
        assert_eq!(c.get(&"b", 250), None);
        assert_eq!(c.get_stale(&"c"), Some(3), "still known after expiry");
        c.update(&"c", 250, |v| *v += 10);
        assert_eq!(c.get(&"c", 250), Some(13));
        c.remove(&"c");
        assert_eq!(c.get(&"c", 250), None);
        c.retain(|k| *k != "d");
        assert_eq!(c.get(&"d", 250), None);
    }
}
