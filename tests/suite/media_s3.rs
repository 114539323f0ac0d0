//! The S3 side of the media store against a real S3-compatible server: moto's server, in a
//! child process on a free loopback port. An upload lands in the bucket under the configured
//! prefix, `/audio/...` redirects to a presigned link that really serves the bytes (whole and
//! by Range), the CSP lets pages play audio from the bucket, and deleting a track, the orphan
//! sweep and a refused upload leave nothing behind.
//!
//! These tests need `python3` with moto's server (`python3 -m pip install 'moto[server]'`).
//! Without it they are skipped with a note, so `cargo test` works on a machine with only Rust;
//! `.ci/run` installs it and sets `RAGTIME_REQUIRE_S3_TEST=1`, and then a missing tool fails
//! the test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::{composition, user};
use sha2::{Digest, Sha256};

const BUCKET: &str = "ragtime-media";
const PREFIX: &str = "some/prefix";

fn mp3() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/audio/tone.mp3"
    ))
    .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// A bare HTTP/1.1 client over TCP, enough to talk to moto and to follow a presigned link.

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`), the URL's path and query sent as
/// they are, so a presigned link's signature still matches.
fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let host = url.host_str().expect("a host").to_owned();
    let port = url.port_or_known_default().expect("a port");
    let mut stream = TcpStream::connect((host.as_str(), port))
        .unwrap_or_else(|e| panic!("connect to {host}:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();

    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body);
    } else if let Some(len) = response
        .header("content-length")
        .and_then(|l| l.parse().ok())
    {
        response.body.truncate(len);
    }
    response
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size_field = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_field.split(';').next().unwrap().trim(), 16)
            .expect("a hex chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The AWS Signature Version 4 of a presigned GET (signed query string, only `host` signed,
/// unsigned payload), computed from the URL's own parameters with `secret`.
fn sigv4_query_signature(url: &url::Url, secret: &str, region: &str) -> String {
    use hmac::{Hmac, Mac};
    fn aws_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (aws_encode(&k), aws_encode(&v)))
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let canonical = format!(
        "GET\n{}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        url.path()
    );
    let amz_date = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Date")
        .expect("X-Amz-Date")
        .1
        .into_owned();
    let day = &amz_date[..8];
    let scope = format!("{day}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = hmac(format!("AWS4{secret}").as_bytes(), day);
    let key = hmac(&key, region);
    let key = hmac(&key, "s3");
    let key = hmac(&key, "aws4_request");
    hex::encode(hmac(&key, &to_sign))
}

// ---------------------------------------------------------------------------------------------
// moto's S3 server, in a child process.

/// The moto server; killed when the test ends, passed or failed.
struct S3Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// moto takes unsigned requests: a bare PUT makes a bucket.
    fn create_bucket(&self, bucket: &str) {
        let res = http("PUT", &format!("{}/{bucket}", self.endpoint()), &[], b"");
        assert_eq!(res.status, 200, "create bucket: {}", res.text());
    }

    /// An object written behind the app's back (as an interrupted upload leaves one).
    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let res = http(
            "PUT",
            &format!("{}/{bucket}/{key}", self.endpoint()),
            &[],
            body,
        );
        assert_eq!(res.status, 200, "put {key}: {}", res.text());
    }

    /// Every key in `bucket` that starts with `prefix`, as S3's ListObjectsV2 gives them.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let prefix: String = form_urlencoded::byte_serialize(prefix.as_bytes()).collect();
        let res = http(
            "GET",
            &format!("{}/{bucket}?list-type=2&prefix={prefix}", self.endpoint()),
            &[],
            b"",
        );
        assert_eq!(res.status, 200, "list: {}", res.text());
        let xml = res.text();
        let mut keys = Vec::new();
        let mut rest = xml.as_str();
        while let Some(start) = rest.find("<Key>") {
            rest = &rest[start + "<Key>".len()..];
            let end = rest.find("</Key>").expect("a closed <Key>");
            keys.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        keys.sort();
        keys
    }
}

/// Whether the S3 tests can run: a missing tool skips them with a note, or fails them when
/// `RAGTIME_REQUIRE_S3_TEST=1` (as CI sets it).
fn s3_tools_present() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let need = "this test needs `python3 -c 'import moto.server'`: install it with \
                    `python3 -m pip install 'moto[server]'`";
        if std::env::var("RAGTIME_REQUIRE_S3_TEST").is_ok_and(|v| v == "1") {
            panic!("{need} (RAGTIME_REQUIRE_S3_TEST=1)");
        }
        eprintln!("skipped: {need}");
        return false;
    }
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start moto's server on 127.0.0.1 and wait until it answers S3 requests.
fn start_s3_server() -> S3Server {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("moto.log");
    let out = std::fs::File::create(&log).unwrap();
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("python3 starts");
    let mut server = S3Server {
        child,
        port,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // ListBuckets: 200 once moto serves S3.
        let ready = TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http("GET", &format!("{}/", server.endpoint()), &[], b"").status == 200;
        if ready {
            return server;
        }
        let exited = server.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            let _ = server.child.kill();
            let _ = server.child.wait();
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            panic!("moto's server did not start ({exited:?}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The app with its media in `BUCKET` under `PREFIX` on `server`.
async fn s3_app(server: &S3Server) -> TestApp {
    server.create_bucket(BUCKET);
    let endpoint = server.endpoint();
    let media_url = format!("s3://{BUCKET}/{PREFIX}");
    TestApp::with_env(&[
        ("RAGTIME_MEDIA_URL", media_url.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ])
    .await
}

fn bearer(app: &TestApp, u: &user::Model) -> String {
    format!("Bearer {}", ragtime::api::auth::issue(&app.state.signer, u))
}

/// `POST /api/v1/compositions/{id}/tracks` with `body` as `content_type`.
async fn upload(
    app: &TestApp,
    token: &str,
    c: &composition::Model,
    content_type: &str,
    body: Vec<u8>,
) -> crate::helpers::TestResponse {
    let mut client = app.client();
    let req = client
        .request(
            Method::POST,
            &format!("/api/v1/compositions/{}/tracks", c.id),
        )
        .header(header::AUTHORIZATION, token)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    client.send(req).await
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upload_to_s3_is_played_through_a_presigned_link_and_goes_with_its_track() {
    if !s3_tools_present() {
        return;
    }
    let server = start_s3_server();
    let app = s3_app(&server).await;
    let ann = app.create_user("ann").await;
    let token = bearer(&app, &ann);
    let c = app.publish(&ann, "Maple Leaf Rag").await;
    let audio = mp3();
    let sha = sha256_hex(&audio);
    let key = format!("{sha}.mp3");
    let object = format!("{PREFIX}/tracks/{key}");

    let res = upload(&app, &token, &c, "audio/mpeg", audio.clone()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let track = res.json();
    assert_eq!(track["sha256"], sha.as_str());
    assert_eq!(track["size_bytes"], audio.len() as i64);
    assert_eq!(track["mime"], "audio/mpeg");
    let audio_url = track["audio_url"].as_str().unwrap();
    assert_eq!(audio_url, format!("http://localhost/audio/{key}"));

    // In the bucket, under the prefix, and nothing else anywhere.
    assert_eq!(server.keys(BUCKET, ""), vec![object.clone()]);
    assert!(app.state.media.store.exists(&key).await.unwrap());

    // The audio is a redirect to a presigned link on the bucket's server, for anyone.
    let mut visitor = app.client();
    let res = visitor.get(&format!("/audio/{key}")).await;
    assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("private, max-age=600"));
    let location = res.header("location").expect("a Location").to_owned();
    assert!(
        location.starts_with(&format!("{}/{BUCKET}/{object}?", server.endpoint())),
        "{location}"
    );
    // moto does not check signatures in a query string, so check it here: signed for the
    // host the browser will send, this region, these keys, an hour.
    let signed = url::Url::parse(&location).unwrap();
    let query: Vec<(String, String)> = signed.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    assert_eq!(param("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(param("X-Amz-Expires"), "3600");
    assert_eq!(param("X-Amz-SignedHeaders"), "host");
    let signed_at = chrono::NaiveDateTime::parse_from_str(param("X-Amz-Date"), "%Y%m%dT%H%M%SZ")
        .expect("X-Amz-Date")
        .and_utc();
    assert!((chrono::Utc::now() - signed_at).num_seconds().abs() < 300);
    assert_eq!(
        param("X-Amz-Credential"),
        format!(
            "testing/{}/us-east-1/s3/aws4_request",
            signed_at.format("%Y%m%d")
        )
    );
    assert_eq!(
        param("X-Amz-Signature"),
        sigv4_query_signature(&signed, "testing", "us-east-1"),
        "{location}"
    );

    // The link really serves the file, whole and by Range, with its type.
    let whole = http("GET", &location, &[], b"");
    assert_eq!(whole.status, 200, "{}", whole.text());
    assert!(whole.body == audio, "the presigned link serves other bytes");
    assert_eq!(whole.header("content-type"), Some("audio/mpeg"));
    // The bucket is asked to answer as /audio does, inline under a safe name with the checked
    // type, by the link's response-header parameters (signed with it: checked above). S3's
    // GetObject applies them; moto ignores them, so the answer's headers are not checked here.
    assert_eq!(
        param("response-content-disposition"),
        "inline; filename=\"Maple Leaf Rag.mp3\"; filename*=UTF-8''Maple%20Leaf%20Rag.mp3"
    );
    assert_eq!(param("response-content-type"), "audio/mpeg");
    let part = http("GET", &location, &[("Range", "bytes=0-99")], b"");
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, audio[..100]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-99/{}", audio.len()).as_str())
    );

    // Pages let the browser play audio from the bucket's origin, and only that one.
    let page = visitor
        .get(&format!(
            "/composition/{}",
            composition::url_slug(c.id, &c.title)
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csp = page
        .header("content-security-policy")
        .expect("a CSP")
        .to_owned();
    let media_src: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| d.starts_with("media-src"))
        .collect();
    assert_eq!(
        media_src,
        vec![format!("media-src 'self' {}", server.endpoint()).as_str()],
        "{csp}"
    );

    // Deleting the track removes its object.
    let mut client = app.client();
    let req = client
        .request(Method::DELETE, &format!("/api/v1/tracks/{}", track["id"]))
        .header(header::AUTHORIZATION, &token)
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(server.keys(BUCKET, ""), Vec::<String>::new());
    assert!(!app.state.media.store.exists(&key).await.unwrap());
    assert_eq!(
        visitor.get(&format!("/audio/{key}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_sweep_removes_from_s3_only_the_objects_under_the_prefix_that_no_track_names() {
    if !s3_tools_present() {
        return;
    }
    let server = start_s3_server();
    let app = s3_app(&server).await;
    let ann = app.create_user("ann").await;
    let token = bearer(&app, &ann);
    let c = app.publish(&ann, "Maple Leaf Rag").await;
    let audio = mp3();
    let kept = format!("{PREFIX}/tracks/{}.mp3", sha256_hex(&audio));
    let res = upload(&app, &token, &c, "audio/mpeg", audio).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    // What an interrupted upload leaves, and objects of someone else in the same bucket.
    let orphan_key = format!("{}.mp3", "0".repeat(64));
    let orphan = format!("{PREFIX}/tracks/{orphan_key}");
    server.put(BUCKET, &orphan, b"half an upload");
    let foreign = format!("elsewhere/tracks/{}.mp3", "1".repeat(64));
    server.put(BUCKET, &foreign, b"not ours");
    assert!(app.state.media.store.exists(&orphan_key).await.unwrap());

    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 1);
    let mut left = vec![foreign, kept];
    left.sort();
    assert_eq!(server.keys(BUCKET, ""), left);
    assert!(!app.state.media.store.exists(&orphan_key).await.unwrap());
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_refused_upload_leaves_the_bucket_empty() {
    if !s3_tools_present() {
        return;
    }
    let server = start_s3_server();
    let app = s3_app(&server).await;
    let ann = app.create_user("ann").await;
    let token = bearer(&app, &ann);
    let c = app.publish(&ann, "Maple Leaf Rag").await;

    let text = "Not a song at all, only words.\n".repeat(200).into_bytes();
    let res = upload(&app, &token, &c, "audio/mpeg", text).await;
    assert_eq!(
        res.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        res.body
    );
    assert_eq!(server.keys(BUCKET, ""), Vec::<String>::new());
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 0);
}
