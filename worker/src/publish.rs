//! Publishing to the edge: after a promotion, rollback or experiment change,
//! the resolved document of the prompt and the bundle of its environment are
//! rebuilt from D1 and written to KV. A KV miss on the hot path rebuilds the
//! same way, so D1 stays the single source of truth.

use std::collections::BTreeMap;
use std::rc::Rc;

use pvct_core::resolved::{Bundle, ExperimentDoc, ResolvedPrompt, VariantDoc};
use pvct_core::routing::VariantSpec;
use pvct_core::Error;

use crate::http::OrInternal;
use crate::isolate_cache::{self, Entry};
use crate::kv::{bundle_key, resolved_key, Cached, EdgeKv};
use crate::routes::parse_stored;
use crate::store::{ExperimentRow, LiveRow, Store, VariantVersionRow};

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
        variables: serde_json::from_str(&row.variables).unwrap_or_default(),
        content_hash: row.content_hash.clone(),
        deployment_id: row.deployment_id.clone(),
        deployed_at: row.deployed_at.clone(),
        experiment: None,
    })
}

/// Attaches each running experiment, with its variants' content, to the
/// document of its prompt.
fn attach_experiments(
    docs: &mut BTreeMap<String, ResolvedPrompt>,
    experiments: Vec<ExperimentRow>,
    versions: &[VariantVersionRow],
) -> Result<(), Error> {
    for x in experiments {
        let Some(doc) = docs.get_mut(&x.prompt_slug) else {
            continue;
        };
        let specs: Vec<VariantSpec> = serde_json::from_str(&x.variants).or_internal("stored variants")?;
        let variants = specs
            .iter()
            .map(|spec| {
                let v = versions
                    .iter()
                    .find(|v| v.experiment_id == x.id && v.number == spec.version)
                    .ok_or_else(|| crate::http::internal("variant version", "missing"))?;
                Ok(VariantDoc {
                    version: v.number,
                    version_id: v.version_id.clone(),
                    weight: spec.weight,
                    content: parse_stored(&v.content)?,
                    model_params: parse_stored(&v.model_params)?,
                    variables: serde_json::from_str(&v.variables).unwrap_or_default(),
                    content_hash: v.content_hash.clone(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        doc.experiment = Some(ExperimentDoc {
            id: x.id,
            name: x.name,
            salt: x.salt,
            variants,
        });
    }
    Ok(())
}

/// The resolved documents of one environment (all prompts, or one).
async fn documents(
    store: &Store,
    rows: Vec<LiveRow>,
    environment_id: &str,
    slug: Option<&str>,
) -> Result<BTreeMap<String, ResolvedPrompt>, Error> {
    let mut docs = rows
        .iter()
        .map(|row| resolved_from(row).map(|doc| (doc.slug.clone(), doc)))
        .collect::<Result<BTreeMap<_, _>, Error>>()?;
    let experiments = store
        .running_experiments(environment_id, slug)
        .await
        .or_internal("experiments")?;
    if !experiments.is_empty() {
        let versions = store
            .variant_versions(environment_id, slug)
            .await
            .or_internal("variant versions")?;
        attach_experiments(&mut docs, experiments, &versions)?;
    }
    Ok(docs)
}

/// Rebuilds one prompt's resolved document in one environment and writes it
/// to KV and this isolate's cache; `None` when nothing is deployed there.
pub async fn rebuild_resolved(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment: &str,
    slug: &str,
) -> Result<Option<(Rc<ResolvedPrompt>, Rc<str>)>, Error> {
    let Some(row) = store
        .live(workspace_id, slug, environment)
        .await
        .or_internal("live row")?
    else {
        return Ok(None);
    };
    let environment_id = row.environment_id.clone();
    let Some(doc) = documents(store, vec![row], &environment_id, Some(slug))
        .await?
        .remove(slug)
    else {
        return Ok(None);
    };
    let cached = Cached {
        body: serde_json::to_string(&doc).or_internal("resolved json")?,
        etag: doc.etag(),
    };
    kv.put_resolved(workspace_id, environment, slug, &cached)
        .await
        .or_internal("kv put resolved")?;
    let entry = (Rc::new(doc), Rc::<str>::from(cached.etag));
    isolate_cache::put(
        &resolved_key(workspace_id, environment, slug),
        Entry::Resolved(entry.0.clone(), entry.1.clone()),
    );
    Ok(Some(entry))
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
    let prompts = documents(store, rows, environment_id, None).await?;
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
    isolate_cache::put(
        &bundle_key(workspace_id, environment),
        Entry::Bundle(Rc::from(cached.body.as_str()), Rc::from(cached.etag.as_str())),
    );
    Ok(cached)
}

/// After a deployment or experiment change: both documents, rebuilt.
pub async fn publish(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    slug: &str,
) -> Result<(), Error> {
    if rebuild_resolved(store, kv, workspace_id, environment, slug)
        .await?
        .is_none()
    {
        isolate_cache::forget(&resolved_key(workspace_id, environment, slug));
    }
    rebuild_bundle(store, kv, workspace_id, environment_id, environment).await?;
    Ok(())
}
