//! Publishing to the edge: after a promotion or rollback, the resolved
//! document of the prompt and the bundle of its environment are rebuilt
//! from D1 and written to KV. A KV miss on the hot path rebuilds the same
//! way, so D1 stays the single source of truth.

use pvct_core::resolved::{Bundle, ResolvedPrompt};
use pvct_core::Error;

use crate::http::OrInternal;
use crate::kv::{Cached, EdgeKv};
use crate::routes::parse_stored;
use crate::store::{LiveRow, Store};

fn resolved_from(row: &LiveRow) -> Result<ResolvedPrompt, Error> {
    Ok(ResolvedPrompt {
        slug: row.slug.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        environment: row.environment.clone(),
        version: row.version,
        version_id: row.version_id.clone(),
        content: parse_stored(&row.content)?,
        model_params: parse_stored(&row.model_params)?,
        content_hash: row.content_hash.clone(),
        deployment_id: row.deployment_id.clone(),
        deployed_at: row.deployed_at.clone(),
    })
}

/// Rebuilds one prompt's resolved document in one environment; `None` when
/// nothing is deployed there.
pub async fn rebuild_resolved(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment: &str,
    slug: &str,
) -> Result<Option<Cached>, Error> {
    let Some(row) = store
        .live(workspace_id, slug, environment)
        .await
        .or_internal("live row")?
    else {
        return Ok(None);
    };
    let doc = resolved_from(&row)?;
    let cached = Cached {
        body: serde_json::to_string(&doc).or_internal("resolved json")?,
        etag: doc.etag(),
    };
    kv.put_resolved(workspace_id, environment, slug, &cached)
        .await
        .or_internal("kv put resolved")?;
    Ok(Some(cached))
}

/// Rebuilds the bundle of every prompt live in one environment.
pub async fn rebuild_bundle(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
) -> Result<Cached, Error> {
    let rows = store
        .live_in_environment(environment_id)
        .await
        .or_internal("live rows")?;
    let prompts = rows
        .iter()
        .map(|row| resolved_from(row).map(|doc| (doc.slug.clone(), doc)))
        .collect::<Result<_, _>>()?;
    let bundle = Bundle {
        environment: environment.to_owned(),
        prompts,
    };
    let cached = Cached {
        body: serde_json::to_string(&bundle).or_internal("bundle json")?,
        etag: bundle.etag(),
    };
    kv.put_bundle(workspace_id, environment, &cached)
        .await
        .or_internal("kv put bundle")?;
    Ok(cached)
}

/// After a deployment change: both documents, rebuilt.
pub async fn publish(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    slug: &str,
) -> Result<(), Error> {
    rebuild_resolved(store, kv, workspace_id, environment, slug).await?;
    rebuild_bundle(store, kv, workspace_id, environment_id, environment).await?;
    Ok(())
}
