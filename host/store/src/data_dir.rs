//! The data directory itself. Its own module because both the key file
//! (`crypto`) and the database (`db`) live in it, and neither should depend
//! on the other to create it.

use std::path::Path;

/// Creates the data directory (mode 0700 when we create it: it will hold the
/// key file and the database).
pub(crate) fn ensure_data_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Name of the lock file inside the data directory.
pub(crate) const LOCK_FILE: &str = "buildsnap.lock";

/// How a [`DirLock`] holds the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Every store opened on the directory ([`crate::Store::open`]): any
    /// number at once, in one process or several (a server and the
    /// `orgs`/`tokens` commands beside it).
    Shared,
    /// The copy to PostgreSQL (`copy_to_postgres`): nobody else may have the
    /// directory open, or writes made during the copy would be lost.
    Exclusive,
}

/// An advisory lock (`flock`) on `buildsnap.lock` in the data directory,
/// held while the file stays open; the kernel drops it when the process
/// ends, however it ends, so a crash never leaves a stale lock.
///
/// Trade-off: advisory, so only buildsnap honours it, and on a file system
/// without `flock` (some network mounts) it is not taken at all (a warning
/// says so) rather than refusing to open the store there.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock on `dir` without waiting; a conflicting holder is
    /// [`StoreError::DataDirInUse`](crate::StoreError::DataDirInUse) (for
    /// `Exclusive`) or
    /// [`StoreError::DataDirMigrating`](crate::StoreError::DataDirMigrating)
    /// (for `Shared`). `None` where the file system cannot lock.
    pub(crate) fn take(dir: &Path, mode: LockMode) -> crate::Result<Option<DirLock>> {
        let path = dir.join(LOCK_FILE);
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        let taken = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match taken {
            Ok(()) => Ok(Some(DirLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(match mode {
                LockMode::Shared => crate::StoreError::DataDirMigrating {
                    dir: dir.to_path_buf(),
                },
                LockMode::Exclusive => crate::StoreError::DataDirInUse {
                    dir: dir.to_path_buf(),
                },
            }),
            Err(std::fs::TryLockError::Error(e)) if mode == LockMode::Shared => {
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot lock the data dir (file system without flock?); opening it unlocked");
                Ok(None)
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}
