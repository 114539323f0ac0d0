//! What an uploaded audio file really is, read from its content with symphonia: container,
//! codec, length, title and a waveform, or a [`Refusal`] a musician can understand.
//!
//! Everything is derived from the bytes, never from the file's name or the Content-Type the
//! browser sent: those are only claims. The whole file is decoded (except Opus, which symphonia
//! cannot decode), because a header can lie about the length and a damaged file can start well.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::panic::UnwindSafe;
use std::path::Path;
use std::sync::LazyLock;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_AC3, CODEC_ID_ALAC, CODEC_ID_EAC3, CODEC_ID_FLAC, CODEC_ID_MP1,
    CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_PCM_F64BE_PLANAR, CODEC_ID_PCM_S32LE,
    CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioCodecParameters, AudioDecoderOptions};
use symphonia::core::errors::Error;
use symphonia::core::formats::probe::{Hint, Probe, ProbeOptions};
use symphonia::core::formats::well_known::{
    FORMAT_ID_ADTS, FORMAT_ID_FLAC, FORMAT_ID_ISOMP4, FORMAT_ID_MP3, FORMAT_ID_OGG, FORMAT_ID_WAVE,
};
use symphonia::core::formats::{FormatId, FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, StandardTag};
use symphonia::core::packet::Packet;
use symphonia::core::units::Timestamp;

/// What an uploaded file really is, read from its content (never its name or Content-Type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// "mp3" | "mp4" | "aac" (ADTS) | "ogg" | "flac" | "wav"
    pub container: &'static str,
    /// "mp3" | "aac" | "vorbis" | "opus" | "flac" | "pcm"
    pub codec: &'static str,
    /// audio/mpeg | audio/mp4 | audio/aac | audio/ogg | audio/flac | audio/wav
    pub mime: &'static str,
    /// mp3 | m4a | aac | ogg | opus | flac | wav (Opus in Ogg is "opus")
    pub extension: &'static str,
    pub duration_ms: i64,
    pub sample_rate: i32,
    pub channels: i32,
    /// Average bits per second over the whole file: size * 8 / duration.
    pub bit_rate: i32,
    /// From the file's tags (ID3v2 TIT2, Vorbis comment TITLE, MP4 ©nam, RIFF INAM), trimmed,
    /// without control characters, at most [`MAX_TITLE_CHARS`] characters.
    pub title: Option<String>,
    /// The waveform: [`WAVEFORM_POINTS`] values, each the peak absolute amplitude of its slice
    /// of the decoded audio (all channels), full scale = 255. Empty for Opus (not decodable).
    pub peaks: Vec<u8>,
}

pub const WAVEFORM_POINTS: usize = 100;
/// Longer recordings are refused ([`Refusal::TooLong`]).
pub const MAX_DURATION_MS: i64 = 6 * 60 * 60 * 1000;
pub const MAX_TITLE_CHARS: usize = 200;

const ACCEPTED: &str = "please upload MP3, M4A (AAC), Ogg (Vorbis or Opus), FLAC or WAV";

/// Why a file was refused; `Display` gives a one-sentence message for a musician.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("The file is empty.")]
    Empty,
    #[error("This file is not an audio recording we recognise; {ACCEPTED}.")]
    NotAudio,
    /// What the file is, as a noun phrase ("a video", "Apple Lossless (ALAC) audio").
    #[error("This file is {0}, which we cannot accept; {ACCEPTED}.")]
    Unsupported(String),
    #[error("The file is damaged and could not be read as audio.")]
    Corrupt,
    #[error(
        "The file is incomplete: the recording stops before its end, perhaps an interrupted copy."
    )]
    Truncated,
    /// Which value is impossible ("sample rate", "channel count", "length").
    #[error("The file's header gives an impossible {0}, so it is damaged or not a real recording.")]
    Absurd(String),
    #[error("The recording is longer than 6 hours, the longest we accept.")]
    TooLong,
}

/// Reads the whole file (blocking: callers run it on a blocking thread). Memory stays bounded
/// whatever the file size: the file is streamed, and the waveform is kept at a fixed resolution.
///
/// # Errors
///
/// A [`Refusal`] when the file is not audio we accept; it never panics.
pub fn analyze(path: &Path) -> Result<Analysis, Refusal> {
    guarded(|| analyze_unguarded(path))
}

/// Demuxers and decoders parse hostile bytes; a panic in them must not take the worker down.
fn guarded<T>(f: impl FnOnce() -> Result<T, Refusal> + UnwindSafe) -> Result<T, Refusal> {
    std::panic::catch_unwind(f).unwrap_or(Err(Refusal::Corrupt))
}

/// The formats we accept, probed from the content only. Markers must appear within the first
/// 64 KiB (after any ID3v2 tag): a real file starts with its container, we do not hunt for one
/// through a megabyte of something else as symphonia's default probe does.
static PROBE: LazyLock<Probe> = LazyLock::new(|| {
    let mut probe = Probe::new_with_options(&ProbeOptions {
        max_probe_depth: 64 * 1024,
        ..Default::default()
    });
    symphonia::default::register_enabled_formats(&mut probe);
    probe
});

