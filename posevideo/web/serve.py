"""`posevideo serve`: a small HTTP server for the browser demo, on 127.0.0.1 unless told otherwise.

It serves the page's files in the URL layout of posevideo/web/static.py (the same folder that
`posevideo export --web DIR` writes for any static host), and two routes of Python's own that the
page no longer needs (it reads .pose files itself), kept as a reference and for scripts:
    /api/example           the bundled example pose, in the reduced layout, as JSON
    /api/pose              POST a .pose file: the same JSON, or {"error": ...} naming the problem

Every response carries COOP/COEP headers: they make the page cross-origin isolated, which is what
lets onnxruntime-web use SharedArrayBuffer, hence WASM threads (FINDINGS.md). A plain static host
has no such headers: the page then runs onnxruntime-web on one thread (README, BENCHMARKS).
"""
from __future__ import annotations

import json
import mimetypes
import tempfile
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from posevideo.errors import InputError
from posevideo.renderer.predict import DEFAULT_RENDERER as DEFAULT_MODEL
from posevideo.web.static import NODE_MODULES, WEB, check_assets, site_files  # noqa: F401 (for callers)

# The npm packages the page loads files of (the files themselves: static.NPM_FILES).
NPM_ASSETS = ("onnxruntime-web/dist", "@mediapipe/tasks-vision")

MAX_UPLOAD = 200 * 1024 * 1024

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("application/wasm", ".wasm")
for _binary in (".onnx", ".data", ".binarypb", ".tflite"):
    mimetypes.add_type("application/octet-stream", _binary)
mimetypes.add_type("application/octet-stream", ".task")
mimetypes.add_type("application/octet-stream", ".pose")


class Handler(SimpleHTTPRequestHandler):
    """Maps the URL space above onto files; anything else is 404."""

    def __init__(self, *args, files: dict, placement: dict | None, **kwargs):
        self.files = files
        self.placement = placement
        super().__init__(*args, directory=str(WEB), **kwargs)

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # one line per asset request drowns the terminal; errors reach the page instead

    def translate_path(self, path: str) -> str:
        """URL path -> file path, or a path that does not exist (so the base class answers 404)."""
        path = unquote(urlparse(path).path)
        parts = [p for p in path.split("/") if p]
        missing = str(WEB / "__not_found__")
        if any(p in (".", "..") for p in parts):
            return missing
        source = self.files.get("/".join(parts) or "index.html")
        if source is None:
            return missing
        if isinstance(source, bytes):  # made in memory (config.json): one small file in the temp folder
            cached = Path(tempfile.gettempdir()) / f"posevideo-serve-{hash(source) & 0xffffffff:x}"
            if not cached.exists():
                cached.write_bytes(source)
            return str(cached)
        return str(source)

    def send_head(self):
        # A NUL byte (`/model/%00`) makes open() raise ValueError, which the base class does not
        # catch: the connection would close with a traceback in the log. It is a bad request.
        if "\x00" in unquote(urlparse(self.path).path):
            self.send_error(HTTPStatus.BAD_REQUEST, "NUL byte in the path")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def do_GET(self):
        route = urlparse(self.path).path
        if route == "/api/example":
            from posevideo.web.poses import example_pose_json

            return self._json(example_pose_json(self.placement))
        return super().do_GET()

    def do_POST(self):
        if urlparse(self.path).path != "/api/pose":
            return self.send_error(HTTPStatus.NOT_FOUND)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        name = self.headers.get("X-Filename", "upload.pose")
        if "\x00" in name or Path(name).name in ("", ".", ".."):
            return self._json({"error": "X-Filename: not a file name"}, HTTPStatus.BAD_REQUEST)
        if length <= 0 or length > MAX_UPLOAD:
            return self._json({"error": f"{name}: empty or larger than {MAX_UPLOAD >> 20} MB"}, HTTPStatus.BAD_REQUEST)
        data = self.rfile.read(length)
        from posevideo.web.poses import pose_json

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(name).name
            path.write_bytes(data)
            try:
                payload = pose_json(path, self.placement)
            except InputError as error:
                return self._json({"error": str(error).replace(str(path), Path(name).name)}, HTTPStatus.BAD_REQUEST)
        return self._json(payload)

    def _json(self, obj, status=HTTPStatus.OK):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0 picks a free one: see `server.server_address`)."""
    from posevideo.export import read_export

    model_dir = Path(model_dir).resolve()
    description = read_export(model_dir)
    files = site_files(model_dir)
    try:
        server = ThreadingHTTPServer((host, port), partial(Handler, files=files, placement=description.get("placement")))
    except OSError as error:
        raise InputError(f"{host}:{port}", f"cannot listen there ({error.strerror})",
                         "Pick another --port (or stop what is using this one).") from error
    server.daemon_threads = True
    return server


def start_in_background(model_dir: str | Path, host: str = "127.0.0.1", port: int = 0):
    """(server, url): the server running in a daemon thread; `server.shutdown()` stops it."""
    server = make_server(model_dir, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}/"




def resolve_model(model: str | Path | None, echo=print) -> Path:
    """An export folder for `model`: itself when it holds model.json; a renderer run or checkpoint
    folder is exported once into a cache folder (keyed by its checkpoint) and that is returned."""
    import hashlib

    from posevideo.export import DESCRIPTION, export_run
    from posevideo.files import cache_dir
    from posevideo.training import PICKLE_SUFFIXES, latest_checkpoint, read_meta

    if model is None:
        model = DEFAULT_MODEL
        if not model.exists():
            raise InputError(model, "the default small renderer is not in this checkout",
                             "Pass --model with an export folder (posevideo export) or a renderer run folder.")
    model = Path(model)
    if (model / DESCRIPTION).is_file():
        return model
    checkpoint = latest_checkpoint(model)
    if checkpoint is None and model.is_dir() and any(p.suffix in PICKLE_SUFFIXES for p in model.iterdir()):
        read_meta(model)  # raises: names the .pt file, a PyTorch pickle that is never loaded
    if checkpoint is None:
        raise InputError(model, "is neither an export folder (no model.json) nor a renderer run or checkpoint folder",
                         "Pass a folder written by `posevideo export` or `posevideo train renderer`.")
    stamp = "".join(f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size};" for p in sorted(checkpoint.iterdir()) if p.is_file())
    key = hashlib.sha1(f"{checkpoint.resolve()}|{stamp}".encode()).hexdigest()[:16]
    cache = cache_dir("exports", key)
    if not (cache / DESCRIPTION).is_file():
        echo(f"exporting {checkpoint} to ONNX (once; cached in {cache})")
        echo(str(export_run(checkpoint, cache)))
    return cache
