//! The file area over HTTP: tus 1.0 uploads under `/api/uploads`,
//! downloads and thumbnails under `/api/files/{id}`, instant upload under
//! `/api/files/instant`. `docs/openapi.yaml` describes every route.
//!
//! Handlers are thin: authenticate, parse headers, call [`Files`], map the
//! outcome to the status the tus specification names. Every request is
//! authenticated with the session token (`Authorization: Bearer`), except a
//! download through a signed URL, whose signature stands for a check made
//! when it was issued.

use super::{FileResult, Files, file_info, instant, unknown_file};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use magpie_proto::{ErrorBody, ErrorCode, UserId};
use magpie_store::files::{FileRecord, UploadRecord};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// The tus version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The tus extensions supported.
const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
/// Checksum algorithms accepted in `Upload-Checksum`.
const TUS_CHECKSUMS: &str = "sha1,sha256";
/// The content type of a PATCH body.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// tus: the checksum of a chunk did not match.
const CHECKSUM_MISMATCH: u16 = 460;
/// Most bytes of `Upload-Metadata`.
const MAX_METADATA_BYTES: usize = 4096;
/// Writes go through a buffer this large, so a 16 KiB network read is not
/// a system call of its own.
const WRITE_BUFFER: usize = 1024 * 1024;

/// The routes of the file area.
pub fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/api/uploads", post(create).options(options))
        .route(
            "/api/uploads/{id}",
            axum::routing::head(head)
                .patch(patch)
                .delete(terminate)
                .get(status)
                .options(options),
        )
        .route("/api/files/instant", post(instant::offer))
        .route("/api/files/instant/proof", post(instant::prove))
        .route("/api/files/{id}", get(download).delete(delete_file))
        .route("/api/files/{id}/thumbnail", get(thumbnail))
        .route("/api/files/{id}/info", get(info))
}

/// Most bytes of a JSON request body (instant upload offers and proofs
/// are a few hundred bytes).
const MAX_JSON_BODY: usize = 64 * 1024;

/// Parse a JSON request body; a malformed one is a 400 `invalid_args` in
/// the protocol's error shape, like every other error here (axum's own
/// `Json` extractor would answer in plain text, before authentication).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    if body.len() > MAX_JSON_BODY {
        return Err(Failure::bad_request("the request body is too large"));
    }
    serde_json::from_slice(body).map_err(|e| {
        Failure::bad_request(format!("the request body is not the JSON expected: {e}"))
    })
}

/// A failure as an HTTP response: a status and the protocol's error body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: ErrorBody,
}

impl Failure {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    /// The HTTP status this failure answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn bad_request(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgs, message)
    }

    fn not_found() -> Failure {
        Failure::from(unknown_file())
    }
}

impl From<ErrorBody> for Failure {
    /// Each error code's status, once for every handler.
    fn from(body: ErrorBody) -> Failure {
        let status = match body.code {
            ErrorCode::UnknownFile | ErrorCode::UnknownEntry | ErrorCode::UnknownShare => {
                StatusCode::NOT_FOUND
            }
            ErrorCode::WrongCode => StatusCode::FORBIDDEN,
            ErrorCode::NameTaken => StatusCode::CONFLICT,
            ErrorCode::InvalidName | ErrorCode::InvalidMove => StatusCode::BAD_REQUEST,
            ErrorCode::FileTooLarge | ErrorCode::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::LimitReached | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InvalidArgs | ErrorCode::InvalidMedia => StatusCode::BAD_REQUEST,
            ErrorCode::NotAuthenticated | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::AccountDisabled | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::Overloaded | ErrorCode::Unavailable | ErrorCode::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure { status, body }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type HttpResult = Result<Response, Failure>;

/// The user behind `Authorization: Bearer <token>`.
pub(super) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<UserId, Failure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::NotAuthenticated,
                "send the session token as Authorization: Bearer <token>",
            )
        })?;
    let session = state.auth.resume(token).await.map_err(Failure::from)?;
    Ok(session.user_id)
}

