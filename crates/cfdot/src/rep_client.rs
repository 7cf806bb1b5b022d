//! cfdot's rep client (`rep.NewClientFactory` with cfdot's settings): the
//! BBS TLS flags double as the rep's client certificate, the state call
//! times out after 10 s, and the address is picked from the cell's
//! presence as the rep client factory picks it.

use std::time::Duration;

use crate::client::{describe, trace_id, ClientConfig};
use crate::error::go_os_error_text;

/// cfdot's state client timeout (`cfhttp.WithRequestTimeout(10s)`).
const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// cfdot gives the rep client its BBS TLS files (`rep.TLSConfig` without
/// `RequireTLS`).
pub struct RepClientFactory {
    http: reqwest::Client,
    has_creds: bool,
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {path}: {}", go_os_error_text(&e)))
}

impl RepClientFactory {
    pub fn new(tls: &ClientConfig) -> Result<Self, String> {
        let has_creds =
            !tls.ca_cert_file.is_empty() && !tls.cert_file.is_empty() && !tls.key_file.is_empty();
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(STATE_TIMEOUT);
        if has_creds {
            let ca = read(&tls.ca_cert_file)?;
            let certs = reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| e.to_string())?;
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
            let mut pem = read(&tls.cert_file)?;
            pem.push(b'\n');
            pem.extend(read(&tls.key_file)?);
            b = b.identity(reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string())?);
        }
        Ok(RepClientFactory {
            http: b.build().map_err(|e| e.to_string())?,
            has_creds,
        })
    }

    /// `TLSConfig.pickURL` without `RequireTLS`: prefer the presence's
    /// `rep_url`, else its `rep_address`; an https `rep_url` needs the
    /// certificates.
    pub fn pick_url(&self, address: &str, rep_url: &str) -> Result<String, String> {
        let secure = rep_url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if !self.has_creds && secure {
            return Err("https scheme not supported since certificates aren't provided".into());
        }
        Ok(if rep_url.is_empty() { address } else { rep_url }.to_string())
    }

    /// `GET /state`; answers the body of a 200. `Err` carries Go's text.
    pub async fn state(&self, base: &str) -> Result<Vec<u8>, String> {
        let url = format!("{}/state", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .header("X-Vcap-Request-Id", trace_id())
            .send()
            .await
            .map_err(|e| format!("Get \"{url}\": {}", describe(&e, &url)))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(format!("unexpected status code: {status}"));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("Get \"{url}\": {}", describe(&e, &url)))?;
        Ok(body.to_vec())
    }
}
