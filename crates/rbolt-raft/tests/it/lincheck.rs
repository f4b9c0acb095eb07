//! A Porcupine-style linearizability checker (Wing & Gong's search with Lowe's memoization)
//! for a key/value register, checked one key at a time (linearizability is compositional).
//! Operations whose outcome is unknown (the client gave up) return at +infinity: their
//! effect may land at any point after their call, or never.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// Values are unique ids (each write writes a fresh one).
pub(crate) type Value = u64;

/// What an operation did, as seen by its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Wrote a value.
    Put(Value),
    /// Removed the key.
    Delete,
    /// Read this (None: absent).
    Get(Option<Value>),
    /// If the key held `expect` (None: absent), write `new`; `ok` says whether it did
    /// (`None`: outcome unknown).
    Cas {
        expect: Option<Value>,
        new: Value,
        ok: Option<bool>,
    },
}

/// One operation on one key.
#[derive(Clone, Debug)]
pub(crate) struct Op {
    /// Key it touched.
    pub key: u64,
    /// Call time (ns since the start of the run).
    pub call: u64,
    /// Return time; `u64::MAX` when the outcome is unknown.
    pub ret: u64,
    /// What it did.
    pub kind: Kind,
}

/// Verdict for a history.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Linearizable.
    Ok,
    /// Not linearizable; the key that breaks it.
    Illegal(u64),
    /// The search ran out of time.
    Unknown,
}

/// The register after `kind` from `state`, or None if `kind` could not have happened there.
fn step(state: Option<Value>, kind: &Kind, unknown: bool) -> Option<Option<Value>> {
    match kind {
        Kind::Put(v) => Some(Some(*v)),
        Kind::Delete => Some(None),
        Kind::Get(x) => (*x == state).then_some(state),
        Kind::Cas { expect, new, ok } => {
            let holds = state == *expect;
            match (ok, unknown) {
                (_, true) | (None, _) => Some(if holds { Some(*new) } else { state }),
                (Some(true), false) => holds.then_some(Some(*new)),
                (Some(false), false) => (!holds).then_some(state),
            }
        }
    }
}

/// Checks every key's history; stops at the first illegal key or at `limit`.
pub(crate) fn check(history: &[Op], limit: Duration) -> Verdict {
    let deadline = Instant::now() + limit;
    let mut by_key: BTreeMap<u64, Vec<Op>> = BTreeMap::new();
    for op in history {
        // A read that never returned observed nothing and constrains nothing.
        if op.ret == u64::MAX && matches!(op.kind, Kind::Get(_)) {
            continue;
        }
        by_key.entry(op.key).or_default().push(op.clone());
    }
    for (key, ops) in by_key {
        match check_key(&ops, deadline) {
            Verdict::Ok => {}
            Verdict::Illegal(_) => return Verdict::Illegal(key),
            Verdict::Unknown => return Verdict::Unknown,
        }
    }
    Verdict::Ok
}

const NIL: usize = usize::MAX;