/// Lookups that reveal whether content exists (instant upload offers)
/// share the per-user search rate.
pub(super) fn rate_limit(state: &AppState, user: UserId) -> Result<(), Failure> {
    state.throttle.check_search(user).map_err(Failure::from)
}

fn files(state: &AppState) -> &Files {
    &state.files
}

/// A header's value as text, if present and visible ASCII.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// tus: every request but OPTIONS names the protocol version.
fn require_tus(headers: &HeaderMap) -> Result<(), Failure> {
    match header_text(headers, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(Failure::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::InvalidArgs,
            "Tus-Resumable: 1.0.0 is required",
        )),
    }
}

fn tus_headers(response: &mut Response, upload: &UploadRecord) {
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert("upload-offset", HeaderValue::from(upload.received));
    let expires = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(upload.expires_at).unwrap_or(0)),
    );
    if let Ok(value) = HeaderValue::from_str(&expires) {
        headers.insert("upload-expires", value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(file) = &upload.file_id
        && let Ok(value) = HeaderValue::from_str(file)
    {
        headers.insert("magpie-file-id", value);
    }
}

/// `OPTIONS`: what this server supports (tus discovery).
async fn options(State(state): State<Arc<AppState>>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    headers.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(TUS_CHECKSUMS),
    );
    headers.insert(
        "tus-max-size",
        HeaderValue::from(files(&state).limits().max_file_bytes),
    );
    response
}

