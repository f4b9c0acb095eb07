//! Opening a database for a command: bbolt's "does the file exist" check with its messages,
//! and a read-only open that gives up after `--timeout` and says who holds the lock.

use crate::error::CliError;
use crate::values::go_quote;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// The path as Go's `%q` prints it.
pub(crate) fn quoted(path: &Path) -> String {
    go_quote(path.as_os_str().as_bytes())
}

/// bbolt's `checkSourceDBPath`: the file must exist before anything opens it.
pub(crate) fn check_source(path: &Path) -> Result<Metadata, CliError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::msg(format!(
            "source database file {} doesn't exist",
            quoted(path)
        ))),
        Err(e) => Err(CliError::msg(format!(
            "failed to open source database file {}: {}",
            quoted(path),
            CliError::from(e)
        ))),
    }
}

/// Opens `path` read-only (a shared lock) after [`check_source`]. `timeout` of `None` waits
/// for the lock as long as it takes.
pub(crate) fn open_read_only(
    path: &Path,
    timeout: Option<Duration>,
) -> Result<rbolt::Db, CliError> {
    check_source(path)?;
    open_with(path, rbolt::Options::new().read_only(true), timeout)
}

/// Opens `path` for writing (an exclusive lock), giving up after `timeout` as
/// [`open_read_only`] does. The file must exist unless `create`.
pub(crate) fn open_read_write(
    path: &Path,
    timeout: Option<Duration>,
    create: bool,
) -> Result<rbolt::Db, CliError> {
    if !create {
        check_source(path)?;
    }
    open_with(path, rbolt::Options::new(), timeout)
}

fn open_with(
    path: &Path,
    mut opts: rbolt::Options,
    timeout: Option<Duration>,
) -> Result<rbolt::Db, CliError> {
    if let Some(t) = timeout {
        opts = opts.timeout(t);
    }
    opts.open(path).map_err(|e| match e {
        rbolt::Error::Timeout => CliError::msg(match lock_holder(path) {
            Some(who) => format!("timeout: {} is locked by {who}", quoted(path)),
            None => "timeout".to_string(),
        }),
        other => other.into(),
    })
}

/// The process holding an exclusive `flock` on `path`, from `/proc/locks` ("pid 42
/// (etcd)"), when the OS tells.
fn lock_holder(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let dev = m.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let want = format!("{major:02x}:{minor:02x}:{}", m.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, mode, pid, id) = (f.get(1)?, f.get(3)?, f.get(4)?, f.get(5)?);
        if *kind != "FLOCK" || *mode != "WRITE" || *id != want {
            return None;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
        Some(match comm {
            Some(c) => format!("pid {pid} ({})", c.trim_end()),
            None => format!("pid {pid}"),
        })
    })
}

/// Go's `time.ParseDuration` for the forms people type: `0`, `10s`, `200ms`, `1m30s`,
/// `1.5h`. `0` means wait forever.
pub(crate) fn parse_timeout(s: &str) -> Result<Option<Duration>, String> {
    let bad = || format!("time: invalid duration {}", go_quote(s.as_bytes()));
    if s == "0" {
        return Ok(None);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {}", go_quote(s.as_bytes())))?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = &rest[unit_end..];
    }
    if total == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(total)
        .map(Some)
        .map_err(|_| bad())
}

/// A path argument as given on the command line (raw bytes, like Go's `os.Args`).
pub(crate) fn path_arg(a: &OsStr) -> &Path {
    Path::new(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert_eq!(
            parse_timeout("200ms").unwrap(),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            parse_timeout("1m30s").unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_timeout("1.5s").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert!(parse_timeout("10").is_err());
        assert!(parse_timeout("ten").is_err());
        assert!(parse_timeout("").is_err());
    }
}
