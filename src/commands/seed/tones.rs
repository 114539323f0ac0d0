//! `ragtime seed --tracks`: a few short synthesized tunes (mono 16-bit WAV), the same for the
//! same seed, stored once each (content-named) and attached to the seeded compositions.

use std::collections::HashMap;

use anyhow::Context;
use rand::Rng;
use rand::rngs::StdRng;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};
use sha2::{Digest, Sha256};

use super::{SeedOptions, SeededComposition, fake_title, rng_for, rows_per_statement};
use crate::config::MediaConfig;
use crate::media::probe::{self, Analysis};
use crate::media::store::MediaStore;
use crate::models::track;

/// Distinct tunes per run: every track plays one of them.
pub const TONES: usize = 4;
pub const SAMPLE_RATE: u32 = 22_050;
/// The longest tune, in milliseconds (they last 2 to 4 seconds).
pub const MAX_TONE_MS: i64 = 4_000;

/// Semitones above the root of each chord of a rag's turnaround (I, VI7, II7, V7).
const CHORDS: [[i32; 4]; 4] = [
    [0, 4, 7, 12],
    [9, 13, 16, 19],
    [2, 6, 9, 12],
    [7, 11, 14, 17],
];

/// One stored tune, probed once.
struct Tone {
    key: String,
    sha256: String,
    size: u64,
    analysis: Analysis,
}

/// A tune: an arpeggio over a chord, its pitch, speed and length drawn from `rng`.
fn synthesize(rng: &mut StdRng) -> Vec<u8> {
    let root = 196.0 * 2f64.powf(f64::from(rng.random_range(0..12)) / 12.0); // G3 and up
    let chord = CHORDS[rng.random_range(0..CHORDS.len())];
    let seconds = rng.random_range(2..=4u32);
    let note_len = (SAMPLE_RATE as usize * rng.random_range(150..=300usize)) / 1000;
    let total = (SAMPLE_RATE * seconds) as usize;
    let pattern: [usize; 8] = [0, 1, 2, 3, 2, 1, 2, 3];
    let mut samples = Vec::with_capacity(total);
    for i in 0..total {
        let note = i / note_len;
        let t = (i % note_len) as f64 / f64::from(SAMPLE_RATE);
        let semitones = chord[pattern[note % pattern.len()]];
        let f = root * 2f64.powf(f64::from(semitones) / 12.0);
        let phase = std::f64::consts::TAU * f * t;
        // A plucked-string-ish note: two harmonics and a quick decay; a short fade at the end.
        let envelope = (-t * 6.0).exp() * (t * 400.0).min(1.0);
        let fade = ((total - i) as f64 / 200.0).min(1.0);
        let v = (phase.sin() + 0.3 * (2.0 * phase).sin()) / 1.3 * envelope * fade * 0.6;
        samples.push((v * f64::from(i16::MAX)) as i16);
    }
    wav(&samples)
}

/// A canonical 44-byte-header PCM WAV, mono 16-bit.
fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Synthesizes the tunes, probes them as an upload would be, and puts each into the store.
async fn store_tones(store: &MediaStore, seed: u64) -> anyhow::Result<Vec<Tone>> {
    let mut rng = rng_for(seed, 6);
    let mut tones: Vec<Tone> = Vec::with_capacity(TONES);
    for _ in 0..TONES {
        let bytes = synthesize(&mut rng);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if tones.iter().any(|t| t.sha256 == sha256) {
            continue;
        }
        let size = bytes.len() as u64;
        let mut file = tempfile::NamedTempFile::new()?;
        std::io::Write::write_all(&mut file, &bytes)?;
        let path = file.into_temp_path();
        let probed = path.to_path_buf();
        let analysis = tokio::task::spawn_blocking(move || probe::analyze(&probed))
            .await?
            .map_err(|refusal| anyhow::anyhow!("a synthesized tone was refused: {refusal}"))?;
        let key = MediaStore::key(&sha256, analysis.extension);
        store
            .put_file(&key, &path, analysis.mime)
            .await
            .with_context(|| format!("cannot store the media object {key}"))?;
        tones.push(Tone {
            key,
            sha256,
            size,
            analysis,
        });
    }
    Ok(tones)
}

/// Gives each of `compositions` its tracks: one for a single, `--tracks-per-composition` (else two
/// or three) for an EP or an album, within the configured track limit and each artist's quota
/// (an artist whose quota is full gets no more). Returns how many tracks were added.
pub(super) async fn add_tracks(
    db: &DatabaseConnection,
    media: &MediaConfig,
    options: &SeedOptions,
    compositions: &[SeededComposition],
) -> anyhow::Result<u64> {
    if compositions.is_empty() {
        return Ok(0);
    }
    let store = MediaStore::open(&media.store).context("cannot open the media store")?;
    let tones = store_tones(&store, options.seed).await?;
    let limits = track::Limits {
        max_tracks: media.max_tracks,
        quota_bytes: media.quota_bytes,
    };

    let mut rng = rng_for(options.seed, 7);
    // The artists are new: nothing of theirs is stored yet.
    let mut used: HashMap<i32, u64> = HashMap::new();
    let mut rows = Vec::new();
    for c in compositions {
        let max = track::max_tracks(c.release_type, &limits);
        let wanted = if c.release_type == 1 {
            1
        } else {
            options
                .tracks_per_composition
                .map_or_else(|| rng.random_range(2..=3u64), u64::from)
        };
        let used = used.entry(c.artist_id).or_default();
        for position in 1..=wanted.min(max) {
            let tone = &tones[rng.random_range(0..tones.len())];
            let title = fake_title(&mut rng);
            if *used + tone.size > limits.quota_bytes {
                break;
            }
            *used += tone.size;
            let a = &tone.analysis;
            rows.push(track::ActiveModel {
                composition_id: Set(c.id),
                position: Set(position as i32),
                title: Set(title),
                object_key: Set(tone.key.clone()),
                container: Set(a.container.to_owned()),
                codec: Set(a.codec.to_owned()),
                mime: Set(a.mime.to_owned()),
                duration_ms: Set(a.duration_ms),
                sample_rate: Set(a.sample_rate),
                channels: Set(a.channels),
                bit_rate: Set(a.bit_rate),
                size_bytes: Set(tone.size as i64),
                sha256: Set(tone.sha256.clone()),
                waveform: Set(hex::encode(&a.peaks)),
                created_at: Set(c.timestamp),
                ..Default::default()
            });
        }
    }

    let total = rows.len() as u64;
    let txn = db.begin().await.context("cannot start a transaction")?;
    let per_statement = rows_per_statement(15);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(per_statement).collect();
        track::Entity::insert_many(batch)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await.context("cannot commit the tracks")?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_are_real_short_wavs_and_the_same_for_the_same_seed() {
        let mut a = rng_for(5, 6);
        let mut b = rng_for(5, 6);
        for _ in 0..TONES {
            let wav = synthesize(&mut a);
            assert_eq!(wav, synthesize(&mut b));
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &wav).unwrap();
            let analysis = probe::analyze(file.path()).unwrap();
            assert_eq!((analysis.container, analysis.codec), ("wav", "pcm"));
            assert_eq!((analysis.sample_rate, analysis.channels), (22_050, 1));
            assert!((2_000..=MAX_TONE_MS).contains(&analysis.duration_ms));
            assert!(analysis.peaks.iter().any(|p| *p > 0));
        }
    }
}
