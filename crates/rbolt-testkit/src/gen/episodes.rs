//! The episodes: each aims at one feature of the format (deep nesting, inline buckets
//! crossing pageSize/4, merges, big values, max keys, sequences, huge transactions, ...).

use super::*;

impl Generator {
    // ---------------------------------------------------------------- episodes

    /// Runs episode `kind % EPISODES`.
    pub fn episode(&mut self, kind: usize) {
        match kind % EPISODES {
            0 => self.many_top_level(),
            1 => self.deep_nest(),
            2 => self.inline_cycle(),
            3 => self.bucket_delete(),
            4 => self.overwrites(),
            5 => self.fill_and_merge(),
            6 => self.big_values(),
            7 => self.max_keys(),
            8 => self.sequences(),
            9 => self.many_small_txs(),
            10 => self.huge_tx(),
            _ => self.edge_cases(),
        }
    }

    /// A random episode, weighted towards the cheap ones.
    pub fn random_episode(&mut self) {
        const WEIGHTS: [u32; EPISODES] = [6, 8, 8, 8, 8, 6, 5, 3, 6, 5, 2, 8];
        let total: u32 = WEIGHTS.iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (kind, w) in WEIGHTS.iter().enumerate() {
            if x < *w {
                return self.episode(kind);
            }
            x -= w;
        }
    }

    /// 20–120 top-level buckets, a few keys each, in 1–3 transactions.
    pub fn many_top_level(&mut self) {
        let n = self.rng.random_range(20..=120);
        let txs = self.rng.random_range(1..=3);
        for i in 0..n {
            let path = vec![self.child_name(&[])];
            self.cb(&path);
            for _ in 0..self.rng.random_range(0..=3) {
                let k = self.value_key(&path);
                let v = self.small_value();
                self.put(&path, &k, &v);
            }
            if self.rng.random_bool(0.2) {
                let s = self.random_seq();
                self.seq(&path, s);
            }
            if (i + 1) % (n / txs + 1) == 0 {
                self.commit();
            }
        }
        self.maybe_commit();
    }

