//! Inspecting uploaded content that is already on local disk: what it is,
//! how big, how long, and a small preview for images.
//!
//! Every function here is synchronous and may read the disk and burn CPU, so
//! the caller runs it under `spawn_blocking`. Decisions are made from the
//! bytes, never from the client's file name or claimed type: a client can lie,
//! and the kind decides how every other client renders the message.
//!
//! Hostile input is the normal case. Every length read from a file is checked
//! against its container before it is used; nothing is allocated by a size the
//! file declares, except pixel buffers, which go through [`image::Limits`]
//! first; and every walk over boxes, elements, segments or pages is bounded.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the file [`sniff`] looks at: enough for every magic number and
/// for infer's container checks (WebM needs 256 bytes), small enough to read
/// on every upload.
const SNIFF_LEN: usize = 8 * 1024;
const OCTET_STREAM: &str = "application/octet-stream";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// JPEG quality for opaque thumbnails: visually clean at thumbnail size and
/// roughly a third of the bytes of quality 95.
const JPEG_QUALITY: u8 = 80;
/// Bound on the boxes (MP4), elements (WebM) or segments (JPEG) one probe
/// visits, so a file made of millions of tiny boxes cannot keep a blocking
/// thread busy. Real files reach their metadata within a few dozen.
const MAX_NODES: u32 = 4096;

pub use magpie_proto::{ContentKind, MediaInfo};

/// Why an upload could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The bytes claim a format (by their magic number) but do not follow it.
    #[error("malformed media: {0}")]
    Malformed(String),
    /// Over [`MediaLimits`]: refused before the pixels were allocated.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// Reading the file failed (not the file's fault).
    #[error("reading media: {0}")]
    Io(#[from] io::Error),
}

/// Limits against decompression bombs and huge images: a 100 KB PNG can
/// declare 100000 x 100000 pixels, so sizes are checked from the header
/// before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub max_width: u32,
    pub max_height: u32,
    /// Bytes the decoder may allocate for the decoded image.
    pub max_alloc: u64,
}

