//! The routing table: per process, the desired HTTP routes and the routable
//! instances (RUNNING, `routable` unset or true), keyed as Diego keys them
//! by (instance guid, evacuating) so an evacuating instance and its
//! replacement are both routable. Registrations are derived from this
//! state, so a change's messages are the difference between the messages
//! before and after it (see `diff`).

use crate::cf_routes::{cf_routes, CfRoute};
use crate::internal_routes::internal_hostnames;
use crate::registry_message::{MessageKey, RegistryMessage};
use models::actual_lrp_state::RUNNING;
use std::collections::{BTreeMap, HashMap};

/// What a process contributes to routing, from its DesiredLRP.
#[derive(Debug, Clone, Default)]
pub struct DesiredRoutes {
    pub domain: String,
    pub instances: i32,
    pub log_guid: String,
    pub metric_tags: HashMap<String, models::MetricTagValue>,
    pub routes: Vec<CfRoute>,
    pub internal_hostnames: Vec<String>,
    pub modification_tag: Option<models::ModificationTag>,
}

impl DesiredRoutes {
    pub fn from_lrp(lrp: &models::DesiredLrp) -> Self {
        Self {
            domain: lrp.domain.clone(),
            instances: lrp.instances,
            log_guid: lrp.log_guid.clone(),
            metric_tags: lrp.metric_tags.clone().into_iter().collect(),
            routes: cf_routes(lrp),
            internal_hostnames: internal_hostnames(lrp),
            modification_tag: lrp.modification_tag.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    pub instance_guid: String,
    pub evacuating: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    pub instance_guid: String,
    pub index: i32,
    pub net_info: models::ActualLrpNetInfo,
    pub since: i64,
    pub availability_zone: String,
    pub modification_tag: Option<models::ModificationTag>,
}

/// Diego's SucceededBy: a tag without an epoch, or of another epoch, or
/// with a higher index, is newer.
pub fn succeeded_by(
    current: Option<&models::ModificationTag>,
    next: Option<&models::ModificationTag>,
) -> bool {
    match (current, next) {
        (Some(c), Some(n)) if !c.epoch.is_empty() && !n.epoch.is_empty() => {
            c.epoch != n.epoch || c.index < n.index
        }
        _ => true,
    }
}

fn is_older(
    event: Option<&models::ModificationTag>,
    current: Option<&models::ModificationTag>,
) -> bool {
    matches!((event, current), (Some(e), Some(c)) if !e.epoch.is_empty() && e.epoch == c.epoch && e.index < c.index)
}

pub fn is_routable(lrp: &models::ActualLrp) -> bool {
    lrp.state == RUNNING && lrp.routable().unwrap_or(true)
}

fn endpoint_key(lrp: &models::ActualLrp) -> EndpointKey {
    EndpointKey {
        instance_guid: lrp.instance_key().instance_guid,
        evacuating: lrp.presence == models::actual_lrp::Presence::Evacuating as i32,
    }
}

#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    /// Register container addresses (`register_direct_instance_routes`)
    /// unless an instance states its preferred address.
    pub direct_instance_routes: bool,
    desired: HashMap<String, DesiredRoutes>,
    endpoints: HashMap<String, BTreeMap<EndpointKey, Endpoint>>,
}

impl RoutingTable {
    pub fn new(direct_instance_routes: bool) -> Self {
        Self {
            direct_instance_routes,
            ..Default::default()
        }
    }

    pub fn has_desired(&self, process_guid: &str) -> bool {
        self.desired.contains_key(process_guid)
    }

    /// Sets a process's routes unless `lrp` is older than what we hold.
    pub fn set_desired(&mut self, lrp: &models::DesiredLrp) {
        let current = self.desired.get(&lrp.process_guid);
        if current.is_some()
            && !succeeded_by(
                current.and_then(|d| d.modification_tag.as_ref()),
                lrp.modification_tag.as_ref(),
            )
        {
            return;
        }
        self.desired
            .insert(lrp.process_guid.clone(), DesiredRoutes::from_lrp(lrp));
    }

    pub fn remove_desired(&mut self, lrp: &models::DesiredLrp) {
        if let Some(d) = self.desired.get(&lrp.process_guid) {
            if is_older(lrp.modification_tag.as_ref(), d.modification_tag.as_ref()) {
                return;
            }
            self.desired.remove(&lrp.process_guid);
        }
    }

    pub fn add_endpoint(&mut self, lrp: &models::ActualLrp) {
        let key = endpoint_key(lrp);
        let eps = self
            .endpoints
            .entry(lrp.process_guid().to_string())
            .or_default();
        if let Some(cur) = eps.get(&key) {
            if !succeeded_by(cur.modification_tag.as_ref(), lrp.modification_tag.as_ref()) {
                return;
            }
        }
        eps.insert(
            key,
            Endpoint {
                instance_guid: lrp.instance_key().instance_guid,
                index: lrp.index(),
                net_info: lrp.actual_lrp_net_info.clone().unwrap_or_default(),
                since: lrp.since,
                availability_zone: lrp.availability_zone.clone(),
                modification_tag: lrp.modification_tag.clone(),
            },
        );
    }

    pub fn remove_endpoint(&mut self, lrp: &models::ActualLrp) {
        let pg = lrp.process_guid();
        let Some(eps) = self.endpoints.get_mut(pg) else {
            return;
        };
        let key = endpoint_key(lrp);
        if let Some(cur) = eps.get(&key) {
            if is_older(lrp.modification_tag.as_ref(), cur.modification_tag.as_ref()) {
                return;
            }
            eps.remove(&key);
        }
        if eps.is_empty() {
            self.endpoints.remove(pg);
        }
    }

