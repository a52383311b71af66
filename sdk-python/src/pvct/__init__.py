"""PromptVault's Python SDK: versioned prompts routed and rendered in-process
exactly as the edge routes and renders them, with batched execution logging.

    from pvct import PromptClient

    with PromptClient(api_key="pvct_...", base_url="https://pvct.example.workers.dev") as client:
        prompt = client.get("support-bot", user_key=user.id, variables={"company": "Acme"})
        prompt.messages  # or prompt.text
        client.log(prompt, latency_ms=812, tokens_in=420, tokens_out=96)
"""

__version__ = "0.1.0"

from .bundle import PreparedBundle, VersionInfo  # noqa: E402
from .client import Prompt, PromptClient  # noqa: E402
from .errors import PvctError  # noqa: E402
from .render import History, Message  # noqa: E402
from .routing import bucket, fnv1a32  # noqa: E402
from .template import value_text  # noqa: E402

__all__ = [
    "PromptClient",
    "Prompt",
    "VersionInfo",
    "PreparedBundle",
    "PvctError",
    "Message",
    "History",
    "bucket",
    "fnv1a32",
    "value_text",
    "__version__",
]
