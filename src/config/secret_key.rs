//! The development key kept on disk. Without `SECRET_KEY`, development used to make a new
//! key at every start, so a restart (after `ragtime seed`, say) broke every open form, mailed
//! link and API token, and a `worker` beside the server signed with a key of its own. The
//! generated key is kept in a file beside the database instead, readable by its owner only.
//! Never in production or heroku: they still require `SECRET_KEY`.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{ConfigError, MIN_SECRET_KEY_BYTES, refuse};

/// Where the development key of the database at `database_url` lives: beside a SQLite file
/// (`data-dev.sqlite.secret-key`), in the working directory for a server database, nowhere for
/// a database in memory (which a restart forgets anyway).
pub(super) fn file_for(database_url: &str) -> Option<PathBuf> {
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Some(PathBuf::from("ragtime.secret-key"));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.strip_prefix("//").unwrap_or(path);
    let in_memory =
        path.is_empty() || path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    (!in_memory).then(|| PathBuf::from(format!("{path}.secret-key")))
}

/// The key in `path`, or a new random one written there if there is none yet. Two processes
/// starting at once (`heroku local web worker`) end up with the same key: the file appears
/// whole or not at all, and the second writer reads the first one's.
pub(super) fn load_or_create(path: &Path) -> Result<SecretString, ConfigError> {
    let refused = |what: String| {
        refuse(
            "SECRET_KEY",
            format!(
                "is not set, and the development key {what}; set SECRET_KEY or delete the file",
            ),
        )
    };
    match read(path) {
        Ok(Some(key)) => return Ok(key),
        Ok(None) => {}
        Err(e) => {
            return Err(refused(format!(
                "in {} cannot be read ({e})",
                path.display()
            )));
        }
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let written = tempfile::NamedTempFile::new_in(dir).and_then(|mut file| {
        // Owner-only, as tempfile creates it.
        writeln!(file, "{}", crate::crypto::random_token(32))?;
        file.as_file().sync_all()?;
        file.persist_noclobber(path).map_err(|e| e.error)
    });
    match written {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(refused(format!(
                "cannot be kept in {} ({e})",
                path.display()
            )));
        }
    }
    match read(path) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(refused(format!("in {} is empty", path.display()))),
        Err(e) => Err(refused(format!(
            "in {} cannot be read ({e})",
            path.display()
        ))),
    }
}

/// The key in the file, `None` when there is no file; a file too short to be a key is refused.
fn read(path: &Path) -> std::io::Result<Option<SecretString>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let key = text.trim();
    if key.len() < MIN_SECRET_KEY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("shorter than {MIN_SECRET_KEY_BYTES} bytes"),
        ));
    }
    Ok(Some(SecretString::from(key.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_key_file_sits_beside_a_sqlite_file_and_nowhere_for_memory() {
        assert_eq!(
            file_for("sqlite://data-dev.sqlite?mode=rwc"),
            Some(PathBuf::from("data-dev.sqlite.secret-key"))
        );
        assert_eq!(
            file_for("sqlite:///srv/ragtime/site.db"),
            Some(PathBuf::from("/srv/ragtime/site.db.secret-key"))
        );
        assert_eq!(
            file_for("sqlite:dev.sqlite"),
            Some(PathBuf::from("dev.sqlite.secret-key"))
        );
        assert_eq!(
            file_for("postgres://postgres@127.0.0.1/ragtime"),
            Some(PathBuf::from("ragtime.secret-key"))
        );
        for memory in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x?mode=memory",
        ] {
            assert_eq!(file_for(memory), None, "{memory}");
        }
    }

    #[test]
    fn a_generated_key_is_kept_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data-dev.sqlite.secret-key");
        let first = load_or_create(&path).unwrap();
        assert!(first.expose_secret().len() >= MIN_SECRET_KEY_BYTES);
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn processes_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.secret-key");
        let keys: Vec<String> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).unwrap()))
                .collect();
            starts
                .into_iter()
                .map(|t| t.join().unwrap().expose_secret().to_owned())
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    }

    #[test]
    fn a_damaged_key_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.secret-key");
        std::fs::write(&path, "short\n").unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert_eq!(e.variable, "SECRET_KEY");
        assert!(e.message.contains("k.secret-key"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    }
}
