//! Hosted accounts: usernames, argon2id password hashes, the keys the node
//! holds for each person, sessions, settings, and the local admin token.
//!
//! Kept in their own sled database (`<data dir>/gateway/`), apart from the
//! event store: account data never travels and never mixes with events.
//! Session tokens are stored only as SHA-256 digests, so a copy of the
//! database does not let anyone log in, and looking one up compares digests
//! rather than secrets.

use std::path::Path;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use kith_node::protocol::{EventId, Keypair, PublicKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Where the admin token lives, inside the data dir.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Prefix of session tokens (so a leaked one is recognisable in a scan).
const SESSION_PREFIX: &str = "kst_";
/// Prefix of the admin token.
const ADMIN_PREFIX: &str = "kat_";
/// Longest username.
pub const MAX_USERNAME: usize = 32;
/// Shortest password.
pub const MIN_PASSWORD: usize = 8;
/// Longest password (argon2 input bound).
pub const MAX_PASSWORD: usize = 1024;
/// Largest settings document, in bytes of JSON.
pub const MAX_SETTINGS: usize = 16 * 1024;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The username is taken.
    #[error("that username is taken")]
    UsernameTaken,
    /// The identity already has an account here.
    #[error("that identity already has an account on this node")]
    IdentityTaken,
    /// Unknown username or wrong password (never said which).
    #[error("wrong username or password")]
    BadCredentials,
    /// The username breaks the rules.
    #[error("usernames are 3 to 32 characters: a-z, 0-9 and _")]
    BadUsername,
    /// The password breaks the rules.
    #[error("passwords are 8 to 1024 characters")]
    BadPassword,
    /// The database failed.
    #[error("account database: {0}")]
    Db(#[from] sled::Error),
    /// A record does not decode.
    #[error("account record is corrupt: {0}")]
    Corrupt(String),
    /// Password hashing failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// Filesystem.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One hosted account.
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    /// Lower-case username.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The person's root identity.
    pub identity: PublicKey,
    /// The root secret while the node keeps it (bech32 `kithsecret…`).
    pub root_secret: Option<String>,
    /// The gateway's delegated key for this person (bech32), and the id of
    /// the delegation event that authorises it.
    pub delegate: Option<DelegateKey>,
    /// Free-form per-account settings (language, preferences…).
    pub settings: serde_json::Value,
    /// Creation time, ms.
    pub created_at: u64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("identity", &self.identity)
            .field("root_held", &self.root_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// A delegated key the gateway signs with.
#[derive(Clone, Serialize, Deserialize)]
pub struct DelegateKey {
    /// Secret, bech32.
    pub secret: String,
    /// The delegation event's id (text).
    pub delegation: String,
    /// Expiry, ms.
    pub expires_at: u64,
}

impl std::fmt::Debug for DelegateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegateKey")
            .field("delegation", &self.delegation)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The root keypair, if held.
    pub fn root(&self) -> Option<Keypair> {
        self.root_secret
            .as_deref()
            .and_then(|s| Keypair::secret_from_text(s).ok())
    }

    /// The delegated keypair, if any.
    pub fn delegate(&self) -> Option<Keypair> {
        self.delegate
            .as_ref()
            .and_then(|d| Keypair::secret_from_text(&d.secret).ok())
    }
}

#[derive(Serialize, Deserialize)]
struct Session {
    username: String,
    expires_at: u64,
}

/// The account database.
#[derive(Clone)]
pub struct Accounts {
    accounts: sled::Tree,
    identities: sled::Tree,
    sessions: sled::Tree,
    /// identity ‖ story digest → the story's `expires_at`: stories seen.
    story_seen: sled::Tree,
    admin_digest: Arc<[u8; 32]>,
    db: sled::Db,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// The local admin (the node's own identity).
    Admin,
    /// A hosted account, by username.
    Account(String),
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_token(prefix: &str) -> Zeroizing<String> {
    use base64::Engine as _;
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ))
}

/// Whether a token has the admin token's form (then checking it needs no
/// database read).
pub fn is_admin_token(token: &str) -> bool {
    token.starts_with(ADMIN_PREFIX)
}

/// Normalises and checks a username.
pub fn normalize_username(name: &str) -> Result<String, AccountError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (3..=MAX_USERNAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(AccountError::BadUsername)
    }
}

