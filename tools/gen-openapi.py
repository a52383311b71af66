# Writes worker/openapi.json, the OpenAPI 3.1 description the worker serves at
# /openapi.json. Edit this file, run `python3 tools/gen-openapi.py`, commit both.
# tests/api-fuzz.sh (schemathesis) checks every response against it.
import json
S = lambda t, **k: {"type": t, **k}
STR = S("string"); INT = S("integer"); NUM = S("number"); BOOL = S("boolean")
NSTR = {"type": ["string", "null"]}; NINT = {"type": ["integer", "null"]}
ref = lambda n: {"$ref": f"#/components/schemas/{n}"}
def obj(props, required=None, addl=False, **k):
    o = {"type": "object", "properties": props, "required": required if required is not None else list(props)}
    if addl is not None: o["additionalProperties"] = addl
    o.update(k); return o
def page(item): return obj({"items": S("array", items=ref(item)), "next_cursor": NSTR})
codes = ["gates_failed","variables_changed","template_syntax","missing_variables","unknown_variables","unknown_include","include_cycle","include_too_deep","malformed_json","invalid_field","invalid_query","unsupported_media_type","payload_too_large","unauthenticated","forbidden","route_not_found","method_not_allowed","not_found","not_deployed","already_exists","stale_parent","nothing_to_roll_back","conflict","internal"]
schemas = {
 "Error": obj({"error": obj({"code": S("string", enum=codes), "message": STR, "details": S("object")})}),
 "Healthz": obj({"status": S("string", enum=["ok"]), "version": STR}),
 "Message": obj({"role": S("string", enum=["system","user","assistant"]), "content": STR}),
 "Placeholder": obj({"role": S("string", enum=["placeholder"]), "name": S("string", pattern="^[A-Za-z_][A-Za-z0-9_]{0,63}$")}),
 "Content": {"oneOf": [obj({"text": STR}), obj({"messages": S("array", items={"oneOf": [ref("Message"), ref("Placeholder")]}, minItems=1, maxItems=200)})]},
 "VariableDecl": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {"name": STR, "required": BOOL, "default": {}, "description": STR}},
 "VersionVariables": {"type": "object", "properties": {"uses": S("array", items=STR), "declares": S("array", items=ref("VariableDecl"))}},
 "Rendered": {"oneOf": [obj({"text": STR}), obj({"messages": S("array", items=ref("Message"))})]},
 "RenderResult": {"type": "object", "required": ["prompt","kind","version","rendered"], "properties": {"prompt": STR, "kind": STR, "version": INT, "rendered": ref("Rendered"), "environment": STR, "experiment_id": NSTR, "variant": NINT, "assignment": S("string", enum=["deployed","hashed","random"])}},
 "VersionMetrics": obj({"calls": INT, "errors": INT, "error_rate": {"type": ["number","null"]}, "cost_total_usd": NUM, "cost_per_call_usd": {"type": ["number","null"]}, "tokens_in": INT, "tokens_out": INT,
   "p50_ms": {"type": ["number","null"]}, "p95_ms": {"type": ["number","null"]}, "p99_ms": {"type": ["number","null"]}, "mean_score": {"type": ["number","null"]}, "score_count": INT,
   "feedback_up": INT, "feedback_down": INT, "feedback_rate": {"type": ["number","null"]}}),
 "Metrics": obj({"prompt": STR, "environment": STR, "from": STR, "to": STR, "latency_relative_error_bound": NUM, "items": S("array", items=obj({"version": INT, "version_id": STR, "metrics": ref("VersionMetrics"), "evaluators": {"type": "object", "additionalProperties": obj({"mean_score": {"type": ["number","null"]}, "score_count": INT})}}))}),
 "ApprovalPending": obj({"status": S("string", enum=["pending_approval"]), "approval_id": STR, "environment": STR, "version": INT, "requested_by": STR, "created_at": STR}),
 "Approval": obj({"id": STR, "prompt": STR, "environment": STR, "version": INT, "reason": STR, "status": S("string", enum=["pending","approved","rejected"]), "requested_by": STR, "decided_by": NSTR, "decision_note": NSTR, "created_at": STR, "decided_at": NSTR}),
 "ApprovalList": obj({"items": S("array", items=ref("Approval"))}),
 "Rejection": obj({"id": STR, "status": S("string", enum=["rejected"]), "decided_by": STR, "decided_at": STR}),
 "Dependent": obj({"prompt": STR, "head_version": INT, "pinned_version": INT, "behind_production": BOOL}),
 "Dependents": obj({"snippet": STR, "production_version": NINT, "items": S("array", items=ref("Dependent"))}),
 "ModelParams": {"type": ["object","null"], "properties": {"model": {"type": ["string","null"], "minLength": 1, "maxLength": 200}, "temperature": {"type": ["number","null"], "minimum": 0, "maximum": 2}, "top_p": {"type": ["number","null"], "minimum": 0, "maximum": 1}, "max_tokens": {"type": ["integer","null"], "minimum": 1}}, "additionalProperties": True},
 "Prompt": obj({"id": STR, "slug": STR, "name": STR, "description": STR, "kind": S("string", enum=["text","chat","snippet"]), "created_by": NSTR, "created_at": STR}),
 "PromptDetail": obj({"id": STR, "slug": STR, "name": STR, "description": STR, "kind": S("string", enum=["text","chat","snippet"]), "created_by": NSTR, "created_at": STR, "head": {"oneOf": [ref("Version"), {"type": "null"}]}, "deployments": {"type": "object", "additionalProperties": ref("LiveDeployment")}}),
 "LiveDeployment": obj({"version": INT, "version_id": STR, "deployment_id": STR, "deployed_at": STR}),
 "Version": obj({"id": STR, "prompt": STR, "number": INT, "parent_version": NINT, "content": ref("Content"), "resolved_content": ref("Content"), "model_params": ref("ModelParams"), "variables": S("array", items=STR), "variable_declarations": S("array", items=ref("VariableDecl")), "snippet_pins": {"type": "object", "additionalProperties": INT}, "content_hash": STR, "author": STR, "message": STR, "created_at": STR}),
 "CommitResult": obj({"created": BOOL, "version": ref("Version")}),
 "DiffOp": obj({"op": S("string", enum=["equal","insert","delete"]), "text": STR}),
 "FieldDiff": obj({"field": STR, "changed": BOOL, "words_added": INT, "words_removed": INT, "ops": S("array", items=ref("DiffOp"))}),
 "DiffResult": obj({"prompt": STR, "from": INT, "to": INT, "words_added": INT, "words_removed": INT, "fields": S("array", items=ref("FieldDiff"))}),
 "Deployment": obj({"id": STR, "environment": STR, "version": INT, "version_id": STR, "action": S("string", enum=["promote","rollback"]), "reason": STR, "actor": STR, "created_at": STR}),
 "DeploymentResult": {"type": "object", "required": ["id","environment","version","version_id","status","created_at"], "properties": {"id": STR, "environment": STR, "version": INT, "version_id": STR, "status": S("string", enum=["deployed","unchanged"]), "action": S("string", enum=["promote","rollback"]), "reason": STR, "actor": STR, "created_at": STR, "previous_version": NINT}},
 "VariantSpec": obj({"version": S("integer", minimum=1), "weight": S("number", minimum=0, maximum=100)}),
 "Experiment": obj({"id": STR, "prompt": STR, "environment": STR, "name": STR, "salt": STR, "variants": S("array", items=ref("VariantSpec")), "status": S("string", enum=["running","ended"]), "started_by": STR, "started_at": STR, "updated_at": STR, "ended_by": NSTR, "ended_at": NSTR}),
 "Variant": obj({"version": INT, "version_id": STR, "weight": NUM, "content": ref("Content"), "model_params": ref("ModelParams"), "variables": ref("VersionVariables"), "content_hash": STR}),
 "ExperimentDoc": obj({"id": STR, "name": STR, "salt": STR, "variants": S("array", items=ref("Variant"))}),
 "Resolution": obj({"slug": STR, "name": STR, "kind": STR, "environment": STR, "version": INT, "version_id": STR, "content": ref("Content"), "model_params": ref("ModelParams"), "variables": ref("VersionVariables"), "content_hash": STR, "deployment_id": STR, "deployed_at": STR, "experiment_id": NSTR, "variant": NINT, "assignment": S("string", enum=["deployed","hashed","random"])}),
 "ResolvedPrompt": {"type": "object", "required": ["slug","name","kind","environment","version","version_id","content","model_params","content_hash","deployment_id","deployed_at"], "properties": {"slug": STR, "name": STR, "kind": STR, "environment": STR, "version": INT, "version_id": STR, "content": ref("Content"), "model_params": ref("ModelParams"), "variables": ref("VersionVariables"), "content_hash": STR, "deployment_id": STR, "deployed_at": STR, "experiment": ref("ExperimentDoc")}, "additionalProperties": False},
 "Bundle": obj({"environment": STR, "prompts": {"type": "object", "additionalProperties": ref("ResolvedPrompt")}}),
 "GatePolicy": {"type": "object", "additionalProperties": False, "properties": {"min_samples": {"type": ["integer","null"], "minimum": 0}, "min_score": {"type": ["number","null"], "minimum": 0, "maximum": 1}, "max_error_rate": {"type": ["number","null"], "minimum": 0, "maximum": 1}, "max_p95_ms": {"type": ["number","null"], "exclusiveMinimum": 0}, "requires_approval": BOOL, "measured_in": {"type": ["string","null"], "pattern": "^[a-z0-9-]{1,32}$"}}},
 "Environment": obj({"name": STR, "position": INT, "policy": ref("GatePolicy"), "created_at": STR, "updated_at": STR}),
 "ApiKey": obj({"id": STR, "name": STR, "role": S("string", enum=["reader","editor","approver","admin"]), "key_prefix": STR, "created_by": NSTR, "created_at": STR, "revoked_at": NSTR}),
 "ApiKeyCreated": obj({"id": STR, "name": STR, "role": S("string", enum=["reader","editor","approver","admin"]), "key": S("string", pattern="^pvct_[0-9a-f]{48}$"), "key_prefix": STR, "created_by": NSTR, "created_at": STR, "revoked_at": {"type": "null"}}),
 "KeyRevoked": obj({"id": STR, "revoked_at": STR}),
 "AuditEntry": obj({"id": STR, "actor": STR, "action": STR, "prompt": NSTR, "target": STR, "details": S("object"), "created_at": STR}),
 "Workspace": obj({"id": STR, "name": STR, "display_name": STR, "created_at": STR}),
 "WorkspaceCreated": obj({"workspace": ref("Workspace"), "environments": S("array", items=STR), "api_key": obj({"id": STR, "name": STR, "role": STR, "key": STR, "key_prefix": STR, "created_at": STR})}),
}
schemas["Me"] = obj({"key_id": STR, "workspace_id": STR, "actor": STR, "role": S("string", enum=["reader","editor","approver","admin"]), "permissions": S("array", items=S("string", enum=["read","write","approve","administer"]))})
for n in ["Prompt","Version","Deployment","AuditEntry"]: schemas[n+"Page"] = page(n)
schemas["Evaluator"] = {"type": "object", "required": ["name", "type"], "description": "contains {value, case_sensitive}; regex {pattern}; json_valid {schema?} (a JSON Schema subset: type, enum, const, required, properties, additionalProperties, items, min/maxItems, min/maxLength, minimum, maximum, pattern); similarity {reference?} (token F1; the execution's own reference wins); judge {criteria} (the workspace's LLM judge)",
  "properties": {"name": S("string", pattern="^[a-z0-9-]{1,32}$"), "type": S("string", enum=["contains","regex","json_valid","similarity","judge"]), "value": STR, "case_sensitive": BOOL, "pattern": STR, "schema": {}, "reference": NSTR, "criteria": STR}}
