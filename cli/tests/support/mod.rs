//! Test support for `avatarium serve`: the built binary started as a child process on
//! 127.0.0.1, an origin server for imports (conformance/files/*, a route that never
//! answers, 404 otherwise), and a Gigya request signer written from SPEC.md's description
//! (it shares no code with the server's).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("conformance/files").join(name)).expect("fixture")
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

// ---- the origin photos are imported from ----

/// Serves conformance/files/* at `/<name>`, `/hang` accepts and never answers, anything
/// else is 404.
pub async fn origin() -> SocketAddr {
    async fn file(
        axum::extract::Path(name): axum::extract::Path<String>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let dir = repo_root().join("conformance/files");
        let known = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy() == name);
        if !known {
            return axum::http::StatusCode::NOT_FOUND.into_response();
        }
        (
            [("content-type", "application/octet-stream")],
            std::fs::read(dir.join(&name)).unwrap(),
        )
            .into_response()
    }
    let app = Router::new()
        .route("/hang", get(std::future::pending::<&'static str>))
        .route("/{name}", get(file));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// ---- the server under test ----

/// A site of a test configuration.
pub struct SiteConf {
    pub api_key: String,
    pub secret: String,
    /// Extra TOML lines in the site's table (`rate_limit_per_minute = 3`, core keys).
    pub extra: String,
    /// `(user_key, secret)` pairs.
    pub user_keys: Vec<(String, String)>,
}

impl SiteConf {
    pub fn new(api_key: &str, secret: &[u8]) -> Self {
        SiteConf {
            api_key: api_key.into(),
            secret: b64(secret),
            extra: String::new(),
            user_keys: Vec::new(),
        }
    }

    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    pub fn user_key(mut self, user_key: &str, secret: &[u8]) -> Self {
        self.user_keys.push((user_key.into(), b64(secret)));
        self
    }
}

/// `avatarium serve` as a child process; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts the server with `top` (top-level TOML), the sites, and extra arguments.
    pub fn start(top: &str, sites: &[SiteConf], args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = format!("data_dir = {:?}\n{top}\n", dir.path().join("data"));
        for s in sites {
            toml.push_str(&format!(
                "\n[[sites]]\napi_key = {:?}\nsecret = {:?}\n{}",
                s.api_key, s.secret, s.extra
            ));
            for (k, v) in &s.user_keys {
                toml.push_str(&format!(
                    "[[sites.user_keys]]\nuser_key = {k:?}\nsecret = {v:?}\n"
                ));
            }
        }
        let config = dir.path().join("avatarium.toml");
        std::fs::write(&config, toml).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_avatarium"));
        // Only this test's configuration: no AVATARIUM_* overrides from the environment.
        for (name, _) in std::env::vars() {
            if name.starts_with("AVATARIUM_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("AVATARIUM_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("server.log")).unwrap(),
            ))
            .spawn()
            .expect("start avatarium serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("server did not start: {line:?}\n{log}")
            })
            .to_string();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Server {
            child: Some(child),
            base,
            dir,
            client,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// CPU seconds (user + system) the server process has used so far, from
    /// `/proc/<pid>/stat` (fields 14 and 15, in clock ticks of 1/100 s on Linux).
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name (field 2) may hold spaces: count from the closing parenthesis.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The server's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A site's data folder (`<data_dir>/sites/<name>`).
    pub fn site_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("data/sites").join(name)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        // The shell's built-in kill: no procps needed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..200 {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().ok();
        panic!("the server did not stop after SIGTERM");
    }

    /// A GET with the parameters in the query string.
    pub async fn get(&self, method: &str, params: &[(&str, &str)]) -> Reply {
        let url = format!("{}/{method}?{}", self.base, form(params));
        Reply::from(self.client.get(url).send().await.unwrap()).await
    }

    /// A POST with a form body.
    pub async fn post(&self, method: &str, params: &[(&str, &str)]) -> Reply {
        let r = self
            .client
            .post(format!("{}/{method}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(params))
            .send()
            .await
            .unwrap();
        Reply::from(r).await
    }

    /// A signed request (`timestamp`, `nonce`, `sig` added), over GET or POST.
    pub async fn signed(
        &self,
        http_method: &str,
        method: &str,
        params: &[(&str, &str)],
        secret_b64: &str,
    ) -> Reply {
        let ts = now().to_string();
        let nonce = new_nonce();
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("timestamp", &ts));
        all.push(("nonce", &nonce));
        let url = format!("{}/{method}", self.base);
        let sig = sign(http_method, &url, &all, secret_b64);
        all.push(("sig", &sig));
        if http_method == "GET" {
            self.get(method, &all).await
        } else {
            self.post(method, &all).await
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// `application/x-www-form-urlencoded`.
pub fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// An HTTP answer: status, headers, body and (when it is one) the JSON envelope.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub json: Value,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Reply {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    pub fn code(&self) -> i64 {
        self.json["errorCode"].as_i64().unwrap_or(-1)
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

// ---- Gigya's signature, from SPEC.md ----

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn new_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos}-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// Percent-encoding of RFC 3986: letters, digits and `-._~` stay, every other byte of the
/// UTF-8 text becomes `%XX` (upper case), so a space is `%20`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `scheme://lower-case-host[:port if not default]/path` of an absolute URL.
pub fn normalise(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.to_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default).unwrap_or(&authority);
    format!("{scheme}://{authority}{path}")
}

/// `base64(HMAC-SHA1(base64decode(secret), METHOD & enc(url) & enc(sorted params)))`.
pub fn sign(http_method: &str, url: &str, params: &[(&str, &str)], secret_b64: &str) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .copied()
        .filter(|(k, _)| *k != "sig")
        .collect();
    sorted.sort();
    let query: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect();
    let base = format!(
        "{http_method}&{}&{}",
        url_encode(&normalise(url)),
        url_encode(&query.join("&"))
    );
    let key = STANDARD.decode(secret_b64).unwrap();
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(base.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The fields every envelope carries (conformance/README.md).
pub fn check_envelope(r: &Value, ctx: &str) {
    let call_id = r["callId"].as_str().unwrap_or("");
    assert!(
        call_id.len() == 32 && call_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{ctx}: callId {call_id:?} in {r}"
    );
    let time = r["time"].as_str().unwrap_or("");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "{ctx}: time {time:?}"
    );
    assert_eq!(r["apiVersion"], 2, "{ctx}");
    if r["errorCode"] != 0 {
        assert!(
            r["errorMessage"].is_string() && r["errorDetails"].is_string(),
            "{ctx}: {r}"
        );
    }
}
