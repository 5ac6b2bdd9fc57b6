//! The allocator's settings (mimalloc, `src/main.rs`).
//!
//! By default mimalloc commits whole arenas up front and gives freed pages back to the
//! system only after a delay: a server at rest then holds twice the memory it needs
//! (39 MiB against 18 MiB idle here; 64 against 30 MiB after a load of code flows). Committing on demand and purging at once costs
//! nothing measurable in throughput (`scripts/bench`).

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_e` (default 2: on Linux).
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay`, in milliseconds (default 1000).
const PURGE_DELAY: mi_option_t = 15;

/// Commit arena memory on demand and return freed pages at once. Called before `main`
/// (`src/main.rs`): an arena mimalloc has already reserved keeps the options it had.
pub fn return_memory_promptly() {
    // SAFETY: plain setters of global integers, valid for these option numbers.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(option: mi_option_t) -> std::os::raw::c_long {
        // SAFETY: a plain getter of a global integer.
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    /// The option numbers are mimalloc's enum positions: its documented defaults show
    /// that they still name the options meant (a new mimalloc that moves them fails here).
    #[test]
    fn the_option_numbers_name_the_options_meant() {
        assert_eq!(option(ARENA_EAGER_COMMIT), 2);
        assert_eq!(option(PURGE_DELAY), 1000);
    }
}
