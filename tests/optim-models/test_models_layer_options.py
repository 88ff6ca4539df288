"""check_image_input's range warning: every call on the CPU, once per model elsewhere, never
during a capture."""

from __future__ import annotations

import warnings

import pytest
import torch

import optim.models.layer_options as layer_options
from optim.models import InceptionV1, InceptionV1Places365
from optim.models.layer_options import check_image_input
from optim.optimization.graphed_step import simulated_capture

OUT_OF_RANGE = torch.full((1, 3, 8, 8), 2.0)


def _warned(call) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return any("expects RGB values in [0, 1]" in str(w.message) for w in caught)


@pytest.fixture
def device_input(monkeypatch):
    """Treat CPU tensors as if reading them back waited for an asynchronous device."""
    monkeypatch.setattr(layer_options, "_reading_back_syncs", lambda x: True)


def test_cpu_checks_every_call_even_for_a_model():
    model = InceptionV1(transform_input=True)
    assert _warned(lambda: model.transform(OUT_OF_RANGE))
    assert _warned(lambda: model.transform(OUT_OF_RANGE))
    assert not _warned(lambda: model.transform(torch.rand(1, 3, 8, 8)))


@pytest.mark.usefixtures("device_input")
def test_off_the_cpu_the_range_is_checked_once_per_model_instance():
    model, other = InceptionV1(transform_input=True), InceptionV1Places365()
    assert _warned(lambda: model.transform(OUT_OF_RANGE))
    assert not _warned(lambda: model.transform(OUT_OF_RANGE))
    assert _warned(lambda: other.transform(OUT_OF_RANGE))  # another instance checks again
    assert not _warned(lambda: other.transform(OUT_OF_RANGE))
    # Callers without a model keep checking every call.
    assert _warned(lambda: check_image_input(OUT_OF_RANGE, "Model"))
    assert _warned(lambda: check_image_input(OUT_OF_RANGE, "Model"))


@pytest.mark.usefixtures("device_input")
def test_off_the_cpu_a_cuda_graph_capture_skips_the_check_without_using_it_up(monkeypatch):
    model = InceptionV1(transform_input=True)
    with monkeypatch.context() as capture:
        capture.setattr(torch.cuda, "is_initialized", lambda: True)
        capture.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)

        def no_read_back(*args, **kwargs):
            raise AssertionError("the range was read back during a capture")

        capture.setattr(torch, "aminmax", no_read_back)
        assert not _warned(lambda: model.transform(OUT_OF_RANGE))
        assert not _warned(lambda: check_image_input(OUT_OF_RANGE, "Model"))
    assert _warned(lambda: model.transform(OUT_OF_RANGE))  # the first real forward checks


def test_a_simulated_capture_skips_the_check_on_the_cpu_too(monkeypatch):
    """assert_step_capturable imitates a capture on the CPU: nothing may be read back."""
    model = InceptionV1(transform_input=True)
    with monkeypatch.context() as capture, simulated_capture():

        def no_read_back(*args, **kwargs):
            raise AssertionError("the range was read back during a capture")

        capture.setattr(torch, "aminmax", no_read_back)
        assert not _warned(lambda: model.transform(OUT_OF_RANGE))
    assert _warned(lambda: model.transform(OUT_OF_RANGE))


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match=r"model must be an nn\.Module or None"):
        check_image_input(torch.rand(1, 3, 4, 4), "Model", model="InceptionV1")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_checks_once_and_a_forward_backward_captures_as_a_cuda_graph():
    torch.manual_seed(0)
    model = InceptionV1(transform_input=True, replace_relus_with_redirectedrelu=True).cuda()
    model.eval().requires_grad_(False)
    assert _warned(lambda: model(OUT_OF_RANGE.cuda()))
    assert not _warned(lambda: model(OUT_OF_RANGE.cuda()))

    x = torch.rand(2, 3, 64, 64, device="cuda", requires_grad=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            x.grad = None
            model(x)[:, 7].mean().backward()
    torch.cuda.current_stream().wait_stream(side)
    expected = x.grad.clone()
    x.grad = None
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # fails on any host synchronisation
        model(x)[:, 7].mean().backward()
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(x.grad, expected)
