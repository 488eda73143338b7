//! The web client and the admin console, served by the server itself on
//! the HTTP listener: `/` (the chat app), `/admin` (the console) and
//! `/assets/{file}` (their scripts, styles and images).
//!
//! Why it is built this way:
//! - **Embedded, not read from disk.** The files are `clients/web/dist`,
//!   built by esbuild (`clients/web/build.mjs`) and committed, compiled
//!   into the binary. One binary is the whole deployment: no Node, no
//!   internet, no directory to keep next to it, and a client that always
//!   matches its server. CI rebuilds `dist` from source and fails when the
//!   committed one differs (`clients/web/check.sh`), so what is embedded is
//!   what the source says.
//! - **`rust-embed`** (with `debug-embed`, so debug builds and tests embed
//!   too instead of reading the directory at run time) rather than
//!   `include_dir`: it is the most used crate for this and kept current,
//!   and it hashes each file (SHA-256) at compile time, so our ETags cost
//!   nothing at run time. `deterministic-timestamps` keeps file times out
//!   of the binary, so builds are reproducible. `build.rs` fails the build
//!   with a message saying how to make `dist` when it is missing, and has
//!   the crate rebuilt when any file in it is added, changed or removed.
//! - **Only embedded names are served.** A request names an entry of a
//!   fixed table built from the embedded set; there is no file system path
//!   to traverse, so `..`, encoded slashes and absolute paths simply name
//!   nothing (404).
//! - **A strict Content-Security-Policy** on the pages: scripts, styles,
//!   fonts and connections from this origin only, no inline script or
//!   style at all (the build links everything as files), no framing. So
//!   even a bug that let a message's text into the page as markup could
//!   not run script.
//! - **Caching by content.** Asset names carry a hash of their content, so
//!   they are cached for a year as immutable; the two pages are revalidated
//!   on every load (`no-cache` with a strong ETag, 304 when unchanged), so
//!   a new server version is picked up at once.
//! - **Compressed once.** Brotli (preferred) or gzip by `Accept-Encoding`,
//!   each representation made the first time it is asked for, off the
//!   async workers, and kept for the life of the process: never per
//!   request. Already-compressed types (images, fonts) are sent as they
//!   are.

use crate::files::hex;
use crate::state::AppState;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock, OnceLock};

/// `clients/web/dist`, compiled in. The build fails if it is missing.
#[derive(rust_embed::Embed)]
#[folder = "../../clients/web/dist"]
struct Dist;

