//! The replicated key space inside the state-machine file: how ops change it, how reads see
//! it, and the exactly-once session table. Everything here runs inside one rbolt transaction
//! handed in by the caller, which is what makes a batch of applied entries atomic.
//!
//! Layout: bucket `kv` maps user keys to `[1][mod_index u64 LE][value]`; bucket `_sessions`
//! maps a client id (u64 LE) to `[last seq u64 LE][encoded Response]`.

use crate::types::{Compare, Op, OpResult, Response, Target, Txn, Versioned, decode, encode};
use rbolt::{Bucket, Mode, ReadWrite, Tx};
use std::io;

pub(crate) const KV: &[u8] = b"kv";
pub(crate) const SESSIONS: &[u8] = b"_sessions";
const VALUE_FORMAT: u8 = 1;

fn corrupted(what: impl Into<String>) -> rbolt::Error {
    rbolt::Error::Corrupted {
        pgid: None,
        what: what.into(),
    }
}

fn encode_value(value: &[u8], mod_index: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + value.len());
    out.push(VALUE_FORMAT);
    out.extend_from_slice(&mod_index.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode_value(raw: &[u8]) -> rbolt::Result<Versioned> {
    match raw.split_first() {
        Some((&VALUE_FORMAT, rest)) if rest.len() >= 8 => {
            let (idx, value) = rest.split_at(8);
            let mut b = [0u8; 8];
            b.copy_from_slice(idx);
            Ok(Versioned {
                value: value.to_vec(),
                mod_index: u64::from_le_bytes(b),
            })
        }
        _ => Err(corrupted("stored value has an unknown format")),
    }
}

/// Reads one key in `tx`.
pub(crate) fn get(tx: &Tx<impl Mode>, key: &[u8]) -> rbolt::Result<Option<Versioned>> {
    let Some(kv) = tx.bucket(KV)? else {
        return Ok(None);
    };
    kv.get(key)?.map(decode_value).transpose()
}

/// Reads keys in `[start, end)` (`end` empty = no upper bound), at most `limit` of them
/// (0 = no limit).
pub(crate) fn range(
    tx: &Tx<impl Mode>,
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> rbolt::Result<Vec<(Vec<u8>, Versioned)>> {
    let Some(kv) = tx.bucket(KV)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let iter = if end.is_empty() {
        kv.range(start..)
    } else {
        kv.range(start..end)
    };
    for item in iter {
        let (k, v) = item?;
        let v = v.ok_or_else(|| corrupted("sub-bucket inside the key space"))?;
        out.push((k.to_vec(), decode_value(v)?));
        if limit != 0 && out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Checks an op before anything runs, so a transaction is applied whole or not at all.
fn validate(op: &Op, depth: usize) -> Result<(), String> {
    let key_ok = |k: &[u8]| {
        if k.is_empty() {
            Err("key required".to_string())
        } else if k.len() > rbolt::MAX_KEY_SIZE {
            Err("key too large".to_string())
        } else {
            Ok(())
        }
    };
    match op {
        Op::Put { key, value } => {
            key_ok(key)?;
            if value.len() + 9 > rbolt::MAX_VALUE_SIZE {
                return Err("value too large".to_string());
            }
            Ok(())
        }
        Op::Delete { key } => key_ok(key),
        Op::Txn(t) => {
            if depth > 0 {
                return Err("transactions do not nest".to_string());
            }
            for c in &t.compare {
                key_ok(&c.key)?;
            }
            t.success
                .iter()
                .chain(&t.failure)
                .try_for_each(|op| validate(op, depth + 1))
        }
    }
}

fn holds(kv: &Bucket<'_, ReadWrite>, c: &Compare) -> rbolt::Result<bool> {
    let cur = kv.get(&c.key)?.map(decode_value).transpose()?;
    Ok(match (&c.target, cur) {
        (Target::Absent, cur) => cur.is_none(),
        (Target::Value(v), Some(cur)) => cur.value == *v,
        (Target::ModIndex(i), Some(cur)) => cur.mod_index == *i,
        (_, None) => false,
    })
}

fn run(kv: &Bucket<'_, ReadWrite>, op: &Op, index: u64) -> rbolt::Result<OpResult> {
    Ok(match op {
        Op::Put { key, value } => {
            let prev = kv.get(key)?.map(decode_value).transpose()?;
            kv.put(key, encode_value(value, index))?;
            OpResult::Put { prev }
        }
        Op::Delete { key } => {
            let prev = kv.get(key)?.map(decode_value).transpose()?;
            if prev.is_some() {
                kv.delete(key)?;
            }
            OpResult::Delete { prev }
        }
        Op::Txn(Txn {
            compare,
            success,
            failure,
        }) => {
            let mut ok = true;
            for c in compare {
                ok &= holds(kv, c)?;
            }
            let ops = if ok { success } else { failure };
            let results = ops
                .iter()
                .map(|op| run(kv, op, index))
                .collect::<rbolt::Result<_>>()?;
            OpResult::Txn {
                succeeded: ok,
                results,
            }
        }
    })
}

fn session_row(raw: &[u8]) -> rbolt::Result<(u64, &[u8])> {
    if raw.len() < 8 {
        return Err(corrupted("short session record"));
    }
    let (seq, resp) = raw.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(seq);
    Ok((u64::from_le_bytes(b), resp))
}

/// Applies one client request at log `index`: session check, validation, execution, and the
/// session record, all in `tx`.
pub(crate) fn apply(
    tx: &Tx<ReadWrite>,
    session: Option<(u64, u64)>,
    op: &Op,
    index: u64,
) -> rbolt::Result<Response> {
    let sessions = tx.create_bucket_if_not_exists(SESSIONS)?;
    if let Some((client, seq)) = session
        && let Some(raw) = sessions.get(client.to_le_bytes())?
    {
        let (last, resp) = session_row(raw)?;
        if seq == last {
            return decode(resp).map_err(|e| corrupted(format!("session record: {e}")));
        }
        if seq < last {
            return Ok(Response::Stale { index });
        }
    }
    let resp = match validate(op, 0) {
        Err(reason) => Response::Rejected { index, reason },
        Ok(()) => {
            let kv = tx.create_bucket_if_not_exists(KV)?;
            Response::Done {
                index,
                result: run(&kv, op, index)?,
            }
        }
    };
    if let Some((client, seq)) = session {
        let mut row = seq.to_le_bytes().to_vec();
        row.extend(encode(&resp).map_err(|e: io::Error| corrupted(e.to_string()))?);
        sessions.put(client.to_le_bytes(), &row)?;
    }
    Ok(resp)
}

/// FNV-1a over the key space and the session table: equal on replicas that applied the same
/// entries, whatever their raft bookkeeping.
pub(crate) fn data_hash(tx: &Tx<impl Mode>) -> rbolt::Result<u64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for name in [KV, SESSIONS] {
        feed(name);
        if let Some(b) = tx.bucket(name)? {
            for item in b.iter() {
                let (k, v) = item?;
                feed(k);
                feed(v.unwrap_or_default());
            }
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Op {
        Op::Put {
            key: k.as_bytes().to_vec(),
            value: v.as_bytes().to_vec(),
        }
    }

    #[test]
    fn txn_compare_and_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let db = rbolt::Db::open(dir.path().join("sm.db")).unwrap();
        db.update(|tx| {
            assert!(matches!(
                apply(tx, Some((1, 1)), &put("a", "x"), 5)?,
                Response::Done { index: 5, .. }
            ));
            // A retried request returns the recorded answer and does not run again.
            let again = apply(tx, Some((1, 1)), &put("a", "y"), 6)?;
            assert_eq!(
                again,
                Response::Done {
                    index: 5,
                    result: OpResult::Put { prev: None }
                }
            );
            assert_eq!(get(tx, b"a")?.unwrap().value, b"x");
            let cas = Op::Txn(Txn {
                compare: vec![Compare {
                    key: b"a".to_vec(),
                    target: Target::ModIndex(5),
                }],
                success: vec![put("a", "z"), put("b", "1")],
                failure: vec![],
            });
            let r = apply(tx, Some((1, 2)), &cas, 7)?;
            assert!(matches!(
                r,
                Response::Done {
                    result: OpResult::Txn {
                        succeeded: true,
                        ..
                    },
                    ..
                }
            ));
            let r = apply(tx, Some((1, 3)), &cas, 8)?;
            assert!(matches!(
                r,
                Response::Done {
                    result: OpResult::Txn {
                        succeeded: false,
                        ..
                    },
                    ..
                }
            ));
            assert_eq!(
                apply(tx, Some((1, 1)), &put("a", "q"), 9)?,
                Response::Stale { index: 9 }
            );
            let bad = apply(tx, None, &put("", "v"), 10)?;
            assert!(matches!(bad, Response::Rejected { .. }));
            let rows = range(tx, b"a", b"", 0)?;
            assert_eq!(rows.len(), 2);
            assert_eq!(
                rows[0].1,
                Versioned {
                    value: b"z".to_vec(),
                    mod_index: 7
                }
            );
            Ok(())
        })
        .unwrap();
    }
}