/// `POST /api/uploads`: create an upload, optionally with its first bytes.
async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> HttpResult {
    require_tus(&headers)?;
    let user = authenticate(&state, &headers).await?;
    if headers.contains_key("upload-defer-length") {
        return Err(Failure::bad_request(
            "Upload-Defer-Length is not supported: declare Upload-Length",
        ));
    }
    let length = header_text(&headers, "upload-length")
        .ok_or_else(|| Failure::bad_request("Upload-Length is required"))?;
    let length = parse_count(length)
        .ok_or_else(|| Failure::bad_request("Upload-Length must be a non-negative integer"))?;
    let name = upload_name(&headers)?;
    let with_data = is_offset_stream(&headers);
    let checksum = if with_data {
        checksum_of(&headers)?
    } else {
        None
    };
    let mut upload = files(&state)
        .create_upload(user, length, &name)
        .await
        .map_err(Failure::from)?;
    if with_data {
        let id = upload.id.clone();
        upload = match write_detached(&state, upload, 0, body, checksum).await {
            Ok(upload) => upload,
            Err(failure) => {
                // The client gets no Location, so it can never resume or
                // terminate this upload: take it back, reservation and all.
                if let Err(e) = files(&state).terminate(user, &id).await {
                    tracing::warn!(error = %e.message, "dropping a failed new upload failed");
                }
                return Err(failure);
            }
        };
    }
    let mut response = StatusCode::CREATED.into_response();
    tus_headers(&mut response, &upload);
    let location = format!("/api/uploads/{}", upload.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `HEAD /api/uploads/{id}`: how many bytes the server has.
async fn head(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResult {
    require_tus(&headers)?;
    let user = authenticate(&state, &headers).await?;
    let upload = finished_if_due(&state, user, &id).await?;
    let mut response = StatusCode::OK.into_response();
    tus_headers(&mut response, &upload);
    response
        .headers_mut()
        .insert("upload-length", HeaderValue::from(upload.total_size));
    Ok(response)
}

/// `GET /api/uploads/{id}`: the upload's state as JSON, with its file once
/// complete (not part of tus; for clients that want the file id).
async fn status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResult {
    let user = authenticate(&state, &headers).await?;
    let upload = finished_if_due(&state, user, &id).await?;
    let file = match &upload.file_id {
        Some(file) => files(&state)
            .readable_by(user, file)
            .await?
            .map(|f| file_info(&f)),
        None => None,
    };
    let body = serde_json::json!({
        "id": upload.id,
        "length": upload.total_size,
        "offset": upload.received,
        "expires_at": upload.expires_at,
        "file": file,
    });
    let mut response = Json(body).into_response();
    tus_headers(&mut response, &upload);
    Ok(response)
}

/// The caller's upload `id`; if all its bytes are stored but no file was
/// made (a crash between the two), make it now.
async fn finished_if_due(
    state: &AppState,
    user: UserId,
    id: &str,
) -> Result<UploadRecord, Failure> {
    let files = files(state);
    let mut upload = files
        .upload_of(user, id)
        .await?
        .ok_or_else(Failure::not_found)?;
    if upload.file_id.is_none()
        && upload.received == upload.total_size
        && let Some(_claim) = files.claim(id)
    {
        let file = files.complete(&upload).await?;
        upload.file_id = Some(file.id);
    }
    Ok(upload)
}

/// `PATCH /api/uploads/{id}`: append bytes at `Upload-Offset`.
async fn patch(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult {
    require_tus(&headers)?;
    let user = authenticate(&state, &headers).await?;
    if !is_offset_stream(&headers) {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidArgs,
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let offset = header_text(&headers, "upload-offset")
        .ok_or_else(|| Failure::bad_request("Upload-Offset is required"))?;
    let offset = parse_count(offset)
        .ok_or_else(|| Failure::bad_request("Upload-Offset must be a non-negative integer"))?;
    let checksum = checksum_of(&headers)?;
    let upload = files(&state)
        .upload_of(user, &id)
        .await?
        .ok_or_else(Failure::not_found)?;
    let upload = write_detached(&state, upload, offset, body, checksum).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_headers(&mut response, &upload);
    Ok(response)
}

/// `DELETE /api/uploads/{id}`: termination.
async fn terminate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResult {
    require_tus(&headers)?;
    let user = authenticate(&state, &headers).await?;
    files(&state).terminate(user, &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    Ok(response)
}

/// A chunk checksum requested by `Upload-Checksum`.
enum Checksum {
    Sha1(Sha1, Vec<u8>),
    Sha256(Sha256, Vec<u8>),
}

impl Checksum {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Checksum::Sha1(h, _) => h.update(bytes),
            Checksum::Sha256(h, _) => h.update(bytes),
        }
    }

    fn matches(self) -> bool {
        use subtle::ConstantTimeEq;
        match self {
            Checksum::Sha1(h, want) => h.finalize().as_slice().ct_eq(&want).into(),
            Checksum::Sha256(h, want) => h.finalize().as_slice().ct_eq(&want).into(),
        }
    }
}

fn checksum_of(headers: &HeaderMap) -> Result<Option<Checksum>, Failure> {
    let Some(value) = header_text(headers, "upload-checksum") else {
        return Ok(None);
    };
    let (algorithm, digest) = value
        .split_once(' ')
        .ok_or_else(|| Failure::bad_request("Upload-Checksum must be '<algorithm> <base64>'"))?;
    let digest = BASE64
        .decode(digest.trim())
        .map_err(|_| Failure::bad_request("the Upload-Checksum digest is not base64"))?;
    match algorithm {
        "sha1" if digest.len() == 20 => Ok(Some(Checksum::Sha1(Sha1::new(), digest))),
        "sha256" if digest.len() == 32 => Ok(Some(Checksum::Sha256(Sha256::new(), digest))),
        "sha1" | "sha256" => Err(Failure::bad_request(
            "the Upload-Checksum digest has the wrong length",
        )),
        _ => Err(Failure::bad_request(format!(
            "unsupported checksum algorithm; use one of {TUS_CHECKSUMS}"
        ))),
    }
}

/// [`write_chunk`] in a task of its own. When a client's connection drops
/// mid-body, the server stops polling its request's handler; the bytes
/// that did arrive must still be synced and recorded (that is what makes
/// the upload resumable from them), so the write must not be the
/// handler's own future.
async fn write_detached(
    state: &Arc<AppState>,
    upload: UploadRecord,
    offset: u64,
    body: Body,
    checksum: Option<Checksum>,
) -> Result<UploadRecord, Failure> {
    let state = state.clone();
    tokio::spawn(async move { write_chunk(&state, upload, offset, body, checksum).await })
        .await
        .map_err(|e| Failure::from(super::internal(e)))?
}

/// Append `body` to `upload` at `offset` and record it durably; complete
/// the upload when its last byte arrived. The rules, per tus:
/// - one writer at a time per upload (423 to a second);
/// - `offset` must be the durable offset (409 otherwise);
/// - bytes past the declared length refuse the whole chunk (413);
/// - with a checksum, a chunk that does not match, or is cut short, is
///   discarded (460); without one, a chunk cut short keeps what arrived.
async fn write_chunk(
    state: &AppState,
    upload: UploadRecord,
    offset: u64,
    body: Body,
    mut checksum: Option<Checksum>,
) -> Result<UploadRecord, Failure> {
    let files = files(state);
    let Some(_claim) = files.claim(&upload.id) else {
        return Err(Failure::new(
            StatusCode::LOCKED,
            ErrorCode::Overloaded,
            "another request is writing this upload",
        ));
    };
    // Re-read under the claim: another writer may have moved it.
    let mut upload = files
        .upload_of(upload.owner, &upload.id)
        .await?
        .ok_or_else(Failure::not_found)?;
    if upload.file_id.is_some() || i64::try_from(offset).ok() != Some(upload.received) {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidArgs,
            format!(
                "Upload-Offset must be the current offset, {}",
                upload.received
            ),
        ));
    }
    let start = upload.received;
    let path = files.staged(&upload.id);
    let io = |e: std::io::Error| Failure::from(super::internal(e));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .map_err(io)?;
    // Bytes past the durable offset are from a write that was never
    // recorded (a crash, a refused chunk): they are not the upload's.
    file.set_len(u64::try_from(start).unwrap_or(0))
        .await
        .map_err(io)?;
    file.seek(std::io::SeekFrom::Start(u64::try_from(start).unwrap_or(0)))
        .await
        .map_err(io)?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut hasher = files.hash_from(&upload.id, start);
    let room = upload.total_size - start;
    let mut written: i64 = 0;
    let mut cut = false;
    let mut over = false;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(bytes) = chunk else {
            cut = true;
            break;
        };
        let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        if written.saturating_add(len) > room {
            over = true;
            break;
        }
        out.write_all(&bytes).await.map_err(io)?;
        if let Some(h) = hasher.as_mut() {
            h.update(&bytes);
        }
        if let Some(c) = checksum.as_mut() {
            c.update(&bytes);
        }
        written += len;
    }
    out.flush().await.map_err(io)?;
    let file = out.into_inner();
    let refused = if over {
        Some(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidArgs,
            "the chunk goes past Upload-Length; it was discarded",
        ))
    } else if let Some(c) = checksum
        && (cut || !c.matches())
    {
        Some(Failure {
            status: StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
            body: ErrorBody::new(
                ErrorCode::InvalidArgs,
                "the chunk does not match Upload-Checksum; it was discarded",
            ),
        })
    } else {
        None
    };
    if let Some(refused) = refused {
        file.set_len(u64::try_from(start).unwrap_or(0))
            .await
            .map_err(io)?;
        return Err(refused);
    }
    if written > 0 {
        if files.durable() {
            file.sync_data().await.map_err(io)?;
        }
        drop(file);
        if !files
            .advance(&upload.id, start, start + written, hasher)
            .await?
        {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidArgs,
                "the upload moved on meanwhile",
            ));
        }
        upload.received = start + written;
    }
    if upload.received == upload.total_size && upload.file_id.is_none() {
        let done = files.complete(&upload).await?;
        upload.file_id = Some(done.id);
    }
    Ok(upload)
}

