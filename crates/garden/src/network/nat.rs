//! Mapped ports and the way out: iptables NAT (DNAT of host ports to
//! containers, MASQUERADE of what leaves) in chains of the backend's own,
//! and FORWARD accepts for hosts whose FORWARD policy drops. Every
//! per-container rule carries a `garden:HANDLE` comment so a container's
//! rules can be found and removed even when its creation failed midway.
//! (Egress filtering is nftables', see `firewall`.)

use std::net::Ipv4Addr;

use super::Network;
use crate::api::{GardenError, PortMapping};
use crate::cmd::run;

impl Network {
    pub(super) fn chain(&self, hook: &str) -> String {
        format!("{}-{hook}", self.tag.to_uppercase())
    }

    fn hooks(&self) -> [(&'static str, &'static str, String); 4] {
        [
            ("nat", "PREROUTING", self.chain("PREROUTING")),
            ("nat", "OUTPUT", self.chain("OUTPUT")),
            ("nat", "POSTROUTING", self.chain("POSTROUTING")),
            ("filter", "FORWARD", self.chain("FORWARD")),
        ]
    }

    /// The backend's chains, their jumps and its fixed rules; idempotent.
    pub(super) async fn setup_nat(&self) -> Result<(), GardenError> {
        let br = self.bridge();
        let subnet = format!("{}/{}", self.subnet, self.prefix);
        for (table, hook, chain) in self.hooks() {
            let _ = run("iptables", &["-w", "-t", table, "-N", &chain], None).await;
            let jump = ["-w", "-t", table, "-C", hook, "-j", &chain];
            if run("iptables", &jump, None).await.is_err() {
                run(
                    "iptables",
                    &["-w", "-t", table, "-I", hook, "-j", &chain],
                    None,
                )
                .await?;
            }
        }
        let post = self.chain("POSTROUTING");
        let fwd = self.chain("FORWARD");
        let mut rules = vec![
            // Containers reach out through the host's address.
            vec![
                "-t",
                "nat",
                "-A",
                &post,
                "-s",
                &subnet,
                "!",
                "-o",
                &br,
                "-j",
                "MASQUERADE",
            ],
            vec!["-t", "filter", "-A", &fwd, "-i", &br, "-j", "ACCEPT"],
            vec!["-t", "filter", "-A", &fwd, "-o", &br, "-j", "ACCEPT"],
        ];
        // A container reaching another's mapped port through the external
        // address (hairpin): without a source rewrite the reply would go
        // straight back over the bridge, bypassing the DNAT's undoing.
        rules.push(vec![
            "-t",
            "nat",
            "-A",
            &post,
            "-s",
            &subnet,
            "-o",
            &br,
            "-m",
            "conntrack",
            "--ctstate",
            "DNAT",
            "-j",
            "MASQUERADE",
        ]);
        if self.external_ip.is_loopback() {
            // Replies must go back to an address the container can reach.
            rules.push(vec![
                "-t",
                "nat",
                "-A",
                &post,
                "-s",
                "127.0.0.0/8",
                "-o",
                &br,
                "-j",
                "MASQUERADE",
            ]);
        }
        for rule in rules {
            let mut check = rule.clone();
            let pos = check.iter().position(|a| *a == "-A").expect("-A");
            check[pos] = "-C";
            let check: Vec<&str> = std::iter::once("-w").chain(check).collect();
            if run("iptables", &check, None).await.is_err() {
                let add: Vec<&str> = std::iter::once("-w").chain(rule).collect();
                run("iptables", &add, None).await?;
            }
        }
        Ok(())
    }

    /// Removes the backend's chains and their jumps (every rule in them
    /// goes with them).
    pub(super) async fn teardown_nat(&self) {
        for (table, hook, chain) in self.hooks() {
            // A jump may have been added twice by racing setups.
            while run(
                "iptables",
                &["-w", "-t", table, "-D", hook, "-j", &chain],
                None,
            )
            .await
            .is_ok()
            {}
            let _ = run("iptables", &["-w", "-t", table, "-F", &chain], None).await;
            let _ = run("iptables", &["-w", "-t", table, "-X", &chain], None).await;
        }
    }

