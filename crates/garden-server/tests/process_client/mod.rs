//! A Go-free client of Garden's run and attach, over a raw socket the way
//! garden's Go client does it (client/connection/connection.go,
//! connection_hijacker.go): a request, the status line and headers, then
//! ProcessPayload lines on the same socket; stdout and stderr on two more
//! requests with the stream id.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

#[derive(Clone)]
pub enum Addr {
    Tcp(String),
    Unix(PathBuf),
}

impl Addr {
    async fn connect(&self) -> Box<dyn Conn> {
        match self {
            Addr::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await.unwrap()),
            Addr::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await.unwrap()),
        }
    }
}

/// A response head: status and headers (names lowercased).
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends a request and reads the response head; the reader is left at
/// the first byte after it.
async fn request(
    addr: &Addr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (Head, BufReader<Box<dyn Conn>>) {
    let mut conn = addr.connect().await;
    let body = body.map(|b| {
        let mut v = serde_json::to_vec(b).unwrap();
        v.push(b'\n');
        v
    });
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: api\r\nUser-Agent: Go-http-client/1.1\r\n");
    match &body {
        Some(b) => req.push_str(&format!(
            "Content-Length: {}\r\nContent-Type: application/json\r\n",
            b.len()
        )),
        None => req.push_str("Content-Length: 0\r\n"),
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    if let Some(b) = body {
        conn.write_all(&b).await.unwrap();
    }
    let mut rd = BufReader::new(conn);
    let mut status_line = String::new();
    rd.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        rd.read_line(&mut l).await.unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    (
        Head {
            status,
            status_line: status_line.trim_end().into(),
            headers,
        },
        rd,
    )
}

/// An error answer: status and Garden's error JSON.
pub type Refused = (u16, Value);

async fn error_body(head: &Head, rd: &mut BufReader<Box<dyn Conn>>) -> Value {
    let len: usize = head.header("content-length").unwrap().parse().unwrap();
    let mut body = vec![0; len];
    rd.read_exact(&mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// A run or attach connection.
pub struct Process {
    pub head: Head,
    pub process_id: String,
    pub stream_id: String,
    rd: BufReader<Box<dyn Conn>>,
    addr: Addr,
    handle: String,
}

pub async fn run(addr: &Addr, handle: &str, spec: Value) -> Result<Process, Refused> {
    let path = format!("/containers/{handle}/processes");
    hijack(
        addr,
        handle,
        request(addr, "POST", &path, Some(&spec)).await,
    )
    .await
}

pub async fn attach(addr: &Addr, handle: &str, pid: &str) -> Result<Process, Refused> {
    let path = format!("/containers/{handle}/processes/{pid}");
    hijack(addr, handle, request(addr, "GET", &path, None).await).await
}

async fn hijack(
    addr: &Addr,
    handle: &str,
    (head, mut rd): (Head, BufReader<Box<dyn Conn>>),
) -> Result<Process, Refused> {
    if !(200..300).contains(&head.status) {
        let v = error_body(&head, &mut rd).await;
        return Err((head.status, v));
    }
    let mut first = String::new();
    rd.read_line(&mut first).await.unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    Ok(Process {
        head,
        process_id: first["process_id"].as_str().unwrap().into(),
        stream_id: first["stream_id"].as_str().unwrap().into(),
        rd,
        addr: addr.clone(),
        handle: handle.into(),
    })
}

impl Process {
    /// One payload line, with the process id as Go's processStream sends.
    async fn send(&mut self, mut payload: Value) {
        payload["process_id"] = json!(self.process_id);
        let mut line = serde_json::to_vec(&payload).unwrap();
        line.push(b'\n');
        self.rd.get_mut().write_all(&line).await.unwrap();
    }

    pub async fn stdin(&mut self, data: &str) {
        self.send(json!({"source": 0, "data": data})).await
    }

    pub async fn close_stdin(&mut self) {
        self.send(json!({"source": 0})).await
    }

    /// 0: terminate, 1: kill.
    pub async fn signal(&mut self, signal: i64) {
        self.send(json!({"signal": signal})).await
    }

    /// The stdout or stderr of this call's stream, read to its end in a
    /// task, with the head the server answered.
    pub async fn output(&self, which: &str) -> tokio::task::JoinHandle<(Head, Vec<u8>)> {
        let r = StreamRef {
            handle: self.handle.clone(),
            process_id: self.process_id.clone(),
            stream_id: self.stream_id.clone(),
        };
        let (head, rd) = r.request(&self.addr, which).await;
        tokio::spawn(read_all(head, rd))
    }

    /// Reads payloads until the exit status (or error) one, which it
    /// returns; then the server closes the connection.
    pub async fn wait(mut self) -> Value {
        loop {
            let mut l = String::new();
            let n = self.rd.read_line(&mut l).await.unwrap();
            assert!(n > 0, "connection closed before the exit status");
            let v: Value = serde_json::from_str(&l).unwrap();
            if v.get("exit_status").is_some() || v.get("error").is_some() {
                let mut rest = Vec::new();
                self.rd.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty(), "nothing after the exit status");
                return v;
            }
        }
    }
}

async fn read_all(head: Head, mut rd: BufReader<Box<dyn Conn>>) -> (Head, Vec<u8>) {
    let mut out = Vec::new();
    rd.read_to_end(&mut out).await.unwrap();
    (head, out)
}

/// A run or attach call's stream, for output requests made later.
pub struct StreamRef {
    pub handle: String,
    pub process_id: String,
    pub stream_id: String,
}

impl StreamRef {
    async fn request(&self, addr: &Addr, which: &str) -> (Head, BufReader<Box<dyn Conn>>) {
        let path = format!(
            "/containers/{}/processes/{}/attaches/{}/{which}",
            self.handle, self.process_id, self.stream_id
        );
        request(addr, "GET", &path, None).await
    }

    /// `stdout` or `stderr`, read to its end.
    pub async fn output(&self, addr: &Addr, which: &str) -> (Head, Vec<u8>) {
        let (head, rd) = self.request(addr, which).await;
        read_all(head, rd).await
    }
}

/// A plain request (the server answers with a Content-Length body).
pub async fn call(addr: &Addr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (head, mut rd) = request(addr, method, path, Some(body)).await;
    let v = error_body(&head, &mut rd).await;
    (head.status, v)
}
