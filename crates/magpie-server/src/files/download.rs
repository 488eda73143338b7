//! Serving bytes: Range requests, the headers that keep a download safe in
//! a browser, and signed URLs.
//!
//! A signed URL is `/api/files/{id}?exp=<ms>&sig=<HMAC>`: the server signs
//! `(id, variant, exp)` with a secret every node shares (kept in the
//! database) after checking the caller may read the file, so an `<img>` tag
//! or a download manager can fetch it without the session token, until
//! `exp`. Tokens never go into URLs (they would end up in logs and
//! histories).

use super::http::Failure;
use super::{Files, hex, unhex};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use magpie_proto::ErrorCode;
use magpie_store::files::FileRecord;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use std::ops::Range;

/// How long a signed URL stays valid.
pub const SIGNED_URL_TTL_MS: i64 = 3600 * 1000;

/// Which bytes of a file a URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Content,
    Thumbnail,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Content => "content",
            Variant::Thumbnail => "thumbnail",
        }
    }
}

fn mac(secret: &[u8], id: &str, variant: Variant, exp: i64) -> Hmac<Sha256> {
    let exp = exp.to_string();
    super::keyed_mac(
        secret,
        "magpie-file-url",
        &[id.as_bytes(), variant.label().as_bytes(), exp.as_bytes()],
    )
}

/// A signed path for `id`, valid until `exp` (ms since the epoch).
pub fn signed_path(secret: &[u8], id: &str, variant: Variant, exp: i64) -> String {
    let sig = hex(&mac(secret, id, variant, exp).finalize().into_bytes());
    let suffix = match variant {
        Variant::Content => "",
        Variant::Thumbnail => "/thumbnail",
    };
    format!("/api/files/{id}{suffix}?exp={exp}&sig={sig}")
}

/// Whether `sig` signs `(id, variant, exp)` and `exp` has not passed. The
/// comparison is constant-time (`Mac::verify_slice`).
pub fn signature_valid(secret: &[u8], id: &str, variant: Variant, exp: i64, sig: &str) -> bool {
    if exp < crate::clock::now_ms() {
        return false;
    }
    let Some(sig) = unhex(sig) else {
        return false;
    };
    mac(secret, id, variant, exp).verify_slice(&sig).is_ok()
}

/// Types a browser may show inline: they cannot run script. Everything
/// else downloads as an attachment.
fn inline_safe(mime: &str) -> bool {
    matches!(
        mime,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "audio/ogg" | "audio/mpeg"
    ) || mime.starts_with("video/")
}

/// Characters percent-encoded in `filename*` (RFC 5987 `attr-char` keeps
/// letters, digits and `!#$&+-.^_`|~`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` for `name` (RFC 6266): an ASCII fallback in
/// `filename` (quotes, backslashes and non-ASCII replaced) and the exact
/// name in `filename*` (RFC 5987, UTF-8).
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// One byte range of a `Range` header, resolved against `size`.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable single range: send everything (200).
    Whole,
    /// Send these bytes (206).
    Part(Range<u64>),
    /// The range starts past the end (416).
    Unsatisfiable,
}

/// Parse `Range: bytes=a-b | a- | -n` for a resource of `size` bytes.
/// Several ranges, other units or malformed syntax fall back to the whole
/// resource, as RFC 9110 allows.
pub fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let number = |t: &str| -> Option<u64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            t.parse().ok()
        }
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) if size == 0 => {
                let _ = n;
                RangeAsk::Unsatisfiable
            }
            Some(n) => RangeAsk::Part(size.saturating_sub(n)..size),
            None => RangeAsk::Whole,
        },
        (start, "") => match number(start) {
            Some(s) if s >= size => RangeAsk::Unsatisfiable,
            Some(s) => RangeAsk::Part(s..size),
            None => RangeAsk::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(s), Some(e)) if s > e => RangeAsk::Whole,
            (Some(s), Some(_)) if s >= size => RangeAsk::Unsatisfiable,
            (Some(s), Some(e)) => RangeAsk::Part(s..e.saturating_add(1).min(size)),
            _ => RangeAsk::Whole,
        },
    }
}

/// The ETag of immutable content: its hash.
fn etag(file: &FileRecord, variant: Variant) -> String {
    match variant {
        Variant::Content => format!("\"{}\"", hex(&file.blob.sha256)),
        Variant::Thumbnail => format!("\"{}-t\"", hex(&file.blob.sha256)),
    }
}

fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
}

/// Headers every file response carries: the content is immutable (named
/// by its hash), private to those allowed, and never to be sniffed or run.
fn common_headers(response: &mut Response, tag: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
}

/// What a GET of `file`'s content with these headers is answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 304: the client has it.
    NotModified,
    /// 200, 206 or 416, by the range asked for (`If-Range` applied).
    Bytes(RangeAsk),
}

impl Answer {
    /// Whether this answer sends content from the first byte: a new
    /// download rather than the resumption of one (what a share link's
    /// download limit counts).
    pub fn starts_a_download(&self) -> bool {
        match self {
            Answer::Bytes(RangeAsk::Whole) => true,
            Answer::Bytes(RangeAsk::Part(range)) => range.start == 0,
            Answer::NotModified | Answer::Bytes(RangeAsk::Unsatisfiable) => false,
        }
    }
}