    fn comment(handle: &str) -> String {
        format!("garden:{handle}")
    }

    /// iptables -S quotes the comment (`"garden:h"`); `garden:h` must not
    /// also match the rules of `garden:h2`.
    fn is_rule_of(rule: &str, handle: &str) -> bool {
        let c = Self::comment(handle);
        rule.contains(&format!("--comment \"{c}\"")) || rule.contains(&format!("--comment {c} "))
    }

    fn rules_script(&self, handle: &str, ip: Ipv4Addr, maps: &[PortMapping], op: &str) -> String {
        let mut script = String::from("*nat\n");
        for m in maps {
            for chain in [self.chain("PREROUTING"), self.chain("OUTPUT")] {
                script.push_str(&format!(
                    "{op} {chain} -d {ext}/32 -p tcp -m tcp --dport {hp} -m comment --comment {c} \
                     -j DNAT --to-destination {ip}:{cp}\n",
                    ext = self.external_ip,
                    hp = m.host_port,
                    cp = m.container_port,
                    c = Self::comment(handle),
                ));
            }
        }
        script.push_str("COMMIT\n");
        script
    }

    /// DNAT rules for the mappings, in one iptables-restore transaction.
    pub async fn map_ports(
        &self,
        handle: &str,
        ip: Ipv4Addr,
        mappings: &[PortMapping],
    ) -> Result<(), GardenError> {
        if mappings.is_empty() {
            return Ok(());
        }
        let script = self.rules_script(handle, ip, mappings, "-A");
        run("iptables-restore", &["-w", "--noflush"], Some(&script)).await?;
        Ok(())
    }

    /// Deletes every rule carrying the container's comment: the rules
    /// `mappings` made, in one transaction; when that fails (some were
    /// never made) whatever listing the chains finds.
    pub async fn unmap_ports(
        &self,
        handle: &str,
        ip: Ipv4Addr,
        mappings: &[PortMapping],
    ) -> Result<(), GardenError> {
        if !mappings.is_empty() {
            let script = self.rules_script(handle, ip, mappings, "-D");
            let exact = run("iptables-restore", &["-w", "--noflush"], Some(&script)).await;
            if exact.is_ok() {
                return Ok(());
            }
        }
        let mut script = String::from("*nat\n");
        let mut any = false;
        for chain in [self.chain("PREROUTING"), self.chain("OUTPUT")] {
            let rules = run("iptables", &["-w", "-t", "nat", "-S", &chain], None)
                .await
                .unwrap_or_default();
            for rule in rules.lines().filter(|r| Self::is_rule_of(r, handle)) {
                if let Some(spec) = rule.strip_prefix("-A ") {
                    script.push_str(&format!("-D {spec}\n"));
                    any = true;
                }
            }
        }
        if any {
            script.push_str("COMMIT\n");
            run("iptables-restore", &["-w", "--noflush"], Some(&script)).await?;
        }
        Ok(())
    }

    /// Handles that have rules in the backend's chains (a sweep after a
    /// crash removes those of unknown containers).
    pub async fn handles_with_rules(&self) -> Vec<String> {
        let all = run("iptables", &["-w", "-t", "nat", "-S"], None)
            .await
            .unwrap_or_default();
        let mut handles: Vec<String> = all
            .lines()
            .filter_map(|r| {
                let c = r.split("--comment ").nth(1)?;
                let c = c.trim_start_matches('"');
                let c = c.strip_prefix("garden:")?;
                Some(c.split(['"', ' ']).next()?.to_string())
            })
            .collect();
        handles.sort();
        handles.dedup();
        handles
    }

    /// The rules of a container still in the tables (tests check none
    /// survive destroy).
    pub async fn rules_of(&self, handle: &str) -> Vec<String> {
        let all = run("iptables", &["-w", "-t", "nat", "-S"], None)
            .await
            .unwrap_or_default();
        all.lines()
            .filter(|r| Self::is_rule_of(r, handle))
            .map(String::from)
            .collect()
    }
}
