//! The app lifecycle API's JSON resources (Cloud Controller v3's shapes,
//! cut to what `diego api` serves): apps, packages, builds, droplets,
//! processes, revisions, deployments, instance stats, audit events and
//! tasks, and the error body. Shared by the `api` server and `api-client`.

mod apps;
mod deployments;
mod errors;
mod processes;

pub use apps::*;
pub use deployments::*;
pub use errors::*;
pub use processes::*;

use serde::{Deserialize, Serialize};

/// A page of resources (`GET /v3/apps` and friends); the API answers every
/// list in one page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct List<T> {
    pub pagination: Pagination,
    pub resources: Vec<T>,
}

impl<T> List<T> {
    pub fn of(resources: Vec<T>) -> Self {
        List {
            pagination: Pagination {
                total_results: resources.len(),
                total_pages: 1,
            },
            resources,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Pagination {
    pub total_results: usize,
    pub total_pages: usize,
}

/// `{"data": {"guid": ...}}`: a to-one relationship.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ToOne {
    pub data: GuidRef,
}

impl ToOne {
    pub fn to(guid: &str) -> Self {
        ToOne {
            data: GuidRef {
                guid: guid.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct GuidRef {
    pub guid: String,
}

/// A blob's digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Checksum {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// `GET /` (no token needed): what this API is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Info {
    pub name: String,
    pub version: String,
    /// The domain app routes default to (`APP.<domain>`).
    pub app_domain: String,
}