fn analyze_unguarded(path: &Path) -> Result<Analysis, Refusal> {
    let file_len = std::fs::metadata(path).map_err(|_| Refusal::Corrupt)?.len();
    if file_len == 0 {
        return Err(Refusal::Empty);
    }
    let mut format = open(path)?;

    if format
        .tracks()
        .iter()
        .any(|t| t.track_type() == Some(TrackType::Video))
    {
        return Err(Refusal::Unsupported("a video".into()));
    }
    let track = format
        .default_track(TrackType::Audio)
        .cloned()
        .ok_or(Refusal::NotAudio)?;
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).cloned();
    let params = params.ok_or(Refusal::NotAudio)?;
    let codec = codec(params.codec)?;
    let (container, mime, extension) = container(format.format_info().format)?;
    let extension = if container == "ogg" && codec == "opus" {
        "opus"
    } else {
        extension
    };

    // Check what the header claims before spending time decoding it.
    let rate = params.sample_rate.unwrap_or(0);
    let channels = params.channels.as_ref().map_or(0, |c| c.count());
    if params.sample_rate.is_some() {
        check_rate(rate)?;
    }
    if params.channels.is_some() {
        check_channels(channels)?;
    }
    let declared_ms = declared_ms(&track, rate);
    if let Some(ms) = declared_ms {
        // The audio must fit in the file, give or take: even silence costs a few bytes per
        // second, and PCM exactly rate * channels * sample size. The 64x slack keeps a merely
        // cut file "Truncated"; a header claiming hours in kilobytes is lying.
        let bits = params
            .bits_per_coded_sample
            .or(params.bits_per_sample)
            .unwrap_or(8);
        let pcm_bytes_per_s = u128::from(rate) * channels as u128 * u128::from(bits) / 8;
        let floor = if codec == "pcm" {
            pcm_bytes_per_s / 64
        } else {
            0
        }
        .max(8);
        if ms * floor / 1000 > u128::from(file_len) {
            return Err(Refusal::Absurd("length".into()));
        }
        if ms > MAX_DURATION_MS as u128 {
            return Err(Refusal::TooLong);
        }
    }

    let stream = if codec == "opus" {
        // symphonia 0.6 has no Opus decoder: count the valid frames the packets carry.
        demux_only(format.as_mut(), &track, rate)
    } else {
        decode_all(format.as_mut(), &track, &params)
    }?;
    let duration_ms = u128::from(stream.frames) * 1000 / u128::from(stream.rate.max(1));

    // Where the packets say the audio starts and ends, in ms.
    let ms = |ticks: i64| {
        let time = track.time_base?.calc_time(Timestamp::new(ticks))?;
        u128::try_from(time.as_millis()).ok()
    };
    let end_ms = stream
        .span
        .and_then(|(_, end)| ms(end))
        .unwrap_or(duration_ms);
    let span_ms = stream
        .span
        .and_then(|(start, end)| ms(end.saturating_sub(start)));
    // The audio ends materially before the length the container states: cut short, e.g. an
    // interrupted copy. Only containers that store a length (rather than estimate it, as MP3
    // and ADTS may) can tell.
    let declares_length = matches!(container, "wav" | "flac" | "mp4" | "ogg");
    if let (true, Some(declared)) = (declares_length, declared_ms)
        && materially_shorter(end_ms, declared, 98)
    {
        return Err(Refusal::Truncated);
    }
    // More than one and over ~5% of packets undecodable: the file is broken, not unlucky (a
    // cut file often ends with one partial packet).
    if stream.bad > 1 && stream.bad * 20 > stream.packets {
        return Err(match stream.unsupported {
            Some(what) if stream.frames == 0 => unreadable(what),
            _ => Refusal::Corrupt,
        });
    }
    // Audio missing from the middle: the demuxer skipped damaged frames or pages.
    if let Some(span) = span_ms
        && materially_shorter(duration_ms, span, 95)
    {
        return Err(Refusal::Corrupt);
    }
    if stream.broken || duration_ms == 0 {
        return Err(Refusal::Corrupt);
    }
    // What was decoded must be sane too (a header need not state the rate or channels).
    check_rate(stream.rate)?;
    check_channels(stream.channels)?;

    let mut title = tag_title(format.as_mut());
    if title.is_none() && container == "wav" {
        title = riff_title(path);
    }
    Ok(Analysis {
        container,
        codec,
        mime,
        extension,
        duration_ms: duration_ms as i64,
        sample_rate: stream.rate as i32,
        channels: stream.channels as i32,
        bit_rate: (u128::from(file_len) * 8 * 1000 / duration_ms).min(i32::MAX as u128) as i32,
        title,
        peaks: stream.peaks,
    })
}

/// Probes the file's content (no hint from its name) for a container we know.
fn open(path: &Path) -> Result<Box<dyn FormatReader>, Refusal> {
    let file = File::open(path).map_err(|_| Refusal::Corrupt)?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let (hint, options) = (Hint::new(), FormatOptions::default());
    PROBE
        .probe(&hint, mss, options, MetadataOptions::default())
        .map_err(|e| probe_refusal(e, path))
}

