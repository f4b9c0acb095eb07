//! The state machine's own promises beyond openraft's suite: a snapshot image is a valid rbolt
//! file whose metadata matches, an install refuses an image that does not match what was
//! announced (leaving the old state), and applied state survives a reopen.

use openraft::entry::RaftEntry;
use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use rbolt_raft::types::{Entry, LogId};
use rbolt_raft::{Op, Request, SnapshotImage, StateMachine};
use std::io::Write;

fn log_id(index: u64) -> LogId {
    LogId {
        leader_id: LeaderId {
            term: 1,
            node_id: 1,
        },
        index,
    }
}

async fn apply_puts(sm: &mut StateMachine, from: u64, to: u64) {
    let entries: Vec<Entry> = (from..to)
        .map(|i| {
            let req = Request {
                session: None,
                op: Op::Put {
                    key: format!("k{i:04}").into_bytes(),
                    value: vec![b'v'; 50],
                },
            };
            Entry::new_normal(log_id(i), req)
        })
        .collect();
    let stream = futures_util::stream::iter(entries.into_iter().map(|e| Ok((e, None))));
    sm.apply(stream).await.unwrap();
}

#[test]
fn snapshot_install_verifies_the_image_and_replaces_state_atomically() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = StateMachine::open(tmp.path().join("a")).unwrap();
        apply_puts(&mut a, 1, 300).await;
        let snap = a.build_snapshot().await.unwrap();
        assert_eq!(snap.meta.last_log_id, Some(log_id(299)));
        // The image is a complete rbolt file that passes the consistency check.
        let image = rbolt::Options::new()
            .read_only(true)
            .open(&snap.snapshot.path)
            .unwrap();
        assert!(image.view(|tx| Ok(tx.check())).unwrap().is_empty());
        drop(image);
        // Writes after the snapshot do not change it.
        apply_puts(&mut a, 300, 310).await;
        let hash_at_snapshot = {
            let mut b = StateMachine::open(tmp.path().join("b0")).unwrap();
            b.install_snapshot(
                &snap.meta,
                SnapshotImage::open(&snap.snapshot.path).unwrap(),
            )
            .await
            .unwrap();
            b.data_hash().unwrap()
        };
        assert_ne!(hash_at_snapshot, a.data_hash().unwrap());

        let mut b = StateMachine::open(tmp.path().join("b")).unwrap();
        apply_puts(&mut b, 1, 5).await;
        let before = b.data_hash().unwrap();
        // Metadata that does not match the image: refused, old state kept.
        let mut wrong = snap.meta.clone();
        wrong.last_log_id = Some(log_id(500));
        assert!(
            b.install_snapshot(&wrong, SnapshotImage::open(&snap.snapshot.path).unwrap())
                .await
                .is_err()
        );
        assert_eq!(b.data_hash().unwrap(), before);
        // A damaged image: refused, old state kept.
        let bad = tmp.path().join("bad.snap");
        let mut bytes = std::fs::read(&snap.snapshot.path).unwrap();
        bytes.truncate(bytes.len() / 2);
        let page = 4096.min(bytes.len() / 2);
        bytes[..page].fill(0xAB);
        std::fs::File::create(&bad)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        assert!(
            b.install_snapshot(&snap.meta, SnapshotImage::open(&bad).unwrap())
                .await
                .is_err()
        );
        assert_eq!(b.data_hash().unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("b").join("snapshots"))
            .unwrap()
            .collect();
        assert!(
            leftovers.is_empty(),
            "a refused install left files behind: {leftovers:?}"
        );
        // The real thing installs, becomes the current snapshot, and survives a reopen.
        b.install_snapshot(
            &snap.meta,
            SnapshotImage::open(&snap.snapshot.path).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(b.data_hash().unwrap(), hash_at_snapshot);
        let current = b.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta.last_log_id, Some(log_id(299)));
        drop(current);
        drop(b);
        let mut b = StateMachine::open(tmp.path().join("b")).unwrap();
        assert_eq!(b.applied_state().await.unwrap().0, Some(log_id(299)));
        assert_eq!(b.data_hash().unwrap(), hash_at_snapshot);
        // Entries already applied are not applied again after a reopen.
        apply_puts(&mut b, 290, 300).await;
        assert_eq!(b.data_hash().unwrap(), hash_at_snapshot);
    });
}
