//! Deliberate defects, compiled in only with the `defects` feature, to prove the reliability
//! tests can fail. `RBOLT_DEFECT=<name>` (read once per process) turns one on:
//! `skip-data-sync`, `meta-before-data`, `early-release`, `wrong-meta-parity`,
//! `ignore-checksum`, `split-off-by-one`. Without the feature every check is a constant
//! `false` and compiles away.

#[cfg(feature = "defects")]
pub(crate) fn active(name: &str) -> bool {
    static ON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ON.get_or_init(|| std::env::var("RBOLT_DEFECT").ok())
        .as_deref()
        == Some(name)
}

#[cfg(not(feature = "defects"))]
#[inline(always)]
pub(crate) fn active(_name: &str) -> bool {
    false
}
