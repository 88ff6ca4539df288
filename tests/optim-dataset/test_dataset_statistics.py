"""`compute_statistic`: dataset statistics by registry name, built-in and third-party."""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim import plugins
from optim.dataset import available_statistics, compute_statistic


def mean_brightness(loader, channels: int = 3) -> torch.Tensor:
    """Fixture statistic: the mean of every image, per channel."""
    batches = [b[0] if isinstance(b, tuple | list) else b for b in loader]
    return torch.cat(batches).mean(dim=(0, 2, 3))[:channels]


class BrightnessPlugin:
    OPTIM_PLUGIN_API = 1

    @staticmethod
    @plugins.hookimpl
    def register_dataset_statistics(register):
        register("mean_brightness", mean_brightness)
        register("not_a_function", "optim.dataset.statistics:REGISTRY_KIND")


@pytest.fixture
def brightness():
    plugins.add_plugin(BrightnessPlugin, name="brightness", distribution="fixture-stats")
    yield
    plugins.remove_plugin(BrightnessPlugin)


def _loader() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.rand(2, 3, 8, 8, generator=generator) for _ in range(3)]


def test_built_in_statistics_by_name_match_the_functions():
    loader = _loader()
    torch.testing.assert_close(
        compute_statistic("klt_matrix", loader, normalize=True),
        opt.dataset.dataset_klt_matrix(loader, normalize=True),
    )
    torch.testing.assert_close(
        compute_statistic("colour_covariance", loader), opt.dataset.dataset_cov_matrix(loader)
    )
    assert {"klt_matrix", "magnitude_spectrum"} <= set(available_statistics())


def test_a_third_party_statistic_works_by_name(brightness):
    loader = _loader()
    assert "mean_brightness" in available_statistics()
    expected = torch.cat(loader).mean(dim=(0, 2, 3))
    torch.testing.assert_close(compute_statistic("mean_brightness", loader), expected)
    torch.testing.assert_close(
        compute_statistic("mean_brightness", loader, channels=1), expected[:1]
    )
    assert plugins.distribution("dataset_statistics", "mean_brightness") == "fixture-stats"


def test_unknown_and_broken_statistics(brightness):
    with pytest.raises(KeyError, match="Did you mean: mean_brightness"):
        compute_statistic("mean_brightnes", _loader())
    with pytest.raises(TypeError, match="'not_a_function' from fixture-stats"):
        compute_statistic("not_a_function", _loader())
    with pytest.raises(TypeError, match="non-empty string"):
        compute_statistic(None, _loader())
