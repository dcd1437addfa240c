"""Read landing shards into DOC_SCHEMA record batches; whatever cannot be read is counted as lost data.

Formats (extensions matched case-insensitively): JSON lines as ``.jsonl`` or ``.ndjson``, plain or
compressed with ``.gz``, ``.zst``/``.zstd`` or ``.bz2``; and ``.parquet``. Anything else in a
landing folder is listed as ignored, with the reason, never skipped silently.

JSON lines are read as raw bytes with a bounded ``readline`` so one absurdly long line never has to
fit in memory, and each line is decoded strictly, so invalid UTF-8 is reported, not replaced. A bad
line (malformed JSON, a 5,000-digit number, 100,000 nested brackets, a lone surrogate escape) costs
that one document, with its file and line. Compressed streams are decoded by hand so damage is found
where it is: every line before it is kept, the stream resynchronises on the next gzip member or zstd
frame where the format has one, the compressed bytes skipped are counted, and a stream that ends
before its end marker (a truncated download) is reported as truncated: the documents after the cut
are not in the file and cannot be counted. Parquet is read row group by row group, so a corrupt row
group costs its own rows (counted from the footer), not the file.
"""

import bz2
import io
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DOC_SCHEMA, SkipCounter, derive_doc_id

_JSONL_BASES = (".jsonl", ".ndjson")
_COMPRESSIONS = {"": None, ".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
JSONL_SUFFIXES = tuple(base + ext for base in _JSONL_BASES for ext in _COMPRESSIONS)
SHARD_SUFFIXES = (*JSONL_SUFFIXES, ".parquet")
_RESERVED = {"id", "text"}
_CHUNK = 1 << 16
_FEED = 1 << 12
# Where a damaged stream can be picked up again: the next gzip member / zstd frame starts here.
_RESYNC_MAGIC = {"gzip": b"\x1f\x8b\x08", "zstd": b"\x28\xb5\x2f\xfd"}


@dataclass(frozen=True)
class ReadLimits:
    # 8 MiB of text is far beyond any real document (FineWeb caps pages well below this);
    # a bigger record is a broken dump and would stall every downstream stage.
    max_record_bytes: int = 8 * 1024 * 1024
    batch_size: int = 2048


DEFAULT_LIMITS = ReadLimits()


def shard_format(name: str) -> tuple[str, str | None] | None:
    """("jsonl", compression) or ("parquet", None) for a shard file name, None for anything else."""
    lower = name.lower()
    if lower.endswith(".parquet"):
        return "parquet", None
    for base in _JSONL_BASES:
        for ext, compression in _COMPRESSIONS.items():
            if lower.endswith(base + ext):
                return "jsonl", compression
    return None


@dataclass
class LandingScan:
    """The shards of one category folder, and every file that is not read, with the reason."""

    shards: list[Path] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path relative to the folder, reason)


def scan_landing(category_dir: Path, landing_root: Path | None = None, follow_links_outside: bool = False) -> LandingScan:
    """Walk a category folder (recursively, sorted). A symlink whose target lies outside
    ``landing_root`` (default: the folder's parent, the landing folder) is not followed unless
    ``follow_links_outside``; a directory reached twice (a link loop) is read once."""
    scan = LandingScan()
    if not category_dir.is_dir():
        return scan
    root = (landing_root or category_dir.parent).resolve()
    seen_dirs: set[Path] = set()

    def walk(directory: Path) -> None:
        real = directory.resolve()
        if real in seen_dirs:
            scan.ignored.append((_rel(directory, category_dir), "folder already read through another link"))
            return
        seen_dirs.add(real)
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            path = Path(entry.path)
            rel = _rel(path, category_dir)
            if entry.name.startswith("."):
                scan.ignored.append((rel, "hidden (dot) file or folder"))
                continue
            if entry.is_symlink():
                target = path.resolve()
                if not target.exists():
                    scan.ignored.append((rel, f"broken symlink to {target}"))
                    continue
                if not target.is_relative_to(root) and not follow_links_outside:
                    scan.ignored.append((rel, (f"symlink to {target}, outside the landing folder (not followed "
                                               "unless follow_links_outside_landing is set)")))
                    continue
            if entry.is_dir():
                walk(path)
            elif not entry.is_file():
                scan.ignored.append((rel, "not a regular file"))
            elif shard_format(entry.name) is None:
                scan.ignored.append((rel, "unsupported extension (read: " + ", ".join(SHARD_SUFFIXES) + ")"))
            else:
                scan.shards.append(path)

    walk(category_dir)
    return scan