impl Default for MediaLimits {
    /// 16384 x 16384 admits panoramas and every phone camera (a 200 MP sensor
    /// is 16320 x 12240). 512 MiB, the `image` crate's own default, admits
    /// about 178 MP of RGB or 134 MP of RGBA, which covers every camera mode
    /// but full-resolution 200 MP; each concurrent thumbnail may take this
    /// much, so the caller bounds how many run at once.
    fn default() -> Self {
        Self {
            max_width: 16_384,
            max_height: 16_384,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// A preview of an image, small enough to send inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Sniff the MIME type and kind from the first bytes of a file (only the
/// first 8 KiB are looked at).
///
/// Only the magic numbers count, so that a client cannot make a PDF render as
/// an image or an executable as a voice note. Types recognised by `infer`
/// come first; otherwise UTF-8 text without NULs is `text/plain`, and the rest
/// `application/octet-stream`. `infer` also reports `text/html`, `text/xml`
/// and shell scripts: whoever serves the file must send it as an attachment
/// with `X-Content-Type-Options: nosniff`, never inline.
///
/// The kind is what the head alone suggests; [`probe`] confirms it (an Ogg
/// whose header is broken is not a voice note, an MP4 without a video track
/// is not a video).
pub fn sniff(head: &[u8]) -> (String, ContentKind) {
    let head = &head[..head.len().min(SNIFF_LEN)];
    if let Some(found) = infer::get(head) {
        let (mime, kind) = match found.mime_type() {
            mime @ ("image/jpeg" | "image/png" | "image/gif" | "image/webp") => {
                (mime, ContentKind::Image)
            }
            // Opus in Ogg is `audio/ogg` (RFC 7845); `audio/opus` names the
            // RTP payload.
            "audio/opus" => ("audio/ogg", ContentKind::Voice),
            // `audio/m4a` is not a registered type.
            "audio/m4a" => ("audio/mp4", ContentKind::File),
            mime @ ("video/mp4" | "video/x-m4v" | "video/quicktime" | "video/webm") => {
                (mime, ContentKind::Video)
            }
            mime => (mime, ContentKind::File),
        };
        return (mime.to_owned(), kind);
    }
    let mime = if is_text(head) {
        TEXT_PLAIN
    } else {
        OCTET_STREAM
    };
    (mime.to_owned(), ContentKind::File)
}

/// UTF-8 without NULs. The head may stop inside a multi-byte character, so
/// an incomplete sequence at the very end is accepted.
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// Inspect a file on disk: sniff it, then read what its kind needs, from
/// headers only.
///
/// - Images (JPEG, PNG, GIF, WebP): width and height, after EXIF rotation. A
///   header that does not parse is `Err(Malformed)`; one over `limits` is
///   `Err(TooLarge)` (the caller may still keep it as a plain file).
/// - Ogg: a voice note only if its first page is an `OpusHead`; duration from
///   the last page's granule position minus the pre-skip, at 48 kHz. A broken
///   or non-Opus Ogg is a `File`, never an error.
/// - MP4 / QuickTime / WebM: dimensions, duration and codec from the
///   container headers (`moov`, or the Matroska `Info` and `Tracks`); a
///   container with tracks but no video track is a `File` (audio-only gets
///   `audio/mp4` or `audio/webm`), except audio-only Opus in WebM, which is
///   what browsers record: a `Voice` whose duration comes from `Info` or,
///   when the recorder wrote none (Chrome's MediaRecorder never does), from
///   the last block's timestamp; one whose headers cannot be read stays a
///   `Video` with the fields left out.
pub fn probe(path: &Path, limits: &MediaLimits) -> Result<MediaInfo, MediaError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let head = read_head(&mut file)?;
    let (mime, kind) = sniff(&head);
    let mut info = MediaInfo {
        mime,
        kind,
        ..MediaInfo::default()
    };
    match kind {
        ContentKind::Image => {
            let format = image_format(&info.mime).ok_or_else(|| not_an_image(&info.mime))?;
            let (width, height) = image_size(&mut file, format, limits)?;
            info.width = Some(width);
            info.height = Some(height);
        }
        ContentKind::Voice => match opus::probe(&mut file, len)? {
            Some(duration_ms) => {
                info.codec = Some("opus".to_owned());
                info.duration_ms = duration_ms;
            }
            None => info.kind = ContentKind::File,
        },
        ContentKind::Video => {
            let webm = info.mime == "video/webm";
            let parsed = if webm {
                ebml::probe(&mut file, len)
            } else {
                isobmff::probe(&mut file, len)
            };
            let meta = match parsed {
                Ok(meta) => meta,
                // Cut short: the container is broken, not the disk.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => VideoMeta::default(),
                Err(e) => return Err(e.into()),
            };
            if meta.tracks_seen && !meta.has_video {
                info.kind = ContentKind::File;
                if meta.has_audio {
                    info.mime = if webm { "audio/webm" } else { "audio/mp4" }.to_owned();
                }
                // What browsers record (MediaRecorder: Opus in WebM) is a
                // voice note as much as Opus in Ogg is.
                if webm && meta.audio_codec.as_deref() == Some("opus") {
                    info.kind = ContentKind::Voice;
                    info.codec = meta.audio_codec;
                    info.duration_ms = meta.duration_ms;
                }
            } else {
                info.width = meta.width;
                info.height = meta.height;
                info.duration_ms = meta.duration_ms;
                info.codec = meta.codec;
            }
        }
        ContentKind::File => {}
    }
    Ok(info)
}

/// Decode an image and make a thumbnail that fits in `max_side` x `max_side`,
/// keeping the aspect ratio and never upscaling; EXIF orientation is applied
/// so the preview is upright, as viewers show the original.
///
/// The size is checked against `limits` from the header, before the pixel
/// buffer is allocated, so a decompression bomb fails fast with
/// `Err(TooLarge)`. Opaque images become JPEG (quality 80), images with any
/// transparent pixel PNG, so transparency survives and photos stay small.
/// For an animated GIF or WebP the preview is the first frame.
pub fn thumbnail(
    path: &Path,
    max_side: u32,
    limits: &MediaLimits,
) -> Result<Thumbnail, MediaError> {
    let mut file = File::open(path)?;
    let head = read_head(&mut file)?;
    let (mime, _) = sniff(&head);
    let format = image_format(&mime).ok_or_else(|| not_an_image(&mime))?;
    file.seek(SeekFrom::Start(0))?;

    let image_limits = image_limits(limits);
    let mut reader = image::ImageReader::with_format(BufReader::new(file), format);
    reader.limits(image_limits.clone());
    // Reads the header only, and checks width and height.
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // The pixel buffer, checked before it is allocated.
    let mut budget = image_limits;
    budget.reserve(decoder.total_bytes()).map_err(image_error)?;
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;

    let (width, height) = fit(image.width(), image.height(), max_side.max(1));
    let mut small = if (width, height) == (image.width(), image.height()) {
        image
    } else {
        // Area averaging: fast, and sharp enough when shrinking.
        image.thumbnail_exact(width, height)
    };
    // After scaling, so rotating costs a thumbnail's worth of memory.
    small.apply_orientation(orientation);
    encode_thumbnail(small)
}

/// Read up to [`SNIFF_LEN`] bytes from the start of the file.
fn read_head(file: &mut File) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    file.by_ref()
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

fn image_format(mime: &str) -> Option<ImageFormat> {
    match mime {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

fn not_an_image(mime: &str) -> MediaError {
    MediaError::Malformed(format!("not an image this server decodes: {mime}"))
}

fn image_limits(limits: &MediaLimits) -> image::Limits {
    let mut out = image::Limits::default();
    out.max_image_width = Some(limits.max_width);
    out.max_image_height = Some(limits.max_height);
    out.max_alloc = Some(limits.max_alloc);
    out
}

/// A broken file shows up as a decoding error or as an early end of file;
/// only other I/O errors are the disk's.
fn image_error(e: ImageError) -> MediaError {
    match e {
        ImageError::Limits(e) => MediaError::TooLarge(e.to_string()),
        ImageError::IoError(e) => malformed_if_eof(e),
        other => MediaError::Malformed(other.to_string()),
    }
}

fn malformed_if_eof(e: io::Error) -> MediaError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => {
            MediaError::Malformed(e.to_string())
        }
        _ => MediaError::Io(e),
    }
}

/// Whether an orientation swaps width and height.
fn turns_sideways(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Display size of an image, from its header, checked against the limits.
fn image_size(
    file: &mut File,
    format: ImageFormat,
    limits: &MediaLimits,
) -> Result<(u32, u32), MediaError> {
    file.seek(SeekFrom::Start(0))?;
    let (width, height, bytes, orientation) = if format == ImageFormat::Jpeg {
        // image's JPEG decoder reads the whole file before the header; this
        // reads only the segments before the frame header.
        jpeg_header(&mut BufReader::new(file)).map_err(malformed_if_eof)?
    } else {
        let mut reader = image::ImageReader::with_format(BufReader::new(file), format);
        reader.limits(image_limits(limits));
        let mut decoder = reader.into_decoder().map_err(image_error)?;
        let (width, height) = decoder.dimensions();
        // Broken EXIF does not make the image unusable.
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        (width, height, decoder.total_bytes(), orientation)
    };
    if width > limits.max_width || height > limits.max_height {
        return Err(MediaError::TooLarge(format!(
            "{width} x {height} is over {} x {}",
            limits.max_width, limits.max_height
        )));
    }
    if bytes > limits.max_alloc {
        return Err(MediaError::TooLarge(format!(
            "{width} x {height} needs {bytes} bytes, over {}",
            limits.max_alloc
        )));
    }
    Ok(if turns_sideways(orientation) {
        (height, width)
    } else {
        (width, height)
    })
}

/// Walk JPEG marker segments up to the frame header (SOFn): its size and the
/// decoded buffer's, and the EXIF orientation if an APP1 segment before it
/// has one. Malformed structure is `InvalidData`, a cut file `UnexpectedEof`.
fn jpeg_header<R: Read + Seek>(r: &mut BufReader<R>) -> io::Result<(u32, u32, u64, Orientation)> {
    fn bad(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("JPEG: {what}"))
    }
    fn byte<R: Read>(r: &mut R) -> io::Result<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        Ok(b[0])
    }
    let mut soi = [0u8; 2];
    r.read_exact(&mut soi)?;
    if soi != [0xFF, 0xD8] {
        return Err(bad("no start of image"));
    }
    let mut orientation = Orientation::NoTransforms;
    for _ in 0..MAX_NODES {
        if byte(r)? != 0xFF {
            return Err(bad("expected a marker"));
        }
        let mut marker = byte(r)?;
        while marker == 0xFF {
            marker = byte(r)?; // fill bytes
        }
        match marker {
            // Standalone markers: no length.
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 | 0xDA => return Err(bad("no frame header before the scan")),
            _ => {}
        }
        let mut len = [0u8; 2];
        r.read_exact(&mut len)?;
        let body = u16::from_be_bytes(len)
            .checked_sub(2)
            .ok_or_else(|| bad("segment length under 2"))?;
        match marker {
            // SOF0-15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                if body < 6 {
                    return Err(bad("short frame header"));
                }
                let mut sof = [0u8; 6];
                r.read_exact(&mut sof)?;
                let height = u32::from(u16::from_be_bytes([sof[1], sof[2]]));
                let width = u32::from(u16::from_be_bytes([sof[3], sof[4]]));
                let components = sof[5];
                if width == 0 || height == 0 || !(1..=4).contains(&components) {
                    return Err(bad("invalid frame header"));
                }
                // Decoded as grey, RGB, or (four components) RGBA at most.
                let per_pixel = if components == 1 {
                    1
                } else {
                    3 + u64::from(components == 4)
                };
                let bytes = u64::from(width) * u64::from(height) * per_pixel;
                return Ok((width, height, bytes, orientation));
            }
            0xE1 => {
                let mut app1 = vec![0u8; usize::from(body)];
                r.read_exact(&mut app1)?;
                if let Some(tiff) = app1.strip_prefix(b"Exif\0\0")
                    && let Some(found) = Orientation::from_exif_chunk(tiff)
                {
                    orientation = found;
                }
            }
            _ => r.seek_relative(i64::from(body))?,
        }
    }
    Err(bad("too many segments before the frame header"))
}

/// Fit `width` x `height` in `max_side` x `max_side`, keeping the aspect
/// ratio (rounded, at least one pixel), never growing.
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    if width <= max_side && height <= max_side {
        return (width, height);
    }
    let scale = |short: u32, long: u32| {
        let (short, long, side) = (u64::from(short), u64::from(long), u64::from(max_side));
        let scaled = ((short * side + long / 2) / long).max(1);
        u32::try_from(scaled).unwrap_or(max_side)
    };
    if width >= height {
        (max_side, scale(height, width))
    } else {
        (scale(width, height), max_side)
    }
}

/// PNG when any pixel is transparent, JPEG otherwise. An RGBA image whose
/// alpha is all 255 (common from screenshots and editors) counts as opaque.
fn encode_thumbnail(image: DynamicImage) -> Result<Thumbnail, MediaError> {
    let (width, height) = (image.width(), image.height());
    let mut bytes = Vec::new();
    let encode_failed = |e: ImageError| MediaError::Malformed(format!("encoding thumbnail: {e}"));
    let rgba = if image.color().has_alpha() {
        Some(image.to_rgba8())
    } else {
        None
    };
    if let Some(rgba) = rgba
        .as_ref()
        .filter(|p| p.pixels().any(|p| p.0[3] < u8::MAX))
    {
        PngEncoder::new(&mut bytes)
            .write_image(rgba.as_raw(), width, height, ExtendedColorType::Rgba8)
            .map_err(encode_failed)?;
        return Ok(Thumbnail {
            bytes,
            mime: "image/png",
            width,
            height,
        });
    }
    let rgb = match rgba {
        Some(rgba) => DynamicImage::ImageRgba8(rgba).to_rgb8(),
        None => image.to_rgb8(),
    };
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(encode_failed)?;
    Ok(Thumbnail {
        bytes,
        mime: "image/jpeg",
        width,
        height,
    })
}

