"""dlae_demo.py end to end with a tiny untrained model, and the demo's numbers and profile."""
import json
import os

import numpy as np
import pytest

from mintpy_dlae import demo_plots
from mintpy_dlae.cli import demo


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from mintpy_dlae.model import build_model
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    build_model(filters=4, filters_2d=4).save(path)
    return path


def test_event_window():
    # the 9-date window is centred on the event and stays inside the series
    assert demo_plots.event_window(8, 14, 20) == 7
    assert demo_plots.event_window(1, 3, 20) == 0
    assert demo_plots.event_window(17, 18, 20) == 11
    assert demo_plots.event_window(4, 12, 20) == 4


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        demo.cmd_line_parse(["--num-date", "8"])
    with pytest.raises(SystemExit):
        demo.cmd_line_parse(["--amplitude", "0"])
    assert demo.cmd_line_parse(["--amplitude", "30"]).amplitude == 30.0
    with pytest.raises(SystemExit, match="not found"):
        demo.main(["--dir", str(tmp_path), "--model", str(tmp_path / "missing.keras")])


def _fake_results(kind="fault", strike=90.0):
    """A DemoResults with a step across a known line, for the profile geometry."""
    H, W, n = 41, 51, 12
    rows, cols = np.mgrid[:H, :W]
    truth = np.zeros((n, H, W))
    truth[6:] = np.where(rows < 20, -10.0, 10.0)       # strike 90 (east): step across rows
    src = dict(kind=kind, strike=strike, length=3000.0, xc=0.0, yc=0.0)
    return demo_plots.DemoResults(
        dates=[f"2020{m:02d}01" for m in range(1, n + 1)], input=truth + 1.0, output=truth,
        cumulative=np.stack([truth[k + 8] - truth[k] for k in range(n - 8)]), truth=truth,
        valid=np.ones((H, W), bool), source=src, kind=kind, ref_yx=(0, 0), window=2,
        centre_px=(20.0, 25.0), pixel_m=(90.0, 90.0))


def test_profile_is_perpendicular_to_strike():
    res = _fake_results(strike=90.0)
    across, along = demo_plots.profile_line(res)
    # strike 90 deg (east): along strike = +col, across strike (to the right) = south = +row
    np.testing.assert_allclose(along, [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(across, [1.0, 0.0], atol=1e-12)
    dist, prof, cnt = demo_plots.profile(res, res.truth[-1])
    assert np.all(cnt > 0)
    assert prof[dist < -0.2].max() == pytest.approx(-10.0)
    assert prof[dist > 0.2].min() == pytest.approx(10.0)
    # a profile reaches the frame edges: 41 rows of 90 m
    assert dist.min() == pytest.approx(-20 * 0.09) and dist.max() == pytest.approx(20 * 0.09)


def test_metrics_of_a_perfect_and_a_zero_output():
    res = _fake_results()
    m = demo_plots.metrics(res)
    assert m["event"]["denoised"]["rms_error_mm"] == pytest.approx(0.0, abs=1e-9)
    assert m["event"]["denoised"]["gain"] == pytest.approx(1.0)
    assert m["event"]["input"]["rms_error_mm"] == pytest.approx(0.0, abs=1e-9)  # constant offset
    assert m["series"]["input"]["rms_error_mm"] == pytest.approx(1.0)  # metrics() does not re-reference
    assert abs(m["true_peak_mm"]) == pytest.approx(10.0)
    res.cumulative[:] = 0.0
    m = demo_plots.metrics(res)
    assert m["event"]["denoised"]["gain"] == pytest.approx(0.0)
    assert m["event"]["denoised"]["rms_error_mm"] == pytest.approx(10.0)
    text = demo_plots.format_metrics(m)
    assert "RMS error" in text and "denoised" in text


def test_event_snr_follows_the_paper_definition():
    res = _fake_results()
    res.input = res.truth + np.random.default_rng(0).normal(0.0, 2.0, res.truth.shape)
    # window 2..10: cumulative +-10 mm everywhere; noise std 2 mm, its 9-date mean removed per pixel
    expected = 10.0 / (2.0 * np.sqrt(8.0 / 9.0))
    assert demo_plots.event_snr(res) == pytest.approx(expected, rel=0.03)
    assert demo_plots.metrics(res)["event_snr"] == pytest.approx(expected, rel=0.03)


def test_demo_progress_bar_steps():
    """The demo's bar (shown on a terminal only) counts its steps to 100 %."""
    import io
    buf = io.StringIO()
    with demo._bar(3, enabled=True, file=buf) as bar:
        for name in ("build project", "correct_dlae", "figures"):
            bar.set_description(name)
            bar.update()
    assert "figures" in buf.getvalue() and "100%" in buf.getvalue() and "3/3" in buf.getvalue()


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, tiny_model, capfd):
    """The whole demo (project, smallbaselineApp_dlae, figures, numbers) on a small frame."""
    work = tmp_path / "demo"
    demo.main(["--dir", str(work), "--model", tiny_model, "--num-date", "12", "--size", "30", "36",
               "--seed", "1"])
    out, err = capfd.readouterr()
    assert "Recovered versus true" in out and "RMS error" in out
    assert "100%" not in err                        # no progress bar: the output is not a terminal
    assert "Normal end of smallbaselineApp" not in out               # MintPy's output -> log
    assert "Normal end of smallbaselineApp" in (work / "dlae_demo.log").read_text()
    for name in ("demo_fault.png", "demo_fault_windows.png", "demo_fault.json"):
        assert os.path.getsize(work / "pic_dlae" / name) > 1000, name
    m = json.loads((work / "pic_dlae" / "demo_fault.json").read_text())
    # (no quality claim: the model is untrained; the truth row, an RMS error of the truth against
    # itself, is 0 by construction and not checked)
    for key in ("input", "denoised", "denoised_series"):
        assert np.isfinite(m["event"][key]["rms_error_mm"]), key
    # the ERA5-corrected input is noisy: its error is a sizeable part of the 80 mm signal
    assert m["event"]["input"]["rms_error_mm"] > 2.0
    assert (work / "timeseries_ERA5_DLAE.h5").is_file() and (work / "velocity.h5").is_file()


def test_figures_explain_themselves(tmp_path, monkeypatch):
    """Legend (profile line, fault trace, centroid, reference point), km axes, the windows shown,
    and the truth's peak as the table quotes it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = _fake_results()
    res.ref_yx = (3, 4)
    m = demo_plots.metrics(res)
    saved = {}
    monkeypatch.setattr(plt, "close", lambda fig: saved.setdefault("fig", fig))
    demo_plots.plot_demo(res, str(tmp_path / "demo.png"), m)
    fig = saved.pop("fig")
    legend = fig.axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["profile line", "fault trace (surface projection)", "fault centroid",
                      "reference point (REF_Y/X)"]
    assert fig.axes[0].get_xlabel() == "km (east)" and fig.axes[0].get_ylabel() == "km (south)"
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks and all(float(t) == int(float(t)) or float(t) % 0.5 == 0 for t in ticks)
    truth_title = fig.axes[2].get_title()
    assert f"{m['event']['truth']['at_true_peak_mm']:.1f} mm" in truth_title
    assert f"{m['event']['truth']['at_true_peak_mm']:9.1f}" in demo_plots.format_metrics(m)
    demo_plots.plot_windows(res, str(tmp_path / "windows.png"), max_windows=3)
    fig = saved.pop("fig")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert "window 3 of 4 (event)" in " ".join(titles)
    assert "3 of the 4 windows (evenly spread, and the event window)" in fig._suptitle.get_text()
    assert os.path.getsize(tmp_path / "demo.png") > 1000
