"""The server's cache of gzip-compressed static files (mtlviz/serve/compression.py), on its own.

What a served page receives is checked against a real server in tests/test_serve.py and in
Chromium in tests/test_browser.py.
"""
from __future__ import annotations

import gzip
import os
import random

import pytest

from mtlviz.serve import compression
from mtlviz.serve.compression import CompressedFiles, compressible, wants_gzip


def write(path, text):
    path.write_text(text)
    return str(path)


def test_a_file_is_compressed_once_and_again_only_when_it_changes(tmp_path):
    """If this fails, the server compresses a file for every student (about 0.14 CPU-s a page,
    in its one event loop), or keeps sending a lesson's old script after it changed on disk."""
    files = CompressedFiles()
    path = write(tmp_path / "lesson.js", "const step = 1;\n" * 2000)
    first = files.get(path)
    assert gzip.decompress(first) == (tmp_path / "lesson.js").read_bytes()
    assert len(first) < 0.1 * os.path.getsize(path)
    assert files.get(path) is first and files.compressions == 1
    write(tmp_path / "lesson.js", "const step = 2;\n" * 2000)  # same size, new content and time
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
    assert gzip.decompress(files.get(path)) == b"const step = 2;\n" * 2000
    assert files.compressions == 2 and len(files) == 1


def test_compressed_bytes_are_the_same_every_time(tmp_path):
    """If this fails, each server start (or each cache miss) sends different bytes for the same
    file, and caches between the class and the server cannot tell they are the same."""
    path = write(tmp_path / "style.css", "body { color: black; }\n" * 500)
    assert CompressedFiles().get(path) == CompressedFiles().get(path)


def test_the_cache_keeps_at_most_its_limit_dropping_the_least_recently_sent(tmp_path):
    """If this fails, a server that has served many different files holds them all in memory."""
    paths = [write(tmp_path / f"{i}.js", random.Random(i).randbytes(3000).hex()) for i in range(4)]
    sizes = [len(CompressedFiles().get(p)) for p in paths]
    files = CompressedFiles(limit=3 * max(sizes))  # room for three of the four
    assert 4 * min(sizes) > files.limit
    for p in paths[:3]:
        files.get(p)
    files.get(paths[0])  # sent again: now the most recent
    files.get(paths[3])  # over the limit: the least recently sent (1.js) goes
    assert files.size <= files.limit
    assert files.compressions == 4
    files.get(paths[0]), files.get(paths[2]), files.get(paths[3])
    assert files.compressions == 4, "a recently sent file was dropped instead of the least recent"
    files.get(paths[1])
    assert files.compressions == 5


def test_a_file_larger_than_the_cache_is_still_compressed_but_not_kept(tmp_path):
    path = write(tmp_path / "big.js", os.urandom(4000).hex())
    files = CompressedFiles(limit=100)
    assert gzip.decompress(files.get(path)) == (tmp_path / "big.js").read_bytes()
    assert len(files) == 0 and files.size == 0


def test_a_file_over_the_size_limit_or_under_a_kilobyte_is_sent_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(compression, "MAX_FILE_BYTES", 2000)
    assert CompressedFiles().get(write(tmp_path / "huge.js", "x" * 2001)) is None
    assert CompressedFiles().get(write(tmp_path / "tiny.js", "x" * (compression.MIN_BYTES - 1))) is None
    assert CompressedFiles().get(write(tmp_path / "fine.js", "x" * compression.MIN_BYTES)) is not None


def test_a_negative_cache_limit_is_refused():
    with pytest.raises(ValueError, match="limit must be >= 0 bytes, got -1"):
        CompressedFiles(limit=-1)


@pytest.mark.parametrize("header, expected", [
    ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True), ("GZIP", True),
    ("gzip;q=0", False), ("identity", False), ("", False), (None, False), ("deflate, br", False),
    ("gzip;q=nonsense", False),
])
def test_accept_encoding_is_read_as_http_says(header, expected):
    """If this fails, a client that refuses gzip (q=0) gets it, or a browser that accepts it
    does not."""
    assert wants_gzip(header) is expected


@pytest.mark.parametrize("content_type, expected", [
    ("text/javascript", True), ("application/javascript; charset=UTF-8", True), ("text/css", True),
    ("application/json", True), ("image/svg+xml", True), ("text/html; charset=utf-8", True),
    ("font/woff2", False), ("image/png", False), ("application/octet-stream", False), (None, False),
])
def test_only_text_like_files_are_compressed(content_type, expected):
    """If this fails, fonts and pictures (compressed already) cost the server CPU for nothing."""
    assert compressible(content_type) is expected
