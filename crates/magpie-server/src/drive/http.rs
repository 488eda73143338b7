//! Share links over HTTP, for anyone with the link and its code, with no
//! account: a server-rendered page for browsers (`/s/{share}`) and a JSON
//! API for programs (`/api/shares/...`). `docs/openapi.yaml` describes the
//! API.
//!
//! Unlocking checks the code once ([`Drive::unlock_share`], limited per
//! link in the database and per client address here) and hands out a key:
//! an HMAC of the share id and an expiry under the server's shared secret,
//! so any node accepts it. The browser keeps it in an HttpOnly cookie; a
//! program sends it as `X-Share-Key` (or `?key=` on a download link).
//! Every request still reads the share's row, so revoking a link, its
//! expiry or deleting its entry ends every key at once. Without a valid
//! key nothing about the content is said: not its name, not its size.

use super::{Drive, SHARE_KEY_TTL_MS, unknown_entry};
use crate::clock::now_ms;
use crate::files::http::Failure;
use crate::files::{FileResult, hex};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use magpie_proto::{
    Crumb, EntryKind, ErrorBody, ErrorCode, ShareKey, ShareUnlock, SharedItem, SharedView,
};
use magpie_store::drive::{EntryRecord, ShareRecord};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The header a program sends its share key in.
const KEY_HEADER: &str = "x-share-key";
/// Default and largest page of a shared folder.
const VIEW_PAGE: u32 = 100;
const VIEW_PAGE_MAX: u32 = 500;

/// The routes of share links.
pub fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/s/{share}", get(page).post(page_unlock))
        .route("/api/shares/{share}", get(view))
        .route("/api/shares/{share}/unlock", post(unlock))
        .route("/api/shares/{share}/files/{entry}", get(download))
}

type HttpResult = Result<Response, Failure>;

fn drive(state: &AppState) -> &Drive {
    &state.drive
}

/// The client's address, as the connection limits see it.
fn client_ip(
    state: &AppState,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    connect_info.and_then(|Extension(ConnectInfo(addr))| {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        state
            .throttle
            .client_ip(addr.ip(), header("x-forwarded-for"), header("x-real-ip"))
    })
}

/// Check a code for share `id`, after the per-address attempt limit.
async fn check_code(
    state: &AppState,
    ip: Option<IpAddr>,
    id: &str,
    code: &str,
) -> FileResult<(ShareRecord, EntryRecord)> {
    if let Some(ip) = ip {
        state.throttle.check_share_code(ip)?;
    }
    drive(state).unlock_share(id, code).await
}

fn key_mac(secret: &[u8], share: &str, exp: i64) -> Hmac<Sha256> {
    let exp = exp.to_string();
    crate::files::keyed_mac(
        secret,
        "magpie-share-key",
        &[share.as_bytes(), exp.as_bytes()],
    )
}

/// A key for share `share`, valid until `exp`.
fn make_key(secret: &[u8], share: &str, exp: i64) -> String {
    format!(
        "{exp}.{}",
        hex(&key_mac(secret, share, exp).finalize().into_bytes())
    )
}

/// Whether `key` is a live key for `share` (constant-time check).
fn key_valid(secret: &[u8], share: &str, key: &str) -> bool {
    let Some((exp, sig)) = key.split_once('.') else {
        return false;
    };
    let (Ok(exp), Some(sig)) = (exp.parse::<i64>(), crate::files::unhex(sig)) else {
        return false;
    };
    exp > now_ms() && key_mac(secret, share, exp).verify_slice(&sig).is_ok()
}

/// The cookie a browser keeps share `share`'s key in.
fn cookie_name(share: &str) -> String {
    format!("magpie_share_{share}")
}

/// The key a request carries: the header, `?key=`, or the cookie.
fn presented_key(headers: &HeaderMap, query: &Query, share: &str) -> Option<String> {
    if let Some(key) = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_string());
    }
    if let Some(key) = &query.key {
        return Some(key.clone());
    }
    let name = cookie_name(share);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The share a request may see: open, and unlocked by its key.
async fn unlocked(
    state: &AppState,
    share: &str,
    headers: &HeaderMap,
    query: &Query,
) -> FileResult<(ShareRecord, EntryRecord)> {
    let (record, root) = drive(state).open_share(share).await?;
    match presented_key(headers, query, share) {
        Some(key) if key_valid(state.files.secret(), share, &key) => Ok((record, root)),
        _ => Err(ErrorBody::new(
            ErrorCode::WrongCode,
            "unlock the link with its extraction code first",
        )),
    }
}

