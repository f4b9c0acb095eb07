//! [`Db::batch`]: concurrent callers coalesced into one write transaction (bbolt's `Batch`).
//!
//! The first caller of a batch becomes its *leader*. It waits until the batch is full
//! ([`Options::max_batch_size`](crate::Options::max_batch_size)) or its delay has passed
//! ([`Options::max_batch_delay`](crate::Options::max_batch_delay)), closes it, begins one write
//! transaction and hands it to each member **in turn, on the member's own thread**. So the
//! closures need be neither `Send` nor `'static`; only the transaction moves between threads.
//!
//! If a closure fails (returns `Err` or panics), the transaction is rolled back and run again
//! without it; the failed caller then runs its closure alone in its own transaction and gets
//! that result. If the commit itself fails, every member runs alone; if it panics (which
//! poisons the database), the panic goes to the leader and the others run alone and get
//! `Poisoned`. Either way no caller's result depends on another's closure — which is why a
//! closure may run more than once.

use crate::db::{Db, lock};
use crate::error::Result;
use crate::tx::Tx;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The batch currently accepting callers, if any.
#[derive(Debug, Default)]
pub(crate) struct Batcher {
    open: Mutex<Option<Arc<Batch>>>,
}

#[derive(Debug)]
struct Batch {
    st: Mutex<BatchState>,
    /// The leader waits here (for joins and for members' replies).
    leader_cv: Condvar,
}

/// What a member reports after running its closure in the shared transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Failed,
    Panicked,
}

/// How a member's call ends once the batch is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Its changes were committed with the batch.
    Committed,
    /// Run the closure alone in a transaction of its own.
    Solo,
}

#[derive(Debug)]
struct BatchState {
    /// One condvar per member (index 0 is the leader, which uses `leader_cv`).
    member_cv: Vec<Arc<Condvar>>,
    closed: bool,
    /// The shared transaction, parked here while no member holds it.
    tx: Option<Tx>,
    /// The member whose turn it is to run.
    turn: Option<usize>,
    reply: Option<Reply>,
    outcomes: Vec<Option<Outcome>>,
    done: bool,
}