fn is_offset_stream(headers: &HeaderMap) -> bool {
    header_text(headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// A decimal byte count: digits only (no sign, no spaces), as tus says.
fn parse_count(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The file name from `Upload-Metadata` (`filename` or `name`), cleaned.
fn upload_name(headers: &HeaderMap) -> Result<String, Failure> {
    let Some(metadata) = header_text(headers, "upload-metadata") else {
        return Ok(super::clean_name(""));
    };
    if metadata.len() > MAX_METADATA_BYTES {
        return Err(Failure::bad_request("Upload-Metadata is too long"));
    }
    let mut name = None;
    for pair in metadata.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        let value = BASE64
            .decode(value)
            .map_err(|_| Failure::bad_request("Upload-Metadata values must be base64"))?;
        if matches!(key, "filename" | "name") {
            let text = String::from_utf8(value)
                .map_err(|_| Failure::bad_request("the file name must be UTF-8"))?;
            name = Some(text);
        }
    }
    Ok(super::clean_name(name.as_deref().unwrap_or_default()))
}

/// Query of a signed download URL, read by hand: a malformed one is only
/// an unsigned request (so it falls to the token check), never a
/// framework error in another shape.
#[derive(Debug, Default)]
pub struct Signed {
    exp: Option<i64>,
    sig: Option<String>,
}

impl Signed {
    fn parse(query: Option<&str>) -> Signed {
        let mut signed = Signed::default();
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("exp", value)) => signed.exp = value.parse().ok(),
                Some(("sig", value)) => signed.sig = Some(value.to_string()),
                _ => {}
            }
        }
        signed
    }
}