/// The query parameters of the share routes, read by hand so that a
/// malformed one is an error in the protocol's shape.
#[derive(Debug, Default)]
struct Query {
    folder: Option<String>,
    offset: Option<u32>,
    limit: Option<u32>,
    key: Option<String>,
    /// A code carried in the link itself (`/s/{id}?pwd=abcd`), as links
    /// shared with their code commonly are.
    pwd: Option<String>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, Failure> {
        let mut query = Query::default();
        for (name, value) in form_pairs(raw.unwrap_or_default()) {
            let number = |v: &str| {
                v.parse::<u32>().map_err(|_| {
                    Failure::from(crate::error::invalid_args(format!(
                        "{name} must be a number"
                    )))
                })
            };
            match name.as_str() {
                "folder" | "f" => query.folder = Some(value),
                "offset" => query.offset = Some(number(&value)?),
                "limit" => query.limit = Some(number(&value)?),
                "key" => query.key = Some(value),
                "pwd" | "code" => query.pwd = Some(value),
                _ => {}
            }
        }
        Ok(query)
    }
}

/// `application/x-www-form-urlencoded` pairs (query strings and form
/// bodies), decoded; undecodable pairs are skipped.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .ok()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fn shared_item(entry: &EntryRecord) -> SharedItem {
    SharedItem {
        id: entry.id.clone(),
        kind: if entry.is_folder() {
            EntryKind::Folder
        } else {
            EntryKind::File
        },
        name: entry.name.clone(),
        size: u64::try_from(entry.size).unwrap_or(0),
        mime: entry.file.as_ref().map(|f| f.blob.mime.clone()),
        updated_at: entry.updated_at,
    }
}

