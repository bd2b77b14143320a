//! The node's identity key file: `<data dir>/identity.key`, in the key file
//! format of `specs/events.md#key-files`, readable by its owner only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kith_protocol::{KeyError, Keypair};

/// File name of the identity key inside the data directory.
pub const KEY_FILE: &str = "identity.key";
/// File name of the node's network (libp2p) key. It is separate from the
/// identity so that the peer id seen on the wire does not name the person,
/// and so a node can host several identities.
pub const NETWORK_KEY_FILE: &str = "network.key";

/// Why the identity could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the key file failed.
    #[error("cannot access {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but does not hold a valid key.
    #[error("{path} does not hold a valid key")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: KeyError,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads the identity from `dir`, creating the directory and a new key if there
/// is none. Returns the key and whether it was created now.
///
/// A new key is written to a temporary file, flushed to disk and renamed into
/// place, so a crash never leaves a half-written key file.
pub fn load_or_create(dir: &Path) -> Result<(Keypair, bool), IdentityError> {
    load_or_create_file(dir, KEY_FILE)
}

/// Like [`load_or_create`], for the key file `name` in `dir`.
pub fn load_or_create_file(dir: &Path, name: &str) -> Result<(Keypair, bool), IdentityError> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(contents) => {
            let key =
                Keypair::from_key_file(&contents).map_err(|source| IdentityError::Invalid {
                    path: path.clone(),
                    source,
                })?;
            return Ok((key, false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path)(e)),
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let key = Keypair::generate(&mut rand_core::OsRng);
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(io(&tmp))?;
        file.write_all(key.to_key_file().as_bytes())
            .map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = fs::File::open(dir) {
        // Make the rename durable; not every platform can sync a directory.
        let _ = d.sync_all();
    }
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let (first, created) = load_or_create(&nested).unwrap();
        assert!(created);
        let (second, created) = load_or_create(&nested).unwrap();
        assert!(!created);
        assert_eq!(first.public(), second.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(nested.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(IdentityError::Invalid { .. })
        ));
        // The file was not replaced.
        assert_eq!(
            fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "garbage"
        );
    }
}