fn check_password(password: &str) -> Result<(), AccountError> {
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AccountError::BadPassword)
    }
}

/// An argon2id hash of `password` (OWASP parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash that takes as long to check as a real one, for unknown usernames,
/// so timing does not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

impl Accounts {
    /// Opens (or creates) the database under `data_dir/gateway`, and the
    /// admin token file `data_dir/admin.token` (created once, mode 0600).
    pub fn open(data_dir: &Path) -> Result<Accounts, AccountError> {
        let dir = data_dir.join("gateway");
        std::fs::create_dir_all(&dir)?;
        restrict(&dir, 0o700)?;
        let db = open_waiting_for_lock(&dir)?;
        let admin = load_or_create_admin_token(data_dir)?;
        Ok(Accounts {
            accounts: db.open_tree("accounts")?,
            identities: db.open_tree("identities")?,
            sessions: db.open_tree("sessions")?,
            story_seen: db.open_tree("story_seen")?,
            admin_digest: Arc::new(digest(&admin)),
            db,
        })
    }

    /// Creates an account. `identity` is the person's root key when the node
    /// holds it, or only the public key when the person keeps their own.
    pub fn register(
        &self,
        username: &str,
        password: &str,
        identity: PublicKey,
        root: Option<&Keypair>,
        now_ms: u64,
    ) -> Result<Account, AccountError> {
        let username = normalize_username(username)?;
        check_password(password)?;
        let account = Account {
            username: username.clone(),
            password_hash: hash_password(password)?,
            identity,
            root_secret: root.map(|k| k.secret_to_text().to_string()),
            delegate: None,
            settings: serde_json::json!({}),
            created_at: now_ms,
        };
        let bytes = encode(&account)?;
        // Claim the identity first, then the username; undo on a clash so a
        // failed registration leaves nothing behind.
        if self
            .identities
            .compare_and_swap(
                identity.as_bytes(),
                None as Option<&[u8]>,
                Some(username.as_bytes()),
            )?
            .is_err()
        {
            return Err(AccountError::IdentityTaken);
        }
        if self
            .accounts
            .compare_and_swap(username.as_bytes(), None as Option<&[u8]>, Some(bytes))?
            .is_err()
        {
            self.identities.remove(identity.as_bytes())?;
            return Err(AccountError::UsernameTaken);
        }
        self.db.flush()?;
        Ok(account)
    }