/// The policy of the two pages. Everything the app loads comes from this
/// origin as files; `blob:`/`data:` only for images and media the app makes
/// itself (previews, recordings). `connect-src 'self'` covers the WebSocket
/// (`ws:`/`wss:` to this host) and the file API.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
     connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The browser features the pages may use: the microphone (voice
/// messages) from this origin only, no camera, no location.
pub const PERMISSIONS_POLICY: &str = "camera=(), geolocation=(), microphone=(self)";

/// The page of the chat app and that of the admin console.
pub const INDEX_PAGE: &str = "index.html";
pub const ADMIN_PAGE: &str = "admin.html";
/// The folder of the content-hashed assets, in `dist` and in URLs.
const ASSETS_DIR: &str = "assets/";

/// The routes of the web client, merged into the main HTTP router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/admin", get(admin))
        .route("/admin/", get(admin))
        .route("/assets/{file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve(INDEX_PAGE, &headers).await
}

async fn admin(headers: HeaderMap) -> Response {
    serve(ADMIN_PAGE, &headers).await
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    // Only a plain file name of the assets folder; the table lookup below
    // would refuse anything else too, this says so up front.
    if file.is_empty() || file.starts_with('.') || file.contains(['/', '\\']) {
        return not_found();
    }
    serve(&format!("{ASSETS_DIR}{file}"), &headers).await
}

/// An embedded file, as served.
#[derive(Debug)]
struct Asset {
    identity: Bytes,
    content_type: &'static str,
    /// Whether compressing it is worth trying (not an image or font format
    /// that is compressed already).
    compressible: bool,
    /// Hex of (half) its SHA-256: its ETags are this, plus the encoding.
    tag: String,
    gzip: OnceLock<Option<Bytes>>,
    br: OnceLock<Option<Bytes>>,
}

/// Every embedded file by its path in `dist` (`index.html`,
/// `assets/app-XXXX.js`).
static ASSETS: LazyLock<HashMap<String, Asset>> = LazyLock::new(|| {
    Dist::iter()
        .filter_map(|name| {
            let file = Dist::get(&name)?;
            let identity = match file.data {
                Cow::Borrowed(bytes) => Bytes::from_static(bytes),
                Cow::Owned(bytes) => Bytes::from(bytes),
            };
            let (content_type, compressible) = content_type(&name);
            let hash = file.metadata.sha256_hash();
            let asset = Asset {
                identity,
                content_type,
                compressible,
                tag: hex(&hash[..16]),
                gzip: OnceLock::new(),
                br: OnceLock::new(),
            };
            Some((name.into_owned(), asset))
        })
        .collect()
});

/// The `Content-Type` of a file by its extension, and whether it is worth
/// compressing.
fn content_type(name: &str) -> (&'static str, bool) {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .unwrap_or_default();
    match ext.to_ascii_lowercase().as_str() {
        "html" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "wasm" => ("application/wasm", true),
        "ico" => ("image/x-icon", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "woff2" => ("font/woff2", false),
        "woff" => ("font/woff", false),
        _ => ("application/octet-stream", false),
    }
}

/// A content coding of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// The coding to answer with, by `Accept-Encoding`: the one with the
/// higher q-value, brotli on a tie; identity when neither is acceptable.
fn negotiate(headers: &HeaderMap) -> Encoding {
    let (mut br, mut gzip, mut any) = (None, None, None);
    let items = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("br") {
            br = Some(q);
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if coding == "*" {
            any = Some(q);
        }
    }
    let br = br.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

impl Asset {
    fn cell(&self, encoding: Encoding) -> Option<&OnceLock<Option<Bytes>>> {
        match encoding {
            Encoding::Identity => None,
            Encoding::Gzip => Some(&self.gzip),
            Encoding::Brotli => Some(&self.br),
        }
    }

    /// The asset in `encoding`, made on first use and kept; `None` when
    /// compressing it does not make it smaller.
    fn compressed(&self, encoding: Encoding) -> Option<Bytes> {
        let cell = self.cell(encoding)?;
        cell.get_or_init(|| {
            let out = compress(&self.identity, encoding).ok()?;
            (out.len() < self.identity.len()).then(|| Bytes::from(out))
        })
        .clone()
    }

    /// The body to send and its coding: compressed when the client takes
    /// it and it helps, compressing off the async workers the first time.
    async fn body(&'static self, wanted: Encoding) -> (Encoding, Bytes) {
        let Some(cell) = self.cell(wanted).filter(|_| self.compressible) else {
            return (Encoding::Identity, self.identity.clone());
        };
        let compressed = match cell.get() {
            Some(done) => done.clone(),
            None => tokio::task::spawn_blocking(move || self.compressed(wanted))
                .await
                .ok()
                .flatten(),
        };
        match compressed {
            Some(bytes) => (wanted, bytes),
            None => (Encoding::Identity, self.identity.clone()),
        }
    }

    /// The ETag of one representation: strong, and distinct per coding as
    /// each is a different sequence of bytes.
    fn etag(&self, encoding: Encoding) -> String {
        match encoding.token() {
            Some(token) => format!("\"{}-{token}\"", self.tag),
            None => format!("\"{}\"", self.tag),
        }
    }

    /// Whether `If-None-Match` names any representation of this content
    /// (the client's cached copy, whatever its coding, is current).
    fn matches(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| {
                let tag = tag.trim();
                if tag == "*" {
                    return true;
                }
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
                    return false;
                };
                let base = opaque
                    .strip_suffix("-br")
                    .or_else(|| opaque.strip_suffix("-gzip"))
                    .unwrap_or(opaque);
                base == self.tag
            })
    }
}

fn compress(bytes: &[u8], encoding: Encoding) -> std::io::Result<Vec<u8>> {
    match encoding {
        Encoding::Identity => Ok(bytes.to_vec()),
        Encoding::Gzip => {
            let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            out.write_all(bytes)?;
            out.finish()
        }
        Encoding::Brotli => {
            // Quality 11 (the best) and a 4 MiB window: done once per
            // asset and process, so the slowest setting costs little.
            let mut out = brotli::CompressorWriter::new(Vec::new(), 64 * 1024, 11, 22);
            out.write_all(bytes)?;
            out.flush()?;
            Ok(out.into_inner())
        }
    }
}

/// The response for an embedded file: 200 (or 304 for a current copy)
/// with its type, caching and security headers; 404 for any other name.
async fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.get(name) else {
        return not_found();
    };
    let page = !name.starts_with(ASSETS_DIR);
    let (encoding, body) = asset.body(negotiate(request)).await;

    let mut headers = HeaderMap::new();
    common_headers(&mut headers);
    if let Ok(etag) = HeaderValue::from_str(&asset.etag(encoding)) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if page {
            // Always revalidated (a 304 when unchanged), so a new version
            // of the server is picked up on the next load.
            "no-cache"
        } else {
            // Content-hashed names: a changed file has a new name.
            "public, max-age=31536000, immutable"
        }),
    );
    if asset.compressible {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        );
    }
    if asset.matches(request) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Some(token) = encoding.token() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