/// Decide the answer to a GET of `file`'s content, honouring
/// `If-None-Match`, `If-Range` and `Range`.
pub fn answer(file: &FileRecord, headers: &HeaderMap) -> Answer {
    let tag = etag(file, Variant::Content);
    if not_modified(headers, &tag) {
        return Answer::NotModified;
    }
    let size = u64::try_from(file.blob.size).unwrap_or(0);
    let range_applies = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == tag);
    Answer::Bytes(
        match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
            Some(value) if range_applies => parse_range(value, size),
            _ => RangeAsk::Whole,
        },
    )
}

/// Serve `file`'s content, honouring `Range`, `If-Range` and
/// `If-None-Match`.
pub async fn serve(
    files: &Files,
    file: &FileRecord,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, Failure> {
    let tag = etag(file, Variant::Content);
    let size = u64::try_from(file.blob.size).unwrap_or(0);
    let ask = match answer(file, headers) {
        Answer::NotModified => {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            common_headers(&mut response, &tag);
            return Ok(response);
        }
        Answer::Bytes(ask) => ask,
    };
    let (status, range) = match ask {
        RangeAsk::Whole => (StatusCode::OK, None),
        RangeAsk::Part(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
        RangeAsk::Unsatisfiable => {
            let mut response = Failure::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::InvalidArgs,
                "the range starts past the end of the file",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let length = range.as_ref().map_or(size, |r| r.end - r.start);
    let body = if *method == Method::HEAD || length == 0 {
        Body::empty()
    } else {
        let stream = files
            .storage()
            .read(&file.blob.storage_key, range.clone())
            .await
            .map_err(|e| Failure::from(super::internal(e)))?;
        Body::from_stream(stream)
    };
    let mut response = (status, body).into_response();
    common_headers(&mut response, &tag);
    let mime = file.blob.mime.as_str();
    let disposition = if inline_safe(mime) {
        "inline"
    } else {
        "attachment"
    };
    let out = response.headers_mut();
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(mime) {
        out.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, &file.name)) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(range) = range
        && let Ok(value) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{size}",
            range.start,
            range.end.saturating_sub(1)
        ))
    {
        out.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// Serve `file`'s thumbnail (404 if it has none).
pub async fn serve_thumbnail(
    files: &Files,
    file: &FileRecord,
    headers: &HeaderMap,
) -> Result<Response, Failure> {
    let Some(key) = &file.blob.thumb_key else {
        return Err(Failure::from(super::unknown_file()));
    };
    let tag = etag(file, Variant::Thumbnail);
    if not_modified(headers, &tag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        common_headers(&mut response, &tag);
        return Ok(response);
    }
    let stream = files
        .storage()
        .read(key, None)
        .await
        .map_err(|e| Failure::from(super::internal(e)))?;
    let mut response = Body::from_stream(stream).into_response();
    common_headers(&mut response, &tag);
    // The key's suffix says which encoding the thumbnail got.
    let mime = if key.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let cases = [
            ("bytes=0-99", 1000, RangeAsk::Part(0..100)),
            ("bytes=900-", 1000, RangeAsk::Part(900..1000)),
            ("bytes=-100", 1000, RangeAsk::Part(900..1000)),
            ("bytes=-5000", 1000, RangeAsk::Part(0..1000)),
            ("bytes=990-2000", 1000, RangeAsk::Part(990..1000)),
            ("bytes=1000-", 1000, RangeAsk::Unsatisfiable),
            ("bytes=1000-1001", 1000, RangeAsk::Unsatisfiable),
            ("bytes=-0", 1000, RangeAsk::Unsatisfiable),
            ("bytes=5-1", 1000, RangeAsk::Whole),
            ("bytes=0-1,5-6", 1000, RangeAsk::Whole),
            ("bytes=-1-5", 1000, RangeAsk::Whole),
            ("items=0-1", 1000, RangeAsk::Whole),
            ("bytes=a-b", 1000, RangeAsk::Whole),
            ("bytes=0-", 0, RangeAsk::Unsatisfiable),
        ];
        for (value, size, want) in cases {
            assert_eq!(parse_range(value, size), want, "{value} of {size}");
        }
    }

    #[test]
    fn disposition_has_an_ascii_fallback_and_the_exact_name() {
        assert_eq!(
            content_disposition("attachment", "会议纪要.docx"),
            "attachment; filename=\"____.docx\"; filename*=UTF-8''%E4%BC%9A%E8%AE%AE%E7%BA%AA%E8%A6%81.docx"
        );
        assert_eq!(
            content_disposition("inline", "a \"b\".png"),
            "inline; filename=\"a _b_.png\"; filename*=UTF-8''a%20%22b%22.png"
        );
    }

    #[test]
    fn signatures_bind_id_variant_and_expiry() {
        let secret = [7u8; 32];
        let exp = crate::clock::now_ms() + 60_000;
        let path = signed_path(&secret, "ab", Variant::Content, exp);
        let sig = path.rsplit("sig=").next().unwrap_or_default();
        assert!(signature_valid(&secret, "ab", Variant::Content, exp, sig));
        assert!(!signature_valid(&secret, "ac", Variant::Content, exp, sig));
        assert!(!signature_valid(
            &secret,
            "ab",
            Variant::Thumbnail,
            exp,
            sig
        ));
        assert!(!signature_valid(
            &secret,
            "ab",
            Variant::Content,
            exp + 1,
            sig
        ));
        assert!(!signature_valid(
            &[8u8; 32],
            "ab",
            Variant::Content,
            exp,
            sig
        ));
        let past = crate::clock::now_ms() - 1;
        let old = signed_path(&secret, "ab", Variant::Content, past);
        let old_sig = old.rsplit("sig=").next().unwrap_or_default();
        assert!(!signature_valid(
            &secret,
            "ab",
            Variant::Content,
            past,
            old_sig
        ));
    }
}
