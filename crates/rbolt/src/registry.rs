//! The database files this process has open, by device and inode: a second open of one of them
//! fails at once with [`Error::DatabaseAlreadyOpen`] instead of waiting forever.
//!
//! `flock` locks belong to an open file description, so a second descriptor of the same file
//! conflicts with the first even within one process; with no timeout the second open would
//! retry the lock for as long as the first `Db` lives, which in the same thread is forever.
//! Read-only opens take the lock shared, as two read-only processes would, so they may share
//! a file with each other; a read-write open shares it with nothing.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, PoisonError};

#[derive(Debug)]
enum Holders {
    Writer,
    Readers(usize),
}

/// (device, inode) → who has it open. An inode number is not reused while its file is open,
/// and every entry's file stays open until the entry goes.
static OPEN: Mutex<BTreeMap<(u64, u64), Holders>> = Mutex::new(BTreeMap::new());

/// One open `Db`'s entry in the registry; dropping it removes the entry.
#[derive(Debug)]
pub(crate) struct Registration {
    key: (u64, u64),
}

impl Registration {
    /// Registers `file`, or fails with [`Error::DatabaseAlreadyOpen`] if this process has it
    /// open already (read-only beside read-only excepted).
    pub(crate) fn new(file: &File, read_only: bool) -> Result<Self> {
        let m = file.metadata()?;
        let key = (m.dev(), m.ino());
        // Plain data, and no code that can panic runs under the lock.
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        match (open.get_mut(&key), read_only) {
            (None, true) => {
                open.insert(key, Holders::Readers(1));
            }
            (None, false) => {
                open.insert(key, Holders::Writer);
            }
            (Some(Holders::Readers(n)), true) => *n += 1,
            (Some(_), _) => return Err(Error::DatabaseAlreadyOpen),
        }
        Ok(Self { key })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        match open.get_mut(&self.key) {
            Some(Holders::Readers(n)) if *n > 1 => *n -= 1,
            _ => {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_writers_do_not_and_entries_go_with_the_last_holder() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        let r1 = Registration::new(&file, true).unwrap();
        let r2 = Registration::new(&file, true).unwrap();
        assert!(matches!(
            Registration::new(&file, false),
            Err(Error::DatabaseAlreadyOpen)
        ));
        drop(r1);
        assert!(
            Registration::new(&file, false).is_err(),
            "r2 still holds it"
        );
        drop(r2);
        let w = Registration::new(&file, false).unwrap();
        assert!(Registration::new(&file, true).is_err());
        assert!(Registration::new(&file, false).is_err());
        drop(w);
        drop(Registration::new(&file, true).unwrap());
    }
}