    /// A path of depth 5–9 with keys and sequences at several levels and siblings; sometimes a
    /// middle level is deleted in a later transaction.
    pub fn deep_nest(&mut self) {
        let depth = self.rng.random_range(5..=9);
        let mut path: Path = Vec::new();
        for _ in 0..depth {
            let n = self.child_name(&path);
            path.push(n);
        }
        self.cb(&path);
        for level in 1..=depth {
            let p = path[..level].to_vec();
            for _ in 0..self.rng.random_range(0..=4) {
                let k = self.value_key(&p);
                let v = self.value();
                self.put(&p, &k, &v);
            }
            if self.rng.random_bool(0.3) {
                let s = self.random_seq();
                self.seq(&p, s);
            }
            if self.rng.random_bool(0.3) {
                let mut sib = p.clone();
                let n = self.child_name(&p);
                sib.push(n);
                let k = self.value_key(&sib);
                let v = self.small_value();
                self.put(&sib, &k, &v);
            }
        }
        self.commit();
        match self.rng.random_range(0..3) {
            0 => {
                let level = self.rng.random_range(2..=depth);
                self.db(&path[..level]);
            }
            1 => {
                for _ in 0..self.rng.random_range(1..=20) {
                    let k = self.value_key(&path);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
            }
            _ => {}
        }
        self.maybe_commit();
    }

    /// A bucket crosses `pageSize/4` upwards and back down over several commits: by values
    /// (small ones, or one big one) or by gaining and losing a sub-bucket.
    pub fn inline_cycle(&mut self) {
        let ps = self.page_size;
        let limit = ps / 4;
        let path = self.new_bucket_path();
        self.cb(&path);
        for _ in 0..self.rng.random_range(0..=3) {
            let k = self.value_key(&path);
            let v = self.small_value();
            self.put(&path, &k, &v);
        }
        self.commit();
        for _ in 0..self.rng.random_range(1..=3) {
            match self.rng.random_range(0..4) {
                0 => {
                    // A sub-bucket makes it non-inline; deleting it makes it inline again.
                    let mut sub = path.clone();
                    let n = self.child_name(&path);
                    sub.push(n);
                    self.cb(&sub);
                    if self.rng.random_bool(0.5) {
                        let k = self.value_key(&sub);
                        let v = self.small_value();
                        self.put(&sub, &k, &v);
                    }
                    self.commit();
                    self.db(&sub);
                    self.commit();
                }
                1 => {
                    // One value bigger than the inline limit, then deleted.
                    let k = self.value_key(&path);
                    let len = self.rng.random_range(limit..=2 * ps);
                    let v = self.bytes(len);
                    self.put(&path, &k, &v);
                    self.commit();
                    self.del(&path, &k);
                    self.commit();
                }
                _ => {
                    // Many small values past the limit (sometimes far past: several pages),
                    // then deletes down below it.
                    let over = match self.rng.random_range(0..3) {
                        0 => self.rng.random_range(1..=64),
                        1 => self.rng.random_range(1..=limit),
                        _ => self.rng.random_range(ps..=3 * ps),
                    };
                    let target = limit + over;
                    let vmax = (ps / 32).max(8);
                    while self
                        .model
                        .bucket(&path)
                        .and_then(BucketModel::inline_size)
                        .is_some_and(|s| s <= target)
                    {
                        let k = self.value_key(&path);
                        let len = self.rng.random_range(0..=vmax);
                        let v = self.bytes(len);
                        self.put(&path, &k, &v);
                    }
                    self.commit();
                    let down = self.rng.random_range(0..=limit * 9 / 10);
                    while self
                        .model
                        .bucket(&path)
                        .and_then(BucketModel::inline_size)
                        .is_some_and(|s| s > down && s > 16)
                    {
                        match self.existing_value_key(&path) {
                            Some(k) => self.del(&path, &k),
                            None => break,
                        }
                    }
                    self.commit();
                }
            }
        }
    }

    /// Deletes a bucket (often one with sub-buckets), sometimes recreating it in the same
    /// transaction, sometimes deleting one created in the same transaction.
    pub fn bucket_delete(&mut self) {
        match self.rng.random_range(0..4) {
            0 => {
                // Create a subtree with content, commit, delete it.
                let path = self.new_bucket_path();
                let mut sub = path.clone();
                let n = self.child_name(&path);
                sub.push(n.clone());
                for _ in 0..self.rng.random_range(1..=30) {
                    let p = if self.rng.random_bool(0.5) {
                        &path
                    } else {
                        &sub
                    }
                    .clone();
                    // The sub-bucket comes into being with its first put, so until then
                    // its name must stay free of values in the parent.
                    let k = loop {
                        let k = self.value_key(&p);
                        if p != path || k != n {
                            break k;
                        }
                    };
                    let v = self.value();
                    self.put(&p, &k, &v);
                }
                self.commit();
                self.db(&path);
            }
            1 => {
                // Created and deleted in one transaction.
                let path = self.new_bucket_path();
                for _ in 0..self.rng.random_range(0..=10) {
                    let k = self.value_key(&path);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
                self.cb(&path);
                self.db(&path);
            }
            _ => {
                // An existing bucket, sometimes recreated at once.
                let Some(path) = self.pick_bucket() else {
                    return self.deep_nest();
                };
                self.db(&path);
                if self.rng.random_bool(0.4) {
                    self.cb(&path);
                    for _ in 0..self.rng.random_range(0..=5) {
                        let k = self.value_key(&path);
                        let v = self.small_value();
                        self.put(&path, &k, &v);
                    }
                }
            }
        }
        self.maybe_commit();
    }

    /// Overwrites existing values with values of other sizes (crossing the overflow boundary
    /// both ways, down to empty).
    pub fn overwrites(&mut self) {
        let n = self.rng.random_range(5..=40);
        for _ in 0..n {
            let path = self.some_bucket();
            let k = match self.existing_value_key(&path) {
                Some(k) => k,
                None => self.value_key(&path),
            };
            let v = match self.rng.random_range(0..5) {
                0 => Vec::new(),
                1 => {
                    let n = self.rng.random_range(self.page_size..=3 * self.page_size);
                    self.bytes(n)
                }
                _ => self.value(),
            };
            self.put(&path, &k, &v);
            if self.rng.random_bool(0.2) {
                self.commit();
            }
        }
        self.maybe_commit();
    }

    /// Fills a bucket with 400–1500 keys, then deletes a contiguous run (whole pages emptied)
    /// and scattered keys (underfull pages merged), sometimes almost everything.
    pub fn fill_and_merge(&mut self) {
        let path = self.new_bucket_path();
        let n = self.rng.random_range(400..=1500usize);
        let vmax = self.rng.random_range(30..=200);
        let step = self.rng.random_range(1..=7);
        let key = |i: usize| format!("m{:07}", i * step).into_bytes();
        for i in 0..n {
            let len = self.rng.random_range(0..=vmax);
            let v = self.bytes(len);
            self.put(&path, &key(i), &v);
        }
        self.commit();
        let content = |g: &Self| {
            g.model
                .bucket(&path)
                .and_then(BucketModel::inline_size)
                .unwrap_or(0)
        };
        let before = content(self);
        let lo = self.rng.random_range(0..n / 2);
        let hi = lo + self.rng.random_range(n / 4..=n / 2);
        for i in lo..hi.min(n) {
            self.del(&path, &key(i));
        }
        for i in 0..n {
            if self.rng.random_bool(0.33) {
                self.del(&path, &key(i));
            }
        }
        if before >= 3 * self.page_size && content(self) * 2 <= before {
            self.cov.merge_deletes += 1;
        }
        self.commit();
        if self.rng.random_bool(0.5) {
            let keep = self.rng.random_range(0..=3);
            let before = content(self);
            let keys: Vec<Vec<u8>> = self
                .model
                .bucket(&path)
                .map(|b| b.entries.keys().skip(keep).cloned().collect())
                .unwrap_or_default();
            for k in keys {
                self.del(&path, &k);
            }
            if before >= 3 * self.page_size {
                self.cov.merge_deletes += 1;
            }
            self.commit();
        }
    }

    /// Values at the interesting sizes: exactly filling a page, one byte past it, several
    /// pages, and (within the per-script budget) one to five MiB; then overwrites and
    /// deletes of them.
    pub fn big_values(&mut self) {
        let ps = self.page_size;
        let path = self.some_bucket();
        let mut keys = Vec::new();
        for _ in 0..self.rng.random_range(2..=6) {
            let k = self.value_key(&path);
            // A leaf page with one element: 16 header + 16 element + key + value.
            let fill = ps.saturating_sub(32 + k.len());
            let len = match self.rng.random_range(0..7) {
                0 => fill,
                1 => fill + 1,
                2 => fill.saturating_sub(1),
                3 => ps * self.rng.random_range(2..=8) + self.rng.random_range(0..3),
                4 => self.rng.random_range(64 << 10..=256 << 10),
                _ => self.rng.random_range(ps..=ps * 3),
            };
            let len = if len > 64 << 10 && len > self.big_budget {
                ps * 2
            } else {
                len
            };
            if len > 64 << 10 {
                self.big_budget -= len;
            }
            let v = self.bytes(len);
            self.put(&path, &k, &v);
            keys.push(k);
        }
        if self.big_budget >= 1 << 20 && self.rng.random_bool(0.5) {
            let len = self
                .rng
                .random_range(1 << 20..=self.big_budget.min(5 << 20));
            self.big_budget -= len;
            let k = self.value_key(&path);
            let v = self.bytes(len);
            self.put(&path, &k, &v);
            keys.push(k);
        }
        self.commit();
        for k in keys {
            match self.rng.random_range(0..4) {
                0 => self.del(&path, &k),
                1 => self.put(&path, &k, &[]),
                2 => {
                    let v = self.small_value();
                    self.put(&path, &k, &v);
                }
                _ => {}
            }
        }
        self.maybe_commit();
    }

    /// Several multi-MiB values; used by a few scripts so that "several MiB" is always covered.
    pub fn huge_values(&mut self) {
        let path = self.some_bucket();
        let len = self
            .rng
            .random_range(2 << 20..=self.big_budget.clamp(2 << 20, 4 << 20));
        self.big_budget = self.big_budget.saturating_sub(len);
        let k = self.value_key(&path);
        let v = self.bytes(len);
        self.put(&path, &k, &v);
        self.commit();
        if self.rng.random_bool(0.5) {
            let v = self.small_value();
            self.put(&path, &k, &v);
            self.maybe_commit();
        }
    }

    /// Keys of exactly 32768 bytes (and 32767), sometimes a bucket named with one; later one
    /// is deleted and one overwritten.
    pub fn max_keys(&mut self) {
        let mut path = self.some_bucket();
        if self.rng.random_bool(0.3) {
            let mut name = self.bytes(BBOLT_MAX_KEY_SIZE);
            name[0] = b'N';
            path.push(name);
            if self.model.bucket(&path).is_none() {
                self.cb(&path);
            } else {
                path.pop();
            }
        }
        let mut keys = Vec::new();
        for i in 0..self.rng.random_range(1..=6) {
            let len = if i == 0 {
                BBOLT_MAX_KEY_SIZE
            } else {
                *[BBOLT_MAX_KEY_SIZE, BBOLT_MAX_KEY_SIZE - 1, 1000]
                    .get(self.rng.random_range(0..3))
                    .unwrap_or(&BBOLT_MAX_KEY_SIZE)
            };
            let k = self.bytes(len);
            if matches!(
                self.model.bucket(&path).and_then(|b| b.entries.get(&k)),
                Some(Entry::Bucket(_))
            ) {
                continue;
            }
            let v = self.small_value();
            self.put(&path, &k, &v);
            keys.push(k);
        }
        self.commit();
        if let Some(k) = keys.first() {
            self.del(&path, k);
        }
        if let Some(k) = keys.last() {
            let v = self.value();
            self.put(&path, k, &v);
        }
        self.maybe_commit();
    }

    /// Sequences on existing and new buckets, including 0 and `u64::MAX`.
    pub fn sequences(&mut self) {
        for _ in 0..self.rng.random_range(3..=10) {
            let path = self.some_bucket();
            let n = self.random_seq();
            self.seq(&path, n);
        }
        let path = self.some_bucket();
        self.seq(&path, u64::MAX);
        self.maybe_commit();
    }

    /// 30–150 transactions of 1–4 ops each, and a few empty commits.
    pub fn many_small_txs(&mut self) {
        self.commit_pending();
        for _ in 0..self.rng.random_range(30..=150) {
            if self.rng.random_bool(0.03) {
                self.commit();
                continue;
            }
            for _ in 0..self.rng.random_range(1..=4) {
                self.random_op();
            }
            self.commit();
        }
    }

    /// One transaction with 3000–15000 puts (and some deletes) over 1–4 buckets.
    pub fn huge_tx(&mut self) {
        self.commit_pending();
        let buckets: Vec<Path> = (0..self.rng.random_range(1..=4))
            .map(|_| self.some_bucket())
            .collect();
        let n = self.rng.random_range(3000..=15000);
        let mut recent: Vec<(usize, Vec<u8>)> = Vec::new();
        for _ in 0..n {
            let b = self.rng.random_range(0..buckets.len());
            let path = &buckets[b].clone();
            if !recent.is_empty() && self.rng.random_bool(0.1) {
                let i = self.rng.random_range(0..recent.len());
                let (rb, k) = recent.swap_remove(i);
                let p = buckets[rb].clone();
                if self.rng.random_bool(0.5) {
                    self.del(&p, &k);
                } else {
                    let v = self.small_value();
                    self.put(&p, &k, &v);
                }
                continue;
            }
            let klen = self.rng.random_range(4..=24);
            let k = self.bytes(klen);
            if matches!(
                self.model.bucket(path).and_then(|bm| bm.entries.get(&k)),
                Some(Entry::Bucket(_))
            ) {
                continue;
            }
            let vlen = self.rng.random_range(0..=100);
            let v = self.bytes(vlen);
            self.put(path, &k, &v);
            if recent.len() < 1000 {
                recent.push((b, k));
            }
        }
        self.commit();
    }

    /// Corner cases of the op semantics, a few per call.
    pub fn edge_cases(&mut self) {
        for _ in 0..self.rng.random_range(2..=5) {
            let path = self.some_bucket();
            if self.model.bucket(&path).is_none() {
                self.cb(&path);
            }
            match self.rng.random_range(0..8) {
                0 => {
                    let k = self.value_key(&path);
                    self.put(&path, &k, &[]);
                }
                1 => {
                    // Delete a key that is not there (bbolt: no error).
                    let k = self.value_key(&path);
                    if self
                        .model
                        .bucket(&path)
                        .is_some_and(|b| b.entries.contains_key(&k))
                    {
                        self.del(&path, &k);
                    }
                    self.del(&path, &k);
                }
                2 => {
                    // Delete then put the same key in one transaction.
                    let k = match self.existing_value_key(&path) {
                        Some(k) => k,
                        None => self.value_key(&path),
                    };
                    self.del(&path, &k);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
                3 => {
                    // Keys that are prefixes of each other, and the extreme bytes.
                    for k in [
                        &b"a"[..],
                        b"aa",
                        b"aaa",
                        b"\x00",
                        b"\xff",
                        b"\xff\xff",
                        b"\x00\x00",
                    ] {
                        if !matches!(
                            self.model.bucket(&path).and_then(|b| b.entries.get(k)),
                            Some(Entry::Bucket(_))
                        ) {
                            let v = self.small_value();
                            self.put(&path, k, &v);
                        }
                    }
                }
                4 => {
                    // Put deep inside, then delete the parent in the same transaction.
                    let mut sub = path.clone();
                    let n = self.child_name(&path);
                    sub.push(n);
                    let k = self.value_key(&sub);
                    let v = self.value();
                    self.put(&sub, &k, &v);
                    self.db(&sub);
                }
                5 => {
                    // cb of an existing bucket is a no-op; seq creates a missing path.
                    self.cb(&path);
                    let np = self.new_bucket_path();
                    let s = self.random_seq();
                    self.seq(&np, s);
                }
                6 => {
                    // Same key as a bucket name elsewhere, and a value equal to a key.
                    if let Some(name) = path.last().cloned()
                        && let Some(other) = self.pick_bucket()
                        && !matches!(
                            self.model.bucket(&other).and_then(|b| b.entries.get(&name)),
                            Some(Entry::Bucket(_))
                        )
                    {
                        self.put(&other, &name, &name);
                    }
                }
                _ => {
                    // An explicit empty commit in the middle.
                    self.commit();
                    self.commit();
                }
            }
        }
        self.maybe_commit();
    }

    pub(super) fn commit_pending(&mut self) {
        if self.ops_in_tx > 0 {
            self.commit();
        }
    }

    /// One random cheap op (for many-small-transaction stretches).
    pub fn random_op(&mut self) {
        match self.rng.random_range(0..10) {
            0..=4 => {
                let path = self.some_bucket();
                let k = self.value_key(&path);
                let v = self.value();
                self.put(&path, &k, &v);
            }
            5..=6 => {
                let path = self.some_bucket();
                match self.existing_value_key(&path) {
                    Some(k) => self.del(&path, &k),
                    None => self.cb(&path),
                }
            }
            7 => {
                let path = self.some_bucket();
                let s = self.random_seq();
                self.seq(&path, s);
            }
            8 => {
                let path = self.new_bucket_path();
                self.cb(&path);
            }
            _ => {
                let path = self.some_bucket();
                if let Some(k) = self.existing_value_key(&path) {
                    let v = self.value();
                    self.put(&path, &k, &v);
                } else {
                    self.cb(&path);
                }
            }
        }
    }
}
