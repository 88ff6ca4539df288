"""The CLIP tokenizer offline: a missing merges file is one error naming where to put it."""

from __future__ import annotations

from urllib.error import URLError

import pytest
import torch

from optim.models import CLIPTokenizer
from optim.models.clip_tokenizer import CLIP_BPE_MERGES_URL
from optim.models.weights import WeightsUnavailableError


def test_missing_merges_file_offline_names_the_url_and_the_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError) as raised:
        CLIPTokenizer()
    message = str(raised.value)
    assert CLIP_BPE_MERGES_URL in message and str(tmp_path) in message
    assert "\n" not in message and isinstance(raised.value, ValueError)
