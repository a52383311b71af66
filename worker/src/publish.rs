//! Publishing to the edge: after a promotion, rollback or experiment change,
//! the resolved document of the prompt and the shard of its environment's
//! bundle that holds it (`pvct_core::resolved::shard_of`; the bundle is the
//! join of its shards) are rebuilt from D1 and written to KV, tagged with
//! the environment's release sequence. Republishing one shard, not the
//! whole bundle, keeps a change's cost flat as an environment grows to
//! thousands of prompts. A KV miss on the hot path rebuilds the same way,
//! so D1 stays the single source of truth.
//!
//! [`publish`] converges on what D1 says: it writes documents built at the
//! current sequence, then re-reads the sequence and goes again if another
//! change committed meanwhile, so the last writer always wrote the newest
//! state. When KV fails, the release service queues a `publish` job that
//! runs the same function until it succeeds.

use std::collections::BTreeMap;
use std::rc::Rc;

use pvct_core::resolved::{shard_etag, shard_of, ExperimentDoc, ResolvedPrompt, VariantDoc, BUNDLE_SHARDS};
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

/// The shard of an environment's bundle as a KV document, from its
/// prompts' documents.
fn shard_doc(docs: &BTreeMap<String, ResolvedPrompt>, seq: u64) -> Result<Cached, Error> {
    let body = serde_json::to_string(docs).or_internal("shard json")?;
    Ok(Cached {
        etag: shard_etag(&body),
        body,
        seq,
    })
}

/// Rebuilds one shard of an environment's bundle from D1 (its prompts only)
/// and writes it to KV. This isolate's copy of the whole bundle is dropped:
/// the next read joins the shards again.
pub async fn rebuild_shard(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    shard: u32,
    write: WriteBack,
) -> Result<Cached, Error> {
    let seq = store.release_seq(environment_id).await.or_internal("release seq")?;
    let slugs = store.live_slugs(environment_id).await.or_internal("live slugs")?;
    let mine: Vec<&str> = slugs
        .iter()
        .map(String::as_str)
        .filter(|s| shard_of(s) == shard)
        .collect();
    let rows = if mine.is_empty() {
        Vec::new()
    } else {
        store.live_among(environment_id, &mine).await.or_internal("live rows")?
    };
    let doc = shard_doc(&documents(store, rows, environment_id, None).await?, seq)?;
    write.settle(kv.put_shard(workspace_id, environment, shard, &doc).await)?;
    isolate_cache::forget(&bundle_key(workspace_id, environment));
    Ok(doc)
}

/// Rebuilds every shard of an environment's bundle from one read of D1 (an
/// environment whose shards are missing from KV), in shard order.
pub async fn rebuild_shards(
    store: &Store,
    kv: &EdgeKv,
    workspace_id: &str,
    environment_id: &str,
    environment: &str,
    write: WriteBack,
) -> Result<Vec<Cached>, Error> {
    let seq = store.release_seq(environment_id).await.or_internal("release seq")?;
    let rows = store
        .live_in_environment(environment_id)
        .await
        .or_internal("live rows")?;
    let mut split: Vec<BTreeMap<String, ResolvedPrompt>> = (0..BUNDLE_SHARDS).map(|_| BTreeMap::new()).collect();
    for (slug, doc) in documents(store, rows, environment_id, None).await? {
        split[shard_of(&slug) as usize].insert(slug, doc);
    }
    let docs = split
        .iter()
        .map(|docs| shard_doc(docs, seq))
        .collect::<Result<Vec<_>, Error>>()?;
    let writes = docs
        .iter()
        .enumerate()
        .map(|(k, doc)| kv.put_shard(workspace_id, environment, k as u32, doc));
    for written in futures_util::future::join_all(writes).await {
        write.settle(written)?;
    }
    isolate_cache::forget(&bundle_key(workspace_id, environment));
    Ok(docs)
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
        rebuild_shard(
            store,
            kv,
            workspace_id,
            environment_id,
            environment,
            shard_of(slug),
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
    let bundle = kv
        .shard(workspace_id, environment, shard_of(slug))
        .await
        .or_internal("kv shard")?;
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
