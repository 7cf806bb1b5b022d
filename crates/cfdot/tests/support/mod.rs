//! A tiny recording HTTP server for the CLI tests: answers each request
//! with the next canned response and records what it was sent.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Canned {
    pub content_type: &'static str,
    pub status: u16,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn proto(body: Vec<u8>) -> Self {
        Canned {
            content_type: "application/x-protobuf",
            status: 200,
            body,
        }
    }
}

pub struct Server {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

/// Serves `responses` in order (the last one repeats) on 127.0.0.1:0.
pub fn serve(responses: Vec<Canned>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let rec = requests.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap();
                    }
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            rec.lock().unwrap().push(Recorded {
                method,
                path,
                headers,
                body,
            });
            let resp = responses[n.min(responses.len() - 1)].clone();
            n += 1;
            let head = format!(
                "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                resp.status,
                resp.content_type,
                resp.body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&resp.body);
            let _ = conn.flush();
        }
    });
    Server { url, requests }
}

/// Runs our cfdot binary with a clean connection environment.
pub fn cfdot(args: &[String]) -> Output {
    cfdot_env(args, &[])
}

pub fn cfdot_env(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfdot"));
    cmd.args(args);
    for k in [
        "BBS_URL",
        "CA_CERT_FILE",
        "CLIENT_CERT_FILE",
        "CLIENT_KEY_FILE",
        "SKIP_CERT_VERIFY",
        "CFDOT_TIMEOUT",
        "LOCKET_API_LOCATION",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The conformance corpus, or None (the test recorded as skipped) when absent.
pub fn corpus() -> Option<PathBuf> {
    testkit::conformance::corpus_dir()
}

pub fn entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// An entry's cfdot arguments with `@spec.json` pointing into the entry.
pub fn entry_args(entry: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(entry.join("cfdot-args.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            if let Some(f) = l.strip_prefix('@') {
                format!("@{}", entry.join(f).display())
            } else {
                l.to_string()
            }
        })
        .collect()
}