def _rel(path: Path, base: Path) -> str:
    return str(path.relative_to(base))


def list_shards(category_dir: Path) -> list[Path]:
    """Shards of one category folder (recursively), sorted; see ``scan_landing`` for the rules."""
    return scan_landing(category_dir).shards


class _DecodedStream(io.RawIOBase):
    """A compressed file decoded chunk by chunk, recording damage instead of raising.

    On a decoding error the stream ends the current line (so a half record never glues onto the
    next one), skips to the next gzip member / zstd frame if there is one, and counts the
    compressed bytes it skipped. ``truncated`` is set when the input ends inside a member/frame.
    """

    def __init__(self, path: Path, compression: str):
        self._fh = open(path, "rb")  # noqa: SIM115 - the stream owns the handle; close() releases it
        self.compression = compression
        self.size = path.stat().st_size
        self.skipped_bytes = 0
        self.damage: list[list] = []  # [what happened, compressed bytes skipped, resumed after it]
        self.truncated = False
        self._pending = b""  # decoded bytes not yet handed out
        self._input = b""  # compressed bytes read but not yet fed
        self._eof = False
        self._in_member = False  # the current decoder has been fed and has not reached its end
        self._dec = self._new_decoder()

    def _new_decoder(self):
        if self.compression == "gzip":
            return zlib.decompressobj(wbits=31)
        if self.compression == "bz2":
            return bz2.BZ2Decompressor()
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._eof:
            self._fill()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _fill(self) -> None:
        if not self._input:
            self._input = self._fh.read(_CHUNK)
            if not self._input:
                self.truncated = self._in_member
                self._eof = True
                return
        # feed small pieces: a decoding error discards the output of its own call, so this bounds
        # what one bad byte costs (and locates the damage) to a few KiB of compressed input
        data, self._input = self._input[:_FEED], self._input[_FEED:]
        if not self._in_member and not data.strip(b"\0"):
            return  # zero padding after the last member (tape and block-device tools write it)
        self._in_member = True
        try:
            self._pending += self._dec.decompress(data)
        except Exception as exc:  # noqa: BLE001 - zlib.error, OSError (bz2), zstandard.ZstdError
            self._resync(data, f"{type(exc).__name__}: {exc}")
            return
        if self._dec.eof:
            self._input = self._dec.unused_data
            self._dec = self._new_decoder()
            self._in_member = False

    def _resync(self, data: bytes, reason: str) -> None:
        """Damage in ``data``: end the current line, then continue at the next member/frame start."""
        start = self._fh.tell() - len(self._input) - len(data)
        self.damage.append([f"{reason} (in compressed bytes {start}-{start + len(data)})", 0, False])
        self._pending += b"\n"
        self._in_member = False
        magic = _RESYNC_MAGIC.get(self.compression)
        buf, first, self._input = data + self._input, True, b""
        while magic is not None:
            at = buf.find(magic, 1 if first else 0)
            if at >= 0:
                self._skip(at)
                self._input = buf[at:]
                self._dec = self._new_decoder()
                self.damage[-1][2] = True
                return
            block = self._fh.read(_CHUNK)
            if not block:
                break
            cut = max(1, len(buf) - len(magic) + 1)  # keep a tail that may begin a magic
            self._skip(cut)
            buf, first = buf[cut:] + block, False
        self._skip(len(buf) + max(0, self.size - self._fh.tell()))
        self._eof = True

    def _skip(self, n: int) -> None:
        self.skipped_bytes += n
        self.damage[-1][1] += n

    def close(self) -> None:
        self._fh.close()
        super().close()