/// What the container headers of a video say.
#[derive(Debug, Default)]
struct VideoMeta {
    /// At least one track was read, so `has_video` is meaningful.
    tracks_seen: bool,
    has_video: bool,
    has_audio: bool,
    width: Option<u32>,
    height: Option<u32>,
    duration_ms: Option<u64>,
    codec: Option<String>,
    /// The first audio track's codec, when it is one we name.
    audio_codec: Option<String>,
}

/// Read up to `buf.len()` bytes at `pos`, fewer only at the end of the file.
fn read_at<R: Read + Seek>(r: &mut R, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
    r.seek(SeekFrom::Start(pos))?;
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A codec name a client can act on, or the container's own identifier when
/// it is short, plain ASCII.
fn codec_name(id: &[u8], known: &[(&[u8], &str)]) -> Option<String> {
    if let Some((_, name)) = known.iter().find(|(k, _)| *k == id) {
        return Some((*name).to_owned());
    }
    let plain = !id.is_empty()
        && id.len() <= 32
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.".contains(b));
    plain.then(|| String::from_utf8_lossy(id).to_lowercase())
}

/// Opus in Ogg (RFC 7845): the identification header and the duration.
mod opus {
    use super::{io, read_at};
    use std::fs::File;

    /// Largest Ogg page: 27 header bytes, 255 lacing values, 255 x 255 bytes.
    const MAX_PAGE: usize = 27 + 255 + 255 * 255;
    /// Opus granule positions count 48 kHz samples whatever the input rate.
    const RATE: u128 = 48_000;

    struct Page<'a> {
        granule: i64,
        serial: u32,
        /// Beginning-of-stream flag.
        bos: bool,
        body: &'a [u8],
    }

    /// A whole page at the start of `buf`, its checksum verified (by the ogg
    /// crate), or None.
    fn page(buf: &[u8]) -> Option<Page<'_>> {
        let header: [u8; 27] = buf.get(..27)?.try_into().ok()?;
        if &header[..4] != b"OggS" {
            return None;
        }
        let (mut parser, segments) = ogg::reading::PageParser::new(header).ok()?;
        let lacing = buf.get(27..27 + segments)?;
        let body_len = parser.parse_segments(lacing.to_vec());
        let body = buf.get(27 + segments..27 + segments + body_len)?;
        parser.parse_packet_data(body.to_vec()).ok()?;
        Some(Page {
            granule: i64::from_le_bytes(header[6..14].try_into().ok()?),
            serial: u32::from_le_bytes(header[14..18].try_into().ok()?),
            bos: header[5] & 0x02 != 0,
            body,
        })
    }

    /// `None` when this is not an Opus stream; `Some(duration)` when it is,
    /// the duration left out when no later page says how far it goes.
    pub(super) fn probe(file: &mut File, len: u64) -> io::Result<Option<Option<u64>>> {
        // The first page holds exactly the identification header.
        let mut buf = vec![0u8; MAX_PAGE.min(usize::try_from(len).unwrap_or(MAX_PAGE))];
        let got = read_at(file, 0, &mut buf)?;
        let Some(first) = page(&buf[..got]) else {
            return Ok(None);
        };
        let head = first.body;
        // "OpusHead", version (major 0), channels, pre-skip (LE), rate, gain, mapping.
        let is_opus = first.bos
            && head.len() >= 19
            && head.starts_with(b"OpusHead")
            && head[8] & 0xF0 == 0
            && head[9] != 0;
        if !is_opus {
            return Ok(None);
        }
        let pre_skip = u64::from(u16::from_le_bytes([head[10], head[11]]));
        let serial = first.serial;

        // The last page of the stream carries the end granule position; a
        // page is at most MAX_PAGE long, so it lies in the last MAX_PAGE bytes.
        let tail_len = MAX_PAGE.min(usize::try_from(len).unwrap_or(MAX_PAGE));
        let mut tail = vec![0u8; tail_len];
        let got = read_at(file, len - tail_len as u64, &mut tail)?;
        let tail = &tail[..got];
        let last = (0..tail.len().saturating_sub(26)).rev().find_map(|at| {
            if &tail[at..at + 4] != b"OggS" {
                return None;
            }
            // -1 marks a page on which no packet ends.
            page(&tail[at..]).filter(|p| p.serial == serial && p.granule >= 0)
        });
        let duration = last.and_then(|p| {
            let samples = u64::try_from(p.granule).ok()?.saturating_sub(pre_skip);
            u64::try_from(u128::from(samples) * 1000 / RATE).ok()
        });
        Ok(Some(duration))
    }
}

/// ISO base media files (MP4, QuickTime): `moov/mvhd` for the duration,
/// `moov/trak/{tkhd,mdia/hdlr,mdia/minf/stbl/stsd}` for the tracks. Boxes
/// are visited by seeking, so `mdat` is never read.
mod isobmff {
    use super::{MAX_NODES, VideoMeta, codec_name, io, read_at};
    use std::io::{Read, Seek};

    const CODECS: &[(&[u8], &str)] = &[
        (b"avc1", "h264"),
        (b"avc3", "h264"),
        (b"hvc1", "hevc"),
        (b"hev1", "hevc"),
        (b"av01", "av1"),
        (b"vp09", "vp9"),
        (b"vp08", "vp8"),
        (b"mp4v", "mpeg4"),
    ];

    struct BoxHeader {
        kind: [u8; 4],
        body: u64,
        end: u64,
    }

