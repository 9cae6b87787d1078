//! Files the tool writes for others to read (storage states, JUnit reports,
//! the CI job summary): whole files appear atomically, and a directory is
//! proven writable before a run starts, so a bad path costs nothing.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Writes `bytes` to `path` so that readers see the old file or the new one,
/// never half of one: a temporary file in the same directory (created with
/// `mode`, less the umask), fsync, rename, fsync of the directory.
///
/// # Errors
/// Any I/O error, including a missing parent directory; the temporary file
/// is removed again.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let dir = parent(path);
    // Same directory, so the rename cannot cross file systems; pid and counter
    // keep concurrent writers from sharing a temporary file.
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let result = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // The rename itself is only durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Proves `dir` writable by creating and removing a probe file in it.
pub fn probe(dir: &Path) -> std::io::Result<()> {
    tempfile::Builder::new()
        .prefix(".fictures-seed-probe")
        .tempfile_in(dir)
        .map(drop)
}

/// Appends `text` to `path`, creating it when missing.
pub fn append(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn write_atomic_replaces_the_file_with_its_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(entries(dir.path()), 1, "only report.xml");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the way makes the rename fail after the temporary exists.
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        std::fs::write(dir.path().join("taken/x"), "").unwrap();
        assert!(write_atomic(&dir.path().join("taken"), b"new", 0o644).is_err());
        assert_eq!(entries(dir.path()), 1, "only taken/");
        assert!(dir.path().join("taken").is_dir());
    }

    #[test]
    fn append_adds_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        append(&path, "one\n").unwrap();
        append(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn probe_leaves_nothing_and_parent_defaults_to_here() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path()).unwrap();
        assert_eq!(entries(dir.path()), 0);
        assert!(probe(&dir.path().join("absent")).is_err());
        assert_eq!(parent(Path::new("report.xml")), Path::new("."));
        assert_eq!(parent(Path::new("ci/report.xml")), Path::new("ci"));
    }
}
