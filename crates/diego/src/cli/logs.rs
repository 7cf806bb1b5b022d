//! `diego logs APP [-f]`: the app's instances' output, through the API.

use super::apps::find;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

pub async fn logs(name: &str, follow: bool) -> anyhow::Result<()> {
    let c = super::target::client()?;
    let app = find(&c, name).await?;
    let mut lines = Box::pin(c.logs(&app.guid, follow).await?);
    let mut out = tokio::io::stdout();
    while let Some(chunk) = lines.next().await {
        out.write_all(&chunk?).await?;
        out.flush().await?;
    }
    Ok(())
}