    struct Walker<'a, R> {
        r: &'a mut R,
        budget: u32,
    }

    #[derive(Default)]
    struct Track {
        handler: [u8; 4],
        width: u32,
        height: u32,
        sideways: bool,
        codec: Option<String>,
    }

    pub(super) fn probe<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<VideoMeta> {
        let mut w = Walker {
            r,
            budget: MAX_NODES,
        };
        let mut meta = VideoMeta::default();
        let mut pos = 0;
        while let Some(b) = w.next(&mut pos, len)? {
            if &b.kind == b"moov" {
                w.moov(&b, &mut meta)?;
                break;
            }
        }
        Ok(meta)
    }

    impl<R: Read + Seek> Walker<'_, R> {
        /// The box at `*pos` if it lies within `end`, moving `*pos` past it.
        fn next(&mut self, pos: &mut u64, end: u64) -> io::Result<Option<BoxHeader>> {
            if self.budget == 0 || end.saturating_sub(*pos) < 8 {
                return Ok(None);
            }
            self.budget -= 1;
            let mut h = [0u8; 16];
            let got = read_at(self.r, *pos, &mut h)?;
            if got < 8 {
                return Ok(None);
            }
            let room = end - *pos;
            let (size, header) = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
                0 => (room, 8), // to the end of the enclosing box / file
                1 if got == 16 => (
                    u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
                    16,
                ),
                1 => return Ok(None),
                n => (u64::from(n), 8),
            };
            if size < header || size > room {
                return Ok(None);
            }
            let found = BoxHeader {
                kind: [h[4], h[5], h[6], h[7]],
                body: *pos + header,
                end: *pos + size,
            };
            *pos = found.end;
            Ok(Some(found))
        }

        /// The first bytes of a box's body (at most `buf.len()`).
        fn body<'b>(&mut self, b: &BoxHeader, buf: &'b mut [u8]) -> io::Result<&'b [u8]> {
            let want = buf
                .len()
                .min(usize::try_from(b.end - b.body).unwrap_or(buf.len()));
            let got = read_at(self.r, b.body, &mut buf[..want])?;
            Ok(&buf[..got])
        }

        fn moov(&mut self, moov: &BoxHeader, meta: &mut VideoMeta) -> io::Result<()> {
            let mut pos = moov.body;
            while let Some(b) = self.next(&mut pos, moov.end)? {
                match &b.kind {
                    b"mvhd" => meta.duration_ms = self.mvhd(&b)?,
                    b"trak" => {
                        let track = self.trak(&b)?;
                        meta.tracks_seen = true;
                        match &track.handler {
                            b"vide" if !meta.has_video => {
                                meta.has_video = true;
                                let (w, h) = if track.sideways {
                                    (track.height, track.width)
                                } else {
                                    (track.width, track.height)
                                };
                                meta.width = (w > 0).then_some(w);
                                meta.height = (h > 0).then_some(h);
                                meta.codec = track.codec;
                            }
                            b"soun" => meta.has_audio = true,
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }

        fn mvhd(&mut self, b: &BoxHeader) -> io::Result<Option<u64>> {
            let mut buf = [0u8; 32];
            let d = self.body(b, &mut buf)?;
            let (scale, duration) = match d.first() {
                Some(0) if d.len() >= 20 => (
                    u32::from_be_bytes([d[12], d[13], d[14], d[15]]),
                    u64::from(u32::from_be_bytes([d[16], d[17], d[18], d[19]])),
                ),
                Some(1) if d.len() >= 32 => (
                    u32::from_be_bytes([d[20], d[21], d[22], d[23]]),
                    u64::from_be_bytes([d[24], d[25], d[26], d[27], d[28], d[29], d[30], d[31]]),
                ),
                _ => return Ok(None),
            };
            // All ones means unknown; 0 is what fragmented files write.
            if scale == 0
                || duration == 0
                || duration == u64::MAX
                || duration == u64::from(u32::MAX)
            {
                return Ok(None);
            }
            Ok(u64::try_from(u128::from(duration) * 1000 / u128::from(scale)).ok())
        }

        fn trak(&mut self, trak: &BoxHeader) -> io::Result<Track> {
            let mut track = Track::default();
            let mut pos = trak.body;
            while let Some(b) = self.next(&mut pos, trak.end)? {
                match &b.kind {
                    b"tkhd" => self.tkhd(&b, &mut track)?,
                    b"mdia" => self.mdia(&b, &mut track)?,
                    _ => {}
                }
            }
            Ok(track)
        }

        /// Size (16.16 fixed point) and whether the matrix turns it 90°.
        fn tkhd(&mut self, b: &BoxHeader, track: &mut Track) -> io::Result<()> {
            let mut buf = [0u8; 96];
            let d = self.body(b, &mut buf)?;
            let matrix_at = match d.first() {
                Some(0) if d.len() >= 84 => 40,
                Some(1) if d.len() >= 96 => 52,
                _ => return Ok(()),
            };
            let word = |at: usize| u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
            // Matrix { a b u, c d v, x y w }: a rotation by ±90° has a = d = 0.
            let (a, b_, c, d_) = (
                word(matrix_at),
                word(matrix_at + 4),
                word(matrix_at + 12),
                word(matrix_at + 16),
            );
            track.sideways = a == 0 && d_ == 0 && b_ != 0 && c != 0;
            track.width = word(matrix_at + 36) >> 16;
            track.height = word(matrix_at + 40) >> 16;
            Ok(())
        }

        fn mdia(&mut self, mdia: &BoxHeader, track: &mut Track) -> io::Result<()> {
            let mut pos = mdia.body;
            while let Some(b) = self.next(&mut pos, mdia.end)? {
                match &b.kind {
                    b"hdlr" => {
                        let mut buf = [0u8; 12];
                        if let [_, _, _, _, _, _, _, _, h0, h1, h2, h3] =
                            *self.body(&b, &mut buf)?
                        {
                            track.handler = [h0, h1, h2, h3];
                        }
                    }
                    b"minf" => {
                        let mut pos = b.body;
                        while let Some(stbl) = self.next(&mut pos, b.end)? {
                            if &stbl.kind == b"stbl" {
                                let mut pos = stbl.body;
                                while let Some(stsd) = self.next(&mut pos, stbl.end)? {
                                    if &stsd.kind == b"stsd" {
                                        // Version and flags, entry count, then the
                                        // first sample entry's size and format.
                                        let mut buf = [0u8; 16];
                                        let d = self.body(&stsd, &mut buf)?;
                                        if d.len() == 16 {
                                            track.codec = codec_name(&d[12..16], CODECS);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }
}

/// Matroska / WebM (EBML): `Segment/Info` for the duration and
/// `Segment/Tracks` for the tracks, which precede the first `Cluster`. An
/// audio-only file without a duration (a live recording) is timed from its
/// blocks, within the same node budget.
mod ebml {
    use super::{MAX_NODES, VideoMeta, codec_name, io, read_at};
    use std::io::{Read, Seek};

    const SEGMENT: u32 = 0x1853_8067;
    const INFO: u32 = 0x1549_A966;
    const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    const DURATION: u32 = 0x4489;
    const TRACKS: u32 = 0x1654_AE6B;
    const TRACK_ENTRY: u32 = 0xAE;
    const TRACK_TYPE: u32 = 0x83;
    const CODEC_ID: u32 = 0x86;
    const VIDEO: u32 = 0xE0;
    const PIXEL_WIDTH: u32 = 0xB0;
    const PIXEL_HEIGHT: u32 = 0xBA;
    const CLUSTER: u32 = 0x1F43_B675;
    const CLUSTER_TIMECODE: u32 = 0xE7;
    const SIMPLE_BLOCK: u32 = 0xA3;
    const BLOCK_GROUP: u32 = 0xA0;
    const BLOCK: u32 = 0xA1;

    const CODECS: &[(&[u8], &str)] = &[
        (b"V_VP8", "vp8"),
        (b"V_VP9", "vp9"),
        (b"V_AV1", "av1"),
        (b"V_MPEG4/ISO/AVC", "h264"),
        (b"V_MPEGH/ISO/HEVC", "hevc"),
        (b"A_OPUS", "opus"),
        (b"A_VORBIS", "vorbis"),
    ];

    struct Element {
        id: u32,
        body: u64,
        end: u64,
    }

    struct Walker<'a, R> {
        r: &'a mut R,
        budget: u32,
        /// Nanoseconds per timecode unit (`Info/TimecodeScale`).
        scale_ns: u64,
    }

    pub(super) fn probe<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<VideoMeta> {
        let mut w = Walker {
            r,
            budget: MAX_NODES,
            scale_ns: 1_000_000,
        };
        let mut meta = VideoMeta::default();
        let mut pos = 0;
        while let Some(e) = w.next(&mut pos, len)? {
            if e.id == SEGMENT {
                w.segment(&e, &mut meta)?;
                break;
            }
        }
        Ok(meta)
    }

    /// A variable-length integer: its length from the leading zeros of the
    /// first byte (at most `max`), and its bytes.
    fn vint(buf: &[u8], max: usize) -> Option<(usize, &[u8])> {
        let len = usize::try_from(buf.first()?.leading_zeros()).ok()? + 1;
        (len <= max)
            .then(|| buf.get(..len))
            .flatten()
            .map(|b| (len, b))
    }

    impl<R: Read + Seek> Walker<'_, R> {
        /// The element at `*pos`, moving `*pos` past it. An element of unknown
        /// size, or one that overruns its parent (a cut file), ends with its
        /// parent.
        fn next(&mut self, pos: &mut u64, end: u64) -> io::Result<Option<Element>> {
            if self.budget == 0 || *pos >= end {
                return Ok(None);
            }
            self.budget -= 1;
            let mut h = [0u8; 12];
            let want = h.len().min(usize::try_from(end - *pos).unwrap_or(h.len()));
            let got = read_at(self.r, *pos, &mut h[..want])?;
            let h = &h[..got];
            let Some((id_len, id)) = vint(h, 4) else {
                return Ok(None);
            };
            let Some((size_len, size)) = vint(&h[id_len..], 8) else {
                return Ok(None);
            };
            let id = id.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b));
            // Drop the length marker bit; all value bits set means unknown.
            let marker_mask = 0xFFu8.checked_shr(size_len as u32).unwrap_or(0);
            let unknown =
                size[0] & marker_mask == marker_mask && size[1..].iter().all(|b| *b == 0xFF);
            let value = size[1..]
                .iter()
                .fold(u64::from(size[0] & marker_mask), |acc, b| {
                    acc << 8 | u64::from(*b)
                });
            let body = *pos + (id_len + size_len) as u64;
            let element_end = if unknown {
                end
            } else {
                body.saturating_add(value).min(end)
            };
            *pos = element_end;
            Ok(Some(Element {
                id,
                body: body.min(end),
                end: element_end,
            }))
        }

        /// The body of a small element (numbers, short strings).
        fn small<'b>(
            &mut self,
            e: &Element,
            buf: &'b mut [u8; 32],
        ) -> io::Result<Option<&'b [u8]>> {
            let len = e.end - e.body;
            if len == 0 || len > 32 {
                return Ok(None);
            }
            let len = len as usize;
            let got = read_at(self.r, e.body, &mut buf[..len])?;
            Ok((got == len).then_some(&buf[..len]))
        }

        fn uint(&mut self, e: &Element) -> io::Result<Option<u64>> {
            let mut buf = [0u8; 32];
            Ok(self
                .small(e, &mut buf)?
                .filter(|b| b.len() <= 8)
                .map(|b| b.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))))
        }

        fn float(&mut self, e: &Element) -> io::Result<Option<f64>> {
            let mut buf = [0u8; 32];
            Ok(match self.small(e, &mut buf)? {
                Some(&[a, b, c, d]) => Some(f64::from(f32::from_be_bytes([a, b, c, d]))),
                Some(&[a, b, c, d, e, f, g, h]) => {
                    Some(f64::from_be_bytes([a, b, c, d, e, f, g, h]))
                }
                _ => None,
            })
        }

        fn segment(&mut self, segment: &Element, meta: &mut VideoMeta) -> io::Result<()> {
            let mut pos = segment.body;
            while let Some(e) = self.next(&mut pos, segment.end)? {
                match e.id {
                    INFO => self.info(&e, meta)?,
                    TRACKS => self.tracks(&e, meta)?,
                    CLUSTER => {
                        if meta.duration_ms.is_none() && meta.has_audio && !meta.has_video {
                            meta.duration_ms = self.time_blocks(&e, segment.end)?;
                        }
                        break;
                    }
                    _ => {}
                }
            }
            Ok(())
        }

        fn info(&mut self, info: &Element, meta: &mut VideoMeta) -> io::Result<()> {
            let mut duration = None;
            let mut pos = info.body;
            while let Some(e) = self.next(&mut pos, info.end)? {
                match e.id {
                    TIMECODE_SCALE => {
                        self.scale_ns = self.uint(&e)?.filter(|s| *s > 0).unwrap_or(self.scale_ns);
                    }
                    DURATION => duration = self.float(&e)?,
                    _ => {}
                }
            }
            // Duration counts timecode units of `scale_ns` nanoseconds.
            let ms = duration.map(|d| d * self.scale_ns as f64 / 1e6);
            meta.duration_ms = ms
                .filter(|ms| ms.is_finite() && *ms > 0.0 && *ms < 1e15)
                .map(|ms| ms.round() as u64);
            Ok(())
        }

        fn tracks(&mut self, tracks: &Element, meta: &mut VideoMeta) -> io::Result<()> {
            let mut pos = tracks.body;
            while let Some(entry) = self.next(&mut pos, tracks.end)? {
                if entry.id != TRACK_ENTRY {
                    continue;
                }
                meta.tracks_seen = true;
                let (mut kind, mut codec, mut width, mut height) = (None, None, None, None);
                let mut pos = entry.body;
                while let Some(e) = self.next(&mut pos, entry.end)? {
                    match e.id {
                        TRACK_TYPE => kind = self.uint(&e)?,
                        CODEC_ID => {
                            let mut buf = [0u8; 32];
                            codec = self.small(&e, &mut buf)?.and_then(|id| {
                                codec_name(id.split(|b| *b == 0).next().unwrap_or(id), CODECS)
                            });
                        }
                        VIDEO => {
                            let mut pos = e.body;
                            while let Some(v) = self.next(&mut pos, e.end)? {
                                match v.id {
                                    PIXEL_WIDTH => width = self.uint(&v)?,
                                    PIXEL_HEIGHT => height = self.uint(&v)?,
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                match kind {
                    Some(1) if !meta.has_video => {
                        meta.has_video = true;
                        meta.width = width.and_then(|w| u32::try_from(w).ok()).filter(|w| *w > 0);
                        meta.height = height
                            .and_then(|h| u32::try_from(h).ok())
                            .filter(|h| *h > 0);
                        meta.codec = codec;
                    }
                    Some(2) if !meta.has_audio => {
                        meta.has_audio = true;
                        meta.audio_codec = codec;
                    }
                    _ => {}
                }
            }
            Ok(())
        }

        /// How long the recording lasts, from the clusters starting at
        /// `first`: where its last block starts plus that block's length.
        /// Live recorders write clusters of unknown size, so this walks the
        /// segment's elements flat, stepping into each cluster and block
        /// group instead of relying on their sizes. `None` if no block was
        /// reached within the node budget.
        fn time_blocks(&mut self, first: &Element, end: u64) -> io::Result<Option<u64>> {
            let (mut cluster_tc, mut last_ns) = (0u64, None::<u128>);
            let mut pos = first.body;
            while let Some(e) = self.next(&mut pos, end)? {
                match e.id {
                    CLUSTER => {
                        cluster_tc = 0;
                        pos = e.body;
                    }
                    BLOCK_GROUP => pos = e.body,
                    CLUSTER_TIMECODE => cluster_tc = self.uint(&e)?.unwrap_or(0),
                    SIMPLE_BLOCK | BLOCK => {
                        if let Some((relative, frame_us)) = self.block_head(&e)? {
                            let Some(start) = i128::from(cluster_tc)
                                .checked_add(i128::from(relative))
                                .and_then(|t| u128::try_from(t).ok())
                            else {
                                continue;
                            };
                            let end_ns =
                                start * u128::from(self.scale_ns) + u128::from(frame_us) * 1000;
                            last_ns = Some(last_ns.map_or(end_ns, |l| l.max(end_ns)));
                        }
                    }
                    _ => {}
                }
            }
            Ok(last_ns.and_then(|ns| u64::try_from(ns / 1_000_000).ok()))
        }

        /// A block's timecode relative to its cluster, and how long its
        /// audio lasts in microseconds when it is one unlaced Opus packet
        /// (0 otherwise: its start is still a lower bound).
        fn block_head(&mut self, e: &Element) -> io::Result<Option<(i16, u32)>> {
            let mut buf = [0u8; 16];
            let want = buf
                .len()
                .min(usize::try_from(e.end - e.body).unwrap_or(buf.len()));
            let got = read_at(self.r, e.body, &mut buf[..want])?;
            let buf = &buf[..got];
            // Track number (a vint), timecode (i16 BE), flags, then the data.
            let Some((track_len, _)) = vint(buf, 8) else {
                return Ok(None);
            };
            let Some(&[hi, lo, flags]) = buf.get(track_len..track_len + 3) else {
                return Ok(None);
            };
            let laced = flags & 0x06 != 0;
            let data = &buf[track_len + 3..];
            let frame_us = if laced { 0 } else { opus_packet_us(data) };
            Ok(Some((i16::from_be_bytes([hi, lo]), frame_us)))
        }
    }

    /// The length of an Opus packet from its TOC byte (RFC 6716 3.1): the
    /// configuration gives each frame's duration, the code how many frames.
    fn opus_packet_us(data: &[u8]) -> u32 {
        let Some(&toc) = data.first() else {
            return 0;
        };
        let config = usize::from(toc >> 3);
        let frame_us = match config {
            0..=11 => [10_000, 20_000, 40_000, 60_000][config % 4],
            12..=15 => [10_000, 20_000][config % 2],
            _ => [2_500, 5_000, 10_000, 20_000][config % 4],
        };
        let frames = match toc & 0x03 {
            0 => 1,
            1 | 2 => 2,
            _ => data.get(1).map_or(0, |b| u32::from(b & 0x3F)),
        };
        frame_us * frames
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};
    use std::io::Cursor;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    /// Pixels that do not compress, so the PNG's data is most of the file.
    fn noise(width: u32, height: u32) -> DynamicImage {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [a, b, c, ..] = state.to_le_bytes();
            Rgb([a, b, c])
        }))
    }

    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Self {
            Self(tempfile::tempdir().unwrap())
        }
        fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    fn limits() -> MediaLimits {
        MediaLimits::default()
    }

    #[test]
    fn sniff_recognises_magic_text_and_noise() {
        let png = encode(&gradient(2, 2), ImageFormat::Png);
        assert_eq!(sniff(&png), ("image/png".to_owned(), ContentKind::Image));
        let jpeg = encode(&gradient(2, 2), ImageFormat::Jpeg);
        assert_eq!(sniff(&jpeg), ("image/jpeg".to_owned(), ContentKind::Image));
        let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n";
        assert_eq!(
            sniff(pdf),
            ("application/pdf".to_owned(), ContentKind::File)
        );
        let text = "hello, wörld\nsecond line\n".as_bytes();
        assert_eq!(sniff(text), (TEXT_PLAIN.to_owned(), ContentKind::File));
        // Cut inside "ö": still text.
        let cut = &"wö".as_bytes()[..2];
        assert_eq!(sniff(cut).0, TEXT_PLAIN);
        assert_eq!(sniff(b"a\0b").0, OCTET_STREAM);
        assert_eq!(sniff(b"").0, OCTET_STREAM);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        assert_eq!(sniff(&noise), (OCTET_STREAM.to_owned(), ContentKind::File));
        // A client calling a PDF "photo.png" changes nothing: only bytes count.
        let dir = Dir::new();
        let info = probe(&dir.file("photo.png", pdf), &limits()).unwrap();
        assert_eq!(
            (info.mime.as_str(), info.kind),
            ("application/pdf", ContentKind::File)
        );
    }

    #[test]
    fn probe_reads_image_dimensions() {
        let dir = Dir::new();
        let image = gradient(40, 30);
        for (format, mime) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::WebP, "image/webp"),
        ] {
            let path = dir.file("upload", &encode(&image, format));
            let info = probe(&path, &limits()).unwrap();
            assert_eq!(
                info,
                MediaInfo {
                    mime: mime.to_owned(),
                    kind: ContentKind::Image,
                    width: Some(40),
                    height: Some(30),
                    duration_ms: None,
                    codec: None,
                },
                "{mime}"
            );
        }
    }

    /// A JPEG with an APP1 EXIF segment saying orientation 6 (rotate 90°).
    fn jpeg_rotated(width: u32, height: u32) -> Vec<u8> {
        let jpeg = encode(&gradient(width, height), ImageFormat::Jpeg);
        let mut tiff = b"II\x2A\x00\x08\x00\x00\x00".to_vec();
        tiff.extend_from_slice(&1u16.to_le_bytes()); // one IFD entry
        tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&6u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_turns_probe_and_thumbnail() {
        let dir = Dir::new();
        let path = dir.file("rotated.jpg", &jpeg_rotated(40, 20));
        let info = probe(&path, &limits()).unwrap();
        assert_eq!((info.width, info.height), (Some(20), Some(40)));
        let thumb = thumbnail(&path, 100, &limits()).unwrap();
        assert_eq!((thumb.width, thumb.height), (20, 40));
        let decoded = image::load_from_memory(&thumb.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (20, 40));
    }

    #[test]
    fn thumbnail_keeps_aspect_and_never_upscales() {
        let dir = Dir::new();
        let wide = dir.file("wide.png", &encode(&gradient(400, 100), ImageFormat::Png));
        let thumb = thumbnail(&wide, 64, &limits()).unwrap();
        assert_eq!(
            (thumb.width, thumb.height, thumb.mime),
            (64, 16, "image/jpeg")
        );
        let decoded = image::load_from_memory(&thumb.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 16));

        let tall = dir.file("tall.jpg", &encode(&gradient(90, 300), ImageFormat::Jpeg));
        let thumb = thumbnail(&tall, 100, &limits()).unwrap();
        assert_eq!((thumb.width, thumb.height), (30, 100));

        let small = dir.file("small.png", &encode(&gradient(20, 10), ImageFormat::Png));
        let thumb = thumbnail(&small, 64, &limits()).unwrap();
        assert_eq!((thumb.width, thumb.height), (20, 10));

        // A 1000 x 1 strip keeps at least one pixel of height.
        let strip = dir.file("strip.png", &encode(&gradient(1000, 1), ImageFormat::Png));
        let thumb = thumbnail(&strip, 50, &limits()).unwrap();
        assert_eq!((thumb.width, thumb.height), (50, 1));
    }

    #[test]
    fn alpha_makes_png_opaque_makes_jpeg() {
        let dir = Dir::new();
        let transparent = DynamicImage::ImageRgba8(RgbaImage::from_fn(50, 50, |x, _| {
            Rgba([255, 0, 0, if x < 25 { 0 } else { 255 }])
        }));
        let path = dir.file("alpha.png", &encode(&transparent, ImageFormat::Png));
        let thumb = thumbnail(&path, 32, &limits()).unwrap();
        assert_eq!(thumb.mime, "image/png");
        assert_eq!(sniff(&thumb.bytes).0, "image/png");
        let decoded = image::load_from_memory(&thumb.bytes).unwrap();
        assert!(decoded.color().has_alpha());
        assert_eq!((decoded.width(), decoded.height()), (32, 32));

        // An alpha channel that is all 255 is opaque.
        let opaque =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 50, Rgba([0, 0, 255, 255])));
        let path = dir.file("opaque.png", &encode(&opaque, ImageFormat::Png));
        let thumb = thumbnail(&path, 32, &limits()).unwrap();
        assert_eq!(thumb.mime, "image/jpeg");
        assert_eq!(sniff(&thumb.bytes).0, "image/jpeg");
    }

    #[test]
    fn thumbnails_of_gif_and_webp() {
        let dir = Dir::new();
        for format in [ImageFormat::Gif, ImageFormat::WebP] {
            let path = dir.file("img", &encode(&gradient(200, 100), format));
            let thumb = thumbnail(&path, 50, &limits()).unwrap();
            assert_eq!(
                (thumb.width, thumb.height, thumb.mime),
                (50, 25, "image/jpeg"),
                "{format:?}"
            );
        }
    }

    #[test]
    fn thumbnail_of_a_non_image_is_refused() {
        let dir = Dir::new();
        let path = dir.file("doc.pdf", b"%PDF-1.7\n");
        assert!(matches!(
            thumbnail(&path, 64, &limits()),
            Err(MediaError::Malformed(_))
        ));
    }

    #[test]
    fn truncated_images_are_malformed() {
        let dir = Dir::new();
        let png = encode(&noise(64, 64), ImageFormat::Png);
        // Cut inside IHDR: the header itself is broken.
        let path = dir.file("cut-header.png", &png[..20]);
        assert!(matches!(
            probe(&path, &limits()),
            Err(MediaError::Malformed(_))
        ));
        assert!(matches!(
            thumbnail(&path, 32, &limits()),
            Err(MediaError::Malformed(_))
        ));
        // Cut inside the image data: the header reads, decoding fails.
        let path = dir.file("cut-data.png", &png[..png.len() / 2]);
        assert!(probe(&path, &limits()).is_ok());
        assert!(matches!(
            thumbnail(&path, 32, &limits()),
            Err(MediaError::Malformed(_))
        ));

        let jpeg = encode(&gradient(64, 64), ImageFormat::Jpeg);
        // Cut inside the frame header.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let path = dir.file("cut.jpg", &jpeg[..sof + 6]);
        assert!(matches!(
            probe(&path, &limits()),
            Err(MediaError::Malformed(_))
        ));
        assert!(matches!(
            thumbnail(&path, 32, &limits()),
            Err(MediaError::Malformed(_))
        ));

        for (format, name) in [
            (ImageFormat::Gif, "cut.gif"),
            (ImageFormat::WebP, "cut.webp"),
        ] {
            let bytes = encode(&gradient(64, 64), format);
            let path = dir.file(name, &bytes[..bytes.len().min(14)]);
            assert!(
                matches!(probe(&path, &limits()), Err(MediaError::Malformed(_))),
                "{name}"
            );
        }
    }

    /// A real 1 x 1 PNG whose IHDR is rewritten to claim another size, with
    /// the CRC fixed so only the size is wrong.
    fn png_claiming(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(RgbaImage::new(1, 1))
        } else {
            DynamicImage::ImageRgb8(RgbImage::new(1, 1))
        };
        let mut png = encode(&image, ImageFormat::Png);
        assert_eq!(&png[12..16], b"IHDR");
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn decompression_bombs_fail_fast() {
        let dir = Dir::new();
        let started = Instant::now();
        // Over the width and height limits.
        let path = dir.file("bomb.png", &png_claiming(100_000, 100_000, false));
        assert!(matches!(
            probe(&path, &limits()),
            Err(MediaError::TooLarge(_))
        ));
        assert!(matches!(
            thumbnail(&path, 64, &limits()),
            Err(MediaError::TooLarge(_))
        ));
        // Within them, but 16000 x 16000 RGBA is 1 GB, over max_alloc.
        let path = dir.file("wide-bomb.png", &png_claiming(16_000, 16_000, true));
        assert!(matches!(
            probe(&path, &limits()),
            Err(MediaError::TooLarge(_))
        ));
        assert!(matches!(
            thumbnail(&path, 64, &limits()),
            Err(MediaError::TooLarge(_))
        ));
        // Tighter limits are honoured too.
        let small = MediaLimits {
            max_width: 100,
            max_height: 100,
            max_alloc: 1 << 20,
        };
        let path = dir.file("big.jpg", &encode(&gradient(200, 50), ImageFormat::Jpeg));
        assert!(matches!(probe(&path, &small), Err(MediaError::TooLarge(_))));
        assert!(matches!(
            thumbnail(&path, 64, &small),
            Err(MediaError::TooLarge(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    const SERIAL: u32 = 0x5EED;

    fn opus_head(pre_skip: u16) -> Vec<u8> {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 1]); // version, channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family
        head
    }

    /// OpusHead, OpusTags, then 150 packets of 20 ms (dummy bytes) over three
    /// pages: 3 s of audio after a pre-skip of 312.
    fn opus_ogg() -> Vec<u8> {
        use ogg::PacketWriteEndInfo::{EndPage, EndStream, NormalPacket};
        let pre_skip = 312u64;
        let mut w = ogg::PacketWriter::new(Vec::new());
        w.write_packet(opus_head(312), SERIAL, EndPage, 0).unwrap();
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&6u32.to_le_bytes());
        tags.extend_from_slice(b"magpie");
        tags.extend_from_slice(&0u32.to_le_bytes());
        w.write_packet(tags, SERIAL, EndPage, 0).unwrap();
        for i in 1..=150u64 {
            let end = match i {
                150 => EndStream,
                i if i % 50 == 0 => EndPage,
                _ => NormalPacket,
            };
            w.write_packet(vec![0xA5u8; 40], SERIAL, end, pre_skip + i * 960)
                .unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn ogg_opus_is_voice_with_duration() {
        let dir = Dir::new();
        let bytes = opus_ogg();
        assert_eq!(sniff(&bytes), ("audio/ogg".to_owned(), ContentKind::Voice));
        let info = probe(&dir.file("voice.ogg", &bytes), &limits()).unwrap();
        assert_eq!(
            info,
            MediaInfo {
                mime: "audio/ogg".to_owned(),
                kind: ContentKind::Voice,
                duration_ms: Some(3000),
                codec: Some("opus".to_owned()),
                ..MediaInfo::default()
            }
        );
    }

    #[test]
    fn ogg_that_is_not_opus_is_a_file() {
        use ogg::PacketWriteEndInfo::{EndPage, EndStream};
        let mut w = ogg::PacketWriter::new(Vec::new());
        let mut ident = b"\x01vorbis".to_vec();
        ident.extend_from_slice(&[0u8; 23]);
        w.write_packet(ident, SERIAL, EndPage, 0).unwrap();
        w.write_packet(vec![1u8; 100], SERIAL, EndStream, 44_100)
            .unwrap();
        let dir = Dir::new();
        let info = probe(&dir.file("music.ogg", &w.into_inner()), &limits()).unwrap();
        assert_eq!(
            (info.mime.as_str(), info.kind),
            ("audio/ogg", ContentKind::File)
        );
        assert_eq!((info.duration_ms, info.codec), (None, None));

        // OpusHead whose page checksum is wrong (pre-skip changed): a file.
        let mut bytes = opus_ogg();
        bytes[28 + 10] ^= 0x01;
        let info = probe(&dir.file("bad-crc.ogg", &bytes), &limits()).unwrap();
        assert_eq!(
            (info.mime.as_str(), info.kind),
            ("audio/ogg", ContentKind::File)
        );
    }

    #[test]
    fn truncated_ogg_never_panics() {
        let dir = Dir::new();
        let bytes = opus_ogg();
        for cut in (0..bytes.len()).step_by(5) {
            let path = dir.file("cut.ogg", &bytes[..cut]);
            let info = probe(&path, &limits()).unwrap();
            match info.kind {
                ContentKind::Voice => assert!(info.duration_ms.unwrap_or(0) <= 3000),
                ContentKind::File => assert_eq!(info.codec, None),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        // Cut in the last page: the page before it gives the duration so far.
        let info = probe(&dir.file("cut.ogg", &bytes[..bytes.len() - 10]), &limits()).unwrap();
        assert_eq!(
            (info.kind, info.duration_ms),
            (ContentKind::Voice, Some(2000))
        );
    }

    fn mp4_box(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = u32::try_from(body.len() + 8)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(&body);
        out
    }

    fn mp4_track(
        handler: &[u8; 4],
        format: &[u8; 4],
        width: u32,
        height: u32,
        sideways: bool,
    ) -> Vec<u8> {
        let mut tkhd = [0u8; 84];
        let matrix: [u32; 9] = if sideways {
            [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000]
        } else {
            [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]
        };
        for (i, v) in matrix.iter().enumerate() {
            tkhd[40 + 4 * i..44 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        tkhd[76..80].copy_from_slice(&(width << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(height << 16).to_be_bytes());
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 13]);
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend_from_slice(&mp4_box(format, &[&[0u8; 78]]));
        let stbl = mp4_box(b"stbl", &[&mp4_box(b"stsd", &[&stsd])]);
        let minf = mp4_box(b"minf", &[&stbl]);
        let mdia = mp4_box(b"mdia", &[&mp4_box(b"hdlr", &[&hdlr]), &minf]);
        mp4_box(b"trak", &[&mp4_box(b"tkhd", &[&tkhd]), &mdia])
    }

    /// ftyp, mdat, then moov (as cameras write it) with 5.5 s at timescale 600.
    fn mp4(tracks: &[Vec<u8>]) -> Vec<u8> {
        let mut mvhd = [0u8; 100];
        mvhd[12..16].copy_from_slice(&600u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&3300u32.to_be_bytes());
        let mut moov = vec![mp4_box(b"mvhd", &[&mvhd])];
        moov.extend_from_slice(tracks);
        let moov: Vec<&[u8]> = moov.iter().map(Vec::as_slice).collect();
        [
            mp4_box(b"ftyp", &[b"isom\0\0\x02\0isomiso2avc1mp41"]),
            mp4_box(b"mdat", &[&[0u8; 64]]),
            mp4_box(b"moov", &moov),
        ]
        .concat()
    }

    #[test]
    fn mp4_video_metadata() {
        let dir = Dir::new();
        let video = mp4_track(b"vide", b"avc1", 640, 480, false);
        let audio = mp4_track(b"soun", b"mp4a", 0, 0, false);
        let bytes = mp4(&[audio.clone(), video]);
        let info = probe(&dir.file("clip.mp4", &bytes), &limits()).unwrap();
        assert_eq!(
            info,
            MediaInfo {
                mime: "video/mp4".to_owned(),
                kind: ContentKind::Video,
                width: Some(640),
                height: Some(480),
                duration_ms: Some(5500),
                codec: Some("h264".to_owned()),
            }
        );

        // Portrait phone video: stored 1920 x 1080, turned by the matrix.
        let bytes = mp4(&[mp4_track(b"vide", b"hvc1", 1920, 1080, true)]);
        let info = probe(&dir.file("portrait.mp4", &bytes), &limits()).unwrap();
        assert_eq!((info.width, info.height), (Some(1080), Some(1920)));
        assert_eq!(info.codec.as_deref(), Some("hevc"));

        // Audio only: a file, not a video.
        let info = probe(&dir.file("audio.mp4", &mp4(&[audio])), &limits()).unwrap();
        assert_eq!(
            (info.mime.as_str(), info.kind),
            ("audio/mp4", ContentKind::File)
        );

        // Every truncation: never a panic, never an error.
        let bytes = mp4(&[mp4_track(b"vide", b"avc1", 640, 480, false)]);
        for cut in 0..bytes.len() {
            probe(&dir.file("cut.mp4", &bytes[..cut]), &limits()).unwrap();
        }
        // Garbage box sizes inside moov.
        let mut bad = bytes.clone();
        let moov_at = bad.windows(4).position(|w| w == b"moov").unwrap() + 4;
        bad[moov_at..moov_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let info = probe(&dir.file("bad.mp4", &bad), &limits()).unwrap();
        assert_eq!(info.kind, ContentKind::Video);
    }

    fn ebml(id: u32, body: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = id
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        if body.len() < 127 {
            out.push(0x80 | u8::try_from(body.len()).unwrap());
        } else {
            out.push(0x01);
            out.extend_from_slice(&u64::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        }
        out.extend_from_slice(body);
        out
    }

    fn webm(known_size: bool) -> Vec<u8> {
        let header = ebml(
            0x1A45_DFA3,
            &[ebml(0x4282, b"webm"), ebml(0x4287, &[4])].concat(),
        );
        let info = ebml(
            0x1549_A966,
            &[
                ebml(0x2A_D7B1, &[0x0F, 0x42, 0x40]),
                ebml(0x4489, &4500.0f64.to_be_bytes()),
            ]
            .concat(),
        );
        let video = ebml(
            0xAE,
            &[
                ebml(0x83, &[1]),
                ebml(0x86, b"V_VP9"),
                ebml(
                    0xE0,
                    &[ebml(0xB0, &320u16.to_be_bytes()), ebml(0xBA, &[240])].concat(),
                ),
            ]
            .concat(),
        );
        let audio = ebml(0xAE, &[ebml(0x83, &[2]), ebml(0x86, b"A_OPUS")].concat());
        let tracks = ebml(0x1654_AE6B, &[audio, video].concat());
        let cluster = ebml(0x1F43_B675, &[0u8; 300]);
        let body = [info, tracks, cluster].concat();
        let segment = if known_size {
            ebml(0x1853_8067, &body)
        } else {
            // Unknown size, as live recorders write it.
            [
                &[
                    0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                ][..],
                &body,
            ]
            .concat()
        };
        [header, segment].concat()
    }

    #[test]
    fn webm_video_metadata() {
        let dir = Dir::new();
        let info = probe(&dir.file("clip.webm", &webm(true)), &limits()).unwrap();
        assert_eq!(
            info,
            MediaInfo {
                mime: "video/webm".to_owned(),
                kind: ContentKind::Video,
                width: Some(320),
                height: Some(240),
                duration_ms: Some(4500),
                codec: Some("vp9".to_owned()),
            }
        );
        let info = probe(&dir.file("live.webm", &webm(false)), &limits()).unwrap();
        assert_eq!(
            (info.kind, info.width, info.height),
            (ContentKind::Video, Some(320), Some(240))
        );

        let bytes = webm(true);
        for cut in 0..bytes.len() {
            probe(&dir.file("cut.webm", &bytes[..cut]), &limits()).unwrap();
        }
    }

    /// An audio-only WebM as MediaRecorder writes it: segment and clusters
    /// of unknown size, no `Info/Duration` unless `duration` is given.
    fn webm_audio(codec: &[u8], duration: Option<f64>) -> Vec<u8> {
        const UNKNOWN: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let header = ebml(0x1A45_DFA3, &ebml(0x4282, b"webm"));
        let mut info = ebml(0x2A_D7B1, &[0x0F, 0x42, 0x40]);
        if let Some(d) = duration {
            info.extend(ebml(0x4489, &d.to_be_bytes()));
        }
        let info = ebml(0x1549_A966, &info);
        let audio = ebml(0xAE, &[ebml(0x83, &[2]), ebml(0x86, codec)].concat());
        let tracks = ebml(0x1654_AE6B, &audio);
        // Track 1, timecode, no flags, then an Opus packet whose TOC says
        // one 60 ms SILK frame (config 3, code 0), padded to a realistic
        // size (infer needs 256 bytes to call it WebM).
        let block = |at: i16| {
            let at = at.to_be_bytes();
            let packet = [&[0x81, at[0], at[1], 0x00, 3 << 3][..], &[0xAA; 60]].concat();
            ebml(0xA3, &packet)
        };
        let cluster = |timecode: u16, blocks: &[i16]| {
            let mut c = [&[0x1F, 0x43, 0xB6, 0x75][..], &UNKNOWN].concat();
            c.extend(ebml(0xE7, &timecode.to_be_bytes()));
            for at in blocks {
                c.extend(block(*at));
            }
            c
        };
        let body = [
            info,
            tracks,
            cluster(0, &[0, 60, 120]),
            cluster(1000, &[0, 60]),
        ]
        .concat();
        let segment = [&[0x18, 0x53, 0x80, 0x67][..], &UNKNOWN, &body].concat();
        [header, segment].concat()
    }

    #[test]
    fn webm_opus_recording_is_a_voice_note() {
        let dir = Dir::new();
        let voice = |duration_ms| MediaInfo {
            mime: "audio/webm".to_owned(),
            kind: ContentKind::Voice,
            duration_ms,
            codec: Some("opus".to_owned()),
            ..MediaInfo::default()
        };
        // No duration in the header: the last block (1060 ms) plus its 60 ms.
        let live = webm_audio(b"A_OPUS", None);
        let info = probe(&dir.file("voice.webm", &live), &limits()).unwrap();
        assert_eq!(info, voice(Some(1120)));
        // A duration in the header wins.
        let timed = webm_audio(b"A_OPUS", Some(2500.0));
        let info = probe(&dir.file("timed.webm", &timed), &limits()).unwrap();
        assert_eq!(info, voice(Some(2500)));
        // Audio in another codec is a file.
        let vorbis = webm_audio(b"A_VORBIS", None);
        let info = probe(&dir.file("vorbis.webm", &vorbis), &limits()).unwrap();
        assert_eq!(
            (info.kind, info.mime.as_str(), info.duration_ms),
            (ContentKind::File, "audio/webm", None)
        );
        // Cut anywhere: never an error, never longer than the whole.
        for cut in 0..live.len() {
            let info = probe(&dir.file("cut.webm", &live[..cut]), &limits()).unwrap();
            assert!(
                info.duration_ms.unwrap_or(0) <= 1120,
                "cut at {cut}: {info:?}"
            );
        }
    }

    #[test]
    fn media_info_json_shape() {
        let info = MediaInfo {
            mime: "image/png".to_owned(),
            kind: ContentKind::Image,
            width: Some(3),
            height: Some(2),
            ..MediaInfo::default()
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"mime":"image/png","kind":"image","width":3,"height":2}"#
        );
        assert_eq!(serde_json::from_str::<MediaInfo>(&json).unwrap(), info);
        assert_eq!(MediaInfo::default().kind, ContentKind::File);
    }
}
