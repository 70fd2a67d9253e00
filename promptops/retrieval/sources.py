"""Ingestion sources: what documents a source holds and the bytes of each.

Four kinds, each a JSON definition stored on ``retrieval_sources``:

* ``folder``: ``{"path": "/abs/dir", "include": [globs], "exclude": [globs]}``; a document's
  source is its path relative to the folder (``library/functools.html``);
* ``files``: ``{"paths": ["/abs/file", ...]}``; the source is the absolute path;
* ``inline``: ``{"documents": [{"name": "...", "text": "...", "media_type": "..."}]}``;
* ``urls``: ``{"urls": ["https://..."]}``, fetched when reachable (a failure is reported for
  that document and the others go on).

Every kind may carry ``"metadata": {...}`` given to each of its documents.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptops.errors import InvalidInput

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "SOURCE_KINDS",
    "FetchedDocument",
    "list_documents",
    "read_document",
    "validate_source",
]

SOURCE_KINDS = ("folder", "files", "inline", "urls")
DEFAULT_INCLUDE = ["*.html", "*.htm", "*.md", "*.markdown", "*.rst", "*.txt", "*.pdf"]
DEFAULT_EXCLUDE: list[str] = []
#: Largest document read (bytes); larger ones are reported and skipped.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class FetchedDocument:
    source: str
    data: bytes
    media_type: str | None = None


def validate_source(kind: str, definition: dict[str, Any]) -> dict[str, Any]:
    """The normalised definition of a source (absolute paths, default globs).

    Raises:
        InvalidInput: naming ``source.<field>`` (unknown kind, missing or wrong-typed field,
            a folder or file that does not exist, a non-http(s) URL).
    """
    if kind not in SOURCE_KINDS:
        raise InvalidInput(f"source.kind must be one of {list(SOURCE_KINDS)}", field="source.kind")
    metadata = definition.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidInput("source.metadata must be an object", field="source.metadata")
    out: dict[str, Any] = {"metadata": metadata}
    if kind == "folder":
        path = definition.get("path")
        if not isinstance(path, str) or not path:
            raise InvalidInput("source.path: a folder path is required", field="source.path")
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise InvalidInput(f"source.path: {folder} is not a folder", field="source.path")
        out["path"] = str(folder)
        for key, default in (("include", DEFAULT_INCLUDE), ("exclude", DEFAULT_EXCLUDE)):
            globs = definition.get(key, default)
            if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
                raise InvalidInput(f"source.{key} must be a list of globs", field=f"source.{key}")
            out[key] = list(globs)
    elif kind == "files":
        paths = definition.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise InvalidInput("source.paths: a non-empty list of paths", field="source.paths")
        resolved = []
        for p in paths:
            f = Path(p).expanduser().resolve()
            if not f.is_file():
                raise InvalidInput(f"source.paths: {f} is not a file", field="source.paths")
            resolved.append(str(f))
        out["paths"] = sorted(set(resolved))
    elif kind == "inline":
        docs = definition.get("documents")
        if not isinstance(docs, list) or not docs:
            raise InvalidInput(
                "source.documents: a non-empty list of {name, text}", field="source.documents"
            )
        names = set()
        clean = []
        for i, d in enumerate(docs):
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
                raise InvalidInput(
                    f"source.documents[{i}].name is required", field=f"source.documents[{i}].name"
                )
            if not isinstance(d.get("text"), str):
                raise InvalidInput(
                    f"source.documents[{i}].text must be a string",
                    field=f"source.documents[{i}].text",
                )
            if d["name"] in names:
                raise InvalidInput(
                    f"source.documents[{i}].name {d['name']!r} is repeated",
                    field=f"source.documents[{i}].name",
                )
            names.add(d["name"])
            clean.append({"name": d["name"], "text": d["text"], "media_type": d.get("media_type")})
        out["documents"] = clean
    else:
        urls = definition.get("urls")
        if not isinstance(urls, list) or not urls:
            raise InvalidInput("source.urls: a non-empty list of URLs", field="source.urls")
        for u in urls:
            if not isinstance(u, str) or not u.startswith(("http://", "https://")):
                raise InvalidInput(f"source.urls: {u!r} is not an http(s) URL", field="source.urls")
        out["urls"] = sorted(set(urls))
    return out


def _matches(relative: str, globs: list[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in globs)


def list_documents(kind: str, definition: dict[str, Any]) -> list[str]:
    """The sources of the documents a (validated) definition holds, sorted.

    Raises:
        InvalidInput: the folder has gone (``source.path``).
    """
    if kind == "folder":
        root = Path(definition["path"])
        if not root.is_dir():
            raise InvalidInput(f"source.path: {root} is not a folder", field="source.path")
        found = []
        for dirpath, _, files in os.walk(root):
            for f in files:
                rel = str((Path(dirpath) / f).relative_to(root)).replace(os.sep, "/")
                if _matches(rel, definition["include"]) and not _matches(
                    rel, definition["exclude"]
                ):
                    found.append(rel)
        return sorted(found)
    if kind == "files":
        return list(definition["paths"])
    if kind == "inline":
        return sorted(d["name"] for d in definition["documents"])
    return list(definition["urls"])


async def read_document(
    kind: str, definition: dict[str, Any], source: str, *, timeout_s: float = 20.0
) -> FetchedDocument:
    """The bytes of one document.

    Raises:
        FileNotFoundError: the file has gone.
        ValueError: larger than ``MAX_DOCUMENT_BYTES``, or a URL that answered with an error.
        httpx.HTTPError: a URL that could not be fetched.
    """
    if kind in ("folder", "files"):
        path = Path(definition["path"]) / source if kind == "folder" else Path(source)
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{source}: {size} bytes is over the {MAX_DOCUMENT_BYTES} limit")
        return FetchedDocument(source, path.read_bytes())
    if kind == "inline":
        doc = next(d for d in definition["documents"] if d["name"] == source)
        return FetchedDocument(source, doc["text"].encode(), doc.get("media_type"))
    import httpx

    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
        response = await client.get(source)
    if response.status_code >= 400:
        raise ValueError(f"{source}: HTTP {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{source}: over the {MAX_DOCUMENT_BYTES} byte limit")
    media = response.headers.get("content-type", "").split(";")[0].strip() or None
    return FetchedDocument(source, response.content, media)