/// `GET /api/files/{id}`: the bytes, with Range support.
async fn download(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> HttpResult {
    let signed = Signed::parse(query.as_deref());
    let file = allowed_file(
        &state,
        &id,
        super::download::Variant::Content,
        &signed,
        &headers,
    )
    .await?;
    super::download::serve(files(&state), &file, &method, &headers).await
}

/// `GET /api/files/{id}/thumbnail`: the server-made thumbnail of an image.
async fn thumbnail(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HttpResult {
    let signed = Signed::parse(query.as_deref());
    let file = allowed_file(
        &state,
        &id,
        super::download::Variant::Thumbnail,
        &signed,
        &headers,
    )
    .await?;
    super::download::serve_thumbnail(files(&state), &file, &headers).await
}

/// `DELETE /api/files/{id}`: delete one of the caller's uploaded files.
/// The content goes when nothing else references it.
async fn delete_file(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResult {
    let user = authenticate(&state, &headers).await?;
    files(&state).delete_file(user, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/files/{id}/info`: the file's [`magpie_proto::FileInfo`].
async fn info(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResult {
    let user = authenticate(&state, &headers).await?;
    let file = files(&state)
        .readable_by(user, &id)
        .await?
        .ok_or_else(Failure::not_found)?;
    let mut response = Json(file_info(&file)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The file a download may serve: through a valid signature, or to the
/// bearer of a session allowed to read it. Everything else is the same
/// 404, so a stranger learns nothing about which ids exist.
async fn allowed_file(
    state: &AppState,
    id: &str,
    variant: super::download::Variant,
    signed: &Signed,
    headers: &HeaderMap,
) -> Result<FileRecord, Failure> {
    let files = files(state);
    if let (Some(exp), Some(sig)) = (signed.exp, &signed.sig) {
        if !super::download::signature_valid(files.secret(), id, variant, exp, sig) {
            return Err(Failure::not_found());
        }
        return files.stored(id).await?.ok_or_else(Failure::not_found);
    }
    let user = authenticate(state, headers).await?;
    let found: FileResult<Option<FileRecord>> = files.readable_by(user, id).await;
    found?.ok_or_else(Failure::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_digits_only() {
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("1048576"), Some(1_048_576));
        for bad in ["", "-1", "+1", " 1", "1.0", "0x10", "99999999999999999999"] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn metadata_names_are_decoded_and_cleaned() {
        let mut headers = HeaderMap::new();
        let name = BASE64.encode("../会议纪要.docx");
        headers.insert(
            "upload-metadata",
            HeaderValue::from_str(&format!("filetype dGV4dC9wbGFpbg==,filename {name},flag"))
                .unwrap_or_else(|_| HeaderValue::from_static("")),
        );
        assert_eq!(
            upload_name(&headers).ok(),
            Some("会议纪要.docx".to_string())
        );
        headers.insert("upload-metadata", HeaderValue::from_static("filename !!!"));
        assert!(upload_name(&headers).is_err());
    }
}
