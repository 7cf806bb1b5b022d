//! The connection flags and their environment fallbacks, validated in the
//! order and with the wording cfdot uses (`commands/bbs_flags.go`,
//! `tls_flags.go`, `timeout_flag.go`, `locket_flags.go`).
//!
//! One deliberate extension: cfdot insists on an `https` BBS URL; we also
//! accept plain `http` URLs (no TLS flags needed), which is what a BBS
//! without TLS serves and what our tests use. Likewise a locket location
//! written `http://host:port` means plaintext gRPC (Diego's cfdot always
//! uses mutual TLS to locket and could not dial such a location at all).

use crate::cli::{parse_go_bool, parse_go_int, FlagGroup, Invocation};
use crate::error::{go_os_error_text, Failure};

/// Resolved connection settings.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub bbs: BbsFlags,
    pub locket_api_location: String,
}

/// The BBS URL and the TLS flags (which locket and the reps use too).
#[derive(Debug, Clone, Default)]
pub struct BbsFlags {
    pub url: String,
    pub ca_cert_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub skip_cert_verify: bool,
    /// Request timeout in seconds; 0 means none.
    pub timeout_secs: u64,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Parses the typed connection flags (pflag does this while parsing, so
/// its errors come before any validation).
fn parse_flag_values(inv: &Invocation) -> Result<(Option<bool>, i64), Failure> {
    let mut skip = None;
    if inv.changed("skipCertVerify") {
        skip = Some(
            parse_go_bool(&inv.str("skipCertVerify"))
                .map_err(|e| inv.invalid("skipCertVerify", e))?,
        );
    }
    let mut timeout = 0;
    if inv.spec.group == FlagGroup::BbsAndTimeout && inv.changed("timeout") {
        timeout = parse_go_int(&inv.str("timeout"), 64).map_err(|e| inv.invalid("timeout", e))?;
    }
    Ok((skip, timeout))
}

/// Go's `url.Parse` failures we can recognise.
fn url_is_invalid(u: &str) -> bool {
    if u.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f) || u.starts_with(':') {
        return true;
    }
    // Without a scheme, a colon in the first path segment is an error.
    if scheme(u).is_empty() && u.split('/').next().unwrap_or("").contains(':') {
        return true;
    }
    let b = u.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

fn scheme(u: &str) -> String {
    let Some(i) = u.find(':') else {
        return String::new();
    };
    let s = &u[..i];
    let mut chars = s.chars();
    match chars.next() {
        Some(c)
            if c.is_ascii_alphabetic()
                && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            s.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

fn readable(path: &str, what: &str) -> Result<(), Failure> {
    std::fs::File::open(path).map(|_| ()).map_err(|e| {
        Failure::validation(format!(
            "{what} file '{path}' doesn't exist or is not readable: open {path}: {}",
            go_os_error_text(&e)
        ))
    })
}

/// cfdot's `tlsPreHook`.
fn tls(inv: &Invocation, skip_flag: Option<bool>, cfg: &mut BbsFlags) -> Result<(), Failure> {
    cfg.skip_cert_verify = skip_flag.unwrap_or(false);
    if skip_flag.is_none() {
        let v = env("SKIP_CERT_VERIFY");
        if !v.is_empty() {
            cfg.skip_cert_verify = parse_go_bool(&v).map_err(|_| {
                Failure::validation(format!("The value '{v}' is not a valid value for SKIP_CERT_VERIFY. Please specify one of the following valid boolean values: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False"))
            })?;
        }
    }
    cfg.ca_cert_file = inv.str("caCertFile");
    if cfg.ca_cert_file.is_empty() {
        cfg.ca_cert_file = env("CA_CERT_FILE");
    }
    cfg.cert_file = inv.str("clientCertFile");
    if cfg.cert_file.is_empty() {
        cfg.cert_file = env("CLIENT_CERT_FILE");
    }
    cfg.key_file = inv.str("clientKeyFile");
    if cfg.key_file.is_empty() {
        cfg.key_file = env("CLIENT_KEY_FILE");
    }
    if !cfg.skip_cert_verify {
        if cfg.ca_cert_file.is_empty() {
            return Err(Failure::validation(
                "--caCertFile must be specified if using HTTPS and --skipCertVerify is not set",
            ));
        }
        readable(&cfg.ca_cert_file, "CA cert")?;
    }
    if cfg.key_file.is_empty() || cfg.cert_file.is_empty() {
        return Err(Failure::validation(
            "--clientCertFile and --clientKeyFile must both be specified for TLS connections.",
        ));
    }
    readable(&cfg.key_file, "key")?;
    readable(&cfg.cert_file, "cert")?;
    Ok(())
}

/// Runs the command's pre-run hooks: resolves and validates its
/// connection flags.
pub fn prerun(inv: &Invocation) -> Result<Connection, Failure> {
    let (skip, timeout) = parse_flag_values(inv)?;
    let mut conn = Connection::default();
    match inv.spec.group {
        FlagGroup::None => {}
        FlagGroup::Bbs | FlagGroup::BbsAndTimeout => {
            let mut url = inv.str("bbsURL");
            if url.is_empty() {
                url = env("BBS_URL");
            }
            if url.is_empty() {
                return Err(Failure::validation("BBS URL not set. Please specify one with the '--bbsURL' flag or the 'BBS_URL' environment variable."));
            }
            if url_is_invalid(&url) {
                return Err(Failure::validation(format!("The value '{url}' is not a valid BBS URL. Please specify one with the '--bbsURL' flag or the 'BBS_URL' environment variable.")));
            }
            conn.bbs.url = url.clone();
            match scheme(&url).as_str() {
                "https" => tls(inv, skip, &mut conn.bbs)?,
                "http" => conn.bbs.skip_cert_verify = skip.unwrap_or(false),
                _ => {
                    return Err(Failure::validation(format!("The URL '{url}' does not have an 'https' scheme. Please specify one with the '--bbsURL' flag or the 'BBS_URL' environment variable.")));
                }
            }
            if inv.spec.group == FlagGroup::BbsAndTimeout {
                let mut t = timeout;
                if t == 0 {
                    let v = env("CFDOT_TIMEOUT");
                    if !v.is_empty() {
                        t = parse_go_int(&v, 16).map_err(|e| Failure::cobra(e, true))?;
                    }
                }
                conn.bbs.timeout_secs = t.max(0) as u64;
            }
        }
        FlagGroup::Locket => {
            let mut loc = inv.str("locketAPILocation");
            if loc.is_empty() {
                loc = env("LOCKET_API_LOCATION");
            }
            if loc.is_empty() {
                return Err(Failure::validation("Locket API Location not set. Please specify one with the '--locketAPILocation' flag or the 'LOCKET_API_LOCATION' environment variable."));
            }
            // Our extension: an `http://` location means plaintext gRPC
            // (no TLS flags needed), like an `http` BBS URL.
            let plain = loc.starts_with("http://");
            conn.locket_api_location = loc;
            if plain {
                conn.bbs.skip_cert_verify = skip.unwrap_or(false);
            } else {
                tls(inv, skip, &mut conn.bbs)?;
            }
        }
    }
    Ok(conn)
}
