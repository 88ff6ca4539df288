"""ChannelReducer names go through the plugin registry only: no scikit-learn fallback."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.decomposition
import torch

import optim as opt
from optim.checks import ArgumentError, ArgumentTypeError
from optim.reducer import ChannelReducer
from optim.reducer.algorithms import resolve_reduction_algorithm


def test_an_unregistered_sklearn_class_is_not_found_by_name():
    # SparseCoder lives in sklearn.decomposition but is not a registered reducer.
    assert hasattr(sklearn.decomposition, "SparseCoder")
    assert "SparseCoder" not in opt.plugins.names("reducers")
    with pytest.raises(ValueError, match=r"Unknown reduction algorithm 'SparseCoder'.*register_"):
        ChannelReducer(2, "SparseCoder")


def test_registered_names_resolve_and_unknown_ones_list_the_closest():
    assert resolve_reduction_algorithm("TSNE") is opt.plugins.get("reducers", "TSNE")
    with pytest.raises(ValueError, match="Did you mean: NMF"):
        resolve_reduction_algorithm("nmf")


class _Halves:
    """A reducer registered through a namespace: `halves/<anything>`."""

    def __init__(self, n_components: int = 1) -> None:
        self.n_components = n_components

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return x[:, : self.n_components] / 2


class _HalvesPlugin:
    OPTIM_PLUGIN_API = 1

    @staticmethod
    @opt.plugins.hookimpl
    def register_namespaces(register):
        register("halves", lambda name: _Halves, kind="reducers", names=lambda: ["v1"])


def test_namespaced_reducer_names_go_through_the_registry():
    opt.plugins.add_plugin(_HalvesPlugin, name="halves")
    try:
        out = ChannelReducer(1, "halves/v1").fit_transform(torch.ones(2, 3))
        torch.testing.assert_close(out, torch.full((2, 1), 0.5))
        with pytest.raises(ValueError, match="Unknown reduction algorithm 'halves/v2'"):
            ChannelReducer(1, "halves/v2")
    finally:
        opt.plugins.remove_plugin(_HalvesPlugin)


def test_n_components_goes_through_optim_checks():
    with pytest.raises(ArgumentTypeError, match="n_components must be an int >= 1, got True"):
        ChannelReducer(True, "PCA")
    with pytest.raises(TypeError):
        ChannelReducer(2.0, "PCA")
    with pytest.raises(ArgumentError, match="at least 1"):
        ChannelReducer(-1, "PCA")
    assert ChannelReducer(np.int64(2), "PCA").n_components == 2
