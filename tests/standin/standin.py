"""A stand-in for an upstream image that cannot be pulled here (tests only).

It answers HTTP 200 (or STANDIN_HEALTH_STATUS) only on STANDIN_HEALTH, the catalog's health path for the tool (404 elsewhere, so
a wrong health path in a template fails a test), on the ports in STANDIN_PORTS, and writes each request
to /standin/requests.log: tests exercise routing, health checks and volumes, and nothing more.
"""

import http.server
import os
import signal
import sys
import threading

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        healthy = self.path == os.environ.get("STANDIN_HEALTH")
        # the body the upstream health endpoints answer ({"status":"pass"}: what health commands grep)
        body = (b'{"status":"pass"}\n' if healthy else
                f"stand-in for {os.environ.get('STANDIN_IMAGE', '?')}: no {self.path}\n".encode())
        # STANDIN_HEALTH_STATUS: a stand-in for a version that does not work answers 503 there
        self.send_response(int(os.environ.get("STANDIN_HEALTH_STATUS", "200")) if healthy else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        os.makedirs("/standin", exist_ok=True)
        with open("/standin/requests.log", "a") as log:
            log.write((fmt % args) + "\n")


ports = [int(p) for p in os.environ.get("STANDIN_PORTS", "").split() if p]
servers = [http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler) for port in ports]
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
if servers:
    servers[0].serve_forever()
else:
    signal.pause()
