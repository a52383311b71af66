//! Turning requests into core inputs and core outputs into responses.

use futures_util::StreamExt;
use pvct_core::request::{is_json_content_type, too_large, MAX_BODY_BYTES};
use pvct_core::{Error, ErrorKind};
use serde::Serialize;
use worker::{Request, Response, Url};

/// A handler's result: a response, or a core error to render.
pub type ApiResult = std::result::Result<Response, Error>;

/// Logs a platform error and hides it behind the generic 500.
pub fn internal(context: &str, err: impl std::fmt::Display) -> Error {
    worker::console_error!("{context}: {err}");
    Error::internal()
}

/// `?` on platform calls: log the cause, answer 500 without it.
pub trait OrInternal<T> {
    fn or_internal(self, context: &str) -> Result<T, Error>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self, context: &str) -> Result<T, Error> {
        self.map_err(|e| internal(context, e))
    }
}

/// A JSON answer. Every JSON body ends with a newline, so answers printed
/// by `curl` in a shell do not run into the prompt or into each other.
pub fn json<T: Serialize>(status: u16, body: &T) -> ApiResult {
    raw_json(status, serde_json::to_string(body).or_internal("serialize response")?)
}

/// A JSON text that is already serialized (served from KV as stored). The
/// newline is added to the response only: what is stored, and the ETag
/// hashed from it, stay as they are.
pub fn raw_json(status: u16, mut body: String) -> ApiResult {
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let mut response = Response::ok(body).or_internal("build response")?.with_status(status);
    response
        .headers_mut()
        .set("content-type", "application/json")
        .or_internal("set header")?;
    Ok(response)
}

/// NDJSON records (the raw telemetry log), one JSON object per line.
pub fn ndjson(body: String) -> ApiResult {
    let mut response = Response::ok(body).or_internal("build response")?;
    response
        .headers_mut()
        .set("content-type", "application/x-ndjson")
        .or_internal("set header")?;
    Ok(response)
}

pub fn error_response(err: &Error) -> Response {
    let body = err.to_body();
    let mut response = raw_json(err.status(), serde_json::to_string(&body).unwrap_or_default())
        .unwrap_or_else(|_| Response::empty().expect("empty response").with_status(500));
    error_headers(err, &mut response);
    response
}

/// The headers an error answer carries, whatever its body's shape.
pub fn error_headers(err: &Error, response: &mut Response) {
    // A 429 says when to come back (RFC 9110 Retry-After, in seconds).
    if let Some(wait) = err.details().get("retry_after_seconds").and_then(|w| w.as_u64()) {
        let _ = response.headers_mut().set("retry-after", &wait.to_string());
    }
    // RFC 9110: a 405 lists the methods the resource takes.
    if let Some(allowed) = err.details().get("allowed").and_then(|a| a.as_array()) {
        let allow: Vec<&str> = allowed.iter().filter_map(|m| m.as_str()).collect();
        let _ = response.headers_mut().set("allow", &allow.join(", "));
    }
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Oversized bodies up to the route's limit plus this size are read (and
/// dropped) before the 413.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// A body sent without a length is read as it streams: kept up to the
/// limit, then counted and dropped chunk by chunk up to this size, so the
/// isolate never holds more than the limit and the client still gets the
/// 413 (answering mid-upload resets the connection).
const STREAM_DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// Reads a JSON body: the content type must be JSON and the size bounded.
pub async fn body(req: &mut Request) -> Result<Vec<u8>, Error> {
    body_within(req, MAX_BODY_BYTES).await
}

/// [`body`] for a route that takes larger bodies, up to `limit` bytes.
pub async fn body_within(req: &mut Request, limit: usize) -> Result<Vec<u8>, Error> {
    if let Some(len) = header(req, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        if len > limit {
            // Read a moderately oversized body before refusing it: answering
            // while the client is still sending makes the runtime reset the
            // connection, and the client would see a network error instead
            // of the 413. Beyond a few MB the reset is the cheaper answer.
            if len <= limit.saturating_add(DRAIN_LIMIT_BYTES) {
                let _ = req.bytes().await;
            }
            return Err(too_large(len, limit));
        }
    }
    if !is_json_content_type(header(req, "content-type").as_deref()) {
        return Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let unreadable = |_| Error::new(ErrorKind::MalformedJson, "the body could not be read");
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let (mut bytes, mut seen) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        seen += chunk.len();
        if seen <= limit {
            bytes.extend_from_slice(&chunk);
        } else {
            bytes = Vec::new();
            if seen > STREAM_DRAIN_LIMIT_BYTES {
                break;
            }
        }
    }
    if seen > limit {
        return Err(too_large(seen, limit));
    }
    Ok(bytes)
}

/// The query string as a lookup.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(url: &Url) -> Self {
        Query(
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A required version number (1 or more), or 400 naming the parameter.
    pub fn version_number(&self, name: &str) -> Result<u32, Error> {
        self.parse(name, |s| s.parse::<u32>().ok().filter(|n| *n > 0))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidQuery,
                    format!("the query parameter '{name}' (a version number) is required"),
                )
                .with_details(serde_json::json!({ "parameter": name }))
            })
    }

    /// An optional parameter parsed with `parse`, 400 naming it if bad (an
    /// empty value too: `?weeks=` is no number; leave the parameter out).
    pub fn parse<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => parse(raw).map(Some).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidQuery,
                    format!("the query parameter '{name}' has a bad value"),
                )
                .with_details(serde_json::json!({ "parameter": name }))
            }),
        }
    }
}
