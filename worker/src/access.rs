//! Signing people in through Cloudflare Access: the token's signature is
//! checked with the runtime's WebCrypto (RSASSA-PKCS1-v1_5, SHA-256)
//! against the team's published keys; everything else about the token is
//! checked by `pvct_core::access_token`.
//!
//! The team's keys are fetched once per isolate and kept an hour; a token
//! naming a key this isolate does not know refetches them (Access rotates
//! keys), at most once every `REFETCH_AFTER_MS`, so a stream of forged
//! `kid`s cannot turn into a stream of fetches.

use std::cell::RefCell;

use pvct_core::access_token::{parse_jwks, refused, AccessConfig, AccessToken, Identity, Jwk};
use pvct_core::Error;
use worker::js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::http::internal;
use crate::ids::now_millis;

/// The worker's vars that turn Access sign-in on.
const TEAM_DOMAIN_VAR: &str = "ACCESS_TEAM_DOMAIN";
const AUD_VAR: &str = "ACCESS_AUD";
/// How long fetched keys are trusted without a refetch.
const KEYS_TTL_MS: u64 = 3_600_000;
/// The least time between two fetches of the team's keys.
const REFETCH_AFTER_MS: u64 = 2_000;

struct TeamKeys {
    /// (kid, imported CryptoKey)
    keys: Vec<(String, JsValue)>,
    fetched_at: u64,
}

thread_local! {
    static KEYS: RefCell<Option<TeamKeys>> = const { RefCell::new(None) };
}

/// The deployment's Access application, when sign-in through Access is on.
pub fn config(env: &Env) -> Option<AccessConfig> {
    let var = |name: &str| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    AccessConfig::from_vars(var(TEAM_DOMAIN_VAR).as_deref(), var(AUD_VAR).as_deref())
}

/// The person a token names, once its signature and claims hold.
pub async fn verify(config: &AccessConfig, token: &str) -> Result<Identity, Error> {
    let token = AccessToken::parse(token)?;
    let key = signing_key(config, &token.kid).await?;
    if !signature_holds(&key, &token).await? {
        return Err(refused("signature", "the Access token's signature does not verify"));
    }
    let now = (now_millis() / 1000) as i64;
    token.identity(config, now)
}

fn cached(kid: &str) -> Option<JsValue> {
    KEYS.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|t| now_millis() < t.fetched_at + KEYS_TTL_MS)
            .and_then(|t| t.keys.iter().find(|(id, _)| id == kid).map(|(_, key)| key.clone()))
    })
}

async fn signing_key(config: &AccessConfig, kid: &str) -> Result<JsValue, Error> {
    if let Some(key) = cached(kid) {
        return Ok(key);
    }
    let recently = KEYS.with(|k| {
        k.borrow()
            .as_ref()
            .is_some_and(|t| now_millis() < t.fetched_at + REFETCH_AFTER_MS)
    });
    if !recently {
        refresh(config).await?;
        if let Some(key) = cached(kid) {
            return Ok(key);
        }
    }
    Err(refused(
        "unknown_key",
        "the Access token was signed with a key the team does not publish",
    ))
}

async fn refresh(config: &AccessConfig) -> Result<(), Error> {
    let (status, body) = crate::outbound::get(&config.certs_url())
        .await
        .map_err(|e| internal("access certs", e))?;
    if status != 200 {
        return Err(internal("access certs", format!("the team answered {status}")));
    }
    let mut keys = Vec::new();
    for jwk in parse_jwks(&body)? {
        match import(&jwk).await {
            Ok(key) => keys.push((jwk.kid, key)),
            Err(e) => worker::console_error!("access key {} not imported: {e:?}", jwk.kid),
        }
    }
    KEYS.with(|k| {
        *k.borrow_mut() = Some(TeamKeys {
            keys,
            fetched_at: now_millis(),
        })
    });
    Ok(())
}

fn subtle() -> Result<JsValue, JsValue> {
    let crypto = Reflect::get(&worker::js_sys::global(), &"crypto".into())?;
    Reflect::get(&crypto, &"subtle".into())
}

fn object(pairs: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v)?;
    }
    Ok(o)
}

fn algorithm() -> Result<Object, JsValue> {
    object(&[
        ("name", "RSASSA-PKCS1-v1_5".into()),
        ("hash", object(&[("name", "SHA-256".into())])?.into()),
    ])
}

/// `subtle.<method>(...args)`, awaited.
async fn call(method: &str, args: Array) -> Result<JsValue, JsValue> {
    let subtle = subtle()?;
    let f: Function = Reflect::get(&subtle, &method.into())?.dyn_into()?;
    let promise: Promise = f.apply(&subtle, &args)?.dyn_into()?;
    JsFuture::from(promise).await
}

async fn import(jwk: &Jwk) -> Result<JsValue, JsValue> {
    let key = object(&[
        ("kty", "RSA".into()),
        ("n", jwk.n.as_str().into()),
        ("e", jwk.e.as_str().into()),
        ("alg", "RS256".into()),
        ("ext", true.into()),
    ])?;
    let usages = Array::of1(&"verify".into());
    call(
        "importKey",
        Array::of5(&"jwk".into(), &key, &algorithm()?.into(), &false.into(), &usages),
    )
    .await
}

async fn signature_holds(key: &JsValue, token: &AccessToken) -> Result<bool, Error> {
    let signature = Uint8Array::from(token.signature.as_slice());
    let data = Uint8Array::from(token.signed_part.as_bytes());
    let algorithm = algorithm().map_err(|e| internal("webcrypto", format!("{e:?}")))?;
    let verdict = call("verify", Array::of4(&algorithm.into(), key, &signature, &data))
        .await
        .map_err(|e| internal("webcrypto verify", format!("{e:?}")))?;
    Ok(verdict.as_bool() == Some(true))
}
