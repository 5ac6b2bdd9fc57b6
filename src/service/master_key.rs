//! Finding the master key, sealing what the database keeps under it, and rotating it.
//!
//! Where the key comes from, in order: `PORTCULLIS_MASTER_KEY`; the file named by
//! `PORTCULLIS_MASTER_KEY_FILE`; on SQLite, a file beside the database
//! (`portcullis.db` → `portcullis.master.key`). On first start (a database that has no
//! sealed secrets yet) a missing file is created, readable by its owner only. A database
//! whose secrets are sealed under a key that is not found, or under another key, is
//! refused with a message that says which key it needs: a copy of the database without
//! its key is worth nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::sealing::{self, MasterKey};
use crate::storage::{keys as key_store, settings as stored, write, Backend, Db, DbConnection};

/// The settings row that records which master key the database's secrets are sealed
/// under (its id, never the key).
const KEY_ID: &str = "master_key_id";
pub const COOKIE_KEY: &str = "cookie_key";

/// What sealed signing-key material is bound to.
pub fn signing_key_purpose(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Where the master key is kept when it is not given directly.
pub fn key_file(settings: &Settings) -> Option<PathBuf> {
    if let Some(path) = &settings.master_key_file {
        return Some(path.clone());
    }
    match Backend::from_url(settings.database_url.expose_str()) {
        (Backend::Sqlite, target) if !target.starts_with(':') && !target.starts_with("file:") => {
            Some(Path::new(&target).with_extension("master.key"))
        }
        _ => None,
    }
}

fn refuse(message: String) -> Error {
    Error::Internal(anyhow::anyhow!(message))
}

fn read_key_file(path: &Path) -> Result<MasterKey> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        refuse(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        ))
    })?;
    warn_if_readable_by_others(path);
    MasterKey::from_text(&text).map_err(|m| {
        refuse(format!(
            "the master key file {} is unusable: it {m}",
            path.display()
        ))
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                "the master key file can be read by other accounts; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

/// Writes a new key file that only its owner can read; never replaces an existing file.
fn create_key_file(path: &Path, key: &MasterKey) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        refuse(format!(
            "cannot create the master key file {}: {e}",
            path.display()
        ))
    })?;
    writeln!(file, "{}", key.to_text())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            refuse(format!(
                "cannot write the master key file {}: {e}",
                path.display()
            ))
        })
}

/// The file a rotation writes the new key to before it takes the old one's place.
fn pending_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// Whether the database holds secrets that need the master key (sealed or not yet).
fn has_secrets(conn: &mut DbConnection) -> Result<bool> {
    Ok(stored::get(conn, COOKIE_KEY)?.is_some() || !key_store::all(conn)?.is_empty())
}

/// Finds the master key for this database, creating it on first start, and seals in
/// place whatever an older version stored in clear. Then `db` can open sealed values.
pub fn unlock(settings: &Settings, db: &Db) -> Result<MasterKey> {
    let mut conn = db.conn()?;
    let sealed_under = stored::get(&mut conn, KEY_ID)?;
    let needs = |id: &str, found: &str| {
        refuse(format!(
            "this database's secrets are sealed under master key {id}, but {found}; \
             start the server with that key (PORTCULLIS_MASTER_KEY or PORTCULLIS_MASTER_KEY_FILE)"
        ))
    };
    let key = match (&settings.master_key, key_file(settings)) {
        (Some(key), _) => key.clone(),
        (None, Some(path)) if path.exists() => {
            let key = read_key_file(&path)?;
            match (&sealed_under, pending_file(&path)) {
                // A rotation stopped after the database moved to the new key but before
                // the new file replaced the old: finish it.
                (Some(id), pending) if *id != key.id() && pending.exists() => {
                    let newer = read_key_file(&pending)?;
                    if newer.id() != id {
                        return Err(needs(id, &format!("{} holds key {}", path.display(), key.id())));
                    }
                    std::fs::rename(&pending, &path).map_err(|e| {
                        refuse(format!("cannot move {} into place: {e}", pending.display()))
                    })?;
                    tracing::info!(file = %path.display(), "finished a master key rotation");
                    newer
                }
                _ => key,
            }
        }
        (None, Some(path)) => match &sealed_under {
            Some(id) => return Err(needs(id, &format!("there is no key file at {}", path.display()))),
            None => {
                let key = MasterKey::generate();
                match create_key_file(&path, &key) {
                    Ok(()) => {
                        tracing::info!(
                            file = %path.display(),
                            "created the master key; back it up apart from the database, which is useless without it"
                        );
                        key
                    }
                    // Another process starting on the same database made it first.
                    Err(_) if path.exists() => read_key_file(&path)?,
                    Err(e) => return Err(e),
                }
            }
        },
        (None, None) if db.backend() == Backend::Sqlite => MasterKey::generate(),
        (None, None) => {
            return Err(refuse(match &sealed_under {
                Some(id) => format!(
                    "this database's secrets are sealed under master key {id}; set PORTCULLIS_MASTER_KEY (or PORTCULLIS_MASTER_KEY_FILE) to it"
                ),
                None => "PostgreSQL needs a master key shared by every node: set PORTCULLIS_MASTER_KEY to 64 hex digits (for example from `openssl rand -hex 32`) or PORTCULLIS_MASTER_KEY_FILE to a file holding them".into(),
            }))
        }
    };
    if let Some(id) = &sealed_under {
        if *id != key.id() {
            return Err(needs(id, &format!("the key given is {}", key.id())));
        }
    } else {
        seal_in_place(&mut conn, &key)?;
    }
    drop(conn);
    db.unlock(key.clone());
    Ok(key)
}

