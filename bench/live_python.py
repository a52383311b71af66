#!/usr/bin/env python3
"""The Python SDK's side of bench/live.mjs: a client with live updates on
(the long poll), its cache TTL ten minutes, calling ``get`` every 2 ms and
printing ``{"flip": n, "t": epoch ms}`` each time the version it gets
changes. Prints ``{"ready": true}`` once the first bundle is in.

Usage: live_python.py <base url> <api key>
"""

import json
import sys
import time

from pvct import PromptClient

client = PromptClient(sys.argv[2], base_url=sys.argv[1], cache_ttl=600)
last = client.get("bot", variables={"name": "x"}).version
print(json.dumps({"ready": True}), flush=True)
flips = 0
while True:
    version = client.get("bot", variables={"name": "x"}).version
    if version != last:
        last = version
        flips += 1
        print(json.dumps({"flip": flips, "t": int(time.time() * 1000)}), flush=True)
    time.sleep(0.002)
