//! Nested buckets: a bucket per tenant holding values and sub-buckets, walked with
//! `entries()` (values and sub-buckets told apart by variant), pruned with `retain` and
//! `delete_range`.
//!
//! `cargo run -p rbolt --example nested`

use rbolt::{Db, Entry};

fn main() -> rbolt::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("nested.db"))?;

    db.update(|tx| {
        let acme = tx.create_bucket("tenants")?.create_bucket("acme")?;
        acme.put("plan", "gold")?;
        let orders = acme.create_bucket("orders")?;
        for i in 0..100u32 {
            orders.put(format!("order-{i:03}"), i.to_string())?;
        }
        acme.create_bucket("invoices")?.put("2026-01", "paid")?;
        Ok(())
    })?;

    let listing = db.view(|tx| {
        let acme = tx.open_bucket("tenants")?.open_bucket("acme")?;
        let mut out = Vec::new();
        for e in acme.entries() {
            out.push(match e? {
                Entry::Value(k, v) => format!("{} = {}", s(k), s(v)),
                Entry::Bucket(name) => {
                    let n = acme.open_bucket(name)?.keys().count();
                    format!("{}/ ({n} entries)", s(name))
                }
            });
        }
        Ok(out)
    })?;
    for l in &listing {
        println!("{l}");
    }
    assert_eq!(
        listing,
        [
            "invoices/ (1 entries)",
            "orders/ (100 entries)",
            "plan = gold"
        ]
    );

    let (odd, old) = db.update(|tx| {
        let orders = tx
            .open_bucket("tenants")?
            .open_bucket("acme")?
            .open_bucket("orders")?;
        let odd = orders.retain(|_, v| s(v).parse::<u32>().is_ok_and(|n| n % 2 == 0))?;
        let old = orders.delete_range("order-000".."order-050")?;
        Ok((odd, old))
    })?;
    println!("removed {odd} odd orders, then {old} old ones");
    assert_eq!((odd, old), (50, 25));
    let left = db.view(|tx| {
        let orders = tx
            .open_bucket("tenants")?
            .open_bucket("acme")?
            .open_bucket("orders")?;
        Ok((
            orders.keys().count(),
            orders.first()?.map(|(k, _)| k.to_vec()),
        ))
    })?;
    println!(
        "{} orders left, first {}",
        left.0,
        s(left.1.as_deref().unwrap_or_default())
    );
    assert_eq!(left, (25, Some(b"order-050".to_vec())));
    assert!(db.begin_read()?.check().is_empty());
    Ok(())
}

fn s(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("<binary>")
}
