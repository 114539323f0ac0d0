//! An upload's way in: the body streams to a temporary file (hashed and counted on the way,
//! never held whole in memory), is probed on a blocking thread, and only a file that is really
//! audio is copied into the store. The row comes last (`models::track::add`), so a refused file
//! leaves nothing behind, and an object without its row is removed by `release` or `sweep`.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::sync::Semaphore;

use super::probe::{self, Analysis, Refusal};
use super::store::MediaStore;
use crate::config::MediaConfig;
use crate::models::composition;
use crate::models::track::{self, NewTrack};

/// Why an upload was refused; each says what to do in a sentence.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("The file is larger than the limit of {limit_mib} MiB.")]
    TooLarge { limit_mib: u64 },
    #[error("{0}")]
    NotAudio(#[from] Refusal),
    #[error("The upload was interrupted before the file was complete.")]
    Interrupted,
    /// The release holds no more tracks, or the artist's quota is used up.
    #[error(transparent)]
    Refused(#[from] track::Refused),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A file received in full, not yet checked.
pub struct Received {
    pub file: TempPath,
    pub size: u64,
    pub sha256: String,
    /// The name the browser gave it, if any: a title of last resort.
    pub filename: Option<String>,
}

/// A file that is audio, ready to be kept.
pub struct Checked {
    pub received: Received,
    pub analysis: Analysis,
    pub title: String,
}

impl Checked {
    pub fn key(&self) -> String {
        MediaStore::key(&self.received.sha256, self.analysis.extension)
    }

    pub fn new_track(&self) -> NewTrack {
        let a = &self.analysis;
        NewTrack {
            title: self.title.clone(),
            object_key: self.key(),
            container: a.container.into(),
            codec: a.codec.into(),
            mime: a.mime.into(),
            duration_ms: a.duration_ms,
            sample_rate: a.sample_rate,
            channels: a.channels,
            bit_rate: a.bit_rate,
            size_bytes: self.received.size as i64,
            sha256: self.received.sha256.clone(),
            peaks: a.peaks.clone(),
        }
    }
}

/// The media store with the limits and the work queue of uploads.
#[derive(Clone)]
pub struct Media {
    pub store: MediaStore,
    pub config: MediaConfig,
    /// Probing decodes the whole file: a few at a time, so pages stay quick meanwhile.
    analysing: Arc<Semaphore>,
}

impl Media {
    pub fn new(config: &MediaConfig) -> anyhow::Result<Self> {
        // Half the cores at most, so the other half keeps serving pages.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let decoders = (cores / 2).max(1);
        Ok(Self {
            store: MediaStore::open(&config.store)?,
            config: config.clone(),
            analysing: Arc::new(Semaphore::new(decoders)),
        })
    }

    pub fn limits(&self) -> track::Limits {
        track::Limits {
            max_tracks: self.config.max_tracks,
            quota_bytes: self.config.quota_bytes,
        }
    }

    /// Streams a body into a temporary file, refusing it once it passes the size limit. The
    /// hashing and writing happen on a blocking thread, a chunk or two behind the network, so
    /// the async threads only pass bytes along and pages stay quick during big uploads.
    pub async fn receive<S, E>(
        &self,
        mut chunks: S,
        filename: Option<String>,
    ) -> Result<Received, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limit = self.config.max_track_bytes;
        let temp = tempfile::NamedTempFile::new().map_err(anyhow::Error::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
        let writer = tokio::task::spawn_blocking(move || write_hashed(temp, rx));
        let mut size = 0u64;
        let mut problem = None;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::info!(error = %e, "upload body ended early");
                    problem = Some(UploadError::Interrupted);
                    break;
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                problem = Some(UploadError::TooLarge {
                    limit_mib: limit / (1024 * 1024),
                });
                break;
            }
            if tx.send(chunk).await.is_err() {
                break; // the writer failed: its error says why
            }
        }
        drop(tx);
        let written = writer.await.map_err(anyhow::Error::from)?;
        if let Some(problem) = problem {
            return Err(problem);
        }
        let (path, sha256) = written?;
        Ok(Received {
            file: path,
            size,
            sha256,
            filename,
        })
    }

    /// Probes a received file off the async threads. The title: the one given, else the file's
    /// tags, else its name, else "Untitled".
    pub async fn check(
        &self,
        received: Received,
        title: Option<&str>,
    ) -> Result<Checked, UploadError> {
        if received.size == 0 {
            return Err(Refusal::Empty.into());
        }
        let turn = self
            .analysing
            .clone()
            .acquire_owned()
            .await
            .map_err(anyhow::Error::from)?;
        let path = received.file.to_path_buf();
        // The turn goes with the work: a client that hangs up does not free it early.
        let analysis = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            probe::analyze(&path)
        })
        .await
        .map_err(anyhow::Error::from)??;
        let title = title
            .map(str::to_owned)
            .or_else(|| analysis.title.clone())
            .or_else(|| received.filename.as_deref().map(title_from_filename))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "Untitled".to_owned());
        Ok(Checked {
            title: clip(title.trim(), track::MAX_TITLE_CHARS),
            received,
            analysis,
        })
    }

    /// Copies checked files into the store. Content-named, so an identical file is kept once;
    /// it is written again all the same, which renews its date and so keeps a `release` of
    /// another track with the same bytes from removing it before our row names it.
    async fn keep(&self, checked: &[Checked]) -> anyhow::Result<()> {
        for c in checked {
            self.store
                .put_file(&c.key(), &c.received.file, c.analysis.mime)
                .await?;
        }
        Ok(())
    }

    /// Keeps checked files and appends them to a composition's tracks, all or none. The row
    /// is written only once its object exists; if the rows are refused, the objects are
    /// released (see `release`).
    pub async fn add(
        &self,
        db: &DatabaseConnection,
        composition: &composition::Model,
        checked: Vec<Checked>,
    ) -> Result<Vec<track::Model>, UploadError> {
        self.keep(&checked).await?;
        let new = checked.iter().map(Checked::new_track).collect();
        match track::add(db, composition, new, &self.limits()).await {
            Ok(added) => Ok(added),
            Err(refused) => {
                let keys: Vec<String> = checked.iter().map(Checked::key).collect();
                // Through the grace period too: an upload of the same bytes may be about to
                // name the object.
                self.release(db, keys).await;
                Err(refused.into())
            }
        }
    }

    /// Removes the objects of deleted tracks that no track names any more. One written within
    /// the grace period is left to `sweep`: an upload of the same bytes may be about to name it.
    pub async fn release(&self, db: &DatabaseConnection, keys: Vec<String>) {
        if let Err(e) = self.release_now(db, keys).await {
            tracing::warn!(error = %e, "media objects not released; the sweep will");
        }
    }

    async fn release_now(&self, db: &DatabaseConnection, keys: Vec<String>) -> anyhow::Result<()> {
        let grace = chrono::Duration::from_std(self.config.orphan_grace)?;
        for key in track::unreferenced(db, &keys).await? {
            match self.store.modified(&key).await? {
                Some(at) if Utc::now() - at >= grace => self.store.delete(&key).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes every object that no track names and that is older than the grace period: what
    /// an interrupted upload or a failed release left. Returns how many were removed.
    pub async fn sweep(&self, db: &DatabaseConnection) -> anyhow::Result<usize> {
        let grace = chrono::Duration::from_std(self.config.orphan_grace)?;
        let now = Utc::now();
        let old: Vec<String> = self
            .store
            .list()
            .await?
            .into_iter()
            .filter(|(_, at)| now - *at >= grace)
            .map(|(key, _)| key)
            .collect();
        let mut removed = 0;
        for chunk in old.chunks(500) {
            for key in track::unreferenced(db, chunk).await? {
                self.store.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Writes and hashes what arrives until the sender is dropped (blocking).
fn write_hashed(
    temp: tempfile::NamedTempFile,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> anyhow::Result<(TempPath, String)> {
    use std::io::Write;
    let (file, path) = temp.into_parts();
    let mut file = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut hasher = Sha256::new();
    while let Some(chunk) = rx.blocking_recv() {
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok((path, hex::encode(hasher.finalize())))
}

/// The worker's sweep: every so often (a quarter of the grace period, at least a minute apart),
/// until `stop` says so.
pub async fn run_sweeps(
    media: Media,
    db: DatabaseConnection,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = (media.config.orphan_grace / 4).max(std::time::Duration::from_secs(60));
    loop {
        match media.sweep(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "media sweep: removed objects no track names"),
            Err(e) => tracing::warn!(error = %e, "media sweep failed; retrying later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// `01 - Maple_Leaf-Rag.mp3` → `01 - Maple Leaf Rag`.
fn title_from_filename(name: &str) -> String {
    let base = Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(name);
    base.replace('_', " ").trim().to_owned()
}

fn clip(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_fall_back_to_the_file_name_without_its_extension() {
        assert_eq!(
            title_from_filename("01_Maple_Leaf_Rag.mp3"),
            "01 Maple Leaf Rag"
        );
        assert_eq!(title_from_filename("C:\\x\\song.flac"), "C:\\x\\song");
        assert_eq!(clip("a\u{0}b\ncd", 3), "abc");
    }
}
