//! Dead letters (admins): jobs that stopped being retried, and replaying one.

use pvct_core::api::{DeadLetterView, Items};
use pvct_core::audit::AuditAction;
use pvct_core::jobs::plan_replay;
use pvct_core::time::parse_iso_millis;
use pvct_core::{Error, ErrorKind};

use crate::http::{json, ApiResult, OrInternal};
use crate::ids::{now, now_millis};
use crate::Ctx;

fn age_seconds(created_at: &str) -> i64 {
    parse_iso_millis(created_at).map_or(0, |at| ((now_millis() as i64 - at) / 1000).max(0))
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let letters = ctx
        .store
        .dead_letters(&ctx.who.workspace_id)
        .await
        .or_internal("dead letters")?;
    json(
        200,
        &Items::new(
            letters
                .into_iter()
                .map(|l| {
                    let age = age_seconds(&l.created_at);
                    DeadLetterView::new(l, age)
                })
                .collect(),
        ),
    )
}

pub async fn replay(ctx: &Ctx, id: &str) -> ApiResult {
    let ws = &ctx.who.workspace_id;
    let (letter, body) = ctx
        .store
        .dead_letter(ws, id)
        .await
        .or_internal("dead letter")?
        .ok_or_else(|| Error::not_found("dead letter"))?;
    let replay = plan_replay(&letter, age_seconds(&letter.created_at) / 86_400)?;
    let at = now();
    // Marked first: of two concurrent replays only one sends.
    if !ctx
        .store
        .mark_replayed(ws, id, &at)
        .await
        .or_internal("mark replayed")?
    {
        return Err(Error::new(
            ErrorKind::Conflict,
            "this dead letter is being replayed already",
        ));
    }
    if let Err(e) = crate::queue::replay(&ctx.env, replay.queue, &body).await {
        worker::console_error!("replay of dead letter {id} not sent: {e}");
        ctx.store.unmark_replayed(ws, id).await.or_internal("unmark replayed")?;
        return Err(Error::internal());
    }
    ctx.store
        .record_replay(&ctx.audit(AuditAction::DeadLetterReplay, id, &at))
        .await
        .or_internal("audit")?;
    let (letter, _) = ctx
        .store
        .dead_letter(ws, id)
        .await
        .or_internal("dead letter")?
        .ok_or_else(Error::internal)?;
    let age = age_seconds(&letter.created_at);
    json(202, &DeadLetterView::new(letter, age))
}