/// `ms` is under `percent` % of `expected` and more than 100 ms short of it.
fn materially_shorter(ms: u128, expected: u128, percent: u128) -> bool {
    ms * 100 < expected * percent && expected - ms > 100
}

fn check_rate(rate: u32) -> Result<(), Refusal> {
    match rate {
        8_000..=384_000 => Ok(()),
        _ => Err(Refusal::Absurd("sample rate".into())),
    }
}

fn check_channels(channels: usize) -> Result<(), Refusal> {
    match channels {
        1..=8 => Ok(()),
        _ => Err(Refusal::Absurd("channel count".into())),
    }
}

/// What reading the packets found.
#[derive(Default)]
struct Stream {
    /// Valid audio frames, at `rate`.
    frames: u64,
    rate: u32,
    channels: usize,
    peaks: Vec<u8>,
    packets: u64,
    /// Packets the decoder refused.
    bad: u64,
    /// Why the decoder refused one, if it said it does not support it.
    unsupported: Option<&'static str>,
    /// The container stopped making sense before its end.
    broken: bool,
    /// Timestamps (in the track's time base) of the first audio heard and of its end.
    span: Option<(i64, i64)>,
}

impl Stream {
    /// Records that `packet` gave `frames` frames of audio. Its declared duration bounds them
    /// (both in the track's time base, which is 1 / sample rate for all but odd MP4s), and a
    /// partial last packet counts only what it holds; negative timestamps are encoder delay.
    fn heard(&mut self, packet: &Packet, frames: u64) {
        let frames = frames.min(packet.dur.get());
        if frames > 0 {
            let start = packet.pts.get().max(0);
            let end = packet.pts.get().saturating_add_unsigned(frames);
            let (s, e) = self.span.unwrap_or((start, end));
            self.span = Some((s.min(start), e.max(end)));
        }
    }
}

/// Decodes every packet of `track`, counting frames and tracing the waveform.
fn decode_all(
    format: &mut dyn FormatReader,
    track: &Track,
    params: &AudioCodecParameters,
) -> Result<Stream, Refusal> {
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            Error::Unsupported(what) => unreadable(what),
            _ => Refusal::Corrupt,
        })?;
    let mut stream = Stream::default();
    let mut wave = Waveform::default();
    let mut samples: Vec<f32> = Vec::new();
    while let Some(packet) = next_packet(format, &mut stream) {
        if packet.track_id != track.id {
            continue;
        }
        stream.packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) if buf.frames() > 0 => {
                stream.heard(&packet, buf.frames() as u64);
                stream.rate = buf.spec().rate();
                stream.channels = buf.spec().channels().count();
                stream.frames += buf.frames() as u64;
                wave.add(&buf, &mut samples);
                // Stop early rather than decode hours past the limit.
                let ms = u128::from(stream.frames) * 1000 / u128::from(stream.rate.max(1));
                if ms > MAX_DURATION_MS as u128 {
                    return Err(Refusal::TooLong);
                }
            }
            Ok(_) => {}
            // A damaged packet is skipped, as a player would; garbage can also look like an
            // unsupported feature to the AAC decoder.
            Err(Error::DecodeError(_) | Error::IoError(_)) => stream.bad += 1,
            Err(Error::Unsupported(what)) => {
                stream.bad += 1;
                stream.unsupported = Some(what);
            }
            Err(_) => return Err(Refusal::Corrupt),
        }
    }
    stream.peaks = wave.points();
    Ok(stream)
}

/// Reads every packet of `track` without decoding, summing the valid frames each carries.
fn demux_only(format: &mut dyn FormatReader, track: &Track, rate: u32) -> Result<Stream, Refusal> {
    let params = track.codec_params.as_ref().and_then(|p| p.audio());
    let channels = params
        .and_then(|p| p.channels.as_ref())
        .map_or(0, |c| c.count());
    let mut stream = Stream {
        rate,
        channels,
        ..Default::default()
    };
    while let Some(packet) = next_packet(format, &mut stream) {
        if packet.track_id == track.id {
            stream.packets += 1;
            stream.heard(&packet, packet.dur.get());
            stream.frames = stream.frames.saturating_add(packet.dur.get());
            let ms = u128::from(stream.frames) * 1000 / u128::from(rate.max(1));
            if ms > MAX_DURATION_MS as u128 {
                return Err(Refusal::TooLong);
            }
        }
    }
    Ok(stream)
}

