"""CLIP RN50x4 image and text towers and the BPE tokenizer (kept cheap: small inputs, meta)."""

from __future__ import annotations

import pytest
import torch

from optim.model_utils import RedirectedReluLayer, SkipLayer
from optim.models import (
    CLIP_ResNet50x4Image,
    CLIP_ResNet50x4Text,
    CLIPTokenizer,
    WeightsMismatchError,
    clip_resnet50x4_image,
    clip_resnet50x4_text,
)
from optim.models.clip_resnet50x4_image import AttentionPool2d


def test_image_tower_shapes_on_meta():
    with torch.device("meta"):
        model = CLIP_ResNet50x4Image(use_attnpool=True).eval()
        assert model(torch.rand(1, 3, 288, 288)).shape == (1, 640)
        model.use_attnpool = False
        assert model(torch.rand(1, 3, 288, 288)).shape == (1, 2560, 9, 9)
        assert model.layer3[4].relu3(torch.rand(1, 1280, 18, 18)).shape == (1, 1280, 18, 18)
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [4, 6, 10, 6]
    assert model.layer4[0].conv3.out_channels == 2560
    assert model.attnpool.positional_embedding.shape == (82, 2560)


def test_attention_pool_rejects_wrong_size_and_is_permutation_aware():
    torch.manual_seed(0)
    pool = AttentionPool2d(2, 8, 4, num_heads=2).eval()
    with pytest.raises(ValueError, match="use_attnpool=False"):
        pool(torch.rand(1, 8, 3, 3))
    x = torch.rand(2, 8, 2, 2)
    # batch items are independent
    torch.testing.assert_close(pool(x)[1:], pool(x[1:]))


def test_image_tower_pretrained_and_forward(hub_checkpoints, constant_state_dict):
    with torch.device("meta"):
        state = constant_state_dict(CLIP_ResNet50x4Image())
    torch.save(state, hub_checkpoints / "clip_resnet50x4_image.pt")
    model = clip_resnet50x4_image(pretrained=True)
    assert model.transform_input and not model.use_attnpool and not model.training
    assert isinstance(model.layer2[3].relu2, RedirectedReluLayer)
    assert torch.equal(model.layer4[5].conv3.weight, state["layer4.5.conv3.weight"])
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 2560, 2, 2)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    x = torch.rand(1, 3, 2, 2)
    torch.testing.assert_close(model.transform(x), (x - mean) / std)
    with torch.device("meta"):
        assert model.to("meta")(torch.rand(1, 3, 128, 128)).shape == (1, 2560, 4, 4)
    del state["attnpool.c_proj.bias"]
    torch.save(state, hub_checkpoints / "clip_resnet50x4_image.pt")
    with pytest.raises(WeightsMismatchError, match=r"attnpool\.c_proj\.bias"):
        clip_resnet50x4_image(pretrained=True)


def test_image_tower_linear_option_has_no_pool_swap():
    with torch.device("meta"):
        model = CLIP_ResNet50x4Image(use_linear_modules_only=True)
    assert isinstance(model.relu1, SkipLayer) and isinstance(model.layer1[0].relu3, SkipLayer)
    assert type(model.avgpool).__name__ == "AvgPool2d"


def test_text_tower_default_shapes_on_meta():
    with torch.device("meta"):
        model = CLIP_ResNet50x4Text()
        assert model(torch.zeros(2, 77, dtype=torch.long)).shape == (2, 640)
    assert len(model.transformer) == 12
    assert model.token_embedding.weight.shape == (49408, 640)
    assert model.transformer[0].mlp.c_fc.out_features == 2560


def test_text_tower_is_causal_and_reads_the_end_token():
    torch.manual_seed(0)
    model = CLIP_ResNet50x4Text(
        width=16, num_heads=2, num_residual_layers=2, content_length=6, vocab_size=12
    ).eval()
    tokens = torch.tensor([[10, 3, 4, 11, 0, 0]])
    changed_after_end = torch.tensor([[10, 3, 4, 11, 5, 6]])
    changed_before_end = torch.tensor([[10, 3, 7, 11, 0, 0]])
    with torch.no_grad():
        out = model(tokens)
        torch.testing.assert_close(model(changed_after_end), out)  # causal mask
        assert not torch.allclose(model(changed_before_end), out)
    assert model.logit_scale.item() == pytest.approx(2.6592600)  # log(1 / 0.07)
    with pytest.raises(TypeError, match="CLIPTokenizer"):
        model(torch.zeros(1, 6))


def test_text_tower_pretrained_from_hub_cache(hub_checkpoints, constant_state_dict):
    with torch.device("meta"):
        state = constant_state_dict(CLIP_ResNet50x4Text())
    torch.save(state, hub_checkpoints / "clip_resnet50x4_text.pt")
    model = clip_resnet50x4_text(pretrained=True)
    assert torch.equal(model.text_projection, state["text_projection"])
    state["token_embedding.weight"] = torch.zeros(1).expand(100, 640)
    torch.save(state, hub_checkpoints / "clip_resnet50x4_text.pt")
    with pytest.raises(WeightsMismatchError, match=r"token_embedding\.weight \(file \(100, 640\)"):
        clip_resnet50x4_text(pretrained=True)


@pytest.fixture
def merges_file(tmp_path):
    path = tmp_path / "merges.txt"
    path.write_text("#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n", encoding="utf-8")
    return path


def test_tokenizer_bpe_by_hand(merges_file):
    tokenizer = CLIPTokenizer(merges_file, context_length=8)
    # vocab: 256 bytes, 256 bytes + "</w>", 4 merges (512..515), start 516, end 517
    assert tokenizer.vocab_size == 518
    assert tokenizer.encode("hello") == [515]
    # byte order starts at "!" (33): "h" -> 104 - 33, "i</w>" -> 256 + 105 - 33, "!</w>" -> 256
    assert tokenizer.encode("Hi!") == [71, 328, 256]
    tokens = tokenizer(["hello", "hi!"])
    assert tokens.dtype == torch.long and tokens.shape == (2, 8)
    assert tokens[0].tolist() == [516, 515, 517, 0, 0, 0, 0, 0]
    assert tokenizer.decode(tokens[1]) == "hi !"
    assert tokenizer.decode(tokens[0]) == "hello"


def test_tokenizer_length_handling_and_default_file_from_cache(merges_file, hub_checkpoints):
    tokenizer = CLIPTokenizer(merges_file, context_length=4)
    with pytest.raises(ValueError, match="truncate=True"):
        tokenizer("a b c d")
    truncated = CLIPTokenizer(merges_file, context_length=4, truncate=True)("a b c d")
    assert truncated[0, -1].item() == truncated.max().item() == 517
    (hub_checkpoints / "clip_bpe_simple_vocab_48895.txt").write_text(
        merges_file.read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert CLIPTokenizer().encode("hello") == [515]
