"""Pretrained builds (``adacm.run.pretrain``): their records."""

from __future__ import annotations

from pathlib import Path


def test_a_rebuild_with_the_same_digest_is_added_to_its_record(tmp_path: Path, monkeypatch) -> None:
    import json

    from adacm.run.pretrain import build_of, record_build

    monkeypatch.setattr("adacm.run.pretrain.PRETRAIN_RECORDS", tmp_path)
    meta = {"name": "simclr_resnet18", "model": "resnet18", "sha256": "d" * 64, "machine": {"cpu_model": "A"}}
    path = record_build(meta, {"machine": {"cpu_model": "A"}})
    record_build(meta, {"machine": {"cpu_model": "B"}})
    record = json.loads(path.read_text())
    assert path.name == "simclr_resnet18_dddddddddddd.json"
    assert record["machine"] == {"cpu_model": "A"} and record["rebuilds"] == [{"machine": {"cpu_model": "B"}}]
    assert build_of("d" * 64) == "d" * 64 and build_of("e" * 64) is None
