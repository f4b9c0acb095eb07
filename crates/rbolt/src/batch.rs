//! [`Db::batch`](crate::Db::batch): concurrent callers coalesced into one write transaction (bbolt's `Batch`).
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

use crate::error::{Error, Result};
use crate::sync::lock;
use crate::tx::{ReadWrite, Tx};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The batch currently accepting callers, if any, and the limits every batch closes at.
#[derive(Debug)]
pub(crate) struct Batcher {
    open: Mutex<Option<Arc<Batch>>>,
    max_size: usize,
    max_delay: Duration,
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
    tx: Option<Tx<ReadWrite>>,
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

impl Batcher {
    pub(crate) fn new(max_size: usize, max_delay: Duration) -> Self {
        Self {
            open: Mutex::new(None),
            max_size,
            max_delay,
        }
    }

    /// Runs `f` in a batch; `begin` begins the write transaction a batch (or a caller running
    /// alone) uses.
    pub(crate) fn run<F, E>(
        &self,
        mut f: F,
        begin: &dyn Fn() -> Result<Tx<ReadWrite>>,
    ) -> std::result::Result<(), E>
    where
        F: FnMut(&Tx<ReadWrite>) -> std::result::Result<(), E>,
        E: From<Error>,
    {
        if self.max_size <= 1 {
            return alone(begin, &mut f);
        }
        let (batch, me) = self.join();
        let outcome = if me == 0 {
            self.lead(&batch, &mut f, begin)
        } else {
            follow(&batch, me, &mut f)
        };
        match outcome {
            Outcome::Committed => Ok(()),
            Outcome::Solo => alone(begin, &mut f),
        }
    }

    /// Joins the open batch, or opens one and leads it. Returns the batch and the caller's
    /// index in it (0 = leader).
    fn join(&self) -> (Arc<Batch>, usize) {
        let max = self.max_size;
        let mut open = lock(&self.open);
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
    fn lead<F, E>(
        &self,
        batch: &Arc<Batch>,
        f: &mut F,
        begin: &dyn Fn() -> Result<Tx<ReadWrite>>,
    ) -> Outcome
    where
        F: FnMut(&Tx<ReadWrite>) -> std::result::Result<(), E>,
    {
        let deadline = Instant::now() + self.max_delay;
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
            let mut open = lock(&self.open);
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
            let Ok(tx) = begin() else {
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

/// Runs `f` alone in a write transaction of its own, as [`Db::update`](crate::Db::update) does.
fn alone<F, E>(begin: &dyn Fn() -> Result<Tx<ReadWrite>>, f: &mut F) -> std::result::Result<(), E>
where
    F: FnMut(&Tx<ReadWrite>) -> std::result::Result<(), E>,
    E: From<Error>,
{
    let tx = begin()?;
    f(&tx)?;
    Ok(tx.commit()?)
}

/// A member's side: run the closure whenever the leader hands over the transaction, until
/// the batch is done.
fn follow<F, E>(batch: &Arc<Batch>, me: usize, f: &mut F) -> Outcome
where
    F: FnMut(&Tx<ReadWrite>) -> std::result::Result<(), E>,
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
        send_sync::<crate::Db>();
    }
}
