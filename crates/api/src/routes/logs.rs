//! `GET /v3/apps/:guid/logs[?follow=true]`: the app's instances' lines,
//! from the reps of the cells (until a log system stands in between).

use super::Ctx;
use crate::error::ApiResult;
use crate::store::ProcessRec;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    pub follow: bool,
}

pub async fn logs(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    c.api.app(&guid).await?;
    let processes = c.api.repo.of_app::<ProcessRec>(&guid).await?;
    let cells = c.api.bbs.cells().await?;
    let mut streams = Vec::new();
    for p in &processes {
        for cell in &cells {
            let Ok(rep) = c.api.reps.client_for(cell) else {
                continue;
            };
            if let Ok(s) = rep.lrp_logs(&p.lrp_guid(), q.follow).await {
                streams.push(
                    s.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
                        .boxed(),
                );
            }
        }
    }
    let merged = futures::stream::select_all(streams);
    Ok(Response::new(Body::from_stream(merged)))
}