/// The shared view of `query.folder` (the shared entry by default).
async fn shared_view(
    state: &AppState,
    share: &ShareRecord,
    root: &EntryRecord,
    query: &Query,
) -> FileResult<SharedView> {
    let drive = drive(state);
    let limit = crate::page::clamp_limit(query.limit, VIEW_PAGE, VIEW_PAGE_MAX)?;
    let offset = query.offset.unwrap_or(0);
    let folder = match query.folder.as_deref() {
        Some(id) if id != root.id => drive.shared_entry(share, id).await?,
        _ => root.clone(),
    };
    let (path, entries, next) = if folder.is_folder() {
        let rows = drive
            .shared_children(share, &folder.id, offset, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        let entries: Vec<SharedItem> = rows.iter().take(limit as usize).map(shared_item).collect();
        let next = more.then(|| offset.saturating_add(limit));
        (drive.shared_path(share, &folder.id).await?, entries, next)
    } else {
        (Vec::new(), Vec::new(), None)
    };
    let sharer = sharer_name(state, share).await;
    Ok(SharedView {
        root: shared_item(root),
        sharer,
        expires_at: share.expires_at,
        path,
        entries,
        next,
    })
}

/// How the sharer is shown: their nickname, else their user name.
async fn sharer_name(state: &AppState, share: &ShareRecord) -> String {
    match state.store.profile(share.owner).await {
        Ok(Some(profile)) if !profile.nickname.is_empty() => profile.nickname,
        Ok(Some(profile)) => profile.user,
        _ => String::new(),
    }
}

/// `POST /api/shares/{share}/unlock`: check the code, hand out a key.
async fn unlock(
    State(state): State<Arc<AppState>>,
    Path(share): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult {
    let ask: ShareUnlock = crate::files::http::json_body(&body)?;
    let ip = client_ip(&state, connect_info, &headers);
    check_code(&state, ip, &share, &ask.code).await?;
    let expires_at = now_ms().saturating_add(SHARE_KEY_TTL_MS);
    let key = make_key(state.files.secret(), &share, expires_at);
    Ok(no_store(
        axum::Json(ShareKey { key, expires_at }).into_response(),
    ))
}

/// `GET /api/shares/{share}`: the shared entry and a page of a folder.
async fn view(
    State(state): State<Arc<AppState>>,
    Path(share): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> HttpResult {
    let query = Query::parse(raw.as_deref())?;
    let (record, root) = unlocked(&state, &share, &headers, &query).await?;
    let view = shared_view(&state, &record, &root, &query).await?;
    Ok(no_store(axum::Json(view).into_response()))
}

/// `GET /api/shares/{share}/files/{entry}`: a shared file's bytes, with
/// Range. An answer with content from the first byte (the whole file, or
/// a range from 0, as the server parses it) counts as one download; a
/// resumption (a range from later) and a 304 do not. So the limit counts
/// downloads started: a client that never reads the first byte is not
/// counted, and never gets a whole file either.
async fn download(
    State(state): State<Arc<AppState>>,
    Path((share, entry)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> HttpResult {
    let query = Query::parse(raw.as_deref())?;
    let (record, _) = unlocked(&state, &share, &headers, &query).await?;
    let drive = drive(&state);
    let found = drive.shared_entry(&record, &entry).await?;
    let file = found.file.ok_or_else(unknown_entry)?;
    let starts = crate::files::download::answer(&file, &headers).starts_a_download();
    if method == Method::GET && starts && !drive.count_download(&record).await? {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            ErrorCode::LimitReached,
            "this link has no downloads left",
        ));
    }
    crate::files::download::serve(&state.files, &file, &method, &headers).await
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---------------------------------------------------------------------------
// The page for browsers
// ---------------------------------------------------------------------------

/// `GET /s/{share}`: the code form, or with a valid key (cookie) the
/// shared file or folder with download links. A `?pwd=` in the link is
/// tried as the code.
async fn page(
    State(state): State<Arc<AppState>>,
    Path(share): Path<String>,
    RawQuery(raw): RawQuery,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let Ok(query) = Query::parse(raw.as_deref()) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Bad link",
            "<p>This link is malformed.</p>",
        );
    };
    if let Ok((record, root)) = unlocked(&state, &share, &headers, &query).await {
        return match shared_view(&state, &record, &root, &query).await {
            Ok(view) => listing_page(&share, &view),
            Err(e) => error_page(&e),
        };
    }
    if let Some(code) = query.pwd.clone() {
        let ip = client_ip(&state, connect_info, &headers);
        return unlock_and_redirect(&state, ip, &share, &code).await;
    }
    match drive(&state).open_share(&share).await {
        Ok(_) => code_form(&share, None, StatusCode::OK),
        Err(e) => error_page(&e),
    }
}

/// `POST /s/{share}` (the form): check the code, keep the key in a
/// cookie, and go back to the page.
async fn page_unlock(
    State(state): State<Arc<AppState>>,
    Path(share): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let code = std::str::from_utf8(&body)
        .ok()
        .filter(|_| body.len() <= 1024)
        .map(form_pairs)
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v))
        .unwrap_or_default();
    let ip = client_ip(&state, connect_info, &headers);
    unlock_and_redirect(&state, ip, &share, &code).await
}

