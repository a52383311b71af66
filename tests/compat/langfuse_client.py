"""The official Python Langfuse client (langfuse 5, unmodified) driving the
worker's Langfuse-compatible API. Run by python.test.mjs with the venv from
scripts/test-compat.sh:

    python langfuse_client.py <scenario> <json args>

It reads LANGFUSE_BASE_URL / LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY (and
LANGFUSE_TRACING_ENABLED) from the environment, runs one scenario and prints
one JSON object on stdout: what the client returned, raised and logged. The
node test asserts on it. The client is a singleton per public key: one
process per scenario.
"""

import json
import logging
import sys
import time

# Every warning or error any library logs (langfuse, OpenTelemetry, httpx),
# so the test can assert there were none.
LOGGED = []


class Capture(logging.Handler):
    def emit(self, record):
        LOGGED.append(f"{record.name} {record.levelname}: {record.getMessage()}")


logging.getLogger().addHandler(Capture(level=logging.WARNING))

from langfuse import Langfuse  # noqa: E402


def plain(value):
    """Pydantic models and client objects as plain JSON values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if hasattr(value, "dict"):
        return value.dict(by_alias=True)
    return value


def prompt_client(p):
    return {
        "class": type(p).__name__,
        "name": p.name,
        "version": p.version,
        "prompt": p.prompt,
        "config": p.config,
        "labels": list(p.labels),
        "tags": list(p.tags),
        "commit_message": getattr(p, "commit_message", None),
        "is_fallback": p.is_fallback,
    }


def error(e):
    return {
        "class": type(e).__name__,
        "status": getattr(e, "status_code", None),
        "body": getattr(e, "body", None),
        "text": str(e)[:500],
    }


def attempt(f):
    try:
        return {"ok": f()}
    except Exception as e:  # noqa: BLE001 - the test asserts on what was raised
        return {"error": error(e)}


def prompts(lf, args):
    name, chat = args["name"], args["chat"]
    out = {}
    # Python sends no "type" for text, and null tags / commitMessage.
    out["create_text"] = attempt(lambda: prompt_client(lf.create_prompt(
        name=name, prompt="Hi {{name}}, your code is {{code}}", labels=["production"],
        config={"model": "gpt-4o-mini", "temperature": 0.3})))
    out["create_text_v2"] = attempt(lambda: prompt_client(lf.create_prompt(
        name=name, prompt="Hello {{name}}, the code is {{code}}", commit_message="friendlier")))
    out["create_chat"] = attempt(lambda: prompt_client(lf.create_prompt(
        name=chat, type="chat", labels=["production"], prompt=[
            {"role": "system", "content": "You are {{persona}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ])))

    out["get_production"] = attempt(lambda: prompt_client(lf.get_prompt(name)))
    out["get_version_2"] = attempt(lambda: prompt_client(lf.get_prompt(name, version=2)))
    out["get_latest"] = attempt(lambda: prompt_client(lf.get_prompt(name, label="latest")))
    out["compile_text"] = attempt(lambda: lf.get_prompt(name).compile(name="Ada", code="42"))
    out["get_chat"] = attempt(lambda: prompt_client(lf.get_prompt(chat, type="chat")))
    out["compile_chat"] = attempt(lambda: lf.get_prompt(chat, type="chat").compile(
        persona="a pirate", question="Where is it?",
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ahoy {{persona}}"}]))

    out["update"] = attempt(lambda: plain(lf.update_prompt(name=name, version=2, new_labels=["production"])))
    out["get_after_update"] = attempt(lambda: prompt_client(lf.get_prompt(name)))
    out["get_v1_after_update"] = attempt(lambda: prompt_client(lf.get_prompt(name, version=1)))

    # A composed prompt: the server resolves the reference; resolutionGraph must parse.
    out["create_base"] = attempt(lambda: prompt_client(lf.create_prompt(
        name="py-base", prompt="Base says {{x}}.", labels=["production"])))
    out["create_composed"] = attempt(lambda: prompt_client(lf.create_prompt(
        name="py-composed", prompt="@@@langfusePrompt:name=py-base|version=1@@@ Then {{y}}.", labels=["production"])))
    out["get_composed"] = attempt(lambda: prompt_client(lf.get_prompt("py-composed")))
    out["get_composed_raw"] = attempt(lambda: plain(lf.api.prompts.get("py-composed", resolve=False)))

    out["missing_fallback"] = attempt(lambda: prompt_client(lf.get_prompt(
        args["missing"], fallback="Fallback {{name}}", max_retries=0)))
    out["missing"] = attempt(lambda: prompt_client(lf.get_prompt(args["missing"], max_retries=0)))

    def page(n):
        res = lf.api.prompts.list(page=n, limit=3)
        return {"meta": plain(res.meta), "data": [plain(p) for p in res.data]}

    out["list_page_1"] = attempt(lambda: page(1))
    out["list_page_2"] = attempt(lambda: page(2))
    out["auth_check"] = attempt(lambda: lf.auth_check())
    return out


def tracing(lf, args):
    """Tracing on: a prompt fetched inside a span and a generation, a score,
    then flush and shutdown. Records what the OTLP exporter reported."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exports = []
    original = OTLPSpanExporter.export

    def export(self, spans):
        result = original(self, spans)
        exports.append({"spans": [s.name for s in spans], "result": result.name})
        return result

    OTLPSpanExporter.export = export
    out = {}
    with lf.start_as_current_observation(name="handle-request") as span:
        p = lf.get_prompt(args["name"])
        out["prompt"] = prompt_client(p)
        with lf.start_as_current_observation(name="llm-call", as_type="generation", prompt=p, model="gpt-4o") as gen:
            gen.update(output=p.compile(name="Ada"))
        lf.create_score(name="helpful", value=1, trace_id=span.trace_id)
    started = time.monotonic()
    lf.flush()
    lf.shutdown()
    out["flush_shutdown_seconds"] = time.monotonic() - started
    out["exports"] = exports
    return out


def main():
    scenario, args = sys.argv[1], json.loads(sys.argv[2])
    started = time.monotonic()
    lf = Langfuse()
    out = {"prompts": prompts, "tracing": tracing}[scenario](lf, args)
    out["seconds"] = time.monotonic() - started
    out["logged"] = LOGGED
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
