//! The one error type of the core.
//!
//! Every error carries an [`ErrorKind`] whose [`ErrorKind::code`] is a stable,
//! machine-readable snake_case string (clients branch on it) and whose
//! [`ErrorKind::status`] is the HTTP status the worker answers with. The
//! message is for humans and may change; `details` carries structured data
//! such as the offending field or the current head on a conflict.

use std::fmt;

use serde_json::Value;

/// What went wrong, independent of the human-readable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is not JSON, or not the JSON shape the route takes.
    MalformedJson,
    /// A field has a value outside its domain.
    InvalidField,
    /// A query parameter is missing or has a bad value.
    InvalidQuery,
    /// The request body has a content type other than JSON.
    UnsupportedMediaType,
    /// The body or one of its fields is larger than allowed.
    PayloadTooLarge,
    /// No usable API key was presented.
    Unauthenticated,
    /// A Cloudflare Access token was presented but is not valid here;
    /// details name the `reason`.
    InvalidAccessToken,
    /// A person signed in through Access who is not a member of the workspace.
    NotAMember,
    /// API keys may not sign in to the web console on this deployment.
    KeySignInDisabled,
    /// The key is valid but its role may not do this.
    Forbidden,
    /// The route does not exist.
    RouteNotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The route is a WebSocket: the request must ask to upgrade.
    UpgradeRequired,
    /// The object does not exist (or belongs to another workspace).
    NotFound,
    /// The prompt exists but no version of it is deployed in the environment.
    NotDeployed,
    /// An object with this identity already exists.
    AlreadyExists,
    /// The commit was made on a version that is no longer the head.
    StaleParent,
    /// There is no earlier deployment to roll back to.
    NothingToRollBack,
    /// The state of the object does not allow this operation.
    Conflict,
    /// A promotion was asked while an A/B split runs in the environment.
    ExperimentRunning,
    /// An approval was asked against a state that has changed since.
    StaleApproval,
    /// A promotion would change the required variables callers must pass.
    VariablesChanged,
    /// Promotion gates refused the version; details list every failure.
    GatesFailed,
    /// A template does not parse; details carry line and column.
    TemplateSyntax,
    /// Rendering lacks required variables.
    MissingVariables,
    /// Strict rendering got variables the version does not use or declare.
    UnknownVariables,
    /// An include names no usable snippet version.
    UnknownInclude,
    /// Includes would form a cycle.
    IncludeCycle,
    /// Includes nest deeper than allowed.
    IncludeTooDeep,
    /// The caller sent too many requests; details carry `retry_after_seconds`.
    RateLimited,
    /// The workspace has as many of these as it may; details carry `quota` and `limit`.
    QuotaExceeded,
    /// The change would make its environment's bundle larger than one KV value.
    BundleTooLarge,
    /// A server-side test run needs the workspace's provider (`PUT /v1/settings`).
    ProviderNotConfigured,
    /// The prompt has no test suite, or one without cases.
    NoTestSuite,
    /// Something failed on our side; the message never carries internal text.
    Internal,
}

impl ErrorKind {
    /// The stable machine code, part of the public API.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::InvalidField => "invalid_field",
            ErrorKind::InvalidQuery => "invalid_query",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidAccessToken => "invalid_access_token",
            ErrorKind::NotAMember => "not_a_member",
            ErrorKind::KeySignInDisabled => "key_sign_in_disabled",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RouteNotFound => "route_not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::UpgradeRequired => "upgrade_required",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NotDeployed => "not_deployed",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::StaleParent => "stale_parent",
            ErrorKind::NothingToRollBack => "nothing_to_roll_back",
            ErrorKind::Conflict => "conflict",
            ErrorKind::ExperimentRunning => "experiment_running",
            ErrorKind::StaleApproval => "stale_approval",
            ErrorKind::VariablesChanged => "variables_changed",
            ErrorKind::GatesFailed => "gates_failed",
            ErrorKind::TemplateSyntax => "template_syntax",
            ErrorKind::MissingVariables => "missing_variables",
            ErrorKind::UnknownVariables => "unknown_variables",
            ErrorKind::UnknownInclude => "unknown_include",
            ErrorKind::IncludeCycle => "include_cycle",
            ErrorKind::IncludeTooDeep => "include_too_deep",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::BundleTooLarge => "bundle_too_large",
            ErrorKind::ProviderNotConfigured => "provider_not_configured",
            ErrorKind::NoTestSuite => "no_test_suite",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status this kind of error is answered with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorKind::MalformedJson
            | ErrorKind::InvalidField
            | ErrorKind::InvalidQuery
            | ErrorKind::TemplateSyntax
            | ErrorKind::MissingVariables
            | ErrorKind::UnknownVariables
            | ErrorKind::UnknownInclude
            | ErrorKind::IncludeCycle
            | ErrorKind::IncludeTooDeep => 400,
            ErrorKind::Unauthenticated | ErrorKind::InvalidAccessToken => 401,
            ErrorKind::Forbidden | ErrorKind::NotAMember | ErrorKind::KeySignInDisabled => 403,
            ErrorKind::RouteNotFound | ErrorKind::NotFound | ErrorKind::NotDeployed => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::UpgradeRequired => 426,
            ErrorKind::AlreadyExists
            | ErrorKind::StaleParent
            | ErrorKind::NothingToRollBack
            | ErrorKind::Conflict
            | ErrorKind::ExperimentRunning
            | ErrorKind::StaleApproval
            | ErrorKind::VariablesChanged
            | ErrorKind::QuotaExceeded
            | ErrorKind::BundleTooLarge
            | ErrorKind::ProviderNotConfigured
            | ErrorKind::NoTestSuite => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::GatesFailed => 422,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
        }
    }
}

/// An error with a stable kind, a human message and optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    details: Value,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// An invalid value for `field`; the field name goes into the details.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidField, message).with_details(serde_json::json!({ "field": field }))
    }

    pub fn not_found(what: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} not found"))
    }

    /// The generic server error: the cause is logged by the caller, never shown.
    pub fn internal() -> Self {
        Error::new(ErrorKind::Internal, "internal error; the request was not applied")
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> &Value {
        &self.details
    }

    /// The JSON body every error response carries:
    /// `{"error":{"code","message","details"}}`.
    pub fn to_body(&self) -> Value {
        let details = if self.details.is_null() {
            Value::Object(Default::default())
        } else {
            self.details.clone()
        };
        serde_json::json!({
            "error": { "code": self.code(), "message": self.message, "details": details }
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_code_message_and_object_details() {
        let body = Error::new(ErrorKind::StaleParent, "head moved").to_body();
        assert_eq!(body["error"]["code"], "stale_parent");
        assert_eq!(body["error"]["message"], "head moved");
        assert!(body["error"]["details"].is_object());
    }

    #[test]
    fn statuses_follow_http_semantics() {
        assert_eq!(ErrorKind::MalformedJson.status(), 400);
        assert_eq!(ErrorKind::Unauthenticated.status(), 401);
        assert_eq!(ErrorKind::Forbidden.status(), 403);
        assert_eq!(ErrorKind::NotFound.status(), 404);
        assert_eq!(ErrorKind::StaleParent.status(), 409);
        assert_eq!(ErrorKind::PayloadTooLarge.status(), 413);
        assert_eq!(ErrorKind::Internal.status(), 500);
    }

    #[test]
    fn internal_error_says_nothing_internal() {
        let e = Error::internal();
        assert_eq!(e.code(), "internal");
        assert!(!e.message().contains("D1"));
    }
}