async fn unlock_and_redirect(
    state: &AppState,
    ip: Option<IpAddr>,
    share: &str,
    code: &str,
) -> Response {
    match check_code(state, ip, share, code).await {
        Ok(_) => {
            let exp = now_ms().saturating_add(SHARE_KEY_TTL_MS);
            let key = make_key(state.files.secret(), share, exp);
            let cookie = format!(
                "{}={key}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
                cookie_name(share),
                SHARE_KEY_TTL_MS / 1000
            );
            let mut response = StatusCode::SEE_OTHER.into_response();
            let out = response.headers_mut();
            if let (Ok(location), Ok(cookie)) = (
                HeaderValue::from_str(&format!("/s/{share}")),
                HeaderValue::from_str(&cookie),
            ) {
                out.insert(header::LOCATION, location);
                out.insert(header::SET_COOKIE, cookie);
            }
            out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) if e.code == ErrorCode::WrongCode => code_form(
            share,
            Some("The extraction code is wrong."),
            StatusCode::FORBIDDEN,
        ),
        Err(e) if e.code == ErrorCode::RateLimited => code_form(
            share,
            Some("Too many attempts. Try again later."),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => error_page(&e),
    }
}

/// Text made safe to place in HTML (element content and quoted
/// attributes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A size as people read it.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The page's only style, allowed by its hash in the CSP (no inline
/// script at all, and no other source).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{width:100%;border-collapse:collapse}td{padding:.4rem;border-bottom:1px solid #ddd;overflow-wrap:anywhere}\
td.size{text-align:right;white-space:nowrap}.err{color:#b00}input,button{font-size:1rem;padding:.3rem .6rem}\
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}a{color:#8af}td{border-color:#333}}";

fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · Magpie</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let out = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
        out.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn code_form(share: &str, error: Option<&str>, status: StatusCode) -> Response {
    let error = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Shared with you</h1><p>Enter the extraction code to see what is shared.</p>{error}\
         <form method=\"post\" action=\"/s/{share}\">\
         <label for=\"code\">Extraction code</label> \
         <input id=\"code\" name=\"code\" autocomplete=\"off\" autofocus required maxlength=\"16\"> \
         <button type=\"submit\">Open</button></form>",
        share = escape(share)
    );
    html_page(status, "Shared with you", &body)
}

fn error_page(e: &ErrorBody) -> Response {
    let status = Failure::from(e.clone()).status();
    html_page(
        status,
        "Link unavailable",
        &format!("<h1>Link unavailable</h1><p>{}</p>", escape(&e.message)),
    )
}

fn listing_page(share: &str, view: &SharedView) -> Response {
    let share = escape(share);
    let link = |item: &SharedItem| match item.kind {
        EntryKind::Folder => format!("/s/{share}?f={}", escape(&item.id)),
        EntryKind::File => format!("/api/shares/{share}/files/{}", escape(&item.id)),
    };
    let mut body = format!(
        "<h1>{}</h1><p>Shared by {}{}</p>",
        escape(&view.root.name),
        escape(&view.sharer),
        view.expires_at
            .map(|_| " · this link expires".to_string())
            .unwrap_or_default()
    );
    if view.root.kind == EntryKind::File {
        body.push_str(&format!(
            "<p>{} · <a href=\"{}\" download>Download</a></p>",
            human_size(view.root.size),
            link(&view.root)
        ));
    } else {
        let crumbs: Vec<String> = view
            .path
            .iter()
            .map(|Crumb { id, name }| {
                format!(
                    "<a href=\"/s/{share}?f={}\">{}</a>",
                    escape(id),
                    escape(name)
                )
            })
            .collect();
        body.push_str(&format!(
            "<nav aria-label=\"path\">{}</nav><table>",
            crumbs.join(" / ")
        ));
        for item in &view.entries {
            let size = match item.kind {
                EntryKind::Folder => String::new(),
                EntryKind::File => human_size(item.size),
            };
            let mark = match item.kind {
                EntryKind::Folder => "📁 ",
                EntryKind::File => "",
            };
            body.push_str(&format!(
                "<tr><td>{mark}<a href=\"{}\">{}</a></td><td class=\"size\">{size}</td></tr>",
                link(item),
                escape(&item.name)
            ));
        }
        body.push_str("</table>");
        if let (Some(next), Some(folder)) = (view.next, view.path.last()) {
            body.push_str(&format!(
                "<p><a href=\"/s/{share}?f={}&amp;offset={next}\">More</a></p>",
                escape(&folder.id)
            ));
        }
    }
    body.push_str(
        "<p><small>Signed in to Magpie? Save it to your drive: \
         <code>magpie client drive save LINK CODE</code></small></p>",
    );
    html_page(StatusCode::OK, &view.root.name, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bound_to_their_share_and_expire() {
        let secret = [7u8; 32];
        let share = "ab".repeat(16);
        let key = make_key(&secret, &share, now_ms() + 60_000);
        assert!(key_valid(&secret, &share, &key));
        assert!(!key_valid(&secret, &"cd".repeat(16), &key));
        assert!(!key_valid(&[8u8; 32], &share, &key));
        let old = make_key(&secret, &share, now_ms() - 1);
        assert!(!key_valid(&secret, &share, &old));
        for bad in ["", "1", "x.y", "99999999999999.zz"] {
            assert!(!key_valid(&secret, &share, bad), "{bad:?}");
        }
    }

    #[test]
    fn html_escapes_everything_that_could_open_markup() {
        assert_eq!(
            escape("<img src=x onerror=\"alert('1')\">&"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn form_pairs_decode_plus_and_percent() {
        assert_eq!(
            form_pairs("code=ab+c%21&x"),
            vec![("code".into(), "ab c!".into()), ("x".into(), String::new())]
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0 GB");
    }
}