/// The next packet, `None` at the end. A file cut mid-packet simply ends there (the length check
/// judges it); any other container error ends the stream as `broken`.
fn next_packet(format: &mut dyn FormatReader, stream: &mut Stream) -> Option<Packet> {
    match format.next_packet() {
        Ok(packet) => packet,
        Err(Error::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => None,
        // A chained Ogg stream: the first recording is the one we analyse.
        Err(Error::ResetRequired) => None,
        Err(_) => {
            stream.broken = true;
            None
        }
    }
}

/// The length the container states, in ms (WAV data size, FLAC STREAMINFO, MP4 sample table,
/// Ogg last granule, MP3 Xing header or estimate). u128 so hostile values cannot overflow.
fn declared_ms(track: &Track, rate: u32) -> Option<u128> {
    if let (Some(frames), 1..) = (track.num_frames, rate) {
        return Some(u128::from(frames) * 1000 / u128::from(rate));
    }
    let time = track.time_base?.calc_duration(track.duration?)?;
    u128::try_from(time.as_millis()).ok()
}

/// Maps a symphonia probe failure to what the musician should hear. Symphonia's errors carry
/// only a kind and free text, so the kind and the file's own header decide, never the text.
fn probe_refusal(e: Error, path: &Path) -> Refusal {
    let head = read_head(path).unwrap_or_default();
    match e {
        // A container we take that symphonia could not open (an MP4 without its `moov` atom,
        // a file that ends inside its header) is damaged.
        Error::Unsupported(_) if ours(&head) => Refusal::Corrupt,
        // No container recognised: perhaps a known audio format we do not take.
        Error::Unsupported(_) => sniff_unsupported(&head)
            .map_or(Refusal::NotAudio, |what| Refusal::Unsupported(what.into())),
        // Symphonia rejects some impossible WAV headers itself (0 channels, a rate of 0): say
        // which value, read from the header as the later checks would have judged it.
        Error::DecodeError(_) => wav_format(path)
            .and_then(|(channels, rate)| {
                check_rate(rate)
                    .and(check_channels(usize::from(channels)))
                    .err()
            })
            .unwrap_or(Refusal::Corrupt),
        _ => Refusal::Corrupt,
    }
}

/// The first 12 bytes of the file, where every container we know says what it is.
fn read_head(path: &Path) -> Option<[u8; 12]> {
    let mut head = [0u8; 12];
    File::open(path).ok()?.read_exact(&mut head).ok()?;
    Some(head)
}

/// Whether `head` starts one of the containers we take: WAV, FLAC, Ogg, MP4, or MP3 / ADTS
/// (an ID3 tag or an MPEG frame sync).
fn ours(head: &[u8; 12]) -> bool {
    matches!(
        (&head[..4], &head[4..8], &head[8..12]),
        (b"RIFF", _, b"WAVE") | (b"fLaC", _, _) | (b"OggS", _, _) | (_, b"ftyp", _)
    ) || head.starts_with(b"ID3")
        || (head[0] == 0xff && head[1] & 0xe0 == 0xe0)
}

/// Channels and sample rate from a WAV file's `fmt ` chunk, if it is a WAV file that has one.
fn wav_format(path: &Path) -> Option<(u16, u32)> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes(chunk[4..8].try_into().ok()?) as usize;
        if &chunk[..4] == b"fmt " {
            let fmt = bytes.get(at + 8..at + 16)?;
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let rate = u32::from_le_bytes(fmt[4..8].try_into().ok()?);
            return Some((channels, rate));
        }
        at = at.checked_add(8 + size + size % 2)?;
    }
    None
}

/// A variant of a supported format that symphonia cannot read (e.g. AAC Main profile).
fn unreadable(what: &str) -> Refusal {
    Refusal::Unsupported(format!("audio in a variant we cannot read ({what})"))
}

/// Names a few common audio formats symphonia (as configured) cannot read, for a clearer refusal.
fn sniff_unsupported(head: &[u8; 12]) -> Option<&'static str> {
    match (&head[..4], &head[8..12]) {
        (b"FORM", b"AIFF" | b"AIFC") => Some("AIFF audio"),
        ([0x1a, 0x45, 0xdf, 0xa3], _) => Some("a WebM or Matroska file"),
        ([0x30, 0x26, 0xb2, 0x75], _) => Some("a Windows Media (WMA) file"),
        (b"MThd", _) => Some("a MIDI file (notes rather than a recording)"),
        _ => None,
    }
}

/// Container name, MIME type and file extension for the formats we serve.
fn container(id: FormatId) -> Result<(&'static str, &'static str, &'static str), Refusal> {
    Ok(match id {
        FORMAT_ID_MP3 => ("mp3", "audio/mpeg", "mp3"),
        FORMAT_ID_ISOMP4 => ("mp4", "audio/mp4", "m4a"),
        FORMAT_ID_ADTS => ("aac", "audio/aac", "aac"),
        FORMAT_ID_OGG => ("ogg", "audio/ogg", "ogg"),
        FORMAT_ID_FLAC => ("flac", "audio/flac", "flac"),
        FORMAT_ID_WAVE => ("wav", "audio/wav", "wav"),
        // Anything registered later (MPEG layer 1/2 is refused by its codec).
        _ => {
            return Err(Refusal::Unsupported(
                "an audio format we do not support".into(),
            ));
        }
    })
}

