"""A loopback HTTP server that answers the way the Hugging Face dataset viewer (datasets-server)
does, for the Hub dataset tests and the recipes suite:

  GET /rows?dataset=D&config=C&split=S&offset=O&length=L
      -> {"features": [...], "rows": [{"row_idx", "row", "truncated_cells": []}],
          "num_rows_total", "num_rows_per_page": 100, "partial": false}; length over 100: 422
  GET /splits?dataset=D -> {"splits": [{"dataset", "config", "split"}], "pending": [], "failed": []}
  errors: a JSON body {"error": ...} with X-Error-Code: 404 ResponseNotFound for an unknown
      dataset, config or split; 401 ExternalUnauthenticatedError for a gated dataset without its
      token.
Faults for tests: `truncate` (the viewer marks this column of every row truncated)."""
import http.server
import json
import threading
import urllib.parse

MAX_LENGTH = 100


def features_of(row):
    kinds = {bool: "bool", int: "int64", float: "float64", str: "string"}
    return [{"feature_idx": i, "name": k, "type": {"dtype": kinds.get(type(v), "string"), "_type": "Value"}}
            for i, (k, v) in enumerate(row.items())]


class DatasetsServer:
    def __init__(self):
        self.datasets = {}  # name -> ({config: {split: [rows]}}, token or None)
        self.requests = []  # (path, query dict, headers)
        self.truncate = None
        viewer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                viewer.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, name, configs, token=None):
        """configs: {config: {split: [row dicts]}}."""
        self.datasets[name] = (configs, token)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def rows_requests(self):
        return [q for p, q, _ in self.requests if p == "/rows"]

    def reply(self, h, status, body, error=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if error:
            h.send_header("X-Error-Code", error)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        self.requests.append((url.path, q, dict(h.headers)))
        entry = self.datasets.get(q.get("dataset"))
        if url.path not in ("/rows", "/splits"):
            return self.reply(h, 404, {"error": "Not Found"}, "ResponseNotFound")
        if entry is None:
            return self.reply(h, 404, {"error": "The dataset does not exist, or is not accessible without "
                                                "authentication (private or gated)."}, "ResponseNotFound")
        configs, token = entry
        if token and h.headers.get("Authorization") != "Bearer " + token:
            return self.reply(h, 401, {"error": "The dataset is gated: authentication is required."},
                              "ExternalUnauthenticatedError")
        if url.path == "/splits":
            return self.reply(h, 200, {"splits": [{"dataset": q["dataset"], "config": c, "split": s}
                                                  for c, splits in configs.items() for s in splits],
                                       "pending": [], "failed": []})
        rows = configs.get(q.get("config"), {}).get(q.get("split"))
        if rows is None:
            return self.reply(h, 404, {"error": "Not found."}, "ResponseNotFound")
        offset, length = int(q.get("offset", 0)), int(q.get("length", MAX_LENGTH))
        if length > MAX_LENGTH:
            return self.reply(h, 422, {"error": "Parameter 'length' must not be greater than %d" % MAX_LENGTH},
                              "InvalidParameter")
        page = [{"row_idx": offset + i, "row": r, "truncated_cells": [self.truncate] if self.truncate else []}
                for i, r in enumerate(rows[offset:offset + length])]
        self.reply(h, 200, {"features": features_of(rows[0]) if rows else [], "rows": page,
                            "num_rows_total": len(rows), "num_rows_per_page": MAX_LENGTH, "partial": False})
