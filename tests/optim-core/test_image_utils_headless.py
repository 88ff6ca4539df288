"""show() on a headless machine: it still draws, and says once that nothing is displayed."""

from __future__ import annotations

import warnings

import matplotlib
import pytest
import torch

import optim as opt
import optim.image_utils.display as display
from optim.images import ImageTensor


@pytest.fixture
def agg(monkeypatch):
    """matplotlib's Agg backend (MPLBACKEND=Agg, the test default); records plt.show calls."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(plt.gca().images[-1]))
    monkeypatch.setattr(display, "_warned_non_interactive", False, raising=False)  # fresh
    yield shown
    plt.close("all")


def test_show_on_agg_warns_once_and_still_draws(agg):
    with pytest.warns(UserWarning, match="show\\(\\) displays nothing") as record:
        opt.show(torch.rand(3, 4, 4))
    message = str(record[0].message)
    assert "'agg'" in message.lower() and "non-interactive" in message
    # both suggestions exist under the names the message gives
    assert 'opt.save_tensor_as_image(x, "image.png")' in message and callable(
        opt.save_tensor_as_image
    )
    assert 'image().export("image.png")' in message and callable(ImageTensor.export)
    assert record[0].filename == __file__  # points at the caller's line
    assert len(agg) == 1 and agg[0].get_array().shape == (4, 4, 3)  # the figure is drawn

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImageTensor(torch.rand(1, 3, 4, 4)).show()  # once per process: no second warning
    assert len(agg) == 2


def test_image_tensor_show_warns_at_the_callers_line(agg):
    with pytest.warns(UserWarning, match="displays nothing") as record:
        ImageTensor(torch.rand(3, 4, 4)).show()
    assert record[0].filename == __file__


@pytest.mark.parametrize("backend", ["pdf", "SVG", "template"])
def test_other_file_backends_warn_too(agg, monkeypatch, backend):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    with pytest.warns(UserWarning, match=f"backend '{backend}' is non-interactive"):
        opt.show(torch.rand(3, 4, 4))


@pytest.mark.parametrize("backend", ["module://matplotlib_inline.backend_inline", "TkAgg", "QtAgg"])
def test_interactive_and_notebook_backends_do_not_warn(agg, monkeypatch, backend):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.show(torch.rand(3, 4, 4))
    assert len(agg) == 1