    /// Removes an account created moments ago whose setup failed.
    pub fn unregister(&self, account: &Account) -> Result<(), AccountError> {
        self.accounts.remove(account.username.as_bytes())?;
        self.identities.remove(account.identity.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// The account with this username.
    pub fn get(&self, username: &str) -> Result<Option<Account>, AccountError> {
        self.accounts
            .get(username.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// The username hosting this identity, if any.
    pub fn by_identity(&self, identity: &PublicKey) -> Result<Option<String>, AccountError> {
        Ok(self
            .identities
            .get(identity.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every hosted identity (to host them all when the node starts).
    pub fn identities(&self) -> Result<Vec<PublicKey>, AccountError> {
        let mut out = Vec::new();
        for row in self.identities.iter() {
            let (k, _) = row?;
            let bytes: [u8; 32] = k
                .as_ref()
                .try_into()
                .map_err(|_| AccountError::Corrupt("identity key".into()))?;
            out.push(PublicKey::from_bytes_unchecked(bytes));
        }
        Ok(out)
    }

    /// Number of accounts.
    pub fn count(&self) -> usize {
        self.accounts.len()
    }

    /// Applies `change` to the stored account atomically (retrying on a race).
    pub fn update(
        &self,
        username: &str,
        mut change: impl FnMut(&mut Account),
    ) -> Result<Account, AccountError> {
        loop {
            let Some(old) = self.accounts.get(username.as_bytes())? else {
                return Err(AccountError::BadCredentials);
            };
            let mut account: Account = decode(&old)?;
            change(&mut account);
            let new = encode(&account)?;
            if self
                .accounts
                .compare_and_swap(username.as_bytes(), Some(old), Some(new))?
                .is_ok()
            {
                self.db.flush()?;
                return Ok(account);
            }
        }
    }

    /// Checks a password; the same work is done for unknown usernames.
    pub fn check_login(&self, username: &str, password: &str) -> Result<Account, AccountError> {
        let Ok(username) = normalize_username(username) else {
            verify_password(password, dummy_hash());
            return Err(AccountError::BadCredentials);
        };
        match self.get(&username)? {
            Some(a) if verify_password(password, &a.password_hash) => Ok(a),
            Some(_) => Err(AccountError::BadCredentials),
            None => {
                verify_password(password, dummy_hash());
                Err(AccountError::BadCredentials)
            }
        }
    }

    /// Opens a session; returns the token (shown once) and its expiry.
    pub fn open_session(
        &self,
        username: &str,
        now_ms: u64,
        lifetime_ms: u64,
    ) -> Result<(Zeroizing<String>, u64), AccountError> {
        let token = random_token(SESSION_PREFIX);
        let expires_at = now_ms.saturating_add(lifetime_ms);
        let record = serde_json::to_vec(&Session {
            username: username.to_string(),
            expires_at,
        })
        .map_err(|e| AccountError::Corrupt(e.to_string()))?;
        self.sessions.insert(digest(&token), record)?;
        Ok((token, expires_at))
    }

    /// Ends a session.
    pub fn close_session(&self, token: &str) -> Result<(), AccountError> {
        self.sessions.remove(digest(token))?;
        Ok(())
    }

    /// Who a bearer token belongs to, if it is valid now.
    pub fn resolve(&self, token: &str, now_ms: u64) -> Result<Option<TokenOwner>, AccountError> {
        let d = digest(token);
        if is_admin_token(token) {
            let ok: bool = d.ct_eq(self.admin_digest.as_ref()).into();
            return Ok(ok.then_some(TokenOwner::Admin));
        }
        let Some(v) = self.sessions.get(d)? else {
            return Ok(None);
        };
        let s: Session =
            serde_json::from_slice(&v).map_err(|e| AccountError::Corrupt(e.to_string()))?;
        if s.expires_at <= now_ms {
            self.sessions.remove(d)?;
            return Ok(None);
        }
        Ok(Some(TokenOwner::Account(s.username)))
    }

    /// Records that `identity` saw `story` (which expires at `expires_at`),
    /// and forgets what it saw of stories gone by `now_ms`.
    pub fn mark_story_seen(
        &self,
        identity: &PublicKey,
        story: &EventId,
        expires_at: u64,
        now_ms: u64,
    ) -> Result<(), AccountError> {
        let mut gone = sled::Batch::default();
        for row in self.story_seen.scan_prefix(identity.as_bytes()) {
            let (k, v) = row?;
            if v.get(..8)
                .and_then(|b| b.try_into().ok())
                .is_none_or(|b| u64::from_be_bytes(b) <= now_ms)
            {
                gone.remove(k);
            }
        }
        gone.insert(seen_key(identity, story), &expires_at.to_be_bytes());
        self.story_seen.apply_batch(gone)?;
        Ok(())
    }

    /// Whether `identity` saw `story`.
    pub fn story_seen(&self, identity: &PublicKey, story: &EventId) -> Result<bool, AccountError> {
        Ok(self.story_seen.contains_key(seen_key(identity, story))?)
    }

    /// Drops expired sessions; returns how many.
    pub fn purge_sessions(&self, now_ms: u64) -> Result<usize, AccountError> {
        let mut n = 0;
        for row in self.sessions.iter() {
            let (k, v) = row?;
            let expired = serde_json::from_slice::<Session>(&v)
                .map(|s| s.expires_at <= now_ms)
                .unwrap_or(true);
            if expired {
                self.sessions.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn encode(a: &Account) -> Result<Vec<u8>, AccountError> {
    serde_json::to_vec(a).map_err(|e| AccountError::Corrupt(e.to_string()))
}

fn decode(v: &[u8]) -> Result<Account, AccountError> {
    serde_json::from_slice(v).map_err(|e| AccountError::Corrupt(e.to_string()))
}

fn seen_key(identity: &PublicKey, story: &EventId) -> Vec<u8> {
    let mut k = identity.as_bytes().to_vec();
    k.extend_from_slice(story.digest());
    k
}

/// Reads the admin token, creating it (mode 0600) on first use.
pub fn load_or_create_admin_token(data_dir: &Path) -> Result<Zeroizing<String>, AccountError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().starts_with(ADMIN_PREFIX) => return Ok(Zeroizing::new(t.trim().into())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let token = random_token(ADMIN_PREFIX);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{}\n", token.as_str()))?;
    restrict(&tmp, 0o600)?;
    std::fs::rename(&tmp, &path)?;
    Ok(token)
}

/// Reads the admin token of a data dir (for the CLI).
pub fn read_admin_token(data_dir: &Path) -> std::io::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE))?
            .trim()
            .to_string(),
    ))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Opens the accounts database. A gateway stopped in this process a moment
/// ago may still hold its lock: sled's flusher thread lets go of the files a
/// little after the last handle is dropped. So a held lock is waited for, a
/// few seconds at most, before it counts as another process's.
fn open_waiting_for_lock(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match kith_node::storage::open_sled(sled::Config::new().cache_capacity(16 << 20), dir) {
            // sled reports it as ErrorKind::Other with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gateway restarted in the same process opens the database while its
    /// previous instance is still letting go of it (on another thread): the
    /// open waits for the lock instead of failing.
    #[test]
    fn an_open_waits_for_a_lock_being_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = Accounts::open(dir.path()).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        let second = Accounts::open(dir.path()).expect("opens once the lock is free");
        releaser.join().unwrap();
        drop(second);
    }

    #[test]
    fn register_login_sessions_and_isolation() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = Accounts::open(dir.path()).unwrap();
        let ana = Keypair::generate(&mut OsRng);
        let a = accounts
            .register("Ana_1", "correct horse", ana.public(), Some(&ana), 1)
            .unwrap();
        assert_eq!(a.username, "ana_1");
        assert!(matches!(
            accounts.register(
                "ana_1",
                "another pass",
                Keypair::generate(&mut OsRng).public(),
                None,
                1
            ),
            Err(AccountError::UsernameTaken)
        ));
        // The failed registration released the identity it tried to claim.
        assert!(matches!(
            accounts.register(
                "bob",
                "short",
                Keypair::generate(&mut OsRng).public(),
                None,
                1
            ),
            Err(AccountError::BadPassword)
        ));
        assert!(matches!(
            accounts.register(
                "b",
                "long enough",
                Keypair::generate(&mut OsRng).public(),
                None,
                1
            ),
            Err(AccountError::BadUsername)
        ));
        assert!(matches!(
            accounts.check_login("ana_1", "wrong password"),
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            accounts.check_login("nobody", "wrong password"),
            Err(AccountError::BadCredentials)
        ));
        accounts.check_login("ANA_1", "correct horse").unwrap();

        let (token, expires) = accounts.open_session("ana_1", 1_000, 10).unwrap();
        assert_eq!(expires, 1_010);
        assert_eq!(
            accounts.resolve(&token, 1_005).unwrap(),
            Some(TokenOwner::Account("ana_1".into()))
        );
        assert_eq!(accounts.resolve(&token, 1_010).unwrap(), None, "expired");
        let (token, _) = accounts.open_session("ana_1", 1_000, 10).unwrap();
        accounts.close_session(&token).unwrap();
        assert_eq!(accounts.resolve(&token, 1_001).unwrap(), None, "logged out");
        assert_eq!(accounts.resolve("kst_forged", 1_001).unwrap(), None);

        let admin = read_admin_token(dir.path()).unwrap();
        assert_eq!(
            accounts.resolve(&admin, 0).unwrap(),
            Some(TokenOwner::Admin)
        );
        assert_eq!(accounts.resolve("kat_forged", 0).unwrap(), None);
        // The token survives a restart.
        drop(accounts);
        let again = Accounts::open(dir.path()).unwrap();
        assert_eq!(again.resolve(&admin, 0).unwrap(), Some(TokenOwner::Admin));
        assert_eq!(again.identities().unwrap(), vec![ana.public()]);
    }
}