def _open_jsonl(path: Path, compression: str | None):
    if compression is None:
        return open(path, "rb"), None
    stream = _DecodedStream(path, compression)
    return io.BufferedReader(stream, buffer_size=_CHUNK), stream


def _read_lines(fh, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield (line_no, line) with line None when it exceeded ``limit`` (its bytes are drained)."""
    line_no = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        line_no += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line in bounded chunks
                rest = fh.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line_no, None
            continue
        yield line_no, line


def _encodable(*values: str | None) -> bool:
    """False when a string holds a lone surrogate (from a ``\\ud800`` escape): UTF-8 cannot store it."""
    try:
        for v in values:
            if v is not None:
                v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _BatchBuilder:
    def __init__(self, category: str, shard_name: str):
        self.category = category
        self.shard_name = shard_name
        self.cols: dict[str, list] = {name: [] for name in DOC_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.cols["id"])

    def add(self, record: dict, line: int, check_surrogates: bool) -> str | None:
        """Add a validated record; returns a skip reason instead when its fields cannot be stored."""
        given = record.get("id")
        try:
            doc_id = str(given) if given not in (None, "") else derive_doc_id(self.category, self.shard_name, line)
            others = {k: v for k, v in record.items() if k not in _RESERVED}
            meta = json.dumps(others, ensure_ascii=False, default=str) if others else None
        except (ValueError, RecursionError, TypeError):
            return "unencodable_record"
        if check_surrogates and not _encodable(doc_id, record["text"], meta):
            return "lone_surrogate"
        self.cols["id"].append(doc_id)
        self.cols["text"].append(record["text"])
        self.cols["category"].append(self.category)
        self.cols["source_shard"].append(self.shard_name)
        self.cols["source_line"].append(line)
        self.cols["meta"].append(meta)
        return None

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self.cols, schema=DOC_SCHEMA)
        self.cols = {name: [] for name in DOC_SCHEMA.names}
        return batch


def _validate_record(record: object, limits: ReadLimits) -> str | None:
    """The skip reason for a decoded record, or None when it is a usable document."""
    if not isinstance(record, dict):
        return "not_an_object"
    if "text" not in record or record["text"] is None:
        return "missing_text"
    text = record["text"]
    if not isinstance(text, str):
        return "text_not_string"
    if not text.strip():
        return "empty_text"
    if len(text) > limits.max_record_bytes:
        return "record_too_large"
    return None


def read_shard(
    path: Path, category: str, shard_name: str, skips: SkipCounter, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[pa.RecordBatch]:
    """Stream one shard as DOC_SCHEMA batches; what cannot be read goes to ``skips``, never raises.

    Each skip is counted in documents where they can be counted (a bad line, a corrupt parquet
    row group's rows) and in compressed bytes where they cannot (a damaged stretch of a gzip
    stream, a parquet file whose footer is unreadable); a truncated stream is flagged.
    """
    builder = _BatchBuilder(category, shard_name)
    kind, compression = shard_format(path.name) or ("jsonl", None)
    records = (_iter_parquet(path, skips, shard_name, limits) if kind == "parquet"
               else _iter_jsonl(path, compression, skips, shard_name, limits))
    try:
        for line, record, maybe_surrogates in records:
            reason = _validate_record(record, limits) or builder.add(record, line, maybe_surrogates)
            if reason is not None:
                skips.add(reason, shard_name, line, _record_hint(record, reason))
                continue
            if len(builder) >= limits.batch_size:
                yield builder.flush()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: an unforeseen failure costs the rest of the file
        skips.add("unreadable_file", shard_name, None, f"{type(exc).__name__}: {exc}"[:300], docs=0,
                  lost_bytes=_size(path))
    if len(builder):
        yield builder.flush()


def _record_hint(record: object, reason: str) -> str:
    if reason == "lone_surrogate":
        return "a \\ud800-\\udfff escape without its pair: not valid Unicode, cannot be stored as UTF-8"
    if reason == "record_too_large" and isinstance(record, dict):
        return f"text of {len(record['text'])} characters"
    return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _iter_jsonl(path, compression, skips: SkipCounter, shard_name: str, limits: ReadLimits):
    """(line, record, may_hold_surrogates) per decodable line; bad lines and stream damage to ``skips``."""
    try:
        fh, stream = _open_jsonl(path, compression)
    except OSError as exc:
        skips.add("unreadable_file", shard_name, None, f"{type(exc).__name__}: {exc}"[:300], docs=0,
                  lost_bytes=_size(path))
        return
    line_no = 0
    with fh:
        for line_no, raw in _read_lines(fh, limits.max_record_bytes):
            if raw is None:
                skips.add("record_too_large", shard_name, line_no, f"line over {limits.max_record_bytes} bytes")
                continue
            if not raw.strip():
                continue  # blank lines are layout, not records
            if stream is not None and stream.truncated and not raw.endswith(b"\n"):
                skips.add("truncated_record", shard_name, line_no, "the file ends inside this record")
                continue
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skips.add("invalid_utf8", shard_name, line_no, str(exc)[:200])
                continue
            try:
                record = json.loads(decoded)
            except RecursionError:
                skips.add("json_too_deep", shard_name, line_no, "nesting deeper than the JSON parser's recursion limit")
                continue
            except ValueError as exc:  # JSONDecodeError, and int() refusing a number of over 4,300 digits
                skips.add("malformed_json", shard_name, line_no, f"{type(exc).__name__}: {exc}"[:200])
                continue
            yield line_no, record, b"\\u" in raw  # a lone surrogate can only come from a \\u escape
        if stream is not None:
            _report_stream_damage(stream, skips, shard_name, line_no)


def _report_stream_damage(stream: _DecodedStream, skips: SkipCounter, shard_name: str, last_line: int) -> None:
    for problem, skipped, resumed in stream.damage:
        after = "decoding resumed at the next gzip member / zstd frame" if resumed else "nothing after it decodes"
        skips.add("corrupt_stream", shard_name, None,
                  f"{problem}: {skipped} of {stream.size} compressed bytes skipped; {after}", docs=0, lost_bytes=skipped)
    if stream.truncated:
        skips.add("truncated_file", shard_name, None,
                  f"the {stream.compression} stream ends before its end marker after line {last_line}: the file was "
                  "cut (an interrupted copy or download); the documents after the cut are not in it and cannot be "
                  "counted", docs=0, unbounded=True)


def _iter_parquet(path: Path, skips: SkipCounter, shard_name: str, limits: ReadLimits):
    """(row, record, False) per row, one row group at a time: a corrupt row group costs its rows."""
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - ArrowInvalid (bad magic/footer), OSError
        skips.add("unreadable_file", shard_name, None, f"parquet footer unreadable, {type(exc).__name__}: {exc}"[:300],
                  docs=0, lost_bytes=_size(path))
        return
    if "text" not in pf.schema_arrow.names:
        skips.add("missing_text", shard_name, None, f"parquet has no 'text' column ({pf.metadata.num_rows} rows)",
                  docs=pf.metadata.num_rows)
        return
    first_row = 0
    for group in range(pf.metadata.num_row_groups):
        group_rows = pf.metadata.row_group(group).num_rows
        done = 0
        try:
            for batch in pf.iter_batches(batch_size=1024, row_groups=[group]):
                records = batch.to_pylist()
                for i, record in enumerate(records):
                    yield first_row + done + i + 1, record, False
                done += len(records)
        except Exception as exc:  # noqa: BLE001 - a damaged page or column chunk: the rest of this row group is lost
            lost = group_rows - done
            skips.add("corrupt_row_group", shard_name, first_row + done + 1,
                      f"row group {group}: rows {first_row + done + 1}-{first_row + group_rows} unreadable, "
                      f"{type(exc).__name__}: {exc}"[:300], docs=lost)
        first_row += group_rows
