"""A hostile HTTP backend for the hardening tests, run as its own process:

  python3 hostile_backend.py        prints "listening PORT" once bound on 127.0.0.1

  GET/POST /endless       200, no Content-Length, body bytes until the peer
                          closes (at most 120 s)
  GET/POST /deep?n=N      200, a JSON object holding N nested arrays
  anything else           200, a small JSON-RPC reply

Stopped by SIGTERM (the tests stop it by PID).
"""
import http.server
import socketserver
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            chunk = b"x" * 65536
            deadline = time.monotonic() + 120
            try:
                while time.monotonic() < deadline:
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        if url.path == "/deep":
            n = int(urllib.parse.parse_qs(url.query).get("n", ["100000"])[0])
            body = b'{"result":' + b"[" * n + b"]" * n + b"}"
        else:
            body = b'{"jsonrpc":"2.0","id":1,"result":"0x10"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length:
            self.rfile.read(length)
        self.do_GET()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
