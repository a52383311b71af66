//! Calls the worker makes to other services (the LLM judge, webhook
//! receivers): a JSON POST with a deadline, so one stuck receiver cannot hold
//! a queue batch until the platform's wall-clock limit.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use worker::{wasm_bindgen::JsValue, AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

/// How long an outbound call may take, answer included.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How long a test case's call to the workspace's provider may take: a
/// model writing a full answer, not a one-number verdict.
pub const PROVIDER_DEADLINE: Duration = Duration::from_secs(60);

/// How much of an answer is read: a judge's verdict or a webhook
/// receiver's reply is small; a receiver that streams more is cut off.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why an outbound call gave no answer.
#[derive(Debug)]
pub enum Failure {
    TimedOut,
    Network(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::TimedOut => write!(f, "no answer in time"),
            Failure::Network(e) => write!(f, "{e}"),
        }
    }
}

/// `fut`, or None once `deadline` passes first.
async fn within<T>(fut: impl Future<Output = T>, deadline: Duration) -> Option<T> {
    let mut fut = pin!(fut);
    let mut timer = pin!(Delay::from(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// POSTs `body` (JSON) to `url` with `headers`: the status and the body, or
/// why there was none. The request is aborted at the deadline.
pub async fn post_json(url: &str, headers: &[(&str, &str)], body: &str) -> Result<(u16, Vec<u8>), Failure> {
    post_json_within(url, headers, body, DEADLINE).await
}

/// [`post_json`] with another deadline.
pub async fn post_json_within(
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    deadline: Duration,
) -> Result<(u16, Vec<u8>), Failure> {
    exchange(Method::Post, url, headers, Some(body), deadline).await
}

/// GETs `url` (a JSON document such as an Access team's signing keys).
pub async fn get(url: &str) -> Result<(u16, Vec<u8>), Failure> {
    exchange(Method::Get, url, &[], None, DEADLINE).await
}

async fn exchange(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    deadline: Duration,
) -> Result<(u16, Vec<u8>), Failure> {
    let net = |e: worker::Error| Failure::Network(e.to_string());
    let h = Headers::new();
    if body.is_some() {
        h.set("content-type", "application/json").map_err(net)?;
    }
    for (name, value) in headers {
        h.set(name, value).map_err(net)?;
    }
    let controller = AbortController::default();
    let signal = controller.signal();
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(h)
        .with_body(body.map(JsValue::from_str));
    let request = Request::new_with_init(url, &init).map_err(net)?;
    let exchange = async {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = response.status_code();
        let mut answer = Vec::new();
        if let Ok(mut stream) = response.stream() {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                let room = MAX_ANSWER_BYTES - answer.len();
                answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if answer.len() == MAX_ANSWER_BYTES {
                    break;
                }
            }
        }
        Ok::<_, worker::Error>((status, answer))
    };
    let outcome = within(exchange, deadline).await;
    // Also ends a body left unread past the cap.
    controller.abort();
    match outcome {
        Some(result) => result.map_err(net),
        None => Err(Failure::TimedOut),
    }
}