fn wait<'a>(cv: &Condvar, g: MutexGuard<'a, BatchState>) -> MutexGuard<'a, BatchState> {
    cv.wait(g)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Db {
    /// Runs `f` in a write transaction shared with other threads calling `batch` at about the
    /// same time, and returns once that transaction has committed (bbolt's `Batch`).
    ///
    /// Under concurrent small writes this trades a little latency (up to
    /// [`Options::max_batch_delay`](crate::Options::max_batch_delay), 10 ms by default) for far
    /// fewer commits and fsyncs: up to
    /// [`Options::max_batch_size`](crate::Options::max_batch_size) calls (1000) share one.
    ///
    /// **`f` may run more than once**, so it must be idempotent apart from its effect on the
    /// transaction: if any closure in the batch fails, the transaction is rolled back and
    /// redone without it, and the failing one is then run alone. The error (or panic) a caller
    /// sees comes only from its own closure, or from a commit of its own changes. Panics
    /// propagate to the caller whose closure panicked; the others are unaffected.
    ///
    /// Each closure runs on its caller's thread while the batch's leader waits, so like
    /// [`Db::update`] it must not begin another write transaction (that would wait forever).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = rbolt::Db::open(dir.path().join("b.db"))?;
    /// db.update(|tx| tx.create_bucket(b"hits").map(|_| ()))?;
    /// std::thread::scope(|s| {
    ///     for i in 0..8u8 {
    ///         let db = &db;
    ///         s.spawn(move || db.batch(|tx| tx.bucket(b"hits")?.unwrap().put(&[i], b"1")));
    ///     }
    /// });
    /// assert_eq!(db.view(|tx| Ok(tx.bucket(b"hits")?.unwrap().iter().count()))?, 8);
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn batch<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(&Tx) -> Result<()>,
    {
        let opts = self.shared.ops.opts;
        if opts.max_batch_size <= 1 {
            return self.update(&mut f);
        }
        let (batch, me) = self.join(opts.max_batch_size);
        let outcome = if me == 0 {
            self.lead(&batch, &mut f, opts.max_batch_delay)
        } else {
            follow(&batch, me, &mut f)
        };
        match outcome {
            Outcome::Committed => Ok(()),
            Outcome::Solo => self.update(&mut f),
        }
    }

    /// Joins the open batch, or opens one and leads it. Returns the batch and the caller's
    /// index in it (0 = leader).
    fn join(&self, max: usize) -> (Arc<Batch>, usize) {
        let mut open = lock(&self.shared.ops.batcher.open);
        if let Some(b) = open.as_ref() {
            let b = b.clone();
            let mut st = lock(&b.st);
            if !st.closed {
                let me = st.member_cv.len();
                st.member_cv.push(Arc::new(Condvar::new()));
                st.outcomes.push(None);
                if st.member_cv.len() >= max {
                    st.closed = true;
                    *open = None;
                    b.leader_cv.notify_one();
                }
                drop(st);
                return (b, me);
            }
        }
        let b = Arc::new(Batch {
            st: Mutex::new(BatchState {
                member_cv: vec![Arc::new(Condvar::new())],
                closed: false,
                tx: None,
                turn: None,
                reply: None,
                outcomes: vec![None],
                done: false,
            }),
            leader_cv: Condvar::new(),
        });
        *open = Some(b.clone());
        (b, 0)
    }

    /// The leader's side: wait for members, run rounds until one commits, publish outcomes.
    fn lead<F>(&self, batch: &Arc<Batch>, f: &mut F, delay: Duration) -> Outcome
    where
        F: FnMut(&Tx) -> Result<()>,
    {
        let deadline = Instant::now() + delay;
        let mut st = lock(&batch.st);
        while !st.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = batch
                .leader_cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        if !st.closed {
            st.closed = true;
            drop(st);
            let mut open = lock(&self.shared.ops.batcher.open);
            if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, batch)) {
                *open = None;
            }
            drop(open);
            st = lock(&batch.st);
        }
        let n = st.member_cv.len();
        drop(st);

        let mut active: Vec<usize> = (0..n).collect();
        // Publishes the outcomes when the leader is done — also when it unwinds (a commit
        // that panicked): the members then run alone and meet the poisoned database
        // themselves instead of waiting for an answer forever.
        let mut ending = Ending {
            batch,
            outcomes: vec![Outcome::Solo; n],
        };
        let outcomes = &mut ending.outcomes;
        let mut own_panic: Option<Box<dyn Any + Send>> = None;
        while !active.is_empty() {
            let Ok(tx) = self.begin_write() else {
                break; // every remaining member retries alone and sees the error itself
            };
            lock(&batch.st).tx = Some(tx);
            let mut failed = None;
            for (pos, &i) in active.iter().enumerate() {
                let reply = if i == 0 {
                    let tx = lock(&batch.st).tx.take().expect("invariant: tx parked");
                    let r = catch_unwind(AssertUnwindSafe(|| f(&tx)));
                    lock(&batch.st).tx = Some(tx);
                    match r {
                        Ok(Ok(())) => Reply::Ok,
                        Ok(Err(_)) => Reply::Failed,
                        Err(p) => {
                            own_panic = Some(p);
                            Reply::Panicked
                        }
                    }
                } else {
                    let mut st = lock(&batch.st);
                    st.turn = Some(i);
                    st.member_cv[i].notify_one();
                    while st.reply.is_none() {
                        st = wait(&batch.leader_cv, st);
                    }
                    st.turn = None;
                    st.reply.take().expect("invariant: loop condition")
                };
                if reply != Reply::Ok {
                    failed = Some((pos, reply));
                    break;
                }
            }
            let tx = lock(&batch.st).tx.take().expect("invariant: tx parked");
            match failed {
                Some((pos, reply)) => {
                    drop(tx); // roll back, then redo without the failed closure
                    let i = active.remove(pos);
                    outcomes[i] = Outcome::Solo;
                    if reply == Reply::Panicked {
                        // The panicking caller has already unwound; nothing waits for it.
                        continue;
                    }
                }
                None => {
                    if tx.commit().is_ok() {
                        for &i in &active {
                            outcomes[i] = Outcome::Committed;
                        }
                    }
                    break;
                }
            }
        }
        let mine = outcomes[0];
        drop(ending);
        if let Some(p) = own_panic {
            resume_unwind(p);
        }
        mine
    }
}

/// The end of a batch, from the leader's side (see `lead`).
struct Ending<'a> {
    batch: &'a Batch,
    outcomes: Vec<Outcome>,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.batch.st);
        // A leader unwinding mid-round may have left the transaction parked; it rolls back
        // once the lock is let go (dropping a `Tx` takes the writer slot's lock).
        let parked = st.tx.take();
        for (i, o) in self.outcomes.iter().enumerate() {
            st.outcomes[i] = Some(*o);
        }
        st.done = true;
        for cv in &st.member_cv[1..] {
            cv.notify_one();
        }
        drop(st);
        drop(parked);
    }
}

/// A member's side: run the closure whenever the leader hands over the transaction, until
/// the batch is done.
fn follow<F>(batch: &Arc<Batch>, me: usize, f: &mut F) -> Outcome
where
    F: FnMut(&Tx) -> Result<()>,
{
    let mut st = lock(&batch.st);
    let cv = st.member_cv[me].clone();
    loop {
        if st.turn == Some(me) && st.reply.is_none() {
            let tx = st
                .tx
                .take()
                .expect("invariant: tx parked for the member's turn");
            drop(st);
            let r = catch_unwind(AssertUnwindSafe(|| f(&tx)));
            st = lock(&batch.st);
            st.tx = Some(tx);
            st.reply = Some(match &r {
                Ok(Ok(())) => Reply::Ok,
                Ok(Err(_)) => Reply::Failed,
                Err(_) => Reply::Panicked,
            });
            batch.leader_cv.notify_one();
            if let Err(p) = r {
                drop(st);
                resume_unwind(p);
            }
            continue;
        }
        if st.done {
            return st.outcomes[me].expect("invariant: outcomes set before done");
        }
        st = wait(&cv, st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch hands the transaction between threads, and shares the `Db`: both must stay
    /// thread-safe (a non-`Send` field added to `Tx` would make `Db` silently `!Sync`).
    #[test]
    fn tx_is_send_and_db_is_sync() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<Tx>();
        send_sync::<Db>();
    }
}
