"""The pilot's view of the results store (``adacm.report.pilot``)."""

from __future__ import annotations

from pathlib import Path

from conftest import run

from adacm.run.store import save_result


def test_pilot_view_gathers_every_seed_and_experiment_of_the_pilot_variants(tmp_path: Path) -> None:
    from adacm.report.pilot import pilot_summary, stored_pilot_runs

    def pilot_run(method: str, seed: int, acc: float, mask: float, **fields) -> dict:
        r = run(method, seed, acc, 4000, **fields)
        r["epochs"] = [{"mask_rate": mask, "pl_acc_masked": 0.8}]
        return r

    face = {"model": "dlib_face", "init": "face", "image_size": 112, "head_lr_mult": 10.0}
    save_result(tmp_path, "pilot", pilot_run("adacm", 0, 40.0, 0.1, **face))
    save_result(tmp_path, "pilot", pilot_run("adacm", 1, 44.0, 0.3, **face))
    save_result(tmp_path, "table2", pilot_run("adacm", 0, 50.0, 0.2))  # the default variant is Table 2's
    save_result(tmp_path, "fig3", pilot_run("adacm", 0, 1.0, 0.2, method_overrides={"b": 0.9}))  # a sweep: not pilot
    save_result(tmp_path, "pilot", pilot_run("adacm", 0, 1.0, 0.2, **{**face, "head_lr_mult": 3.0}))  # not a variant
    runs = stored_pilot_runs(tmp_path, "cpu", 4000)
    assert sorted(r["summary"]["test_acc_last"] for r in runs) == [40.0, 44.0, 50.0]
    rows = pilot_summary(runs).splitlines()
    assert "| dlib_face:face:112px, head lr ×10 | 4000 | adacm | 2 | 42.00 ± 2.83 | 20.00 ± 14.14% | 80.00 ± 0.00% |" in rows
    assert "| resnet18:simclr:48px, head lr ×10 | 4000 | adacm | 1 | 50.00 ± 0.00 | 20.00 ± 0.00% | 80.00 ± 0.00% |" in rows
