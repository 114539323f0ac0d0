//! One interface over where audio lives: a local directory or an S3-compatible bucket, through
//! `object_store`. Objects are immutable and named by their content (`tracks/<sha256>.<ext>`),
//! so a name never points at other bytes and can be cached for ever.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    WriteMultipart,
};
use secrecy::ExposeSecret;
use tokio::io::AsyncReadExt;

use crate::config::MediaStoreConfig;

/// Where the track objects sit inside the store (or the bucket's prefix).
const TRACKS: &str = "tracks";

/// How long a presigned link stays valid: a paused track must still seek after a long pause.
pub const PRESIGNED_FOR: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
    /// Set for S3: browsers fetch the audio from the bucket, not through the dyno.
    signer: Option<Arc<AmazonS3>>,
    prefix: String,
    /// Part size of uploads: S3 wants at least 5 MiB; a local file is written in small pieces.
    chunk: usize,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaStore({})", self.objects)
    }
}

impl MediaStore {
    pub fn open(config: &MediaStoreConfig) -> anyhow::Result<Self> {
        match config {
            MediaStoreConfig::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the media directory {dir:?}"))?;
                let local = LocalFileSystem::new_with_prefix(dir)?;
                Ok(Self {
                    objects: Arc::new(local),
                    signer: None,
                    prefix: String::new(),
                    chunk: 256 * 1024,
                })
            }
            MediaStoreConfig::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_secret());
                }
                // reqwest is built without a TLS crypto provider: use ring, as lettre does (no
                // aws-lc C build). An `Err` only says one is installed already.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let s3 = Arc::new(builder.build()?);
                Ok(Self {
                    objects: s3.clone(),
                    signer: Some(s3),
                    prefix: prefix.clone(),
                    chunk: 5 * 1024 * 1024,
                })
            }
        }
    }

    /// The object name of a track's audio.
    pub fn key(sha256: &str, extension: &str) -> String {
        format!("{sha256}.{extension}")
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{TRACKS}/{key}"))
        } else {
            ObjectPath::from(format!("{}/{TRACKS}/{key}", self.prefix))
        }
    }

    /// Copies a finished temporary file into the store, one part at a time, so memory stays
    /// flat whatever the size.
    pub async fn put_file(&self, key: &str, file: &Path, content_type: &str) -> anyhow::Result<()> {
        let mut options = PutMultipartOptions::default();
        if self.signer.is_some() {
            // S3 hands the type back on presigned GETs; the local store keeps no attributes.
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            options.attributes = attributes;
        }
        let upload = self
            .objects
            .put_multipart_opts(&self.path(key), options)
            .await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.chunk);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buffer = vec![0u8; 64 * 1024];
        let copied: anyhow::Result<()> = async {
            loop {
                let n = source.read(&mut buffer).await?;
                if n == 0 {
                    return Ok(());
                }
                // At most one part in flight: a second would double the memory held.
                writer.wait_for_capacity(1).await?;
                writer.write(&buffer[..n]);
            }
        }
        .await;
        match copied {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Bytes `range` of an object, as a stream; `None` if there is no such object.
    pub async fn read(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> anyhow::Result<Option<BoxStream<'static, std::io::Result<Bytes>>>> {
        let options = GetOptions::new().with_range(Some(GetRange::Bounded(range)));
        let result = match self.objects.get_opts(&self.path(key), options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(
            result
                .into_stream()
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed(),
        ))
    }

    /// A short-lived link straight to the bucket, or `None` when we serve the bytes ourselves.
    /// The bucket answers with this `Content-Disposition` and `Content-Type`: S3's
    /// `response-content-*` parameters, signed with the link so they cannot be changed. (S3
    /// has no such parameter for `X-Content-Type-Options`; the pinned type is what a browser
    /// goes by.)
    pub async fn presigned(
        &self,
        key: &str,
        disposition: &str,
        content_type: &str,
    ) -> anyhow::Result<Option<url::Url>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let answer = SignedUrlOptions::default().with_query([
            ("response-content-disposition", disposition),
            ("response-content-type", content_type),
        ]);
        let url = signer
            .signed_url_opts(
                object_store::signer::Method::GET,
                &self.path(key),
                PRESIGNED_FOR,
                &answer,
            )
            .await?;
        Ok(Some(url))
    }

    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        Ok(self.modified(key).await?.is_some())
    }

    /// When an object was last written, or `None` when there is none.
    pub async fn modified(&self, key: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        match self.objects.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(meta.last_modified)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.objects.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every track object with its last change, for the orphan sweep.
    pub async fn list(&self) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
        let root = self.path("");
        let root = ObjectPath::from(root.as_ref().trim_end_matches('/'));
        let metas: Vec<_> = self.objects.list(Some(&root)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_owned();
                Some((name, m.last_modified))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_keeps_reads_lists_and_deletes_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&MediaStoreConfig::Local {
            dir: dir.path().join("media"),
        })
        .unwrap();
        let source = dir.path().join("upload");
        let body: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &body).unwrap();

        let key = MediaStore::key("abc", "wav");
        assert!(!store.exists(&key).await.unwrap());
        store.put_file(&key, &source, "audio/wav").await.unwrap();
        assert!(store.exists(&key).await.unwrap());
        assert_eq!(
            std::fs::read(dir.path().join("media/tracks/abc.wav")).unwrap(),
            body
        );

        let part: Vec<Bytes> = store
            .read(&key, 1000..1010)
            .await
            .unwrap()
            .expect("the object")
            .try_collect()
            .await
            .unwrap();
        assert_eq!(part.concat(), body[1000..1010]);
        assert_eq!(
            store.presigned(&key, "inline", "audio/wav").await.unwrap(),
            None
        );
        let listed = store.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, key);

        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert!(!store.exists(&key).await.unwrap());
        assert!(store.list().await.unwrap().is_empty());
    }
}