schemas["Evaluators"] = obj({"prompt": STR, "evaluators": S("array", items=ref("Evaluator")), "warnings": S("array", items=STR)})
schemas["Settings"] = obj({"retention_days": INT, "judge": {"oneOf": [obj({"url": STR, "model": NSTR, "api_key_set": BOOL}), {"type": "null"}]}, "updated_at": STR})
schemas["Execution"] = obj({"id": STR, "prompt": STR, "version": INT, "version_id": STR, "environment": STR, "variant": NINT, "latency_ms": NUM, "tokens_in": INT, "tokens_out": INT, "cost_usd": {"type": ["number","null"]}, "score": {"type": ["number","null"]}, "error": NSTR, "model": NSTR, "output": NSTR, "created_at": STR, "feedback": NINT, "scores": {"type": ["object","null"], "additionalProperties": NUM}})
events = ["version.created","deployment.created","deployment.rolled_back","approval.requested","approval.decided","experiment.started","experiment.ended"]
schemas["Webhook"] = obj({"id": STR, "url": STR, "events": S("array", items=STR), "created_by": STR, "created_at": STR})
schemas["WebhookCreated"] = obj({"id": STR, "url": STR, "events": S("array", items=STR), "created_by": STR, "created_at": STR, "secret": STR})
schemas["Delivery"] = obj({"id": STR, "event": S("string", enum=events), "status": S("string", enum=["pending","delivered","failed"]), "attempts": INT, "response_status": NINT, "last_error": NSTR, "payload": S("object"), "created_at": STR, "updated_at": STR})
schemas["WebhookList"] = obj({"items": S("array", items=ref("Webhook"))})
schemas["DeliveryList"] = obj({"items": S("array", items=ref("Delivery"))})
schemas["EnvironmentList"] = obj({"items": S("array", items=ref("Environment"))})
schemas["KeyList"] = obj({"items": S("array", items=ref("ApiKey"))})
schemas["ExperimentList"] = obj({"items": S("array", items=ref("Experiment"))})

