//! A short-lived memory of hot rows (clients by id, tokens by hash), so that the requests
//! that dominate traffic — token issuance and introspection — do not read the database
//! every time.
//!
//! Two rules keep it honest:
//! - **This process sees its own changes at once.** Every storage function that revokes
//!   or changes what a remembered row says calls [`changed`]; that moves a process-wide
//!   epoch and every entry remembered under an older epoch stops counting. A reader takes
//!   the epoch *before* it reads the database, so an entry can never be filed under an
//!   epoch newer than the data it holds. Inside a write transaction the epoch moves
//!   again after the commit ([`super::write`]), so a reader that looked between the
//!   statement and the commit is not believed either.
//! - **Other processes' changes count within [`MEMO_BOUND`].** An entry is used for at
//!   most that long after it was read; a revocation or a client change made through
//!   another node or the command line takes effect here within it.
//!
//! Unknown keys are never remembered: a token issued on another node is found at once.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a remembered row is believed: the bound on how late a change made by
/// another process is seen here.
pub const MEMO_BOUND: Duration = Duration::from_secs(2);

static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CHANGED_IN_TRANSACTION: Cell<bool> = const { Cell::new(false) };
}

/// Records that remembered rows may now be wrong. Called by storage functions after a
/// statement that revokes or changes something a memo may hold.
pub fn changed() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
    CHANGED_IN_TRANSACTION.with(|c| c.set(true));
}

/// Called when a write transaction begins: a change noted outside any transaction has
/// already been visible since its statement ended, and must not move the epoch again.
pub(super) fn transaction_began() {
    CHANGED_IN_TRANSACTION.with(|c| c.set(false));
}

/// Called when a write transaction ends: if it changed remembered rows, moves the
/// epoch once more, now that the change is visible to every reader.
pub(super) fn transaction_ended() {
    if CHANGED_IN_TRANSACTION.with(|c| c.replace(false)) {
        EPOCH.fetch_add(1, Ordering::SeqCst);
    }
}

fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
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
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The remembered value, if it is still to be believed.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let current = epoch();
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
        let read_epoch = epoch();
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
            let current = epoch();
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

    // One test: the epoch is process-wide, and tests run in parallel threads.
    #[test]
    fn entries_follow_changes_reads_and_capacity() {
        let memo: Memo<String, u32> = Memo::new(10);
        let loaded = memo.get_or_load(&"a".to_owned(), || Ok::<_, ()>(Some(1)));
        assert_eq!(loaded, Ok(Some(1)));
        assert_eq!(memo.get("a"), Some(1));
        changed();
        transaction_ended();
        assert_eq!(
            memo.get("a"),
            None,
            "a change in the process ends every entry"
        );

        let loaded = memo.get_or_load(&"b".to_owned(), || {
            changed();
            Ok::<_, ()>(Some(1))
        });
        assert_eq!(loaded, Ok(Some(1)));
        assert_eq!(memo.get("b"), None, "read under an older epoch");

        let memo: Memo<u32, u32> = Memo::new(2);
        assert_eq!(memo.get_or_load(&1, || Ok::<_, ()>(None)), Ok(None));
        assert_eq!(memo.get_or_load(&1, || Ok::<_, ()>(Some(7))), Ok(Some(7)));
        for k in 2..10 {
            let _ = memo.get_or_load(&k, || Ok::<_, ()>(Some(k)));
        }
        assert!(memo.entries.lock().map(|e| e.len()).unwrap_or(0) <= 2);
    }
}
