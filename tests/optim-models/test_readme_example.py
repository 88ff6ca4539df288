"""The root README's Python examples, run as written (offline) so that the README cannot rot.

The one substitution: ``opt.optimization.n_steps`` (and the ``n_steps`` behind ``optimize()``'s
default) is patched to run 2 steps without a progress bar, whatever count the README gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest
import torch

import optim as opt
import optim.image_utils.display as display
import optim.optimization.input_optimization as input_optimization
from optim.models import InceptionV1
from optim.models.inception_v1 import GOOGLENET_URL

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def _python_api_section() -> str:
    text = README.read_text()
    start = text.index("## Python API")
    return text[start : text.index("\n## ", start + 1)]


@pytest.fixture
def two_steps(monkeypatch) -> list[int]:
    """Every ``n_steps(n)`` the examples build runs 2 steps; the requested counts are kept."""
    real_n_steps = opt.optimization.n_steps
    requested: list[int] = []

    def short(n: int, show_progress: bool = True):
        requested.append(n)
        return real_n_steps(2, show_progress=False)

    monkeypatch.setattr(opt.optimization, "n_steps", short)
    monkeypatch.setattr(input_optimization, "n_steps", short)
    return requested


def test_first_python_example_runs_offline_as_written(
    hub_checkpoints, two_steps, tmp_path, monkeypatch, capsys
):
    first = _python_blocks()[0]
    assert first in _python_api_section()
    assert "efficientnet_lite0(pretrained=True)" in first and "googlenet" not in first
    monkeypatch.chdir(tmp_path)  # the example writes its PNG into the working directory
    torch.manual_seed(0)

    namespace: dict = {}
    exec(compile(first, str(README), "exec"), namespace)  # hub_checkpoints forbids downloads

    assert two_steps == [256]  # the README's own count, replaced by 2
    history, image = namespace["history"], namespace["image"]
    assert history.shape == (2,) and bool(torch.isfinite(history).all())
    # the printed objective is the loss negated, as the README explains
    printed = capsys.readouterr().out
    assert f"objective at the last step: {-history[-1].item():.2f}" in printed
    assert (tmp_path / "channel2.png").is_file()
    assert image().shape == (1, 3, 160, 160)
    assert not namespace["model"].training


def test_readme_states_the_first_examples_time_and_the_loss_sign():
    section = _python_api_section()
    assert re.search(r"takes\s+about\s+\d+\s+s(econds)?\s+on\s+2\s+CPU\s+cores", section), section
    assert "negated" in section and "final_objective" in section


def test_inception_example_says_where_its_weights_go_and_runs_with_them(
    hub_checkpoints, two_steps, monkeypatch
):
    blocks = _python_blocks()
    second = blocks[1]
    assert second in _python_api_section() and "googlenet(pretrained=True)" in second
    section = _python_api_section()
    assert "$TORCH_HOME/hub/checkpoints/inception5h.pth" in section
    assert GOOGLENET_URL in section and 'model_path="inception5h.pth"' in section

    torch.manual_seed(0)
    torch.save(InceptionV1().state_dict(), hub_checkpoints / "inception5h.pth")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gcf()))
    monkeypatch.setattr(display, "_warned_non_interactive", False)
    namespace: dict = {}
    with pytest.warns(UserWarning, match="displays nothing"):  # headless, as the README says
        exec(compile(second, str(README), "exec"), namespace)
    assert two_steps == [512] and len(shown) == 1
    assert namespace["image"]().shape == (1, 3, 224, 224)
    plt.close("all")