err = lambda d: {"description": d, "content": {"application/json": {"schema": ref("Error")}}}
responses = {str(c): err(d) for c, d in [(400,"Invalid input (malformed_json, invalid_field, invalid_query)"),(401,"Missing, malformed, unknown or revoked API key"),(403,"The key's role may not do this"),(404,"Not found (or another workspace's)"),(405,"Method not allowed on this path"),(409,"Conflict"),(413,"Body over 512 KB or content over 256 KB"),(415,"Body is not JSON"),(422,"Promotion gates refused the version; details.failures lists each gate with measured value and threshold"),(500,"Internal error (no internal detail)")]}
components = {"schemas": schemas, "responses": {f"E{c}": v for c, v in responses.items()},
  "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "API key `pvct_` + 48 hex characters. Roles are cumulative: reader < editor < approver < admin."}},
  "parameters": {
    "slug": {"name": "slug", "in": "path", "required": True, "schema": S("string", pattern="^[a-z0-9-]{1,64}$")},
    "limit": {"name": "limit", "in": "query", "schema": S("integer", minimum=1, maximum=200, default=50)},
    "cursor": {"name": "cursor", "in": "query", "schema": STR, "description": "next_cursor of the previous page"},
    "environmentQ": {"name": "environment", "in": "query", "required": True, "schema": S("string", pattern="^[a-z0-9-]{1,32}$")},
    "ifNoneMatch": {"name": "If-None-Match", "in": "header", "schema": STR},
    "cacheControl": {"name": "Cache-Control", "in": "header", "schema": STR, "description": "no-cache skips the isolate cache"},
  }}