/// Headers on every response of the web client.
fn common_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

fn not_found() -> Response {
    let mut headers = HeaderMap::new();
    common_headers(&mut headers);
    (StatusCode::NOT_FOUND, headers, "not found\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn accepting(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn both_pages_and_their_assets_are_embedded() {
        let names: Vec<&str> = ASSETS.keys().map(String::as_str).collect();
        for page in [INDEX_PAGE, ADMIN_PAGE] {
            let html = std::str::from_utf8(&ASSETS[page].identity).expect("utf-8");
            let mut referenced = 0;
            for part in html.split("=\"/").skip(1) {
                let path = part.split('"').next().unwrap_or_default();
                assert!(
                    names.contains(&path),
                    "{page} references {path}, not embedded"
                );
                assert!(path.starts_with(ASSETS_DIR), "{path}");
                referenced += 1;
            }
            assert!(referenced >= 2, "{page} loads its script and style");
        }
    }

    #[test]
    fn content_types_by_extension() {
        let cases = [
            ("index.html", "text/html; charset=utf-8", true),
            ("assets/app-X.js", "text/javascript; charset=utf-8", true),
            ("assets/app-X.CSS", "text/css; charset=utf-8", true),
            ("assets/icon-X.svg", "image/svg+xml", true),
            ("assets/a.png", "image/png", false),
            ("assets/m.json", "application/json", true),
            ("assets/m.webmanifest", "application/manifest+json", true),
            ("assets/f.woff2", "font/woff2", false),
            ("assets/noext", "application/octet-stream", false),
        ];
        for (name, ty, compressible) in cases {
            assert_eq!(content_type(name), (ty, compressible), "{name}");
        }
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_values() {
        let cases = [
            ("", Encoding::Identity),
            ("identity", Encoding::Identity),
            ("gzip", Encoding::Gzip),
            ("br", Encoding::Brotli),
            ("gzip, deflate, br, zstd", Encoding::Brotli),
            ("gzip;q=1.0, br;q=0.5", Encoding::Gzip),
            ("br;q=0, gzip", Encoding::Gzip),
            ("BR", Encoding::Brotli),
            ("*", Encoding::Brotli),
            ("*;q=0", Encoding::Identity),
            ("br;q=0, gzip;q=0", Encoding::Identity),
            ("deflate", Encoding::Identity),
            ("gzip;q=nonsense", Encoding::Identity),
        ];
        for (value, expected) in cases {
            assert_eq!(negotiate(&accepting(value)), expected, "{value:?}");
        }
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn if_none_match_accepts_any_coding_of_the_same_content() {
        let asset = &ASSETS[INDEX_PAGE];
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(v).expect("header"),
            );
            h
        };
        for encoding in [Encoding::Identity, Encoding::Gzip, Encoding::Brotli] {
            assert!(asset.matches(&with(&asset.etag(encoding))));
            assert!(asset.matches(&with(&format!("W/{}", asset.etag(encoding)))));
        }
        assert!(asset.matches(&with(&format!("\"x\", {}", asset.etag(Encoding::Gzip)))));
        assert!(asset.matches(&with("*")));
        assert!(!asset.matches(&with("\"x\"")));
        assert!(!asset.matches(&with(&asset.tag)), "unquoted");
        assert!(!asset.matches(&with(&format!("\"{}-zstd\"", asset.tag))));
        assert!(!asset.matches(&HeaderMap::new()));
    }

    #[test]
    fn compressed_forms_decompress_to_the_original() {
        let asset = &ASSETS[INDEX_PAGE];
        let gz = asset.compressed(Encoding::Gzip).expect("html compresses");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
        assert_eq!(plain, asset.identity);
        let br = asset.compressed(Encoding::Brotli).expect("html compresses");
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut plain)
            .expect("brotli");
        assert_eq!(plain, asset.identity);
        // Made once: the same bytes (the same allocation) every time.
        assert_eq!(
            asset.compressed(Encoding::Brotli).map(|b| b.as_ptr()),
            Some(br.as_ptr())
        );
    }
}
