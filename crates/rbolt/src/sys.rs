//! System calls rustix does not wrap, one safe function each. With mmap.rs, the only `unsafe`
//! in the engine: each call passes plain integers and a descriptor the caller keeps open, and
//! touches no memory of ours.
#![expect(
    unsafe_code,
    reason = "FFI calls rustix has no wrapper for; each takes only integers and a live descriptor"
)]

use std::fs::File;
use std::io;

/// Asks the kernel to start writing the file's dirty pages in `offset..offset + len` to disk
/// now, and returns without waiting. A hint for speed only: durability still comes from the
/// sync that follows, which also reports any error the write-back hits. Nothing where the
/// system has no such call.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return Ok(()); // past what the call can name: leave it to the sync
        };
        // SAFETY: sync_file_range reads no memory of ours; `file` is borrowed, so its
        // descriptor stays open for the call; any fd, offset or length is at worst an error.
        let r = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (file, offset, len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    /// Starting write-back changes nothing a reader sees, and a range past the end is no error.
    #[test]
    fn start_writeback_keeps_the_bytes_and_accepts_any_range() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        let data: Vec<u8> = (0..3 * 4096).map(|i| (i % 251) as u8).collect();
        file.write_all_at(&data, 4096).unwrap();
        start_writeback(&file, 4096, data.len() as u64).unwrap();
        start_writeback(&file, 1 << 40, 4096).unwrap();
        start_writeback(&file, u64::MAX, u64::MAX).unwrap();
        let mut back = vec![0u8; data.len()];
        file.read_exact_at(&mut back, 4096).unwrap();
        assert_eq!(back, data);
    }

    /// A descriptor the call cannot take (a pipe: ESPIPE) is reported, not swallowed: the caller
    /// decides what a failed hint means.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn start_writeback_reports_a_pipe() {
        let (_r, w) = std::io::pipe().unwrap();
        let pipe = File::from(std::os::fd::OwnedFd::from(w));
        let err = start_writeback(&pipe, 0, 4096).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESPIPE), "{err}");
    }
}
