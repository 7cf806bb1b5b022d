//! A real rsyslog on a free loopback port, receiving syslog over TCP
//! (octet-counted or newline-framed), optionally TLS (rsyslog's gtls
//! driver), and writing each message it parsed as one line of a file:
//! `<PRI> HOSTNAME APP-NAME PROCID STRUCTURED-DATA MSG`. Killed on drop;
//! None (the test recorded as skipped) when rsyslogd is not installed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Rsyslog {
    pub port: u16,
    pub output: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
}

/// TLS files of the server (it accepts any client: anon auth mode).
pub struct ServerTls {
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
}

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Rsyslog {
    pub async fn start(tls: Option<&ServerTls>) -> Option<Rsyslog> {
        let Some(bin) = rsyslogd() else {
            crate::skip::skip("rsyslogd not installed (scripts/install-deps.sh installs rsyslog)");
            return None;
        };
        if tls.is_some()
            && !std::path::Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()
            && !std::path::Path::new("/usr/lib/rsyslog/lmnsd_gtls.so").exists()
        {
            crate::skip::skip(
                "rsyslog's TLS driver not installed (apt-get install rsyslog-gnutls)",
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = dir.path().join("messages.log");
        let tls_conf = match tls {
            Some(t) => format!(
                "global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{}\" \
                 DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")\n\
                 module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" \
                 StreamDriver.AuthMode=\"anon\")\n",
                t.ca_file, t.cert_file, t.key_file
            ),
            None => "module(load=\"imtcp\")\n".to_string(),
        };
        let conf = format!(
            "global(workDirectory=\"{dir}\")\n{tls_conf}\
             template(name=\"fields\" type=\"string\" \
             string=\"<%PRI%> %HOSTNAME% %APP-NAME% %PROCID% %STRUCTURED-DATA% %msg%\\n\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\")\n\
             *.* action(type=\"omfile\" file=\"{out}\" template=\"fields\" flushOnTXEnd=\"on\" asyncWriting=\"off\")\n",
            dir = dir.path().display(),
            out = output.display(),
        );
        let conf_file = dir.path().join("rsyslog.conf");
        std::fs::write(&conf_file, conf).expect("write rsyslog.conf");
        let mut child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf_file)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("rsyslogd.err")).expect("stderr file"))
            .spawn()
            .expect("rsyslogd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Rsyslog {
                    port,
                    output,
                    dir,
                    child,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("rsyslogd exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("rsyslogd did not listen on {port}");
    }

    /// The messages received so far, one per line.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Waits until `pred` holds for the lines received (or panics after
    /// `timeout`, showing them).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if pred(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "rsyslog did not receive what was expected; it has:\n{}\nrsyslogd said:\n{}",
                lines.join("\n"),
                std::fs::read_to_string(self.dir.path().join("rsyslogd.err")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
