//! The basics: open, write in a transaction, read back, ranges and prefixes, and a closure
//! that fails with the application's own error (which rolls the transaction back).
//!
//! `cargo run -p rbolt --example basic`

use rbolt::{Db, Error};

#[derive(Debug)]
enum AppError {
    Db(Error),
    UnknownUser(String),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Db(e) => write!(f, "database: {e}"),
            AppError::UnknownUser(u) => write!(f, "unknown user {u}"),
        }
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

fn main() -> Result<(), AppError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("basic.db"))?;

    db.update(|tx| {
        let users = tx.create_bucket_if_not_exists("users")?;
        for (name, city) in [
            ("alice", "Oslo"),
            ("bob", "Lima"),
            ("bobby", "Pune"),
            ("carol", "Kyiv"),
        ] {
            users.put(name, city)?;
        }
        Ok(())
    })?;

    let lines = db.view(|tx| {
        let users = tx.open_bucket("users")?;
        let mut lines = Vec::new();
        for pair in users.prefix("bob") {
            let (name, city) = pair?;
            let city = city.expect("no sub-buckets here");
            lines.push(format!("{} lives in {}", show(name), show(city)));
        }
        let last = users.range("a".."c").next_back().transpose()?;
        lines.push(format!("last before c: {}", show(last.expect("some").0)));
        Ok(lines)
    })?;
    for l in &lines {
        println!("{l}");
    }
    assert_eq!(
        lines,
        [
            "bob lives in Lima",
            "bobby lives in Pune",
            "last before c: bobby"
        ]
    );

    // The closure's own error comes back as is, and nothing it did is committed.
    let r = db.try_update(|tx| {
        let users = tx.open_bucket("users")?;
        users.put("dave", "Rome")?;
        match users.get("erin")? {
            Some(_) => Ok(()),
            None => Err(AppError::UnknownUser("erin".into())),
        }
    });
    if let Err(e) = &r {
        println!("update failed: {e}");
    }
    assert!(matches!(r, Err(AppError::UnknownUser(ref u)) if u == "erin"));
    let dave = db.view(|tx| tx.open_bucket("users")?.contains_key("dave"))?;
    println!("dave stored: {dave}");
    assert!(!dave);
    assert!(db.begin_read()?.check().is_empty());
    Ok(())
}

fn show(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("<binary>")
}