/// Our name for a codec browsers play and symphonia decodes (or, for Opus, demuxes).
fn codec(id: AudioCodecId) -> Result<&'static str, Refusal> {
    let unsupported = |what: &str| Err(Refusal::Unsupported(what.into()));
    match id {
        CODEC_ID_MP3 => Ok("mp3"),
        CODEC_ID_AAC => Ok("aac"),
        CODEC_ID_VORBIS => Ok("vorbis"),
        CODEC_ID_OPUS => Ok("opus"),
        CODEC_ID_FLAC => Ok("flac"),
        // Linear PCM, integer or float (the well-known IDs are contiguous); not A-law/µ-law.
        id if (CODEC_ID_PCM_S32LE..=CODEC_ID_PCM_F64BE_PLANAR).contains(&id) => Ok("pcm"),
        CODEC_ID_ALAC => unsupported("Apple Lossless (ALAC) audio"),
        CODEC_ID_MP1 | CODEC_ID_MP2 => unsupported("MPEG layer 1 or 2 audio"),
        CODEC_ID_AC3 | CODEC_ID_EAC3 => unsupported("Dolby Digital (AC-3) audio"),
        _ => unsupported("audio in a codec we do not support"),
    }
}

/// The first title in the file's tags (ID3v2 before the container's own).
fn tag_title(format: &mut dyn FormatReader) -> Option<String> {
    let mut log = format.metadata();
    loop {
        if let Some(rev) = log.current() {
            let tracks = rev.per_track.iter().map(|t| &t.metadata);
            for container in std::iter::once(&rev.media).chain(tracks) {
                for tag in &container.tags {
                    if let Some(StandardTag::TrackTitle(title)) = &tag.std
                        && let Some(title) = clean_title(title)
                    {
                        return Some(title);
                    }
                }
            }
        }
        log.pop()?;
    }
}

/// Symphonia 0.6's WavReader parses the LIST/INFO chunk but drops it, so read INAM ourselves:
/// a bounded walk over the top-level chunks, never trusting a length beyond a small read.
fn riff_title(path: &Path) -> Option<String> {
    let mut file = BufReader::new(File::open(path).ok()?);
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return None;
    }
    for _ in 0..32 {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        let padded = i64::from(len) + i64::from(len & 1);
        if &chunk[..4] == b"LIST" && len <= 64 * 1024 {
            let mut body = vec![0; padded as usize];
            file.read_exact(&mut body[..len as usize]).ok()?;
            if let Some(info) = body.strip_prefix(b"INFO") {
                return info_title(info);
            }
        } else {
            file.seek_relative(padded).ok()?;
        }
    }
    None
}

/// INAM in the sub-chunks of a RIFF INFO list.
fn info_title(mut list: &[u8]) -> Option<String> {
    while list.len() >= 8 {
        let len = u32::from_le_bytes([list[4], list[5], list[6], list[7]]) as usize;
        let body = list.get(8..8usize.checked_add(len)?)?;
        if &list[..4] == b"INAM" {
            return clean_title(&String::from_utf8_lossy(body));
        }
        list = list.get(8 + len + (len & 1)..).unwrap_or_default();
    }
    None
}