P = lambda n: {"$ref": f"#/components/parameters/{n}"}
R = lambda *cs: {str(c): {"$ref": f"#/components/responses/E{c}"} for c in cs}
def ok(code, schema, desc="OK", headers=None):
    r = {"description": desc, "content": {"application/json": {"schema": ref(schema)}}}
    if headers: r["headers"] = headers
    return {str(code): r}
def body(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
def op(opid, summary, role, responses, params=None, req=None, security=None):
    o = {"operationId": opid, "summary": summary, "description": f"Role: {role}.", "responses": responses}
    if params: o["parameters"] = params
    if req: o["requestBody"] = req
    if security is not None: o["security"] = security
    return o
AUTH = (401, 403)
edge_headers = {"ETag": {"schema": STR}, "x-pvct-source": {"schema": S("string", enum=["isolate","kv","d1"])}}
not_modified = {"304": {"description": "Not modified (If-None-Match matched)", "headers": edge_headers}}
paths = {
 "/healthz": {"get": op("healthz", "Liveness", "none", ok(200, "Healthz"), security=[])},
 "/openapi.json": {"get": op("openapi", "This document", "none", {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": S("object")}}}}, security=[])},
 "/v1/workspaces": {"post": op("createWorkspace", "Create a workspace with dev, staging, production and its first admin key", "the bootstrap key (PVCT_ADMIN_KEY)",
     {**ok(201, "WorkspaceCreated", "Created"), **R(400, 401, 403, 409, 413, 415, 500)},
     req=body(obj({"name": S("string", pattern="^[a-z0-9-]{1,64}$"), "display_name": {"type": ["string","null"], "maxLength": 200}}, required=["name"])))},
 "/v1/prompts": {
   "get": op("listPrompts", "List prompts (cursor pages, by slug)", "reader", {**ok(200, "PromptPage"), **R(400, *AUTH, 500)}, params=[P("limit"), P("cursor")]),
   "post": op("createPrompt", "Create a prompt", "editor", {**ok(201, "Prompt", "Created"), **R(400, *AUTH, 409, 413, 415, 500)},
     req=body(obj({"slug": S("string", pattern="^[a-z0-9-]{1,64}$"), "name": S("string", minLength=1, maxLength=200), "kind": S("string", enum=["text","chat","snippet"]), "description": {"type": ["string","null"], "maxLength": 2000}}, required=["slug","name","kind"])))},
 "/v1/prompts/{slug}": {"parameters": [P("slug")], "get": op("getPrompt", "One prompt with its head version and what is deployed where", "reader", {**ok(200, "PromptDetail"), **R(*AUTH, 404, 500)})},
 "/v1/prompts/{slug}/versions": {"parameters": [P("slug")],
   "get": op("listVersions", "History, newest first", "reader", {**ok(200, "VersionPage"), **R(400, *AUTH, 404, 500)}, params=[P("limit"), P("cursor")]),
   "post": op("commitVersion", "Commit a version on a parent (optimistic concurrency)", "editor",
     {**ok(201, "CommitResult", "Created"), **ok(200, "CommitResult", "Identical to the head: nothing written"), **R(400, *AUTH, 404, 409, 413, 415, 500)},
     req=body(obj({"content": ref("Content"), "model_params": ref("ModelParams"), "parent_version": NINT, "message": {"type": ["string","null"], "maxLength": 2000}, "rebase": BOOL, "variables": S("array", items=ref("VariableDecl"))}, required=["content"])))},
 "/v1/prompts/{slug}/versions/{number}": {"parameters": [P("slug"), {"name": "number", "in": "path", "required": True, "schema": S("integer", minimum=1, maximum=4294967295)}],
   "get": op("getVersion", "One version", "reader", {**ok(200, "Version"), **R(*AUTH, 404, 500)})},
 "/v1/prompts/{slug}/diff": {"parameters": [P("slug")], "get": op("diffVersions", "Word-level diff per field between two versions", "reader", {**ok(200, "DiffResult"), **R(400, *AUTH, 404, 500)},
     params=[{"name": "from", "in": "query", "required": True, "schema": S("integer", minimum=1, maximum=4294967295)}, {"name": "to", "in": "query", "required": True, "schema": S("integer", minimum=1, maximum=4294967295)}])},
 "/v1/prompts/{slug}/promote": {"parameters": [P("slug")], "post": op("promote", "Deploy a version to an environment", "editor",
     {**ok(201, "DeploymentResult", "Deployed"), **ok(200, "DeploymentResult", "Already live: nothing written"), "202": {"description": "Pending approval", "content": {"application/json": {"schema": ref("ApprovalPending")}}}, "422": {"$ref": "#/components/responses/E422"}, **R(400, *AUTH, 404, 409, 413, 415, 500)},
     req=body(obj({"version": S("integer", minimum=1), "environment": S("string", pattern="^[a-z0-9-]{1,32}$"), "reason": {"type": ["string","null"], "maxLength": 2000}, "accept_variable_changes": BOOL}, required=["version","environment"])))},
 "/v1/prompts/{slug}/rollback": {"parameters": [P("slug")], "post": op("rollback", "Return an environment to its previous deployment", "editor",
     {**ok(201, "DeploymentResult", "Rolled back"), **R(400, *AUTH, 404, 409, 413, 415, 500)},
     req=body(obj({"environment": S("string", pattern="^[a-z0-9-]{1,32}$"), "reason": {"type": ["string","null"], "maxLength": 2000}}, required=["environment"])))},
 "/v1/prompts/{slug}/deployments": {"parameters": [P("slug")], "get": op("listDeployments", "Deployment history, newest first", "reader", {**ok(200, "DeploymentPage"), **R(400, *AUTH, 404, 500)},
     params=[{"name": "environment", "in": "query", "schema": S("string", pattern="^[a-z0-9-]{0,32}$"), "description": "empty means every environment"}, P("limit"), P("cursor")])},
 "/v1/prompts/{slug}/render": {"parameters": [P("slug")], "post": op("render", "Render a version (or what an environment serves a user) with variables and chat history", "reader",
     {**ok(200, "RenderResult"), **R(400, *AUTH, 404, 413, 415, 500)},
     req=body(obj({"environment": {"type": ["string","null"], "pattern": "^[a-z0-9-]{1,32}$"}, "version": {"type": ["integer","null"], "minimum": 1, "maximum": 4294967295}, "user_key": NSTR, "variables": S("object"), "history": {"oneOf": [S("array", items=ref("Message")), {"type": "object", "additionalProperties": S("array", items=ref("Message"))}, {"type": "null"}]}, "strict": BOOL}, required=[])))},
 "/v1/prompts/{slug}/dependents": {"parameters": [P("slug")], "get": op("dependents", "Prompts whose head pins this snippet, and which lag behind its production version", "reader", {**ok(200, "Dependents"), **R(400, *AUTH, 404, 500)})},
 "/v1/prompts/{slug}/experiments": {"parameters": [P("slug")], "get": op("listExperiments", "Experiments of a prompt, running and ended", "reader", {**ok(200, "ExperimentList"), **R(*AUTH, 404, 500)})},
 "/v1/prompts/{slug}/experiments/{environment}": {"parameters": [P("slug"), {"name": "environment", "in": "path", "required": True, "schema": S("string", pattern="^[a-z0-9-]{1,32}$")}],
   "put": op("putExperiment", "Start (201) or change (200) the A/B split of an environment", "editor; approver where the environment requires approval",
     {**ok(201, "Experiment", "Started"), **ok(200, "Experiment", "Changed"), **R(400, *AUTH, 404, 409, 413, 415, 500)},
     req=body(obj({"variants": S("array", items=ref("VariantSpec"), minItems=1, maxItems=10), "salt": {"type": ["string","null"], "minLength": 1, "maxLength": 128}, "name": {"type": ["string","null"], "maxLength": 200}}, required=["variants"]))),
   "delete": op("endExperiment", "End the running experiment", "editor; approver where the environment requires approval", {**ok(200, "Experiment", "Ended"), **R(*AUTH, 404, 500)})},
 "/v1/resolve/{slug}": {"parameters": [P("slug")], "get": op("resolve", "The edge hot path: the version this user gets", "reader",
     {**ok(200, "Resolution", headers=edge_headers), **not_modified, **R(400, *AUTH, 404, 500)},
     params=[P("environmentQ"), {"name": "user_key", "in": "query", "schema": STR, "description": "Routes deterministically; without it an experiment assigns at random"}, P("ifNoneMatch"), P("cacheControl")])},
 "/v1/approvals": {"get": op("listApprovals", "The approval queue", "reader", {**ok(200, "ApprovalList"), **R(400, *AUTH, 500)}, params=[{"name": "status", "in": "query", "schema": S("string", enum=["","pending","approved","rejected"]), "description": "empty means all"}])},
 "/v1/approvals/{id}/approve": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "post": op("approve", "Approve (gates are checked again) and deploy; never the requester's own", "approver",
     {**ok(201, "DeploymentResult", "Deployed"), "422": {"$ref": "#/components/responses/E422"}, **R(400, *AUTH, 404, 409, 413, 415, 500)}, req=body(obj({"note": NSTR}, required=[])))},
 "/v1/approvals/{id}/reject": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "post": op("reject", "Reject a pending approval", "approver",
     {**ok(200, "Rejection"), **R(400, *AUTH, 404, 409, 413, 415, 500)}, req=body(obj({"note": NSTR}, required=[])))},
 "/v1/prices": {"get": op("listPrices", "The seeded model price table and this workspace's overrides (USD per million tokens)", "reader", {"200": {"description": "OK", "content": {"application/json": {"schema": S("object", required=["table_version","seeded","overrides"])}}}, **R(*AUTH, 500)})},
 "/v1/prices/{model}": {"parameters": [{"name": "model", "in": "path", "required": True, "schema": S("string", minLength=1, maxLength=200)}],
   "put": op("putPrice", "Override a model's price for this workspace", "admin", {"200": {"description": "OK", "content": {"application/json": {"schema": obj({"model": STR, "input_per_million": NUM, "output_per_million": NUM, "updated_at": STR})}}}, **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"input_per_million": S("number", minimum=0, maximum=100000), "output_per_million": S("number", minimum=0, maximum=100000)})))},
 "/v1/stats/promotions": {"get": op("promotionStats", "Promotions into an environment (default production) per week, oldest first", "reader",
     {"200": {"description": "OK", "content": {"application/json": {"schema": obj({"environment": STR, "weeks": S("array", items=obj({"week_start": STR, "promotions": INT}))})}}}, **R(400, *AUTH, 500)},
     params=[{"name": "weeks", "in": "query", "schema": S("integer", minimum=1, maximum=104, default=12)}, {"name": "environment", "in": "query", "schema": S("string", pattern="^[a-z0-9-]{0,32}$")}])},
 "/v1/executions": {"post": op("ingestExecutions", "Send a batch of 1-1000 execution records; valid ones are queued (202), invalid ones reported by index", "reader",
     {"202": {"description": "Accepted", "content": {"application/json": {"schema": obj({"accepted": INT, "rejected": S("array", items=obj({"index": INT, "code": STR, "message": STR}))})}}}, **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"executions": S("array", minItems=1, maxItems=1000, items={"description": "Each record is validated on its own and refused by index (see rejected): id [A-Za-z0-9_-]{1,64}, prompt_version_id, environment, latency_ms 0-3600000, tokens_in, tokens_out, cost_usd, score 0-1, error, model, output (cut at 8192 characters), reference (the expected answer, for evaluators; not stored), variant."})})))},
 "/v1/executions/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "get": op("getExecution", "One stored execution with its feedback and evaluator scores (raw rows are kept for the workspace's retention)", "reader", {**ok(200, "Execution"), **R(*AUTH, 404, 500)})},
 "/v1/prompts/{slug}/evaluators": {"parameters": [P("slug")],
   "get": op("getEvaluators", "The prompt's evaluators; warnings when a judge evaluator has no workspace judge to ask", "reader", {**ok(200, "Evaluators"), **R(*AUTH, 404, 500)}),
   "put": op("putEvaluators", "Replace the prompt's evaluators (at most 10; an empty list removes them). New executions with output are scored as queue jobs", "editor", {**ok(200, "Evaluators"), **R(400, *AUTH, 404, 413, 415, 500)},
     req=body(obj({"evaluators": S("array", maxItems=10, items=ref("Evaluator"))})))},
 "/v1/webhooks": {
   "get": op("listWebhooks", "The workspace's webhooks (secrets are never listed)", "admin", {**ok(200, "WebhookList"), **R(*AUTH, 500)}),
   "post": op("createWebhook", "Subscribe a URL to events (or \"*\"). Deliveries are POSTed with x-pvct-event, x-pvct-delivery and x-pvct-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">; the secret (given, or generated) is returned once", "admin",
     {**ok(201, "WebhookCreated", "Created"), **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"url": S("string", pattern="^https?://"), "secret": S("string", minLength=16, maxLength=256), "events": S("array", minItems=1, items=S("string", enum=events + ["*"]))}, required=["url"])))},
 "/v1/webhooks/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "delete": op("deleteWebhook", "Stop a webhook (its delivery log stays readable)", "admin", {"200": {"description": "Deleted", "content": {"application/json": {"schema": obj({"id": STR, "deleted_at": STR})}}}, **R(*AUTH, 404, 500)})},
 "/v1/webhooks/{id}/deliveries": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "get": op("listDeliveries", "The delivery log, newest first (200 at most): status, attempts, last response or error, payload", "admin", {**ok(200, "DeliveryList"), **R(*AUTH, 404, 500)})},
 "/v1/settings": {
   "get": op("getSettings", "Workspace settings: raw-execution retention and the LLM judge (its key is never returned)", "admin", {**ok(200, "Settings"), **R(*AUTH, 500)}),
   "put": op("putSettings", "Change settings; fields left out keep their value, judge: null removes the judge, a judge without api_key keeps the stored key for the same URL", "admin", {**ok(200, "Settings"), **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"retention_days": S("integer", minimum=1, maximum=3650), "judge": {"oneOf": [obj({"url": S("string", pattern="^https?://"), "model": S("string", minLength=1, maxLength=200), "api_key": S("string", minLength=1, maxLength=4096)}, required=["url","model"]), {"type": "null"}]}}, required=[])))},
 "/v1/feedback": {"post": op("feedback", "Thumbs up (1) or down (-1) for an execution; counted once per execution", "reader",
     {"202": {"description": "Accepted", "content": {"application/json": {"schema": obj({"accepted": BOOL, "execution_id": STR})}}}, **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"execution_id": S("string", pattern="^[A-Za-z0-9_-]{1,64}$"), "value": S("integer", enum=[-1, 1]), "comment": NSTR}, required=["execution_id","value"])))},
 "/v1/prompts/{slug}/metrics": {"parameters": [P("slug")], "get": op("metrics", "Per-version metrics over a time range (hours, from rollups)", "reader",
     {**ok(200, "Metrics"), **R(400, *AUTH, 404, 500)},
     params=[P("environmentQ"), {"name": "from", "in": "query", "schema": STR, "description": "ISO-8601 UTC; hour granularity"}, {"name": "to", "in": "query", "schema": STR}])},
 "/v1/prompts/{slug}/compare": {"parameters": [P("slug")], "get": op("compare", "Two versions side by side: z-test for error and feedback rates, Welch's t-test for score and latency, and a verdict", "reader",
     {"200": {"description": "OK", "content": {"application/json": {"schema": S("object", required=["prompt","environment","a","b","comparison"])}}}, **R(400, *AUTH, 404, 500)},
     params=[P("environmentQ"), {"name": "a", "in": "query", "required": True, "schema": S("integer", minimum=1, maximum=4294967295)}, {"name": "b", "in": "query", "required": True, "schema": S("integer", minimum=1, maximum=4294967295)}, {"name": "from", "in": "query", "schema": STR}, {"name": "to", "in": "query", "schema": STR}])},
 "/v1/bundle": {"get": op("bundle", "Every prompt of an environment, resolved, for SDKs", "reader", {**ok(200, "Bundle", headers=edge_headers), **not_modified, **R(400, *AUTH, 404, 500)},
     params=[P("environmentQ"), P("ifNoneMatch"), P("cacheControl")])},
 "/v1/me": {"get": op("me", "The calling key: workspace, role and the permissions it holds", "reader", {**ok(200, "Me"), **R(*AUTH, 500)})},
 "/v1/environments": {"get": op("listEnvironments", "Environments in promotion order", "reader", {**ok(200, "EnvironmentList"), **R(*AUTH, 500)})},
 "/v1/environments/{name}": {"parameters": [{"name": "name", "in": "path", "required": True, "schema": S("string", pattern="^[a-z0-9-]{1,32}$")}],
   "put": op("putEnvironment", "Create (201) or update (200) an environment and its gate policy", "admin", {**ok(201, "Environment", "Created"), **ok(200, "Environment", "Updated"), **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"position": {"type": ["integer","null"], "minimum": 0, "maximum": 1000}, "policy": {"oneOf": [ref("GatePolicy"), {"type": "null"}]}}, required=[])))},
 "/v1/keys": {
   "get": op("listKeys", "API keys of the workspace", "admin", {**ok(200, "KeyList"), **R(*AUTH, 500)}),
   "post": op("createKey", "Create an API key (the plain key is returned once)", "admin", {**ok(201, "ApiKeyCreated", "Created"), **R(400, *AUTH, 413, 415, 500)},
     req=body(obj({"name": S("string", minLength=1, maxLength=200), "role": S("string", enum=["reader","editor","approver","admin"])})))},
 "/v1/keys/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}], "delete": op("revokeKey", "Revoke an API key", "admin", {**ok(200, "KeyRevoked"), **R(*AUTH, 404, 500)})},
 "/v1/audit": {"get": op("listAudit", "The audit trail, newest first", "admin", {**ok(200, "AuditEntryPage"), **R(400, *AUTH, 500)},
     params=[{"name": "prompt", "in": "query", "schema": STR}, {"name": "actor", "in": "query", "schema": STR}, {"name": "action", "in": "query", "schema": STR}, P("limit"), P("cursor")])},
}
for p in paths.values():
    for m, o in p.items():
        if m != "parameters" and o["operationId"] not in ("healthz", "openapi", "createWorkspace"):
            o["responses"].setdefault("405", {"$ref": "#/components/responses/E405"})
doc = {"openapi": "3.1.0",
 "info": {"title": "PromptVault API", "version": "0.1.0", "description": "Git for LLM prompts, served from the edge. JSON in and out; errors are {\"error\":{\"code\",\"message\",\"details\"}} with stable codes. Authenticate with `Authorization: Bearer pvct_...`."},
 "servers": [{"url": "http://127.0.0.1:8787"}], "security": [{"bearer": []}], "paths": paths, "components": components}
import os
json.dump(doc, open(os.path.join(os.path.dirname(__file__), "..", "worker", "openapi.json"), "w"), indent=1)
print(len(json.dumps(doc)))
