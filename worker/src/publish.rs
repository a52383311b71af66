//! Publishing to the edge: after a promotion, rollback or experiment change,
//! the resolved document of the prompt and the bundle of its environment are
//! rebuilt from D1 and written to KV, tagged with the environment's release
//! sequence. A KV miss on the hot path rebuilds the same way, so D1 stays
//! the single source of truth.
//!
//! [`publish`] converges on what D1 says: it writes documents built at the
//! current sequence, then re-reads the sequence and goes again if another
//! change committed meanwhile, so the last writer always wrote the newest
//! state. When KV fails, the release service queues a `publish` job that
//! runs the same function until it succeeds.

use std::collections::BTreeMap;
use std::rc::Rc;

use pvct_core::resolved::{Bundle, ExperimentDoc, ResolvedPrompt, VariantDoc};
use pvct_core::Error;

use crate::http::OrInternal;
use crate::isolate_cache::{self, Entry};
use crate::kv::{bundle_key, resolved_key, Cached, EdgeKv, Written};
use pvct_core::api::ExperimentView;

use crate::store::{LiveRow, Store, VariantVersionRow};

fn resolved_from(row: &LiveRow) -> Result<ResolvedPrompt, Error> {
    Ok(ResolvedPrompt {
        slug: row.slug.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        environment: row.environment.clone(),
        version: row.version,
        version_id: row.version_id.clone(),
        content: row.body.content.clone(),
        model_params: row.body.model_params.clone(),
        variables: row.body.variables.clone(),
        content_hash: row.body.content_hash.clone(),
        deployment_id: row.deployment_id.clone(),
        deployed_at: row.deployed_at.clone(),
        experiment: None,
    })
}

/// Attaches each running experiment, with its variants' content, to the
/// document of its prompt.
fn attach_experiments(
    docs: &mut BTreeMap<String, ResolvedPrompt>,
    experiments: Vec<ExperimentView>,
    versions: &[VariantVersionRow],
) -> Result<(), Error> {
    for x in experiments {
        let Some(doc) = docs.get_mut(&x.prompt) else {
            continue;
        };
        let variants = x
            .variants
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
                    content: v.body.content.clone(),
                    model_params: v.body.model_params.clone(),
                    variables: v.body.variables.clone(),
                    content_hash: v.body.content_hash.clone(),
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
    write: WriteBack,
) -> Result<Option<(Rc<ResolvedPrompt>, Rc<str>)>, Error> {
    let Some(row) = store
        .live(workspace_id, slug, environment)
        .await
        .or_internal("live row")?
    else {
        return Ok(None);
    };
    let environment_id = row.environment_id.clone();
    let seq = store.release_seq(&environment_id).await.or_internal("release seq")?;
    let Some(doc) = documents(store, vec![row], &environment_id, Some(slug))
        .await?
        .remove(slug)
    else {
        return Ok(None);
    };
    let cached = Cached {
        body: serde_json::to_string(&doc).or_internal("resolved json")?,
        etag: doc.etag(),
        seq,
    };
    let written = write.settle(kv.put_resolved(workspace_id, environment, slug, &cached).await)?;
    let entry = (Rc::new(doc), Rc::<str>::from(cached.etag));
    let key = resolved_key(workspace_id, environment, slug);
    match written {
        Some(Written::Stored) => isolate_cache::put(&key, Entry::Resolved(entry.0.clone(), entry.1.clone())),
        _ => isolate_cache::forget(&key),
    }
    Ok(Some(entry))
}

/// Rebuilds the bundle of every prompt live in one environment.
pub async fn rebuild_bundle(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    write: WriteBack,
) -> Result<Cached, Error> {
    let seq = store.release_seq(environment_id).await.or_internal("release seq")?;
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
        seq,
    };
    let written = write.settle(kv.put_bundle(workspace_id, environment, &cached).await)?;
    let key = bundle_key(workspace_id, environment);
    match written {
        Some(Written::Stored) => isolate_cache::put(
            &key,
            Entry::Bundle(Rc::from(cached.body.as_str()), Rc::from(cached.etag.as_str())),
        ),
        _ => isolate_cache::forget(&key),
    }
    Ok(cached)
}

/// Whether a failed KV write fails the rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBack {
    /// Publishing: KV must hold the document.
    Required,
    /// A hot-path miss: serve what was rebuilt even if KV refused it.
    BestEffort,
}

impl WriteBack {
    fn settle(self, result: worker::Result<Written>) -> Result<Option<Written>, Error> {
        match (result, self) {
            (Ok(w), _) => Ok(Some(w)),
            (Err(e), WriteBack::Required) => Err(crate::http::internal("kv put", e)),
            (Err(e), WriteBack::BestEffort) => {
                worker::console_error!("kv write-back failed, serving the rebuilt document: {e}");
                Ok(None)
            }
        }
    }
}

/// How many times a publish rebuilds when changes keep committing under it.
const PUBLISH_ROUNDS: usize = 4;

/// Brings the prompt's document and its environment's bundle in KV up to
/// the environment's current release sequence.
pub async fn publish(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    slug: &str,
) -> Result<(), Error> {
    for _ in 0..PUBLISH_ROUNDS {
        let before = store.release_seq(environment_id).await.or_internal("release seq")?;
        if rebuild_resolved(store, kv, workspace_id, environment, slug, WriteBack::Required)
            .await?
            .is_none()
        {
            isolate_cache::forget(&resolved_key(workspace_id, environment, slug));
        }
        rebuild_bundle(
            store,
            kv,
            workspace_id,
            environment_id,
            environment,
            WriteBack::Required,
        )
        .await?;
        if store.release_seq(environment_id).await.or_internal("release seq")? == before {
            return Ok(());
        }
    }
    // Changes kept landing; each of them publishes too, and the last one
    // wins because it finds nothing newer after its write.
    Ok(())
}

/// [`publish`], unless KV already holds both documents at the current
/// sequence (the queued safety net after a publish that succeeded).
pub async fn publish_if_behind(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    slug: &str,
) -> Result<(), Error> {
    let seq = store.release_seq(environment_id).await.or_internal("release seq")?;
    let bundle = kv.bundle(workspace_id, environment).await.or_internal("kv bundle")?;
    let resolved = kv
        .resolved(workspace_id, environment, slug)
        .await
        .or_internal("kv resolved")?;
    let seqs = [bundle.map(|d| d.seq), resolved.map(|d| d.seq)];
    if pvct_core::release::edge_is_current(seq, &seqs) {
        return Ok(());
    }
    publish(store, kv, workspace_id, environment_id, environment, slug).await
}
