//! The live hub: one Durable Object per workspace (`LIVE`, class
//! `LiveHub`, SQLite-backed) that hears of every committed change to what
//! an environment serves and tells the environment's subscribers at once.
//! The protocol is `pvct_core::live`'s.
//!
//! Subscribers' WebSockets are accepted with the hibernation API, tagged by
//! environment, and the heartbeat is an auto-response (`ping` → `pong`), so
//! an idle connection neither wakes nor bills the object. Long polls wait
//! in memory on a [`Signal`]; they are short (≤ 30 s) and answered by the
//! next change or their timeout.
//!
//! The hub keeps each environment's last sequence in its storage, so a
//! restarted hub greets subscribers with it and a long poll that asks
//! after an older sequence answers at once.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use pvct_core::live::{self, Activity, Change, Message};
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

/// The binding of the hubs' namespace (wrangler.toml).
pub const BINDING: &str = "LIVE";

/// Wakes the long polls waiting on a change.
#[derive(Default)]
struct Signal {
    generation: Cell<u64>,
    waiting: RefCell<Vec<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Resolves at the next `fire`, or after `timeout`.
    async fn next(&self, timeout: Duration) {
        let seen = self.generation.get();
        let fired = std::future::poll_fn(|cx| {
            if self.generation.get() != seen {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        });
        let mut fired = pin!(fired);
        let mut timer = pin!(worker::Delay::from(timeout));
        std::future::poll_fn(|cx| {
            if fired.as_mut().poll(cx).is_ready() || timer.as_mut().poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[durable_object]
pub struct LiveHub {
    state: State,
    signal: Signal,
}

impl LiveHub {
    async fn last_seq(&self, environment: &str) -> Result<u64> {
        Ok(self
            .state
            .storage()
            .get::<u64>(&live::tag(environment))
            .await?
            .unwrap_or(0))
    }

    async fn notify(&self, change: Change) -> Result<Response> {
        let key = live::tag(&change.environment);
        // Changes may arrive out of order; the newest sequence is kept and
        // an older one is still told (subscribers ignore what they passed).
        if change.seq > self.last_seq(&change.environment).await? {
            self.state.storage().put(&key, change.seq).await?;
        }
        let text = Message::Changed(&change).to_json();
        let sockets = self.state.get_websockets_with_tag(&key);
        for ws in &sockets {
            // A socket that closed meanwhile is the runtime's to drop.
            let _ = ws.send_with_str(&text);
        }
        self.signal.fire();
        Response::from_json(&serde_json::json!({ "subscribers": sockets.len() }))
    }

    fn relay(&self, activity: &Activity) -> Result<Response> {
        let text = Message::Activity(activity).to_json();
        for ws in self.state.get_websockets_with_tag(&live::tag(&activity.environment)) {
            let _ = ws.send_with_str(&text);
        }
        Response::empty()
    }

    async fn subscribe(&self, environment: &str, protocols: Option<String>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state
            .accept_websocket_with_tags(&pair.server, &[&live::tag(environment)]);
        let hello = Message::Hello {
            environment,
            seq: self.last_seq(environment).await?,
        };
        pair.server.send_with_str(hello.to_json())?;
        let headers = Headers::new();
        if live::offers_subprotocol(protocols.as_deref()) {
            headers.set("sec-websocket-protocol", live::SUBPROTOCOL)?;
        }
        Ok(Response::from_websocket(pair.client)?.with_headers(headers))
    }

    /// Answers once the environment's sequence passes `after`, or at the
    /// timeout, with the sequence then.
    async fn wait(&self, environment: &str, after: u64, timeout: Duration) -> Result<Response> {
        let deadline = crate::ids::now_millis() + timeout.as_millis() as u64;
        loop {
            let seq = self.last_seq(environment).await?;
            let left = deadline.saturating_sub(crate::ids::now_millis());
            if seq > after || left == 0 {
                return Response::from_json(&serde_json::json!({ "seq": seq }));
            }
            self.signal.next(Duration::from_millis(left)).await;
        }
    }
}

impl DurableObject for LiveHub {
    fn new(state: State, _env: Env) -> Self {
        if let Ok(pair) = WebSocketRequestResponsePair::new(live::PING, live::PONG) {
            state.set_websocket_auto_response(&pair);
        }
        LiveHub {
            state,
            signal: Signal::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let environment = query("environment").unwrap_or_default();
        match url.path() {
            "/notify" => self.notify(req.json::<Change>().await?).await,
            "/activity" => self.relay(&req.json::<Activity>().await?),
            "/subscribe" => {
                let protocols = req.headers().get("sec-websocket-protocol")?;
                self.subscribe(&environment, protocols).await
            }
            "/wait" => {
                let after = query("after").and_then(|s| s.parse().ok()).unwrap_or(0);
                let seconds = query("timeout").and_then(|s| s.parse().ok()).unwrap_or(25u64);
                self.wait(&environment, after, Duration::from_secs(seconds.min(30)))
                    .await
            }
            _ => Response::error("no such hub route", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        // Subscribers only listen; anything but the auto-answered ping is
        // answered with a pong too, so old clients keep their heartbeat.
        if let WebSocketIncomingMessage::String(_) = message {
            let _ = ws.send_with_str(live::PONG);
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        let code = if (1000..=4999).contains(&code) && code != 1005 && code != 1006 {
            code as u16
        } else {
            1000
        };
        let _ = ws.close(Some(code), Some("bye"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}

/// The workspace's hub.
fn hub(env: &Env, workspace_id: &str) -> Result<worker::Stub> {
    env.durable_object(BINDING)?.id_from_name(workspace_id)?.get_stub()
}

/// Tells the workspace's hub of a committed change. A failure is logged,
/// never the caller's error: subscribers then learn of it at their next
/// revalidation (the TTL), as without live updates.
pub async fn tell(env: &Env, workspace_id: &str, change: &Change) {
    post(
        env,
        workspace_id,
        "notify",
        &serde_json::to_string(change).unwrap_or_default(),
    )
    .await
}

/// Tells the hub of activity watchers refresh on (approvals).
pub async fn tell_activity(env: &Env, workspace_id: &str, activity: &Activity) {
    post(
        env,
        workspace_id,
        "activity",
        &serde_json::to_string(activity).unwrap_or_default(),
    )
    .await
}

async fn post(env: &Env, workspace_id: &str, path: &str, body: &str) {
    let sent = async {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init(&format!("https://live/{path}"), &init)?;
        hub(env, workspace_id)?.fetch_with_request(req).await
    };
    match sent.await {
        Ok(r) if r.status_code() == 200 => {}
        Ok(r) => worker::console_error!("live hub answered {} to {path}", r.status_code()),
        Err(e) => worker::console_error!("live hub not told ({path}): {e}"),
    }
}

/// The hub's answer to a subscriber's upgrade request.
pub async fn subscribe(env: &Env, workspace_id: &str, environment: &str, protocols: Option<&str>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("upgrade", "websocket")?;
    if let Some(p) = protocols {
        headers.set("sec-websocket-protocol", p)?;
    }
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let url = format!(
        "https://live/subscribe?environment={}",
        percent_encoding::utf8_percent_encode(environment, percent_encoding::NON_ALPHANUMERIC)
    );
    hub(env, workspace_id)?
        .fetch_with_request(Request::new_with_init(&url, &init)?)
        .await
}

/// Waits up to `seconds` for the environment's sequence to pass `after`;
/// the sequence then (`after` itself when the hub cannot be asked).
pub async fn wait(env: &Env, workspace_id: &str, environment: &str, after: u64, seconds: u32) -> u64 {
    let asked = async {
        let url = format!(
            "https://live/wait?environment={}&after={after}&timeout={seconds}",
            percent_encoding::utf8_percent_encode(environment, percent_encoding::NON_ALPHANUMERIC)
        );
        let mut r = hub(env, workspace_id)?
            .fetch_with_request(Request::new(&url, Method::Get)?)
            .await?;
        let v: serde_json::Value = r.json().await?;
        Ok::<u64, worker::Error>(v["seq"].as_u64().unwrap_or(after))
    };
    match asked.await {
        Ok(seq) => seq,
        Err(e) => {
            // Held anyway, so a client never polls in a tight loop.
            worker::console_error!("live hub wait failed: {e}");
            worker::Delay::from(Duration::from_secs(u64::from(seconds))).await;
            after
        }
    }
}
