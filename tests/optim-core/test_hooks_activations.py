"""Target resolution, output hooks (early stop, reuse, removal) and collect_activations."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from optim.hooks import (
    ActivationFetcher,
    ModuleOutputsHook,
    collect_activations,
    resolve_target,
    run_until_targets,
)


class Tripwire(nn.Module):
    """Fails the test if the forward pass reaches it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the forward pass should have stopped before this layer")


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Sequential(nn.ReLU(), nn.Conv2d(4, 6, 1)),
        nn.AdaptiveAvgPool2d(1),
    )


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_resolve_target_by_name_bracket_and_module():
    model = _net()
    assert resolve_target(model, "1.1") is model[1][1]
    assert resolve_target(model, "1[1]") is model[1][1]
    assert resolve_target(model, model[0]) is model[0]
    outside = nn.ReLU()  # e.g. a transform: returned as is
    assert resolve_target(model, outside) is outside


def test_unknown_name_lists_closest_valid_names():
    model = nn.Sequential()
    model.add_module("layer1", nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()))
    model.add_module("layer2", nn.Linear(1, 1))
    with pytest.raises(ValueError, match=r"no submodule named 'layer1.2'.*'layer1\.0'"):
        resolve_target(model, "layer1.2")
    with pytest.raises(ValueError, match="Closest valid names: 'layer2'"):
        resolve_target(model, "layr2")
    with pytest.raises(TypeError, match=r"nn\.Module or a dotted module name"):
        resolve_target(model, 3)


def test_collect_activations_values_keys_and_no_hooks_left():
    model = _net()
    x = torch.randn(2, 3, 5, 5)
    acts = collect_activations(model, ["0", model[1][1], "0"], x)
    assert list(acts) == ["0", model[1][1]]
    expected_0 = model[0](x)
    torch.testing.assert_close(acts["0"], expected_0)
    torch.testing.assert_close(acts[model[1][1]], model[1](expected_0))
    assert acts["0"].requires_grad  # activations stay differentiable (circuits need it)
    assert _hook_count(model) == 0


def test_collect_activations_default_input_is_224():
    model = _net()
    assert collect_activations(model, "0")["0"].shape == (1, 4, 224, 224)


def test_forward_stops_after_last_target():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), Tripwire())
    acts = collect_activations(model, "1", torch.ones(1, 3, 2, 2))
    assert acts["1"].shape == (1, 2, 2, 2)
    with pytest.raises(AssertionError, match="should have stopped"):
        ActivationFetcher(model, [model[1]], stop_early=False)(torch.ones(1, 3, 2, 2))
    assert _hook_count(model) == 0  # removed after the exception too


def test_target_never_called_is_named():
    model = _net()
    unused = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r"produced no output.*Linear\(in_features=2"):
        collect_activations(model, [unused], torch.zeros(1, 3, 4, 4))
    assert len(unused._forward_hooks) == 0


def test_reused_module_warns_once_and_keeps_first_output():
    relu = nn.ReLU()

    class Twice(nn.Module):
        def forward(self, x):
            return relu(relu(x) - 1.0)

    model = Twice()
    with ModuleOutputsHook([relu]) as hook, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            outputs = run_until_targets(lambda: model(torch.tensor([2.0, -1.0])), hook)
    reuse = [w for w in caught if "more than once" in str(w.message)]
    assert len(reuse) == 1
    assert outputs[relu].tolist() == [2.0, 0.0]
    assert len(relu._forward_hooks) == 0


def test_no_spurious_warnings_on_normal_passes():
    model = _net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            collect_activations(model, ["0", "1.1"], torch.zeros(1, 3, 4, 4))


def test_hook_rejects_names():
    with pytest.raises(TypeError, match="resolve_target"):
        ModuleOutputsHook(["0"])


def test_disabled_hooks_ignore_calls_between_passes():
    model = nn.Sequential(nn.Linear(2, 2), Tripwire())
    with ModuleOutputsHook([model[0]], stop_when_ready=True) as hook:
        hook.enabled = False
        model[0](torch.ones(1, 2))  # e.g. a stop criterion calling a hooked module
        assert hook.outputs[model[0]] is None
        outputs = run_until_targets(lambda: model(torch.ones(1, 2)), hook)
        assert outputs[model[0]].shape == (1, 2)
        assert hook.enabled is False  # restored after the pass
