"""Every name `optim plugins` lists either works from the CLI or is refused in one line.

Each registered parameterization, transform and objective goes through ``optim render`` (and
``optim layer``) on a tiny model registered in-process. The builders check a registered
factory's signature before calling it and turn construction failures into ValueErrors that
name it, so no name ends in a traceback (issue 16).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from optim import plugins
from optim.cli import main
from optim.plugins import hookimpl
from optim.rendering.objective import unit_objective
from optim.rendering.parse_target import UnitTarget
from optim.rendering.pipeline import build_image, build_transforms, check_buildable

FAST = ["--model", "tiny_net", "--random-weights", "--size", "32", "--steps", "2", "--no-progress"]


pytestmark = pytest.mark.usefixtures("tiny_zoo")  # registers the model "tiny_net"


def _works_or_one_line(capsys, args: list[str]) -> tuple[int, str]:
    """Run the CLI; it must exit 0, or 2 with exactly one stderr line and no traceback."""
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    if code == 0:
        return code, ""
    assert code == 2, (args, code, err)
    assert len(err) == 1, (args, err)
    assert "Traceback" not in err[0]
    return code, err[0]


RENDER_CASES = [
    *(("parameterizations", "--parameterization", name, "conv2:3")
      for name in plugins.names("parameterizations")),
    *(("transforms", "--transforms", name, "conv2:3") for name in plugins.names("transforms")),
    *(("objectives", "--objective", name, target)
      for name in plugins.names("objectives")
      for target in ("conv2:3", "conv2", "conv2:3:1:1")),
]  # fmt: skip


def _case_id(case) -> str:
    return f"{case[2]}@{case[3]}"


@pytest.mark.parametrize("case", [pytest.param(c, id=_case_id(c)) for c in RENDER_CASES])
def test_every_registered_name_renders_or_is_refused_in_one_line(case, capsys, tmp_path):
    kind, option, name, target = case
    args = ["render", *FAST, "--target", target, option, name, "--out", str(tmp_path / "u.png")]
    if kind != "transforms":
        args += ["--transforms", "none"]
    code, _ = _works_or_one_line(capsys, args)
    if code == 0:
        assert (tmp_path / "u.png").is_file()


LAYER_CASES = [
    *(("--parameterization", name) for name in plugins.names("parameterizations")),
    *(("--transforms", name) for name in plugins.names("transforms")),
    *(("--objective", name) for name in plugins.names("objectives")),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[1] for c in LAYER_CASES])
def test_every_registered_name_works_in_optim_layer_or_is_refused_in_one_line(
    case, capsys, tmp_path
):
    option, name = case
    args = ["layer", "conv2", *FAST, "--channels", "0-1", option, name]
    if option != "--transforms":
        args += ["--transforms", "none"]
    code, _ = _works_or_one_line(capsys, [*args, "--out", str(tmp_path / "gallery")])
    if code == 0:
        assert (tmp_path / "gallery" / "index.html").is_file()


@pytest.mark.parametrize(
    ("option", "name", "reason"),
    [
        ("--parameterization", "stack_image", "needs arguments a render spec cannot give "
         "(parameterizations)"),
        ("--parameterization", "simple_tensor", "needs arguments a render spec cannot give "
         "(tensor)"),
        ("--parameterization", "shared_image", "takes no size, channels, batch or init"),
        ("--transforms", "center_crop", "into [1, 3, 0, 0]"),
        ("--transforms", "random_crop", "needs crop_size"),
        ("--objective", "activation_weights", "ActivationWeights needs weights"),
        ("--objective", "alignment", "takes no channel"),
    ],
)  # fmt: skip
def test_the_names_the_issue_found_are_refused_with_the_reason(
    option, name, reason, capsys, tmp_path
):
    args = ["render", *FAST, "--target", "conv2:3", option, name, "--out", str(tmp_path / "u.png")]
    code, line = _works_or_one_line(capsys, args)
    assert code == 2 and repr(name) in line and reason in line, line


def test_activation_weights_on_a_whole_layer_is_refused_in_one_line(capsys, tmp_path):
    args = ["render", *FAST, "--target", "conv2", "--objective", "activation_weights"]
    code, line = _works_or_one_line(capsys, [*args, "--out", str(tmp_path / "u.png")])
    assert code == 2
    assert "'activation_weights' cannot be built from a target" in line
    assert "needs weights" in line


def test_builders_name_the_missing_parameters_and_the_kind(tiny_zoo):
    with pytest.raises(ValueError, match=r"parameterization 'stack_image' .*\(parameterizations\)"):
        build_image("stack_image", (16, 16), 1)
    with pytest.raises(ValueError, match=r"transform 'gaussian_smoothing' .*channels, kernel_size"):
        build_transforms("gaussian_smoothing")
    with pytest.raises(ValueError, match=r"objective 'direction' .*\(vec\)"):
        unit_objective(
            tiny_zoo.tiny_net(), UnitTarget("conv2"), size=(16, 16), objective="direction"
        )


def test_a_registered_class_that_fails_to_build_is_a_value_error_naming_it():
    class Broken(nn.Module):
        def __init__(self, size=None, channels=3, batch=1, init=None):
            super().__init__()
            raise AttributeError("no attribute 'oops'")

    class BrokenTransform(nn.Module):
        def __init__(self):
            super().__init__()
            raise TypeError("bad default")

    class Plugin:
        @staticmethod
        @hookimpl
        def register_parameterizations(register):
            register("broken_image", Broken)

        @staticmethod
        @hookimpl
        def register_transforms(register):
            register("broken_transform", BrokenTransform)

    plugins.add_plugin(Plugin, name="broken-builders")
    try:
        with pytest.raises(ValueError, match=r"'broken_image' .*AttributeError: no attribute"):
            build_image("broken_image", (16, 16), 1)
        with pytest.raises(ValueError, match=r"'broken_transform' .*TypeError: bad default"):
            build_transforms("broken_transform")
    finally:
        plugins.remove_plugin(Plugin)


def test_a_batch_objective_on_one_image_is_refused_and_works_on_two(tiny_zoo):
    model = tiny_zoo.tiny_net()
    unit = UnitTarget("conv2")
    with pytest.raises(ValueError, match=r"'alignment' does not depend on the image .* batch of 2"):
        unit_objective(model, unit, size=(16, 16), objective="alignment", batch=1)
    objective = unit_objective(model, unit, size=(16, 16), objective="alignment", batch=2)
    assert type(objective).__name__ == "Alignment"


def test_check_buildable_refuses_before_anything_runs_and_leaves_the_rng_alone():
    state = torch.random.get_rng_state()
    check_buildable("fft_image", "transformation_robustness", size=(16, 16), batch=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    with pytest.raises(ValueError, match="'stack_image' needs arguments"):
        check_buildable("stack_image", "none", size=(16, 16), batch=1)
    with pytest.raises(ValueError, match="'center_crop' built from its defaults"):
        check_buildable(None, "center_crop", size=(16, 16), batch=1)
