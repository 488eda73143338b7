//! The web client as a browser gets it, from a real server over real HTTP:
//! the pages at `/` and `/admin` with their Content-Security-Policy and no
//! inline script or style, every asset they load with its type and
//! caching, brotli and gzip that decompress to the same bytes, ETags and
//! 304s, nothing served outside the embedded set, and the other HTTP
//! routes unchanged beside it.

mod common;

use common::{TestServer, Transport, http_get, unique, user};
use magpie_server::web::{CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use std::io::Read;

fn base(server: &TestServer) -> String {
    format!("http://{}", server.running().http_addr())
}

/// A client that neither follows redirects nor decompresses by itself
/// (reqwest's compression features are off), so the bytes are the server's.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("header is text")
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut request = http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    Got {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// The absolute paths a page links to (`src="/..."`, `href="/..."`).
fn linked_paths(html: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            let value = part.split('"').next().unwrap_or_default();
            assert!(
                value.starts_with('/') && !value.starts_with("//"),
                "a link to elsewhere: {value}"
            );
            paths.push(value.to_string());
        }
    }
    paths.sort();
    paths
}

/// The chunks a script imports (`"./chunk-X.js"`), as absolute paths.
fn imported_chunks(js: &str) -> Vec<String> {
    js.split("\"./")
        .skip(1)
        .filter_map(|part| part.split('"').next())
        .filter(|name| {
            name.ends_with(".js")
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(|name| format!("/assets/{name}"))
        .collect()
}

fn expected_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        other => panic!("an asset of an unexpected type: {path} ({other:?})"),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

fn assert_security_headers(got: &Got, what: &str) {
    assert_eq!(got.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(got.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(
        got.header("cross-origin-opener-policy"),
        "same-origin",
        "{what}"
    );
}

/// A page's checks: type, policy headers, revalidation, and markup that
/// needs no inline script or style. Returns the HTML.
fn assert_page(got: &Got, what: &str) -> String {
    assert_eq!(got.status, StatusCode::OK, "{what}");
    assert_eq!(
        got.header("content-type"),
        "text/html; charset=utf-8",
        "{what}"
    );
    assert_security_headers(got, what);
    let csp = got.header("content-security-policy");
    assert_eq!(csp, CONTENT_SECURITY_POLICY, "{what}");
    assert!(csp.contains("script-src 'self';"), "{what}: {csp}");
    assert!(csp.contains("style-src 'self';"), "{what}: {csp}");
    assert!(csp.starts_with("default-src 'none';"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-"), "{what}: {csp}");
    assert_eq!(
        got.header("permissions-policy"),
        PERMISSIONS_POLICY,
        "{what}"
    );
    assert_eq!(got.header("cache-control"), "no-cache", "{what}");
    let etag = got.header("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{what}: {etag}"
    );

    let html = String::from_utf8(got.body.clone()).expect("utf-8 html");
    assert!(html.starts_with("<!doctype html>"), "{what}");
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<style"), "{what} has a <style> element");
    assert!(!lower.contains("style="), "{what} has a style attribute");
    assert!(
        !lower.contains("javascript:"),
        "{what} has a javascript: URL"
    );
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        assert!(
            !tag.split_whitespace()
                .any(|a| a.starts_with("on") && a.contains('=')),
            "{what}: an event handler attribute in <{tag}>"
        );
    }
    // Every script is an empty element loading a file of this origin.
    let scripts: Vec<&str> = lower.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{what} loads no script");
    for script in scripts {
        let (attributes, rest) = script.split_once('>').expect("a whole tag");
        assert!(
            attributes.contains(" src=\"/"),
            "{what}: inline <script{attributes}>"
        );
        assert!(
            attributes.contains("type=\"module\""),
            "{what}: <script{attributes}>"
        );
        assert!(
            rest.starts_with("</script>"),
            "{what}: a script with a body"
        );
    }
    assert!(
        lower.contains("<link rel=\"stylesheet\" href=\"/assets/"),
        "{what} links no stylesheet"
    );
    html
}

#[tokio::test]
async fn the_pages_load_only_their_own_files_under_a_strict_policy() {
    let server = TestServer::start().await;
    let base = base(&server);

    let index = get(&format!("{base}/"), &[]).await;
    let index_html = assert_page(&index, "/");
    assert!(index_html.contains("<title>Magpie</title>"), "{index_html}");
    let admin = get(&format!("{base}/admin"), &[]).await;
    let admin_html = assert_page(&admin, "/admin");
    assert!(admin_html.contains("admin"), "{admin_html}");
    assert_ne!(index.body, admin.body);
    let admin_slash = get(&format!("{base}/admin/"), &[]).await;
    assert_page(&admin_slash, "/admin/");
    assert_eq!(admin_slash.body, admin.body);

    // Every file the pages link to, and every chunk their scripts import.
    let mut paths = linked_paths(&index_html);
    paths.extend(linked_paths(&admin_html));
    let mut i = 0;
    while i < paths.len() {
        let path = paths[i].clone();
        i += 1;
        assert!(path.starts_with("/assets/"), "{path}");
        let got = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.header("content-type"), expected_type(&path), "{path}");
        assert_eq!(
            got.header("cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        assert_security_headers(&got, &path);
        assert!(got.headers.get("content-encoding").is_none(), "{path}");
        assert!(!got.body.is_empty(), "{path}");
        if path.ends_with(".js") {
            let js = String::from_utf8(got.body).expect("utf-8 js");
            for chunk in imported_chunks(&js) {
                if !paths.contains(&chunk) {
                    paths.push(chunk);
                }
            }
        }
    }
    assert!(paths.iter().any(|p| p.ends_with(".js")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with(".css")), "{paths:?}");

    // HEAD: the headers of a GET, no body.
    let head = http().head(format!("{base}/")).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        index.body.len().to_string().as_str()
    );
    assert_eq!(
        head.headers()[header::CONTENT_SECURITY_POLICY],
        CONTENT_SECURITY_POLICY
    );
    assert!(head.bytes().await.expect("body").is_empty());
    let head = http()
        .head(format!("{base}{}", paths[0]))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), StatusCode::OK);

    // Other methods are not served.
    let post = http().post(format!("{base}/")).send().await.expect("post");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn brotli_and_gzip_decompress_to_the_same_bytes_and_etags_revalidate() {
    let server = TestServer::start().await;
    let base = base(&server);
    let index = get(&format!("{base}/"), &[]).await;
    let html = String::from_utf8(index.body.clone()).expect("utf-8");
    let mut paths = vec!["/".to_string(), "/admin".to_string()];
    paths.extend(linked_paths(&html));

    let mut compressed = 0;
    for path in &paths {
        let url = format!("{base}{path}");
        let plain = get(&url, &[]).await;
        assert_eq!(plain.status, StatusCode::OK, "{path}");
        let mut etags = vec![plain.header("etag").to_string()];
        for (accept, coding) in [
            ("gzip, deflate, br, zstd", "br"),
            ("br", "br"),
            ("gzip", "gzip"),
            ("br;q=0.5, gzip", "gzip"),
        ] {
            let got = get(&url, &[("accept-encoding", accept)]).await;
            assert_eq!(got.status, StatusCode::OK, "{path} {accept}");
            assert_eq!(got.header("content-type"), plain.header("content-type"));
            let is_image = path.ends_with(".png") || path.ends_with(".woff2");
            if is_image {
                assert!(got.headers.get("vary").is_none(), "{path}");
            } else {
                assert_eq!(got.header("vary"), "accept-encoding", "{path}");
            }
            match got.headers.get("content-encoding") {
                Some(value) => {
                    assert_eq!(value, coding, "{path} {accept}");
                    let decoded = if coding == "br" {
                        unbrotli(&got.body)
                    } else {
                        gunzip(&got.body)
                    };
                    assert_eq!(decoded, plain.body, "{path} {accept}");
                    assert!(got.body.len() < plain.body.len(), "{path} {accept}");
                    assert_eq!(
                        got.header("content-length"),
                        got.body.len().to_string(),
                        "{path} {accept}"
                    );
                    compressed += 1;
                    // Each coding is its own representation, with its own ETag.
                    let etag = got.header("etag").to_string();
                    assert_ne!(etag, etags[0], "{path} {accept}");
                    etags.push(etag);
                }
                // Too small to gain from compression, or an image.
                None => assert_eq!(got.body, plain.body, "{path} {accept}"),
            }
        }

        // Any of the ETags revalidates, whatever is accepted now.
        for etag in &etags {
            for accept in ["br", "gzip", "identity"] {
                let got = get(
                    &url,
                    &[("if-none-match", etag), ("accept-encoding", accept)],
                )
                .await;
                assert_eq!(
                    got.status,
                    StatusCode::NOT_MODIFIED,
                    "{path} {etag} {accept}"
                );
                assert!(got.body.is_empty(), "{path}");
                assert!(got.headers.get("etag").is_some(), "{path}");
                assert_eq!(got.header("cache-control"), plain.header("cache-control"));
            }
        }
        let got = get(&url, &[("if-none-match", "W/\"something-else\"")]).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.body, plain.body, "{path}");
    }
    // The pages and the main script at least are worth compressing.
    assert!(
        compressed >= 3 * 4,
        "only {compressed} compressed responses"
    );

    // Many clients at once, the first time: every one gets whole bytes.
    let fresh = TestServer::start().await;
    let url = format!("http://{}/admin", fresh.running().http_addr());
    let plain = get(&url, &[]).await.body;
    let answers =
        futures::future::join_all((0..8).map(|_| get(&url, &[("accept-encoding", "br")]))).await;
    for got in answers {
        assert_eq!(unbrotli(&got.body), plain);
    }
}

#[tokio::test]
async fn only_embedded_files_are_served() {
    let server = TestServer::start().await;
    let addr = server.running().http_addr();
    let base = base(&server);
    let index = get(&format!("{base}/"), &[]).await;
    let html = String::from_utf8(index.body).expect("utf-8");
    let script = linked_paths(&html)
        .into_iter()
        .find(|p| p.ends_with(".js"))
        .expect("a script");
    let script_name = script.trim_start_matches("/assets/");

    // Hand-written request lines: an HTTP client would normalise these.
    let refused = [
        "/assets/nope.js".to_string(),
        "/assets/".to_string(),
        "/assets/index.html".to_string(),
        "/assets/../index.html".to_string(),
        "/assets/..%2Findex.html".to_string(),
        "/assets/%2e%2e%2findex.html".to_string(),
        "/assets/%2E%2E/index.html".to_string(),
        "/assets/..%5Cindex.html".to_string(),
        "/assets/%2Fetc%2Fpasswd".to_string(),
        "/assets//etc/passwd".to_string(),
        "/assets/..%2F..%2F..%2Fetc%2Fpasswd".to_string(),
        "/assets/.".to_string(),
        "/assets/%2e".to_string(),
        format!("/assets/{script_name}/"),
        format!("/assets/x/../{script_name}"),
        format!("/assets/.%2F{script_name}"),
        format!("/assets/{}", script_name.to_ascii_uppercase()),
        "/index.html".to_string(),
        "/admin.html".to_string(),
        "/admin/index.html".to_string(),
        "/admin/assets/x.js".to_string(),
        "/dist/index.html".to_string(),
        "/Cargo.toml".to_string(),
        "/../Cargo.toml".to_string(),
        "/%2e%2e/Cargo.toml".to_string(),
    ];
    for path in &refused {
        let (status, _) = http_get(addr, path, None).await;
        assert!(
            status == 404 || status == 400,
            "{path} answered {status}, not 404"
        );
    }
    // The same name, spelt plainly, is there.
    assert_eq!(http_get(addr, &script, None).await.0, 200);
    // Percent-encoded as a whole name (no slash in it) it is still that name.
    let encoded: String = script_name.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(
        http_get(addr, &format!("/assets/{encoded}"), None).await.0,
        200
    );
}

#[tokio::test]
async fn the_other_routes_work_beside_the_web_client() {
    let server = TestServer::start().await;
    let addr = server.running().http_addr();
    let base = base(&server);

    let (status, body) = http_get(addr, "/healthz", None).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(http_get(addr, "/metrics", None).await.0, 200);
    // The file API still answers as itself (no token: unauthorised).
    let files = http()
        .get(format!("{base}/api/files/nope"))
        .send()
        .await
        .expect("files");
    assert_eq!(files.status(), StatusCode::UNAUTHORIZED);
    // A share page still comes from the share routes, with their own policy.
    let share = get(&format!("{base}/s/nope"), &[]).await;
    assert_eq!(share.status, StatusCode::NOT_FOUND);
    assert!(share.header("content-type").starts_with("text/html"));
    assert_ne!(
        share.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    // Nothing else is caught by the web client's routes.
    assert_eq!(http_get(addr, "/nothing-here", None).await.0, 404);

    // The WebSocket endpoint: a whole session over /ws.
    let name = unique("web");
    let (client, auth) = user(&server.url(Transport::Ws), &name).await;
    assert_eq!(auth.user, name);
    drop(client);
}