    /// Keeps the routes of processes in domains that are not fresh and
    /// are missing from `fresh_table` (a BBS that lost track of a domain
    /// must not unroute it), as Diego's sync does.
    pub fn keep_unfresh_routes(&self, fresh_table: &mut RoutingTable, domains: &[String]) {
        for (pg, d) in &self.desired {
            if !domains.contains(&d.domain) && !fresh_table.desired.contains_key(pg) {
                fresh_table.desired.insert(pg.clone(), d.clone());
            }
        }
    }

    /// Every registration of one process.
    pub fn messages_for(&self, process_guid: &str) -> BTreeMap<MessageKey, RegistryMessage> {
        let mut out = BTreeMap::new();
        let (Some(desired), Some(eps)) = (
            self.desired.get(process_guid),
            self.endpoints.get(process_guid),
        ) else {
            return out;
        };
        // Evacuating first so an ordinary instance at the same address wins.
        let mut ordered: Vec<(&EndpointKey, &Endpoint)> = eps.iter().collect();
        ordered.sort_by_key(|(k, _)| !k.evacuating);
        for (_, ep) in ordered {
            // Instances beyond the desired count are on their way out.
            if ep.index >= desired.instances {
                continue;
            }
            for route in &desired.routes {
                for m in self.route_messages(desired, route, ep) {
                    out.insert(m.key(), m);
                }
            }
        }
        out
    }

    /// Every registration in the table.
    pub fn all_messages(&self) -> BTreeMap<MessageKey, RegistryMessage> {
        let mut out = BTreeMap::new();
        for pg in self.desired.keys() {
            out.extend(self.messages_for(pg));
        }
        out
    }

    /// Every service-discovery registration of one process: each internal
    /// hostname, and `<index>.<hostname>`, at each instance's container
    /// address (Diego's internal routes).
    pub fn internal_messages_for(
        &self,
        process_guid: &str,
    ) -> BTreeMap<MessageKey, RegistryMessage> {
        let mut out = BTreeMap::new();
        let (Some(desired), Some(eps)) = (
            self.desired.get(process_guid),
            self.endpoints.get(process_guid),
        ) else {
            return out;
        };
        for ep in eps.values().filter(|ep| ep.index < desired.instances) {
            let index = if ep.instance_guid.is_empty() {
                String::new()
            } else {
                ep.index.to_string()
            };
            for hostname in &desired.internal_hostnames {
                let m = RegistryMessage {
                    host: ep.net_info.instance_address.clone(),
                    uris: vec![hostname.clone(), format!("{index}.{hostname}")],
                    app: desired.log_guid.clone(),
                    private_instance_index: index.clone(),
                    endpoint_updated_at_ns: ep.since,
                    tags: [("component".to_string(), "route-emitter".to_string())].into(),
                    availability_zone: ep.availability_zone.clone(),
                    ..Default::default()
                };
                out.insert(m.key(), m);
            }
        }
        out
    }

    /// Every service-discovery registration in the table.
    pub fn all_internal_messages(&self) -> BTreeMap<MessageKey, RegistryMessage> {
        let mut out = BTreeMap::new();
        for pg in self.desired.keys() {
            out.extend(self.internal_messages_for(pg));
        }
        out
    }

    fn route_messages(
        &self,
        desired: &DesiredRoutes,
        route: &CfRoute,
        ep: &Endpoint,
    ) -> Vec<RegistryMessage> {
        let net = &ep.net_info;
        let direct = match net.preferred_address {
            x if x == models::actual_lrp_net_info::PreferredAddress::Instance as i32 => true,
            x if x == models::actual_lrp_net_info::PreferredAddress::Host as i32 => false,
            _ => self.direct_instance_routes,
        };
        let mut out = Vec::new();
        for pm in net
            .ports
            .iter()
            .filter(|pm| pm.container_port == route.port)
        {
            let (host, port, tls_port) = if direct {
                (
                    net.instance_address.clone(),
                    pm.container_port,
                    pm.container_tls_proxy_port,
                )
            } else {
                (net.address.clone(), pm.host_port, pm.host_tls_proxy_port)
            };
            for hostname in &route.hostnames {
                out.push(RegistryMessage {
                    host: host.clone(),
                    port,
                    tls_port,
                    uris: vec![hostname.clone()],
                    protocol: route.protocol.clone(),
                    app: desired.log_guid.clone(),
                    route_service_url: route.route_service_url.clone(),
                    private_instance_id: ep.instance_guid.clone(),
                    private_instance_index: if ep.instance_guid.is_empty() {
                        String::new()
                    } else {
                        ep.index.to_string()
                    },
                    server_cert_domain_san: ep.instance_guid.clone(),
                    isolation_segment: route.isolation_segment.clone(),
                    endpoint_updated_at_ns: ep.since,
                    tags: tags(&desired.metric_tags, ep),
                    availability_zone: ep.availability_zone.clone(),
                    options: route.options.clone(),
                });
            }
        }
        out
    }
}

/// The DesiredLRP's metric tags resolved for one instance, plus
/// `component: route-emitter`.
fn tags(
    metric_tags: &HashMap<String, models::MetricTagValue>,
    ep: &Endpoint,
) -> BTreeMap<String, String> {
    use models::metric_tag_value::DynamicValue;
    let mut out: BTreeMap<String, String> = metric_tags
        .iter()
        .map(|(k, v)| {
            let value = match DynamicValue::try_from(v.dynamic) {
                Ok(DynamicValue::Index) => ep.index.to_string(),
                Ok(DynamicValue::InstanceGuid) => ep.instance_guid.clone(),
                _ => v.r#static.clone(),
            };
            (k.clone(), value)
        })
        .collect();
    out.insert("component".into(), "route-emitter".into());
    out
}
