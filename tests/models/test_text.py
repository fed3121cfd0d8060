"""Text towers: BERT from config sized by the tokenizer, local Hugging Face folders, long-report chunking, freezing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from medvlp.models import create_text_tower, load_model_config


def _tower(*over: str, tokenizer: Any = None) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_text_tower(load_model_config("tiny-cxr-resnet", list(over)).text, tokenizer).eval()


def test_bert_shapes_and_vocab_from_tokenizer(small_tokenizer: Any):
    tower = _tower(tokenizer=small_tokenizer)
    assert tower.vocab_size == len(small_tokenizer) and tower.context_length == 64
    enc = small_tokenizer(
        ["No pleural effusion.", "Left lower lobe consolidation."], padding="longest", return_tensors="pt"
    )
    tokens, pooled = tower(enc["input_ids"], enc["attention_mask"])
    assert tokens.shape == (2, enc["input_ids"].shape[1], 64) and pooled.shape == (2, 64)


def test_vocab_size_needs_a_source(tmp_path: Path, small_tokenizer: Any):
    with pytest.raises(ValueError, match=r"text\.vocab_size is 0"):
        _tower("text.vocab_size=0")
    small_tokenizer.save_pretrained(str(tmp_path / "tok"))
    assert _tower("text.vocab_size=0", f"text.tokenizer={tmp_path / 'tok'}").vocab_size == len(small_tokenizer)


def test_long_report_is_chunked_not_truncated():
    tower = _tower("text.context_length=8")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 500, (2, 20), generator=g)
    ids[:, 0] = 2  # [CLS]
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 11:] = False
    with torch.no_grad():
        tokens, pooled = tower(ids, mask)
        # Chunk 0 = ids[:8]; chunk 1 = [CLS] + ids[8:15]; chunk 2 = [CLS] + ids[15:20] (+ padding).
        first = tower.encode(ids[:, :8], mask[:, :8])
        second = tower.encode(torch.cat([ids[:, :1], ids[:, 8:15]], 1), torch.cat([mask[:, :1], mask[:, 8:15]], 1))
        third = tower.encode(torch.cat([ids[:1, :1], ids[:1, 15:]], 1), torch.ones(1, 6, dtype=torch.bool))
    assert tokens.shape == (2, 20, 64)
    torch.testing.assert_close(tokens[:, :8], first)
    torch.testing.assert_close(tokens[:, 8:15], second[:, 1:])
    torch.testing.assert_close(tokens[:1, 15:], third[:, 1:])
    # cls pooling averages the chunks' first outputs over the chunks each report fills (row 1 fills two).
    torch.testing.assert_close(pooled[0], (first[0, 0] + second[0, 0] + third[0, 0]) / 3)
    torch.testing.assert_close(pooled[1], (first[1, 0] + second[1, 0]) / 2)
    # The tail of the report matters (no truncation).
    late = ids.clone()
    late[0, 18] = 7 if ids[0, 18] != 7 else 8
    with torch.no_grad():
        assert not torch.allclose(tower(late, mask)[1][0], pooled[0])


@pytest.mark.parametrize("pooler", ["cls", "mean"])
def test_padding_only_chunks_change_nothing(pooler: str):
    tower = _tower("text.context_length=8", f"text.pooler={pooler}")
    ids = torch.randint(5, 500, (1, 6))
    short = tower(ids, torch.ones(1, 6, dtype=torch.bool))
    padded_ids = torch.cat([ids, torch.zeros(1, 20, dtype=torch.long)], 1)
    padded_mask = torch.cat([torch.ones(1, 6, dtype=torch.bool), torch.zeros(1, 20, dtype=torch.bool)], 1)
    long = tower(padded_ids, padded_mask)
    torch.testing.assert_close(long[1], short[1])
    torch.testing.assert_close(long[0][:, :6], short[0])


def test_frozen_text_tower():
    tower = _tower("text.freeze=true").train()
    assert not tower.training and all(not p.requires_grad for p in tower.parameters())
    _, pooled = tower(torch.randint(5, 500, (2, 10)), torch.ones(2, 10, dtype=torch.bool))
    assert not pooled.requires_grad


def test_local_hugging_face_folder(tmp_path: Path):
    bert = _tower()
    bert.encoder.save_pretrained(str(tmp_path / "clinical-bert"))
    local = create_text_tower(
        load_model_config("tiny-cxr-resnet", ["text.kind=hf_local", f"text.path={tmp_path / 'clinical-bert'}"]).text
    ).eval()
    for (k, a), b in zip(bert.encoder.state_dict().items(), local.encoder.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    ids, mask = torch.randint(5, 500, (2, 10)), torch.ones(2, 10, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(local(ids, mask)[1], bert(ids, mask)[1])
    with pytest.raises(FileNotFoundError, match="hub names are not looked up"):
        create_text_tower(
            load_model_config("tiny-cxr-resnet", ["text.kind=hf_local", "text.path=bert-base-uncased"]).text
        )


def test_tokenizer_larger_than_the_vocabulary_is_an_error(tmp_path: Path, small_tokenizer: Any):
    bert = _tower("text.vocab_size=100")
    bert.encoder.save_pretrained(str(tmp_path / "m"))
    cfg = load_model_config("tiny-cxr-resnet", ["text.kind=hf_local", f"text.path={tmp_path / 'm'}"]).text
    with pytest.raises(ValueError, match=r"tokenizer has .* tokens but the text tower's vocabulary has 100"):
        create_text_tower(cfg, small_tokenizer)
