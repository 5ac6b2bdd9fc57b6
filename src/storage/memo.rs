//! A short-lived memory of hot rows (clients and users by id, tokens by hash), so that the requests
//! that dominate traffic — token issuance and introspection — do not read the database
//! every time. Each [`super::Db`] owns its memos and the [`Epoch`] they share.
//!
//! Two rules keep it honest:
//! - **This process sees its own changes at once.** A row a memo may hold is changed
//!   only in a transaction of [`super::Db::change`], which moves the epoch when the
//!   transaction has ended, so that every entry remembered under an older epoch stops
//!   counting. A reader takes the epoch *before* it reads the database, so an entry can
//!   never be filed under an epoch newer than the data it holds.
//! - **Other processes' changes count within [`MEMO_BOUND`].** An entry is used for at
//!   most that long after it was read; a revocation or a client change made through
//!   another node or the command line takes effect here within it.
//!
//! Unknown keys are never remembered: a token issued on another node is found at once,
//! and a transaction that only adds rows need not move the epoch.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a remembered row is believed: the bound on how late a change made by
/// another process is seen here.
pub const MEMO_BOUND: Duration = Duration::from_secs(2);

/// The generation of what the memos of one database may believe.
#[derive(Debug, Default)]
pub struct Epoch(AtomicU64);

impl Epoch {
    /// Remembered rows may now be wrong: every entry read before this stops counting.
    pub(super) fn advance(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Entry<V> {
    value: V,
    epoch: u64,
    read_at: Instant,
}

/// Remembered rows of one kind.
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    capacity: usize,
    epoch: Arc<Epoch>,
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize, epoch: Arc<Epoch>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            epoch,
        }
    }

    /// The remembered value, if it is still to be believed.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let current = self.epoch.current();
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        (e.epoch == current && e.read_at.elapsed() < MEMO_BOUND).then(|| e.value.clone())
    }

    /// The remembered value, or what `load` reads (remembered when found).
    pub fn get_or_load<E>(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        match self.get(key) {
            Some(v) => Ok(Some(v)),
            None => self.reload(key, load),
        }
    }

    /// Reads through to the database and remembers what it says (forgetting the key when
    /// it is gone).
    pub fn reload<E>(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        let read_epoch = self.epoch.current();
        let read_at = Instant::now();
        let loaded = load()?;
        match &loaded {
            Some(value) => self.put(key.clone(), value.clone(), read_epoch, read_at),
            None => {
                if let Ok(mut entries) = self.entries.lock() {
                    entries.remove(key);
                }
            }
        }
        Ok(loaded)
    }

    /// Replaces a remembered value with one this process knows to be newer (for example
    /// after it wrote the change itself), keeping the entry's age.
    pub fn update(&self, key: &K, f: impl FnOnce(&mut V)) {
        if let Ok(mut entries) = self.entries.lock() {
            if let Some(e) = entries.get_mut(key) {
                f(&mut e.value);
            }
        }
    }

    fn put(&self, key: K, value: V, read_epoch: u64, read_at: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            let current = self.epoch.current();
            entries.retain(|_, e| e.epoch == current && e.read_at.elapsed() < MEMO_BOUND);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                epoch: read_epoch,
                read_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_changes_reads_and_capacity() {
        let epoch = Arc::new(Epoch::default());
        let memo: Memo<String, u32> = Memo::new(10, epoch.clone());
        let loaded = memo.get_or_load(&"a".to_owned(), || Ok::<_, ()>(Some(1)));
        assert_eq!(loaded, Ok(Some(1)));
        assert_eq!(memo.get("a"), Some(1));
        epoch.advance();
        assert_eq!(memo.get("a"), None, "a change ends every entry");

        let loaded = memo.get_or_load(&"b".to_owned(), || {
            epoch.advance();
            Ok::<_, ()>(Some(1))
        });
        assert_eq!(loaded, Ok(Some(1)));
        assert_eq!(memo.get("b"), None, "read under an older epoch");

        // Another database's changes are not this one's.
        let other = Memo::<String, u32>::new(10, Arc::new(Epoch::default()));
        let _ = other.get_or_load(&"c".to_owned(), || Ok::<_, ()>(Some(3)));
        epoch.advance();
        assert_eq!(other.get("c"), Some(3));

        let memo: Memo<u32, u32> = Memo::new(2, epoch.clone());
        assert_eq!(memo.get_or_load(&1, || Ok::<_, ()>(None)), Ok(None));
        assert_eq!(memo.get_or_load(&1, || Ok::<_, ()>(Some(7))), Ok(Some(7)));
        for k in 2..10 {
            let _ = memo.get_or_load(&k, || Ok::<_, ()>(Some(k)));
        }
        assert!(memo.entries.lock().map(|e| e.len()).unwrap_or(0) <= 2);
    }
}
