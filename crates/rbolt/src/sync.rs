//! Lock helpers shared by every layer that holds a mutex.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the guard if a panic poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind (no invariant spans the
    // critical sections), so recovering the guard is sound.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