/// Seals what an older version kept in clear, and records the key's id. Runs once per
/// database (or once more if it was interrupted: sealed values are left alone).
fn seal_in_place(conn: &mut DbConnection, key: &MasterKey) -> Result<()> {
    write(conn, |conn| {
        let had_secrets = has_secrets(conn)?;
        if let Some(cookie) = stored::get(conn, COOKIE_KEY)? {
            if !sealing::is_sealed(&cookie) {
                let sealed = key
                    .seal(COOKIE_KEY, cookie.as_bytes())
                    .map_err(Error::internal)?;
                stored::put(conn, COOKIE_KEY, &sealed)?;
            }
        }
        for row in key_store::all(conn)? {
            // A revoked key has no private part left to seal.
            if !row.private_key.is_empty() && !sealing::is_sealed(&row.private_key) {
                let sealed = key
                    .seal(&signing_key_purpose(&row.kid), row.private_key.as_bytes())
                    .map_err(Error::internal)?;
                key_store::set_private_key(conn, &row.kid, &sealed)?;
            }
        }
        stored::put(conn, KEY_ID, key.id())?;
        if had_secrets {
            tracing::info!(
                master_key = key.id(),
                "sealed the stored secrets under the master key"
            );
        }
        Ok(())
    })
}

/// Opens a stored value (the cookie key, a private key) with the database's master key.
pub fn open(db: &Db, purpose: &str, stored_value: &str) -> Result<Vec<u8>> {
    let key = db.master_key()?;
    key.open(purpose, stored_value)
        .map_err(|m| Error::internal_msg(format!("cannot open the stored {purpose}: {m}")))
}

/// Seals a value for storage with the database's master key.
pub fn seal(db: &Db, purpose: &str, plaintext: &[u8]) -> Result<String> {
    db.master_key()?
        .seal(purpose, plaintext)
        .map_err(Error::internal)
}

/// What a rotation did.
#[derive(Debug, serde::Serialize)]
pub struct Rotated {
    pub previous_master_key_id: String,
    pub master_key_id: String,
    /// Where the new key was written, when it lives in a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The new key itself, when it was given directly and must now be replaced in the
    /// environment of every node (shown this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key: Option<String>,
}

/// Re-seals every stored secret under a new master key. With a key file, the new key is
/// written beside it first and moved into place after the database commits (a start in
/// between finishes the move). With a key given directly, the new key is returned to be
/// put in every node's environment; nodes still running on the old key must restart.
pub fn rotate(settings: &Settings, db: &Db) -> Result<Rotated> {
    let old = unlock(settings, db)?;
    let new = MasterKey::generate();
    let file = match &settings.master_key {
        Some(_) => None,
        None => key_file(settings),
    };
    if let Some(path) = &file {
        let pending = pending_file(path);
        if pending.exists() {
            std::fs::remove_file(&pending).map_err(|e| {
                refuse(format!(
                    "cannot remove the stale {}: {e}",
                    pending.display()
                ))
            })?;
        }
        create_key_file(&pending, &new)?;
    }
    write(&mut *db.conn()?, |conn| {
        let reseal = |purpose: &str, value: &str| -> Result<String> {
            let plain = old.open(purpose, value).map_err(Error::internal)?;
            new.seal(purpose, &plain).map_err(Error::internal)
        };
        if let Some(cookie) = stored::get(conn, COOKIE_KEY)? {
            stored::put(conn, COOKIE_KEY, &reseal(COOKIE_KEY, &cookie)?)?;
        }
        for row in key_store::all(conn)?
            .into_iter()
            .filter(|row| !row.private_key.is_empty())
        {
            let sealed = reseal(&signing_key_purpose(&row.kid), &row.private_key)?;
            key_store::set_private_key(conn, &row.kid, &sealed)?;
        }
        stored::put(conn, KEY_ID, new.id())
    })?;
    if let Some(path) = &file {
        std::fs::rename(pending_file(path), path).map_err(|e| {
            refuse(format!(
                "the database now needs the key in {}.new, but it could not be moved to {}: {e}",
                path.display(),
                path.display()
            ))
        })?;
    }
    db.unlock(new.clone());
    tracing::info!(
        previous = old.id(),
        master_key = new.id(),
        "re-sealed the stored secrets under a new master key; restart every running server, which still holds the old one"
    );
    Ok(Rotated {
        previous_master_key_id: old.id().to_owned(),
        master_key_id: new.id().to_owned(),
        key_file: file.map(|p| p.display().to_string()),
        master_key: settings.master_key.as_ref().map(|_| new.to_text()),
    })
}