/// Trimmed, bounded, and free of control characters (NUL padding is common in RIFF tags, and
/// PostgreSQL refuses NUL in text).
fn clean_title(raw: &str) -> Option<String> {
    let title: String = raw.chars().filter(|c| !c.is_control()).collect();
    let title: String = title.trim().chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim_end();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Peak amplitudes in buckets of frames. We do not know the real length until the end (headers
/// can lie), so buckets double in size whenever there are too many: memory stays fixed and each
/// final point is exact to 1/32 of its slice.
struct Waveform {
    buckets: Vec<f32>,
    frames_per_bucket: u64,
    filled: u64,
    peak: f32,
}

impl Default for Waveform {
    fn default() -> Self {
        Waveform {
            buckets: Vec::new(),
            frames_per_bucket: 1,
            filled: 0,
            peak: 0.0,
        }
    }
}

impl Waveform {
    const MAX_BUCKETS: usize = WAVEFORM_POINTS * 64;

    fn add(&mut self, buf: &GenericAudioBufferRef<'_>, samples: &mut Vec<f32>) {
        let channels = buf.num_planes().max(1);
        buf.copy_to_vec_interleaved(samples);
        for frame in samples.chunks_exact(channels) {
            // `max` ignores NaN, so a float file full of NaN reads as silence.
            self.peak = frame.iter().fold(self.peak, |peak, s| peak.max(s.abs()));
            self.filled += 1;
            if self.filled == self.frames_per_bucket {
                self.buckets.push(self.peak);
                (self.peak, self.filled) = (0.0, 0);
                if self.buckets.len() == Self::MAX_BUCKETS {
                    self.buckets = self
                        .buckets
                        .chunks(2)
                        .map(|p| p[0].max(p[p.len() - 1]))
                        .collect();
                    self.frames_per_bucket *= 2;
                }
            }
        }
    }

    /// Exactly [`WAVEFORM_POINTS`] values, 255 = full scale.
    fn points(mut self) -> Vec<u8> {
        if self.filled > 0 {
            self.buckets.push(self.peak);
        }
        let n = self.buckets.len();
        if n == 0 {
            return vec![0; WAVEFORM_POINTS];
        }
        (0..WAVEFORM_POINTS)
            .map(|i| {
                let start = (i * n / WAVEFORM_POINTS).min(n - 1);
                let end = ((i + 1) * n / WAVEFORM_POINTS).clamp(start + 1, n);
                let peak = self.buckets[start..end]
                    .iter()
                    .fold(0.0f32, |a, &b| a.max(b));
                (peak.min(1.0) * 255.0).round() as u8
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/audio")).join(name)
    }

    fn analyze_bytes(bytes: &[u8]) -> Result<Analysis, Refusal> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        analyze(file.path())
    }

    fn fixture_bytes(name: &str) -> Vec<u8> {
        std::fs::read(fixture(name)).unwrap()
    }

    /// Checks a good fixture: every tone is a 1.5 s, 440 Hz mono sine at half scale.
    #[track_caller]
    fn check_tone(
        name: &str,
        container: &str,
        codec: &str,
        mime: &str,
        ext: &str,
        rate: i32,
    ) -> Analysis {
        let a = analyze(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            (a.container, a.codec, a.mime, a.extension),
            (container, codec, mime, ext),
            "{name}"
        );
        assert!(
            (a.duration_ms - 1500).abs() <= 60,
            "{name}: {} ms",
            a.duration_ms
        );
        assert_eq!((a.sample_rate, a.channels), (rate, 1), "{name}");
        let size = std::fs::metadata(fixture(name)).unwrap().len() as i64;
        assert_eq!(
            i64::from(a.bit_rate),
            size * 8 * 1000 / a.duration_ms,
            "{name}"
        );
        if codec == "opus" {
            assert!(a.peaks.is_empty(), "{name}");
        } else {
            assert_eq!(a.peaks.len(), WAVEFORM_POINTS, "{name}");
            // The sine is at half scale (≈127). Lossy codecs wobble, overshoot at the abrupt
            // start, and AAC's priming is silence, so look at the body.
            let inner = &a.peaks[5..WAVEFORM_POINTS - 5];
            assert!(
                inner.iter().all(|&p| (100..=160).contains(&p)),
                "{name}: {:?}",
                a.peaks
            );
        }
        a
    }

    #[test]
    fn mp3_with_id3_title() {
        let a = check_tone("tone.mp3", "mp3", "mp3", "audio/mpeg", "mp3", 22_050);
        assert_eq!(a.title.as_deref(), Some("Maple Leaf Rag"));
    }

    #[test]
    fn aac_in_m4a_with_title() {
        let a = check_tone("tone.m4a", "mp4", "aac", "audio/mp4", "m4a", 44_100);
        assert_eq!(a.title.as_deref(), Some("Maple Leaf Rag"));
    }

    #[test]
    fn adts_aac() {
        let a = check_tone("tone.aac", "aac", "aac", "audio/aac", "aac", 44_100);
        assert_eq!(a.title, None);
    }

    #[test]
    fn ogg_vorbis_with_title() {
        let a = check_tone("tone.ogg", "ogg", "vorbis", "audio/ogg", "ogg", 22_050);
        assert_eq!(a.title.as_deref(), Some("Maple Leaf Rag"));
    }

    #[test]
    fn ogg_opus_is_measured_but_not_decoded() {
        let a = check_tone("tone.opus", "ogg", "opus", "audio/ogg", "opus", 48_000);
        assert_eq!(a.title, None);
    }

    #[test]
    fn flac_with_title() {
        let a = check_tone("tone.flac", "flac", "flac", "audio/flac", "flac", 8_000);
        assert_eq!(a.title.as_deref(), Some("Maple Leaf Rag"));
    }

    #[test]
    fn wav_with_riff_info_title() {
        let a = check_tone("tone.wav", "wav", "pcm", "audio/wav", "wav", 8_000);
        assert_eq!(a.title.as_deref(), Some("Maple Leaf Rag"));
    }

    /// A canonical 16-bit PCM WAV: RIFF header, 16-byte fmt chunk, data chunk.
    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data_len).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes()); // PCM
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&rate.to_le_bytes());
        w.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        w.extend_from_slice(&(2 * channels).to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&data_len.to_le_bytes());
        samples
            .iter()
            .for_each(|s| w.extend_from_slice(&s.to_le_bytes()));
        w
    }

    #[test]
    fn silence_has_a_flat_waveform() {
        let a = analyze_bytes(&wav(8_000, 2, &[0; 8_000 * 2])).unwrap();
        assert_eq!(
            (a.duration_ms, a.channels, a.title.as_deref()),
            (1000, 2, None)
        );
        assert_eq!(a.peaks, vec![0; WAVEFORM_POINTS]);
    }

    #[test]
    fn waveform_follows_the_audio() {
        // One second of silence, then one second at full scale: the halves of the waveform.
        let mut samples = vec![0i16; 8_000];
        samples.extend((0..8_000).map(|i| if i % 2 == 0 { i16::MIN } else { i16::MAX }));
        let a = analyze_bytes(&wav(8_000, 1, &samples)).unwrap();
        assert_eq!(a.peaks[..50], [0; 50]);
        assert_eq!(a.peaks[50..], [255; 50]);
        // A file shorter than the waveform still gives exactly WAVEFORM_POINTS values.
        let a = analyze_bytes(&wav(8_000, 1, &[i16::MAX; 40])).unwrap();
        assert_eq!(a.peaks, vec![255; WAVEFORM_POINTS]);
    }

    #[test]
    fn empty_file() {
        assert_eq!(analyze_bytes(b""), Err(Refusal::Empty));
    }

    #[test]
    fn text_renamed_mp3_is_not_audio() {
        let text = "Maple Leaf Rag, by Scott Joplin (1899).\n".repeat(200);
        assert_eq!(analyze_bytes(text.as_bytes()), Err(Refusal::NotAudio));
    }

    #[test]
    fn png_renamed_wav_is_not_audio() {
        // A PNG signature and IHDR chunk, then filler: what an image upload looks like.
        let mut png =
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\x90\x91h6".to_vec();
        png.extend(std::iter::repeat_n(0x42, 4_000));
        assert_eq!(analyze_bytes(&png), Err(Refusal::NotAudio));
    }

    #[test]
    fn random_bytes_are_refused() {
        // xorshift: the same "random" bytes on every run.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let refusal = analyze_bytes(&bytes).unwrap_err();
        assert!(
            matches!(refusal, Refusal::NotAudio | Refusal::Corrupt),
            "{refusal:?}"
        );
    }

    #[test]
    fn video_without_audio_is_refused() {
        let refusal = analyze(&fixture("video.mp4")).unwrap_err();
        assert_eq!(refusal, Refusal::Unsupported("a video".into()));
    }

    #[test]
    fn known_but_unsupported_formats_are_named() {
        let mut aiff = b"FORM\0\0\x10\0AIFFCOMM".to_vec();
        aiff.resize(4_096, 0);
        assert_eq!(
            analyze_bytes(&aiff),
            Err(Refusal::Unsupported("AIFF audio".into()))
        );
    }

    #[test]
    fn truncated_wav() {
        let good = fixture_bytes("tone.wav");
        assert_eq!(
            analyze_bytes(&good[..good.len() / 2]),
            Err(Refusal::Truncated)
        );
    }

    #[test]
    fn truncated_flac() {
        let good = fixture_bytes("tone.flac");
        assert_eq!(
            analyze_bytes(&good[..good.len() / 2]),
            Err(Refusal::Truncated)
        );
    }

    #[test]
    fn truncated_m4a() {
        // The fixture has its sample table first (faststart), as files for the web do.
        let good = fixture_bytes("tone.m4a");
        assert_eq!(
            analyze_bytes(&good[..good.len() / 2]),
            Err(Refusal::Truncated)
        );
    }

    #[test]
    fn truncated_ogg_keeps_what_it_holds() {
        // Ogg states no length of its own (symphonia reads the last complete page), so a cut
        // Ogg Opus is accepted with the audio it still holds.
        let good = fixture_bytes("tone.opus");
        let a = analyze_bytes(&good[..good.len() / 2]).unwrap();
        assert!(
            (300..1_200).contains(&a.duration_ms),
            "{} ms",
            a.duration_ms
        );
        // Cut inside the Vorbis setup header (about 3.5 KB of this 5 KB file): unreadable.
        let good = fixture_bytes("tone.ogg");
        assert_eq!(
            analyze_bytes(&good[..good.len() / 2]),
            Err(Refusal::Corrupt)
        );
    }

    #[test]
    fn file_ending_inside_its_header() {
        let good = fixture_bytes("tone.wav");
        assert_eq!(analyze_bytes(&good[..30]), Err(Refusal::Corrupt));
        let good = fixture_bytes("tone.flac");
        let refusal = analyze_bytes(&good[..20]).unwrap_err();
        assert!(
            matches!(refusal, Refusal::Corrupt | Refusal::NotAudio),
            "{refusal:?}"
        );
    }

    /// The canonical WAV header from `wav()`, with one little-endian field replaced.
    fn patched_wav(offset: usize, value: &[u8]) -> Vec<u8> {
        let mut w = wav(8_000, 1, &[1_000; 8_000]);
        w[offset..offset + value.len()].copy_from_slice(value);
        w
    }

    #[test]
    fn absurd_wav_headers() {
        let absurd = |which: &str| Err(Refusal::Absurd(which.into()));
        // Sample rate (offset 24): 0 Hz and 10 MHz.
        assert_eq!(
            analyze_bytes(&patched_wav(24, &0u32.to_le_bytes())),
            absurd("sample rate")
        );
        assert_eq!(
            analyze_bytes(&patched_wav(24, &10_000_000u32.to_le_bytes())),
            absurd("sample rate")
        );
        // Channels (offset 22): 0, and 12 (symphonia reads up to 26).
        assert_eq!(
            analyze_bytes(&patched_wav(22, &0u16.to_le_bytes())),
            absurd("channel count")
        );
        assert_eq!(
            analyze_bytes(&patched_wav(22, &12u16.to_le_bytes())),
            absurd("channel count")
        );
    }

    #[test]
    fn wav_claiming_4_gib_of_audio() {
        // RIFF and data sizes both claim ~4 GiB in a 16 KB file: 74 hours at 8 kHz.
        let data_len = 0xffff_ff00u32;
        let mut w = patched_wav(40, &data_len.to_le_bytes());
        w[4..8].copy_from_slice(&(data_len + 36).to_le_bytes());
        assert_eq!(analyze_bytes(&w), Err(Refusal::Absurd("length".into())));
        // Only the data chunk lies: it no longer fits its RIFF parent, a broken container.
        let w = patched_wav(40, &data_len.to_le_bytes());
        assert_eq!(analyze_bytes(&w), Err(Refusal::Corrupt));
    }

    #[test]
    fn wav_of_unknown_length_is_measured() {
        // ffmpeg writing to a pipe puts 0xFFFFFFFF in both sizes: decode to the end instead.
        let mut w = patched_wav(40, &u32::MAX.to_le_bytes());
        w[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(analyze_bytes(&w).map(|a| a.duration_ms), Ok(1000));
    }

    /// The FLAC fixture with STREAMINFO's 36-bit total sample count replaced.
    fn flac_claiming(total_samples: u64) -> Vec<u8> {
        let mut flac = fixture_bytes("tone.flac");
        // "fLaC", block header, then at STREAMINFO+10: rate(20) channels(3) bits(5) total(36).
        let field = u64::from_be_bytes(flac[18..26].try_into().unwrap());
        let field = field & !0xf_ffff_ffff | total_samples;
        flac[18..26].copy_from_slice(&field.to_be_bytes());
        flac
    }

    #[test]
    fn seven_hours_is_too_long() {
        // The header alone decides, before any decoding. Pad the file so that seven hours
        // is not impossible for its size (the floor is 8 bytes a second).
        let mut flac = flac_claiming(7 * 3_600 * 8_000);
        flac.resize(7 * 3_600 * 8 + 1, 0);
        assert_eq!(analyze_bytes(&flac), Err(Refusal::TooLong));
        // Unpadded, seven hours cannot fit in 28 KB at all.
        let flac = flac_claiming(7 * 3_600 * 8_000);
        assert_eq!(analyze_bytes(&flac), Err(Refusal::Absurd("length".into())));
    }

    /// The fixture with one byte flipped at each of these fractions of its length.
    fn damaged(name: &str, at: &[f64]) -> Vec<u8> {
        let mut bytes = fixture_bytes(name);
        let len = bytes.len() as f64;
        at.iter().for_each(|f| bytes[(len * f) as usize] ^= 0xff);
        bytes
    }

    #[test]
    fn one_damaged_frame_is_tolerated() {
        // FLAC frames carry a CRC: the damaged one (72 ms at 8 kHz) is dropped, as players do.
        let a = analyze_bytes(&damaged("tone.flac", &[0.5])).unwrap();
        assert!(
            (1_400..=1_500).contains(&a.duration_ms),
            "{} ms",
            a.duration_ms
        );
    }

    #[test]
    fn audio_missing_from_the_middle_is_corrupt() {
        let middle = [0.3, 0.4, 0.5, 0.6, 0.7];
        assert_eq!(
            analyze_bytes(&damaged("tone.flac", &middle)),
            Err(Refusal::Corrupt)
        );
        assert_eq!(
            analyze_bytes(&damaged("tone.opus", &middle)),
            Err(Refusal::Corrupt)
        );
    }

    #[test]
    fn many_undecodable_packets_are_corrupt() {
        // One byte in 97 flipped through the AAC data: far more than 5% of packets fail.
        let mut m4a = fixture_bytes("tone.m4a");
        let len = m4a.len();
        (len / 4..len).step_by(97).for_each(|i| m4a[i] ^= 0xff);
        assert_eq!(analyze_bytes(&m4a), Err(Refusal::Corrupt));
    }

    #[test]
    fn a_panic_inside_is_a_refusal() {
        assert_eq!(
            guarded::<()>(|| panic!("hostile input")),
            Err(Refusal::Corrupt)
        );
    }

    #[test]
    fn hostile_variants_of_every_fixture_are_handled() {
        // Cuts and overwritten bytes at many places, including headers: each one must come back
        // (as anything) promptly, never hang or allocate what a header claims.
        let started = std::time::Instant::now();
        for name in [
            "tone.mp3",
            "tone.m4a",
            "tone.aac",
            "tone.ogg",
            "tone.opus",
            "tone.flac",
            "tone.wav",
        ] {
            let good = fixture_bytes(name);
            for i in (0..good.len()).step_by(good.len() / 12) {
                let _ = analyze_bytes(&good[..i]);
                let mut bad = good.clone();
                bad[i..(i + 4).min(good.len())].fill(0xff);
                let _ = analyze_bytes(&bad);
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(
            clean_title("  Maple Leaf Rag\0\0 "),
            Some("Maple Leaf Rag".into())
        );
        assert_eq!(clean_title(" \0 "), None);
        assert_eq!(
            clean_title(&"é".repeat(300)).map(|t| t.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
    }

    #[test]
    fn refusals_read_as_sentences() {
        let all = [
            Refusal::Empty,
            Refusal::NotAudio,
            Refusal::Unsupported("a video".into()),
            Refusal::Corrupt,
            Refusal::Truncated,
            Refusal::Absurd("sample rate".into()),
            Refusal::TooLong,
        ];
        for refusal in all {
            let message = refusal.to_string();
            assert!(
                message.starts_with(char::is_uppercase) && message.ends_with('.'),
                "{message}"
            );
        }
    }
}
