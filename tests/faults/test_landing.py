"""Issue 15.4 and 15.7: one rule for what a category is, and no file in landing skipped silently."""

import gzip
import os

import pytest

from curation.document import InvalidCategoryError, validate_category
from curation.ingest import ingest_category
from curation.lake import Lake
from tests.faults.conftest import doc_lines, materialize_raw, raw_outcome


def test_a_dot_folder_is_not_a_category_anywhere(tmp_path):
    (tmp_path / "landing/.hidden").mkdir(parents=True)
    (tmp_path / "landing/.hidden/a.jsonl").write_bytes(b"".join(doc_lines(3)))
    (tmp_path / "landing/shown").mkdir()
    lake = Lake(tmp_path)
    assert lake.landing_categories() == ["shown"]
    assert lake.refused_landing_folders() == [
        (".hidden", "a dot-folder is hidden, so it is not a category (rename it without the leading '.')")]
    with pytest.raises(InvalidCategoryError, match="dot-folder"):
        validate_category(".hidden")
    with pytest.raises(InvalidCategoryError, match="dot-folder"):
        ingest_category(lake, ".hidden")  # so it never reaches raw, the dedup index or the mixture
    with pytest.raises(InvalidCategoryError, match="dot-folder"):
        lake.stage_dir("deduped", ".hidden")
    assert not (tmp_path / "lake").exists()


def test_the_sensor_refuses_a_dot_folder_with_the_reason(tmp_path):
    from dagster_project.sensors import landing_changes
    from resources.lake import LakeResource

    (tmp_path / "landing/.hidden").mkdir(parents=True)
    (tmp_path / "landing/.hidden/a.jsonl").write_bytes(b"".join(doc_lines(3)))
    changes, refused, _ = landing_changes(LakeResource(home=str(tmp_path)), {})
    assert changes == {} and len(refused) == 1 and "dot-folder" in refused[0]


def test_dotted_names_inside_stay_legal():
    assert validate_category("code.v2") == "code.v2"


def test_common_extensions_are_read_and_every_other_file_is_reported(tmp_path):
    land = tmp_path / "landing/mix"
    land.mkdir(parents=True)
    (land / "a.ndjson").write_bytes(b"".join(doc_lines(2, "nd")))
    (land / "B.JSONL").write_bytes(b"".join(doc_lines(2, "up")))
    (land / "c.Jsonl.GZ").write_bytes(gzip.compress(b"".join(doc_lines(2, "gz"))))
    for name in ("d.csv", "e.txt", "f.json", "g.bz2", ".h.jsonl.tmp"):
        (land / name).write_text("text\n")
    meta, _ = raw_outcome(materialize_raw(tmp_path, "mix"))
    assert meta["dagster/row_count"] == 6 and meta["shards"] == 3
    assert meta["ignored_files_count"] == 5
    table = meta["ignored_files"]
    for name in ("d.csv", "e.txt", "f.json", "g.bz2"):
        assert f"| {name} | unsupported extension" in table
    assert "| .h.jsonl.tmp | hidden (dot) file or folder |" in table


def test_links_out_of_landing_are_not_followed_unless_configured(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.jsonl").write_bytes(b"".join(doc_lines(4, "secret")))
    land = tmp_path / "home/landing/cat"
    land.mkdir(parents=True)
    (land / "own.jsonl").write_bytes(b"".join(doc_lines(2, "own")))
    os.symlink(outside / "secret.jsonl", land / "link.jsonl")  # a file link out of the home
    os.symlink(outside, land / "linked_dir")  # a folder link out of the home
    inside = tmp_path / "home/landing/shared_store"
    inside.mkdir()
    (inside / "s.jsonl").write_bytes(b"".join(doc_lines(1, "in")))
    os.symlink(inside, land / "inside_dir")  # a link that stays in landing is followed

    home = tmp_path / "home"
    meta, _ = raw_outcome(materialize_raw(home, "cat"))
    ids = set(Lake(home).read("raw", "cat").column("id").to_pylist())
    assert ids == {"own0", "own1", "in0"}
    assert meta["ignored_files_count"] == 2
    assert "| link.jsonl | symlink to " in meta["ignored_files"] and "outside the landing folder" in meta["ignored_files"]

    configured = {"ops": {"corpus__raw": {"config": {"follow_links_outside_landing": True}}}}
    meta, _ = raw_outcome(materialize_raw(home, "cat", configured))
    ids = set(Lake(home).read("raw", "cat").column("id").to_pylist())
    assert {f"secret{i}" for i in range(4)} <= ids and meta["ignored_files_count"] == 0


def test_a_link_loop_is_read_once(tmp_path):
    land = tmp_path / "landing/loop"
    (land / "sub").mkdir(parents=True)
    (land / "sub/a.jsonl").write_bytes(b"".join(doc_lines(2)))
    os.symlink(land, land / "sub/back")
    result = ingest_category(Lake(tmp_path), "loop")
    assert result.docs_total == 2
    assert ("sub/back", "folder already read through another link") in result.ignored_files
