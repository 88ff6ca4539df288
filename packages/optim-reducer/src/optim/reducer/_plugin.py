"""optim-reducer's plugin module (entry point ``optim.plugins`` -> ``reducer``).

Registers every scikit-learn decomposition / manifold estimator that reduces to
``n_components`` and UMAP, under their class names, so that
``ChannelReducer(reduction_alg="TSNE")`` and ``optim plugins`` know them. Targets are
``"module:attr"`` strings so that listing names imports neither scikit-learn nor umap-learn.
"""

from __future__ import annotations

from importlib import metadata

from optim.plugins import Registrar, hookimpl

OPTIM_PLUGIN_API = 1  # the optim plugin API (optim.plugins.PLUGIN_API_VERSION) this targets

_DECOMPOSITION = "sklearn.decomposition"
_MANIFOLD = "sklearn.manifold"

REDUCERS: dict[str, tuple[str, str]] = {
    # sklearn.decomposition
    "DictionaryLearning": (f"{_DECOMPOSITION}:DictionaryLearning", "Sparse dictionary learning"),
    "FactorAnalysis": (f"{_DECOMPOSITION}:FactorAnalysis", "Factor analysis"),
    "FastICA": (f"{_DECOMPOSITION}:FastICA", "Independent component analysis"),
    "IncrementalPCA": (f"{_DECOMPOSITION}:IncrementalPCA", "PCA in mini-batches"),
    "KernelPCA": (f"{_DECOMPOSITION}:KernelPCA", "Kernel PCA"),
    "LatentDirichletAllocation": (
        f"{_DECOMPOSITION}:LatentDirichletAllocation",
        "Latent Dirichlet allocation (non-negative input)",
    ),
    "MiniBatchDictionaryLearning": (
        f"{_DECOMPOSITION}:MiniBatchDictionaryLearning",
        "Dictionary learning in mini-batches",
    ),
    "MiniBatchNMF": (f"{_DECOMPOSITION}:MiniBatchNMF", "NMF in mini-batches"),
    "MiniBatchSparsePCA": (f"{_DECOMPOSITION}:MiniBatchSparsePCA", "Sparse PCA in mini-batches"),
    "NMF": (f"{_DECOMPOSITION}:NMF", "Non-negative matrix factorisation (the default)"),
    "PCA": (f"{_DECOMPOSITION}:PCA", "Principal component analysis"),
    "SparsePCA": (f"{_DECOMPOSITION}:SparsePCA", "Sparse PCA"),
    "TruncatedSVD": (f"{_DECOMPOSITION}:TruncatedSVD", "Truncated SVD (LSA)"),
    # sklearn.manifold
    "Isomap": (f"{_MANIFOLD}:Isomap", "Isomap embedding"),
    "LocallyLinearEmbedding": (f"{_MANIFOLD}:LocallyLinearEmbedding", "Locally linear embedding"),
    "MDS": (f"{_MANIFOLD}:MDS", "Multidimensional scaling"),
    "SpectralEmbedding": (f"{_MANIFOLD}:SpectralEmbedding", "Laplacian eigenmaps"),
    "TSNE": (f"{_MANIFOLD}:TSNE", "t-distributed stochastic neighbour embedding"),
    # umap-learn
    "UMAP": ("umap:UMAP", "Uniform manifold approximation and projection (umap-learn)"),
}

# Estimators that only some supported scikit-learn versions have: name -> first version.
VERSIONED_REDUCERS: dict[str, tuple[tuple[int, int], tuple[str, str]]] = {
    "ClassicalMDS": ((1, 8), (f"{_MANIFOLD}:ClassicalMDS", "Classical (Torgerson) MDS")),
}


def _sklearn_version() -> tuple[int, int]:
    try:
        major, minor = metadata.version("scikit-learn").split(".")[:2]
        return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)
    except (metadata.PackageNotFoundError, ValueError):
        return (0, 0)


def available_reducers() -> dict[str, tuple[str, str]]:
    """The reducers table for the installed scikit-learn version."""
    version = _sklearn_version()
    table = dict(REDUCERS)
    table.update(
        {name: entry for name, (since, entry) in VERSIONED_REDUCERS.items() if version >= since}
    )
    return table


@hookimpl
def register_reducers(register: Registrar) -> None:
    for name, (target, description) in available_reducers().items():
        register(name, target, description=description)
