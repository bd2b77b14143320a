//! Where a node keeps its files.
//!
//! Precedence: an explicit path (the `--data-dir` flag), then `KITH_DATA_DIR`,
//! then the platform data directory (`~/.local/share/kith` on Linux).

use std::path::{Path, PathBuf};

/// Environment variable naming the data directory.
pub const ENV_VAR: &str = "KITH_DATA_DIR";

/// Why no data directory could be chosen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// No flag, no environment variable, and no platform data directory.
    #[error("no data directory: pass --data-dir or set {ENV_VAR}")]
    NoDefault,
}

/// Chooses the data directory.
pub fn resolve(flag: Option<&Path>) -> Result<PathBuf, DataDirError> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    dirs::data_dir()
        .map(|d| d.join("kith"))
        .ok_or(DataDirError::NoDefault)
}
