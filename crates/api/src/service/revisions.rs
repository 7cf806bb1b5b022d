//! Revisions: what an app runs (droplet, environment, commands), numbered
//! per app. A start or deployment that changes any of them makes a new
//! one; one that changes nothing reuses the latest.

use super::{new_guid, Api};
use crate::clock::now_ns;
use crate::error::ApiResult;
use crate::store::{put, AppRec, Change, ProcessRec, RevisionRec};
use std::collections::BTreeMap;

impl Api {
    pub async fn revisions(&self, app_guid: &str) -> ApiResult<Vec<RevisionRec>> {
        let mut r = self.repo.of_app::<RevisionRec>(app_guid).await?;
        r.sort_by_key(|r| r.version);
        Ok(r)
    }

    /// The revision for `app` on `droplet_guid` with the processes'
    /// commands: the latest if it is the same, else a new one (and the
    /// change that stores it).
    pub(super) async fn revision_for(
        &self,
        app: &AppRec,
        droplet_guid: &str,
        processes: &[ProcessRec],
        description: Option<String>,
    ) -> ApiResult<(RevisionRec, Vec<Change>)> {
        let commands: BTreeMap<String, Option<String>> = processes
            .iter()
            .map(|p| (p.kind.clone(), p.command.clone()))
            .collect();
        self.revision_with(app, droplet_guid, app.env.clone(), commands, description)
            .await
    }

    pub(super) async fn revision_with(
        &self,
        app: &AppRec,
        droplet_guid: &str,
        env: BTreeMap<String, String>,
        commands: BTreeMap<String, Option<String>>,
        description: Option<String>,
    ) -> ApiResult<(RevisionRec, Vec<Change>)> {
        let existing = self.revisions(&app.guid).await?;
        let latest = existing.last();
        if let Some(l) = latest {
            if description.is_none()
                && l.droplet_guid == droplet_guid
                && l.env == env
                && l.commands == commands
            {
                return Ok((l.clone(), vec![]));
            }
        }
        let description = description.unwrap_or_else(|| match latest {
            None => "Initial revision.".into(),
            Some(l) => {
                let mut what = Vec::new();
                if l.droplet_guid != droplet_guid {
                    what.push("New droplet deployed.");
                }
                if l.env != env {
                    what.push("New environment variables deployed.");
                }
                if l.commands != commands {
                    what.push("Custom start command updated.");
                }
                what.join(" ")
            }
        });
        let rev = RevisionRec {
            guid: new_guid(),
            app_guid: app.guid.clone(),
            version: latest.map_or(1, |l| l.version + 1),
            droplet_guid: droplet_guid.to_string(),
            env,
            commands,
            description,
            created_at: now_ns(),
        };
        let change = put(&rev);
        Ok((rev, vec![change]))
    }
}
