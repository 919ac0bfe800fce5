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
