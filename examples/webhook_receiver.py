"""A receiver of Parlour's outgoing webhooks that checks each delivery's signature
(docs/integrations.md, "Outgoing webhooks"; the tests run it as a receiver).

    PARLOUR_WEBHOOK_SECRET=<the secret POST /api/v1/webhooks answered> python webhook_receiver.py
"""

import hashlib
import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("PARLOUR_WEBHOOK_SECRET", "").encode()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, self.headers.get("X-Parlour-Signature", ""))
        if ok:
            self.handle_event(json.loads(body))  # handled first: a 2xx means "got it"
        self.send_response(204 if ok else 401)
        self.end_headers()

    def handle_event(self, event: dict[str, Any]) -> None:
        print(event["type"], event["cursor"])  # at least once: dedupe by cursor


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 8080), Receiver).serve_forever()
