"""A small NGINX Plus REST API client for the tests, written from the Plus
documentation (ngx_http_api_module, its OpenAPI description): it knows only
Plus's paths, methods, fields and error objects, nothing of lbkit."""
import http.client
import json


class PlusApiError(Exception):
    def __init__(self, status, error):
        super().__init__(f"{status} {error.get('code')}: {error.get('text')}")
        self.status = status
        self.code = error.get("code")
        self.text = error.get("text")


class PlusApiClient:
    """Talks to http://HOST:PORT/PREFIX/{version}/..."""

    def __init__(self, port, prefix="/api", version=None, host="127.0.0.1",
                 timeout=10.0):
        self.host, self.port, self.prefix = host, port, prefix.rstrip("/")
        self.timeout = timeout
        # as Plus clients do: the highest version the server offers
        self.version = version or max(self._call("GET", "/"))

    def _call(self, method, path, payload=None):
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)
        try:
            body = None if payload is None else json.dumps(payload)
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, self.prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status == 204:
            return None
        doc = json.loads(data) if data else None
        if resp.status >= 400:
            raise PlusApiError(resp.status, (doc or {}).get("error", {}))
        return doc

    def _v(self, path):
        return f"/{self.version}{path}"

    def nginx(self):
        return self._call("GET", self._v("/nginx"))

    def upstreams(self):
        return self._call("GET", self._v("/http/upstreams"))

    def upstream(self, name):
        return self._call("GET", self._v(f"/http/upstreams/{name}"))

    def servers(self, name):
        return self._call("GET", self._v(f"/http/upstreams/{name}/servers"))

    def add_server(self, name, server, **params):
        return self._call("POST", self._v(f"/http/upstreams/{name}/servers"),
                          dict(server=server, **params))

    def update_server(self, name, server_id, **params):
        return self._call("PATCH",
                          self._v(f"/http/upstreams/{name}/servers/{server_id}"),
                          params)

    def delete_server(self, name, server_id):
        return self._call("DELETE",
                          self._v(f"/http/upstreams/{name}/servers/{server_id}"))

    def reset_stats(self, name):
        return self._call("DELETE", self._v(f"/http/upstreams/{name}"))

    def sync_servers(self, name, wanted):
        """Makes the upstream's server list equal @wanted (addresses), as
        Plus clients' UpdateHTTPServers does: add what is missing, delete
        what is extra.  Returns (added, deleted)."""
        have = {s["server"]: s["id"] for s in self.servers(name)}
        added = [w for w in wanted if w not in have]
        deleted = [s for s in have if s not in wanted]
        for w in added:
            self.add_server(name, w)
        for s in deleted:
            self.delete_server(name, have[s])
        return added, deleted