fn check_key(ops: &[Op], deadline: Instant) -> Verdict {
    // Events: 2*i is the call of op i, 2*i+1 its return; node 0 of the list is a sentinel.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.call, false, i));
        events.push((op.ret, true, i));
    }
    // Calls sort before returns at equal times, so touching operations count as concurrent.
    events.sort_by_key(|&(t, is_ret, i)| (t, is_ret, i));
    let n = events.len();
    let (mut next, mut prev) = (vec![NIL; n + 1], vec![NIL; n + 1]);
    let mut ret_node = vec![0; ops.len()];
    for (pos, &(_, is_ret, i)) in events.iter().enumerate() {
        let node = pos + 1;
        prev[node] = pos;
        next[pos] = node;
        if is_ret {
            ret_node[i] = node;
        }
    }
    let op_of = |node: usize| events[node - 1].2;
    let is_ret = |node: usize| events[node - 1].1;
    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, Option<Value>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<Value>)> = Vec::new();
    let mut state: Option<Value> = None;
    let mut cur = next[0];
    let mut steps = 0u64;
    while next[0] != NIL {
        steps += 1;
        if steps.is_multiple_of(4096) && Instant::now() > deadline {
            return Verdict::Unknown;
        }
        if cur == NIL {
            return Verdict::Illegal(0);
        }
        if !is_ret(cur) {
            let i = op_of(cur);
            let mut lifted = false;
            if let Some(s2) = step(state, &ops[i].kind, ops[i].ret == u64::MAX) {
                let mut bits = linearized.clone();
                bits[i / 64] |= 1 << (i % 64);
                if cache.insert((bits.clone(), s2)) {
                    stack.push((cur, state));
                    state = s2;
                    linearized = bits;
                    // Lift the call and its return out of the list.
                    for node in [cur, ret_node[i]] {
                        next[prev[node]] = next[node];
                        if next[node] != NIL {
                            prev[next[node]] = prev[node];
                        }
                    }
                    cur = next[0];
                    lifted = true;
                }
            }
            if !lifted {
                cur = next[cur];
            }
        } else {
            // A return whose call is not linearized yet: undo the last choice.
            let Some((node, s)) = stack.pop() else {
                return Verdict::Illegal(0);
            };
            let i = op_of(node);
            linearized[i / 64] &= !(1 << (i % 64));
            state = s;
            for nd in [ret_node[i], node] {
                next[prev[nd]] = nd;
                if next[nd] != NIL {
                    prev[next[nd]] = nd;
                }
            }
            cur = next[node];
        }
    }
    Verdict::Ok
}

fn op(key: u64, call: u64, ret: u64, kind: Kind) -> Op {
    Op {
        key,
        call,
        ret,
        kind,
    }
}

#[test]
fn checker_rejects_a_stale_read() {
    // put 1, then put 2 completes, then a read returns 1: stale.
    let h = [
        op(1, 0, 10, Kind::Put(1)),
        op(1, 20, 30, Kind::Put(2)),
        op(1, 40, 50, Kind::Get(Some(1))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Illegal(1));
    // The same read concurrent with the second put is fine.
    let h = [
        op(1, 0, 10, Kind::Put(1)),
        op(1, 20, 45, Kind::Put(2)),
        op(1, 40, 50, Kind::Get(Some(1))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Ok);
}

#[test]
fn checker_handles_unknown_outcomes_and_cas() {
    let inf = u64::MAX;
    // A write whose client gave up may have happened...
    let h = [
        op(1, 0, 10, Kind::Put(1)),
        op(1, 20, inf, Kind::Put(2)),
        op(1, 40, 50, Kind::Get(Some(2))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Ok);
    // ...or not.
    let h = [
        op(1, 0, 10, Kind::Put(1)),
        op(1, 20, inf, Kind::Put(2)),
        op(1, 40, 50, Kind::Get(Some(1))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Ok);
    // But a read cannot see it un-happen.
    let h = [
        op(1, 0, 10, Kind::Put(1)),
        op(1, 20, inf, Kind::Put(2)),
        op(1, 40, 50, Kind::Get(Some(2))),
        op(1, 60, 70, Kind::Get(Some(1))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Illegal(1));
    // A successful CAS needs its expected value; a failed one needs any other.
    let h = [
        op(2, 0, 10, Kind::Put(1)),
        op(
            2,
            20,
            30,
            Kind::Cas {
                expect: Some(1),
                new: 3,
                ok: Some(true),
            },
        ),
        op(2, 40, 50, Kind::Get(Some(3))),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Ok);
    let h = [
        op(2, 0, 10, Kind::Put(1)),
        op(
            2,
            20,
            30,
            Kind::Cas {
                expect: Some(1),
                new: 3,
                ok: Some(false),
            },
        ),
    ];
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Illegal(2));
    // Keys are independent: an anomaly on one key is found among clean ones.
    let mut h: Vec<Op> = (0..200)
        .map(|i| op(3, i * 10, i * 10 + 5, Kind::Put(i)))
        .collect();
    h.push(op(4, 0, 5, Kind::Delete));
    h.push(op(4, 10, 15, Kind::Get(Some(9))));
    assert_eq!(check(&h, Duration::from_secs(5)), Verdict::Illegal(4));
}
