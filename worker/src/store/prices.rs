//! Per-workspace model price overrides.

use worker::wasm_bindgen::JsValue;
use worker::Result;

use pvct_core::api::PriceOverrideView;
use pvct_core::audit::AuditEntry;

use super::Store;

impl Store {
    pub async fn price_overrides(&self, workspace_id: &str) -> Result<Vec<PriceOverrideView>> {
        self.all(
            "SELECT model, input_per_million, output_per_million, updated_at FROM model_prices WHERE workspace_id = ? \
             ORDER BY model",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn put_price(&self, workspace_id: &str, row: &PriceOverrideView, audit: &AuditEntry) -> Result<()> {
        let values: Vec<JsValue> = vec![
            JsValue::from_str(workspace_id),
            JsValue::from_str(&row.model),
            JsValue::from_f64(row.input_per_million),
            JsValue::from_f64(row.output_per_million),
            JsValue::from_str(&row.updated_at),
        ];
        let upsert = self
            .db
            .prepare(
                "INSERT INTO model_prices (workspace_id, model, input_per_million, output_per_million, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, model) DO UPDATE SET \
                 input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million, \
                 updated_at = excluded.updated_at",
            )
            .bind(&values)?;
        self.audited(upsert, audit).await
    }
}
