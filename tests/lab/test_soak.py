"""A short soak in the test command (scripts/soak runs the long one): mixed
uploads from three clients while every kind of fault is injected in turn;
no job may be lost or answered wrongly, and no process's memory grows."""

import soak


def test_soak_loses_and_corrupts_nothing(lab, histo_bin, tmp_path):
    cases = soak.prepare(histo_bin, tmp_path)
    report = soak.run(lab, cases, seconds=60)
    assert report["jobs"] >= 30, report
    assert not report["wrong"], report["wrong"]
    assert not report["lost"], report["lost"]
    assert report["correct"] == report["jobs"]
    assert len(report["faults"]) >= 3, report["faults"]
    for process, mb in report["memory_mb"].items():
        assert mb["peak"] < 1024, f"{process} peaked at {mb['peak']} MB"
        if mb["to_s"] - mb["from_s"] >= 40:  # lived long enough to tell growth from warming up
            assert mb["peak_last_third"] <= 1.5 * mb["peak_first_third"] + 64, f"{process} grows: {mb}"
