"""A loopback HTTP server that serves model repositories the way the Hugging Face Hub's file API
does, for the download tests:

  GET  /api/models/{org}/{name}/revision/{rev}  -> {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD/GET /{org}/{name}/resolve/{rev}/{file}    -> small files: 200, ETag = git blob sha1;
       LFS files (.safetensors, .gguf): 302 to /lfs/{sha256}, X-Linked-Etag = sha256,
       X-Linked-Size; every answer carries X-Repo-Commit
  GET  /lfs/{sha256}                             -> the bytes, honouring "Range: bytes=N-"
  errors: 401 + X-Error-Code GatedRepo without the repo's token, 404 + RepoNotFound,
       RevisionNotFound or EntryNotFound.
Faults for tests: `cut_after` (close the connection after that many bytes of an LFS file, once),
`corrupt` (serve other bytes than the announced sha256)."""
import hashlib
import http.server
import json
import threading


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, commits, refs, token=None):
        self.commits = commits  # commit id -> {file name: bytes}
        self.refs = refs        # branch or tag -> commit id
        self.token = token      # required bearer token (a gated repo), or None

    def commit(self, rev):
        return rev if rev in self.commits else self.refs.get(rev)


class HubServer:
    def __init__(self):
        self.repos = {}
        self.requests = []  # (method, path, headers)
        self.cut_after = None
        self.corrupt = False
        self.blobs = {}
        self.digests = {}  # id(bytes) -> (sha256, git blob sha1), computed once
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.handle(self, head=True)

            def do_GET(self):
                hub.handle(self, head=False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, name, repo):
        self.repos[name] = repo
        for files in repo.commits.values():
            for data in files.values():
                sha = hashlib.sha256(data).hexdigest()
                self.blobs[sha] = data
                self.digests[id(data)] = (sha, git_blob_sha1(data))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def lfs(name):
        return name.endswith((".safetensors", ".gguf"))

    def reply(self, h, status, headers=(), body=b"", head=False, error=None):
        h.send_response(status)
        if error:
            h.send_header("X-Error-Code", error)
            body = json.dumps({"error": error}).encode()
            h.send_header("Content-Type", "application/json")
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def handle(self, h, head):
        path = h.path.split("?")[0]
        self.requests.append((h.command, path, dict(h.headers)))
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "revision":
            return self.api(h, "/".join(parts[2:4]), parts[5], head)
        if parts[:1] == ["lfs"] and len(parts) == 2:
            return self.blob(h, parts[1], head)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(h, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), head)
        self.reply(h, 404, head=head)

    def repo_or_error(self, h, name, rev, head):
        repo = self.repos.get(name)
        if repo is None:
            self.reply(h, 401, head=head, error="RepoNotFound")  # as the Hub answers anonymous callers
            return None, None
        if repo.token and h.headers.get("Authorization") != "Bearer " + repo.token:
            self.reply(h, 401, head=head, error="GatedRepo")
            return None, None
        commit = repo.commit(rev)
        if commit is None:
            self.reply(h, 404, head=head, error="RevisionNotFound")
            return None, None
        return repo, commit

    def api(self, h, name, rev, head):
        repo, commit = self.repo_or_error(h, name, rev, head)
        if repo:
            body = json.dumps({"id": name, "sha": commit,
                               "siblings": [{"rfilename": f} for f in sorted(repo.commits[commit])]}).encode()
            self.reply(h, 200, [("Content-Type", "application/json")], body, head)

    def resolve(self, h, name, rev, file, head):
        repo, commit = self.repo_or_error(h, name, rev, head)
        if not repo:
            return
        data = repo.commits[commit].get(file)
        if data is None:
            return self.reply(h, 404, [("X-Repo-Commit", commit)], head=head, error="EntryNotFound")
        sha, sha1 = self.digests[id(data)]
        if self.lfs(file):
            return self.reply(h, 302, [("X-Repo-Commit", commit), ("X-Linked-Etag", '"%s"' % sha),
                                       ("X-Linked-Size", str(len(data))), ("ETag", '"%s"' % sha1),
                                       ("Location", self.url + "/lfs/" + sha)], head=head)
        self.reply(h, 200, [("X-Repo-Commit", commit), ("ETag", '"%s"' % sha1)], data, head)

    def blob(self, h, sha, head):
        data = self.blobs.get(sha)
        if data is None:
            return self.reply(h, 404, head=head)
        if self.corrupt:
            data = bytes(b ^ 1 for b in data)
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.reply(h, 416, head=head)
        body = memoryview(data)[start:]
        h.send_response(206 if start else 200)
        h.send_header("Content-Length", str(len(body)))
        if start:
            h.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        h.send_header("ETag", '"%s"' % sha)
        h.end_headers()
        if head:
            return
        if self.cut_after is not None:
            cut, self.cut_after = self.cut_after, None
            h.wfile.write(body[:cut])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
            return
        h.wfile.write(body)
