//! `pvct-core`: the pure heart of PromptVault.
//!
//! Everything with a decision in it lives here, free of I/O, so it builds
//! natively and for wasm32 and is tested with plain `cargo test`: validated
//! names and request bodies, prompt content, canonical hashing, commit
//! planning, the word diff, deployment history, the resolved documents the
//! edge serves, pagination, the route table and the permission matrix.
//!
//! Errors are one type, [`Error`], whose [`ErrorKind`] has a stable machine
//! code and an HTTP status.

pub mod access_token;
pub mod api;
pub mod apikey;
pub mod audit;
pub mod canonical;
pub mod commit;
pub mod content;
pub mod deployment;
pub mod diff;
pub mod environment;
pub mod error;
pub mod evaluator;
pub mod gates;
pub mod histogram;
pub mod jobs;
pub mod json_schema;
pub mod judge;
pub mod langfuse;
pub mod live;
pub mod member;
pub mod names;
pub mod notification;
pub mod page;
pub mod prepared_bundle;
pub mod pricing;
pub mod provider;
pub mod quota;
pub mod ratelimit;
pub mod raw_log;
pub mod release;
pub mod render;
pub mod request;
pub mod resolved;
pub mod role;
pub mod rollup;
pub mod route;
pub mod routing;
pub mod secrets;
pub mod settings;
pub mod stats;
pub mod telemetry;
pub mod template;
pub mod test_suite;
pub mod time;
pub mod webhook;

pub use error::{Error, ErrorKind, Result};
