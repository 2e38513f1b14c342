//! A cache of at most a fixed number of entries that forgets the least
//! recently used one first, shared between the READ loop and the workers.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// At most `capacity` entries; a lookup marks an entry as used.
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
    evictions: AtomicU64,
}

#[derive(Debug)]
struct Inner<K, V> {
    entries: HashMap<K, (V, u64)>,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BoundedCache {
            inner: Mutex::new(Inner { entries: HashMap::with_capacity(capacity), clock: 0 }),
            capacity,
            evictions: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.clock = inner.clock.wrapping_add(1);
        let now = inner.clock;
        inner.entries.get_mut(key).map(|(value, used)| {
            *used = now;
            value.clone()
        })
    }

    /// Inserts or replaces `key`; when full, the least recently used entry
    /// goes first (a scan, paid only when a new key arrives in a full cache).
    pub fn insert(&self, key: K, value: V) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.clock = inner.clock.wrapping_add(1);
        let now = inner.clock;
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&key) {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        inner.entries.insert(key, (value, now));
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries forgotten to make room, since the cache was made.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_forgets_the_least_recently_used_entry() {
        let cache = BoundedCache::new(2);
        cache.insert("a", 1);
        cache.insert("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.insert("c", 3);
        assert_eq!((cache.get(&"a"), cache.get(&"b"), cache.get(&"c")), (Some(1), None, Some(3)));
        assert_eq!((cache.len(), cache.evictions()), (2, 1));
    }

    #[test]
    fn replacing_a_key_evicts_nothing() {
        let cache = BoundedCache::new(1);
        cache.insert("a", 1);
        cache.insert("a", 2);
        assert_eq!((cache.get(&"a"), cache.evictions()), (Some(2), 0));
    }
}
