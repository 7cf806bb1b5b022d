//! Where the CLI finds the API and its token: `DIEGO_API`/`DIEGO_TOKEN`,
//! else the user's config (written by `diego dev` and `diego api URL`),
//! else `diego dev`'s address. The config is JSON at `$DIEGO_CONFIG`, or
//! `$XDG_CONFIG_HOME/diego/config.json`, or `~/.config/diego/config.json`.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `diego dev`'s API.
pub const DEFAULT_API: &str = "http://127.0.0.1:9022";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserConfig {
    #[serde(default)]
    pub api: String,
    #[serde(default)]
    pub token: String,
}

pub fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("DIEGO_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(x).join("diego/config.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("no HOME: set DIEGO_CONFIG to where the CLI's config goes")?;
    Ok(PathBuf::from(home).join(".config/diego/config.json"))
}

pub fn load() -> anyhow::Result<UserConfig> {
    let path = config_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "reading {} (delete it or run `diego api URL`)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Saves the config (mode 600: it holds the token); its path.
pub fn save(cfg: &UserConfig) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = config_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(cfg)?.as_bytes())?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The API client for this user.
pub fn client() -> anyhow::Result<api_client::ApiClient> {
    let cfg = load()?;
    let url = std::env::var("DIEGO_API")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| (!cfg.api.is_empty()).then(|| cfg.api.clone()))
        .unwrap_or_else(|| DEFAULT_API.to_string());
    let token =
        std::env::var("DIEGO_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| {
                (!cfg.token.is_empty() && (cfg.api.is_empty() || cfg.api == url))
                    .then(|| cfg.token.clone())
            })
            .with_context(|| {
                format!(
                "no token for the API at {url}: start `diego dev` (it writes one to {}), or run \
                 `diego api {url} --token TOKEN`, or set DIEGO_TOKEN",
                config_path().map(|p| p.display().to_string()).unwrap_or_default()
            )
            })?;
    Ok(api_client::ApiClient::new(&url, &token)?)
}

/// `diego api [URL] [--token T]`: shows or saves the target.
pub async fn api_target(url: Option<String>, token: Option<String>) -> anyhow::Result<()> {
    let mut cfg = load()?;
    let Some(url) = url else {
        let c = client()?;
        let info = c.info().await?;
        println!(
            "API: {} ({} {}), apps at *.{}",
            c.url(),
            info.name,
            info.version,
            info.app_domain
        );
        return Ok(());
    };
    let url = url.trim_end_matches('/').to_string();
    let probe = api_client::ApiClient::new(&url, "")?;
    let info = probe
        .info()
        .await
        .with_context(|| format!("{url} does not answer as a diego API"))?;
    if let Some(t) = token {
        cfg.token = t;
    } else if cfg.api != url {
        cfg.token.clear();
    }
    cfg.api = url.clone();
    let path = save(&cfg)?;
    println!(
        "API set to {url} ({} {}), saved in {}",
        info.name,
        info.version,
        path.display()
    );
    if cfg.token.is_empty() {
        println!("No token yet: `diego api {url} --token TOKEN`.");
    }
    Ok(())
}
