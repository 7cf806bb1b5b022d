//! Image references in the two spellings Cloud Foundry uses: Diego's
//! rootfs URL (`docker://HOST/REPO#TAG`, an empty host meaning Docker Hub,
//! as Cloud Controller writes it) and Docker's (`[REGISTRY/]REPO[:TAG|@DIGEST]`,
//! as users type it). Both become one [`ImageRef`], normalised as Docker
//! does: `busybox` is `docker.io/library/busybox:latest`, pulled from
//! `registry-1.docker.io`.

use std::fmt;

use oci_spec::distribution::Reference;

use crate::error::ImageError;

/// Docker Hub's canonical name, and the host its API answers on.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// The registry's canonical name (`docker.io` for Docker Hub), with
    /// its port if any.
    pub registry: String,
    pub repository: String,
    /// `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// When set, what is pulled (a tag beside it is only informative).
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses either spelling; `docker://` marks Diego's.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        match s.strip_prefix("docker://") {
            Some(rest) => parse_docker_url(s, rest),
            None => parse_docker_name(s),
        }
    }

    /// The host:port the registry's API is reached on.
    pub fn endpoint(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_ENDPOINT
        } else {
            &self.registry
        }
    }

    /// The tag or digest a manifest is asked for by.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// Diego's rootfs URL for a DesiredLRP (`docker:///library/busybox#latest`
    /// for Docker Hub, as Cloud Controller writes it).
    pub fn to_rootfs_url(&self) -> String {
        let host = if self.registry == DOCKER_HUB {
            ""
        } else {
            &self.registry
        };
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("docker://{host}/{}@{d}", self.repository),
            (None, Some(t)) => format!("docker://{host}/{}#{t}", self.repository),
            (None, None) => format!("docker://{host}/{}", self.repository),
        }
    }

    /// The name dockerapplifecycle's builder reports as `docker_image`
    /// (the registry left out for Docker Hub).
    pub fn docker_image(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository.clone()
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{name}@{d}"),
            (None, Some(t)) => format!("{name}:{t}"),
            (None, None) => name,
        }
    }

    /// The reference oci-client asks the registry with: the endpoint as
    /// its registry, so Docker Hub is reached where Docker reaches it.
    pub(crate) fn oci_reference(&self) -> Reference {
        match &self.digest {
            Some(d) => Reference::with_digest(
                self.endpoint().to_string(),
                self.repository.clone(),
                d.clone(),
            ),
            None => Reference::with_tag(
                self.endpoint().to_string(),
                self.repository.clone(),
                self.tag.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn invalid(s: &str, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidReference {
        reference: s.to_string(),
        reason: reason.into(),
    }
}

fn canonical_registry(host: &str) -> String {
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.into(),
        h => h.to_ascii_lowercase(),
    }
}

/// Docker's spelling, through oci-spec's parser (the distribution
/// project's grammar and Docker Hub defaults).
fn parse_docker_name(s: &str) -> Result<ImageRef, ImageError> {
    let r = Reference::try_from(s).map_err(|e| invalid(s, e.to_string()))?;
    let registry = canonical_registry(r.registry());
    let mut repository = r.repository().to_string();
    if registry == DOCKER_HUB && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    Ok(ImageRef {
        registry,
        repository,
        tag: r.tag().map(str::to_string),
        digest: r.digest().map(str::to_string),
    })
}

/// `docker://HOST/PATH[#TAG]`. The host is explicit (empty: Docker Hub);
/// the tag may also follow the path as `:TAG`, and a digest as
/// `@sha256:HEX` or in Cloud Controller's `@sha256#HEX` form.
fn parse_docker_url(s: &str, rest: &str) -> Result<ImageRef, ImageError> {
    let (before, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let (host, path) = before
        .split_once('/')
        .ok_or_else(|| invalid(s, "no repository after the host"))?;
    if !valid_host(host) {
        return Err(invalid(s, format!("invalid registry host {host:?}")));
    }
    if path.is_empty() {
        return Err(invalid(s, "no repository after the host"));
    }
    // Rebuild Docker's spelling under a placeholder registry so oci-spec
    // checks the repository, tag and digest, then put the real host back
    // (Diego's host needs no dot to be a host).
    let name = match (path.strip_suffix("@sha256"), fragment) {
        (Some(repo), Some(hex)) => format!("{repo}@sha256:{hex}"),
        (_, Some(tag)) if path.contains('@') => {
            return Err(invalid(s, format!("both a digest and a tag ({tag})")))
        }
        (_, Some(tag)) if last_component_has_tag(path) => {
            return Err(invalid(s, format!("two tags (#{tag})")))
        }
        (_, Some(tag)) => format!("{path}:{tag}"),
        (_, None) => path.to_string(),
    };
    let parsed = parse_docker_name(&format!("registry.invalid/{name}"))?;
    let registry = canonical_registry(host);
    let mut repository = parsed.repository;
    if registry == DOCKER_HUB && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    Ok(ImageRef {
        registry,
        repository,
        tag: parsed.tag,
        digest: parsed.digest,
    })
}

fn last_component_has_tag(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|c| c.contains(':'))
}

/// `name[:port]`, an IPv4 address or a bracketed IPv6 one; empty is
/// Docker Hub.
fn valid_host(host: &str) -> bool {
    if host.is_empty() {
        return true;
    }
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        match v6.split_once(']') {
            Some((addr, tail)) if addr.parse::<std::net::Ipv6Addr>().is_ok() => {
                return tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|p| p.parse::<u16>().is_ok());
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let name_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    name_ok && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn r(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_short_names_resolve_as_docker_does() {
        let b = r("busybox");
        assert_eq!(b.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(b.endpoint(), "registry-1.docker.io");
        assert_eq!(b.manifest_ref(), "latest");
        assert_eq!(
            r("cloudfoundry/diego-docker-app:v2").to_string(),
            "docker.io/cloudfoundry/diego-docker-app:v2"
        );
        assert_eq!(
            r("index.docker.io/library/busybox:1.36").to_string(),
            "docker.io/library/busybox:1.36"
        );
        let o = b.oci_reference();
        assert_eq!(o.resolve_registry(), "registry-1.docker.io");
        assert_eq!(o.repository(), "library/busybox");
        assert_eq!(o.tag(), Some("latest"));
    }

    #[test]
    fn registries_with_ports_and_digests() {
        let x = r("127.0.0.1:5000/apps/web:v1");
        assert_eq!(
            (x.registry.as_str(), x.repository.as_str(), x.tag.as_deref()),
            ("127.0.0.1:5000", "apps/web", Some("v1"))
        );
        assert_eq!(x.endpoint(), "127.0.0.1:5000");
        let d = r(&format!("localhost:5000/web@sha256:{HEX}"));
        assert_eq!(d.digest.as_deref(), Some(&*format!("sha256:{HEX}")));
        assert_eq!(d.tag, None);
        assert_eq!(d.manifest_ref(), format!("sha256:{HEX}"));
    }

    #[test]
    fn diegos_rootfs_urls() {
        let hub = r("docker:///cloudfoundry/diego-docker-app#latest");
        assert_eq!(
            hub.to_string(),
            "docker.io/cloudfoundry/diego-docker-app:latest"
        );
        assert_eq!(
            r("docker:///busybox").to_string(),
            "docker.io/library/busybox:latest"
        );
        // An explicit host needs no dot to be one.
        let local = r("docker://registry:5000/app#v2");
        assert_eq!(local.to_string(), "registry:5000/app:v2");
        assert_eq!(r("docker://myreg/app").to_string(), "myreg/app:latest");
        assert_eq!(
            r("docker://127.0.0.1:5000/a/b:v3").tag.as_deref(),
            Some("v3")
        );
        let cc_digest = r(&format!("docker://127.0.0.1:5000/app@sha256#{HEX}"));
        assert_eq!(cc_digest.digest, Some(format!("sha256:{HEX}")));
        let digest = r(&format!("docker://127.0.0.1:5000/app@sha256:{HEX}"));
        assert_eq!(digest, cc_digest);
        assert_eq!(r("docker://Docker.IO/library/x#1").registry, "docker.io");
    }

    #[test]
    fn urls_round_trip() {
        for s in [
            "docker:///library/busybox#latest",
            "docker://127.0.0.1:5000/apps/web#v1",
            &format!("docker://127.0.0.1:5000/app@sha256:{HEX}"),
        ] {
            assert_eq!(r(s).to_rootfs_url(), s);
            assert_eq!(r(&r(s).to_rootfs_url()), r(s));
        }
        assert_eq!(
            r("busybox").to_rootfs_url(),
            "docker:///library/busybox#latest"
        );
        assert_eq!(r("busybox").docker_image(), "library/busybox:latest");
        assert_eq!(
            r("127.0.0.1:5000/app:v1").docker_image(),
            "127.0.0.1:5000/app:v1"
        );
    }

    #[test]
    fn bad_references_say_why() {
        for bad in [
            "",
            "docker://",
            "docker://host",
            "docker://host/",
            "docker://bad_host/x",
            "docker://host:port/x",
            "docker://-a/x",
            "docker://host/UPPER",
            "docker://host/x#bad tag",
            "docker://host/x:v1#v2",
            &format!("docker://host/x@sha256:{HEX}#v1"),
            "docker://host/x@sha256:abc",
            "Busybox",
            "a b",
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(
                matches!(e, ImageError::InvalidReference { .. }),
                "{bad}: {e}"
            );
            assert!(e.to_string().contains("invalid image reference"), "{e}");
        }
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(r("docker://[::1]:5000/app#v1").registry, "[::1]:5000");
        assert!(ImageRef::parse("docker://[::1/app").is_err());
    }
}
