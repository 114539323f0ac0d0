//! Where audio lives (`RAGTIME_MEDIA_URL`) and the limits on uploads. A local directory in
//! development and testing; any S3-compatible bucket in production. The heroku configuration
//! refuses a local directory on a dyno, as it refuses SQLite: a dyno's disk is wiped on every
//! restart.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, ConfigName, parse_number, refuse};

/// The object store behind the tracks.
#[derive(Clone)]
pub enum MediaStoreConfig {
    /// `file://<dir>`: a directory on this machine.
    Local { dir: PathBuf },
    /// `s3://<bucket>[/<prefix>]`, with the usual AWS variables.
    S3 {
        bucket: String,
        prefix: String,
        region: String,
        /// A non-AWS server (MinIO, moto, Cloudflare R2...); addressed path-style.
        endpoint: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<SecretString>,
    },
}

impl fmt::Debug for MediaStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { dir } => f.debug_struct("Local").field("dir", dir).finish(),
            Self::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                access_key_id,
                ..
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("prefix", prefix)
                .field("region", region)
                .field("endpoint", endpoint)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"[redacted]")
                .finish(),
        }
    }
}

impl MediaStoreConfig {
    /// The origin browsers fetch audio from, for the CSP's `media-src`: `None` when we serve it
    /// ourselves ('self').
    pub fn origin(&self) -> Option<String> {
        match self {
            Self::Local { .. } => None,
            Self::S3 {
                endpoint: Some(endpoint),
                ..
            } => url::Url::parse(endpoint)
                .ok()
                .map(|u| u.origin().ascii_serialization()),
            Self::S3 { region, .. } => Some(format!("https://s3.{region}.amazonaws.com")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MediaConfig {
    pub store: MediaStoreConfig,
    /// Largest audio file accepted, separate from the form body limit.
    pub max_track_bytes: u64,
    /// Total audio one artist may keep.
    pub quota_bytes: u64,
    /// Most tracks on an EP or an album (a single has at most one).
    pub max_tracks: u64,
    /// An object no track names is removed once it is this old (an upload in progress writes
    /// its object before its row).
    pub orphan_grace: Duration,
}

const MIB: u64 = 1024 * 1024;

impl MediaConfig {
    pub(super) fn read(
        name: ConfigName,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let url = var("RAGTIME_MEDIA_URL").or_else(|| heroku_addon_url(var));
        let store = match url {
            Some(url) => parse_store(&url, var)?,
            None => match name {
                ConfigName::Development => MediaStoreConfig::Local {
                    dir: PathBuf::from("media"),
                },
                ConfigName::Testing => MediaStoreConfig::Local {
                    dir: std::env::temp_dir().join("ragtime-test-media"),
                },
                _ => {
                    return Err(refuse(
                        "RAGTIME_MEDIA_URL",
                        format!(
                            "is required in the {name} configuration: s3://<bucket>[/<prefix>] \
                             (or file://<dir> outside Heroku)"
                        ),
                    ));
                }
            },
        };
        // On a dyno only: `heroku local` runs the same configuration on a laptop's disk.
        let on_a_dyno = var("DYNO").is_some();
        if name == ConfigName::Heroku
            && on_a_dyno
            && matches!(store, MediaStoreConfig::Local { .. })
        {
            return Err(refuse(
                "RAGTIME_MEDIA_URL",
                "a local directory is refused in the heroku configuration: a dyno's disk is \
                 wiped on every restart and the audio would be lost; attach an S3 bucket \
                 (s3://<bucket>)",
            ));
        }
        let number = |key: &'static str, default: u64, min: u64, max: u64| match var(key) {
            Some(v) => parse_number(key, &v, min, max),
            None => Ok(default),
        };
        Ok(MediaConfig {
            store,
            max_track_bytes: number("RAGTIME_MAX_TRACK_BYTES", 100 * MIB, 1024, 1 << 40)?,
            quota_bytes: number("RAGTIME_MEDIA_QUOTA_BYTES", 1024 * MIB, 1024, 1 << 50)?,
            max_tracks: number("RAGTIME_MAX_TRACKS", 20, 1, 500)?,
            orphan_grace: Duration::from_secs(number(
                "RAGTIME_MEDIA_ORPHAN_GRACE",
                3600,
                0,
                7 * 86400,
            )?),
        })
    }
}

/// Heroku's S3 add-ons set their own variables: Bucketeer names a bucket, Cloudcube a URL whose
/// first host label is the bucket and whose path is our prefix (the "cube").
fn heroku_addon_url(var: &impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(bucket) = var("BUCKETEER_BUCKET_NAME") {
        return Some(format!("s3://{bucket}"));
    }
    let cube = url::Url::parse(&var("CLOUDCUBE_URL")?).ok()?;
    let bucket = cube.host_str()?.split('.').next()?.to_owned();
    Some(format!(
        "s3://{bucket}{}",
        cube.path().trim_end_matches('/')
    ))
}

fn parse_store(
    url: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<MediaStoreConfig, ConfigError> {
    let bad = |why: &str| {
        refuse(
            "RAGTIME_MEDIA_URL",
            format!("{url:?} {why}; use file://<dir> or s3://<bucket>[/<prefix>]"),
        )
    };
    if let Some(dir) = url.strip_prefix("file://") {
        if dir.is_empty() {
            return Err(bad("names no directory"));
        }
        return Ok(MediaStoreConfig::Local {
            dir: PathBuf::from(dir),
        });
    }
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(bad("has an unsupported scheme"));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(bad("names no valid bucket"));
    }
    let first = |names: &[&str]| names.iter().find_map(|n| var(n));
    let endpoint = first(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]);
    if let Some(e) = &endpoint {
        let ok = url::Url::parse(e)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(refuse(
                "AWS_ENDPOINT_URL",
                format!("{e:?} is not an http(s) URL"),
            ));
        }
    }
    Ok(MediaStoreConfig::S3 {
        bucket: bucket.to_owned(),
        prefix: prefix.trim_matches('/').to_owned(),
        region: first(&["AWS_REGION", "AWS_DEFAULT_REGION", "BUCKETEER_AWS_REGION"])
            .unwrap_or_else(|| "us-east-1".into()),
        endpoint,
        access_key_id: first(&[
            "AWS_ACCESS_KEY_ID",
            "BUCKETEER_AWS_ACCESS_KEY_ID",
            "CLOUDCUBE_ACCESS_KEY_ID",
        ]),
        secret_access_key: first(&[
            "AWS_SECRET_ACCESS_KEY",
            "BUCKETEER_AWS_SECRET_ACCESS_KEY",
            "CLOUDCUBE_SECRET_ACCESS_KEY",
        ])
        .map(SecretString::from),
    })
}
