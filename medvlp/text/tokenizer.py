"""Report tokenizers: train a lower-cased WordPiece on a report corpus, or load any local Hugging Face one.

Training writes a Hugging Face folder (tokenizer.json + configs) that `transformers.AutoTokenizer` reads back, with
the BERT special tokens, so a BERT-style text tower can be built on it. Loading never touches the network: the
folder is checked first (a missing folder or one without tokenizer files is an error naming the path and the files
expected), then read with local_files_only and without remote code, so a hospital's clinical BERT folder works
offline and a typo never turns into a hub lookup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, CLS, SEP, MASK)
# Any one of these makes a folder a tokenizer folder (fast tokenizer, WordPiece, SentencePiece or BPE vocabularies).
TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "vocab.json",
)


def _texts(texts: Iterable[str]) -> Iterator[str]:
    """Non-empty strings of the corpus; anything else is an error naming its position."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"report corpus item {i} is {type(text).__name__}, expected str")
        if text.strip():
            yield text


def train_tokenizer(
    texts: Iterable[str],
    out_dir: str | Path,
    vocab_size: int = 8000,
    min_frequency: int = 2,
    model_max_length: int = 512,
) -> Any:
    """Train a lower-cased BERT-style WordPiece tokenizer on report texts and save it to out_dir.

    texts may be a list or any iterator (read once, then held in memory). Returns the PreTrainedTokenizerFast that
    was saved; load it later with load_tokenizer(out_dir) or transformers.AutoTokenizer.from_pretrained(out_dir).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens, got {vocab_size}")
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, lowercase=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    corpus = list(_texts(texts))
    if not corpus:
        raise ValueError("no report text to train the tokenizer on (the corpus was empty or blank)")
    pieces = _continuing_pieces(tokenizer, corpus)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[*SPECIAL_TOKENS, *pieces],
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    tokenizer = _unmark_special(tokenizer, pieces)
    cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=UNK,
        pad_token=PAD,
        cls_token=CLS,
        sep_token=SEP,
        mask_token=MASK,
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="right",
        do_lower_case=True,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    _portable_config(out / "tokenizer_config.json")
    return fast


def _continuing_pieces(tokenizer: Any, corpus: list[str]) -> list[str]:
    """'##c' for every non-space character c of the normalised corpus, sorted.

    The trainer creates these pieces lazily in hash-map order, so their ids, and through the ids the merges chosen
    between equally frequent pairs, change from run to run (huggingface/tokenizers#1794): the same corpus gave a
    different vocabulary each time. Declared up front, they get fixed ids and the vocabulary is reproducible. (A
    few, such as '##.', never continue a word: a handful of unused entries, for a pass over the corpus in C.)
    """
    chars: set[str] = set()
    for text in corpus:
        chars.update(tokenizer.normalizer.normalize_str(text))
    return ["##" + c for c in sorted(chars) if not c.isspace()]


def _unmark_special(tokenizer: Any, pieces: list[str]) -> Any:
    """The trained tokenizer with `pieces` kept in its vocabulary but no longer special (added) tokens."""
    from tokenizers import Tokenizer

    state = json.loads(tokenizer.to_str())
    drop = set(pieces)
    state["added_tokens"] = [t for t in state["added_tokens"] if t["content"] not in drop]
    return Tokenizer.from_str(json.dumps(state))


def _portable_config(config_file: Path) -> None:
    """Name the class PreTrainedTokenizerFast, which transformers 4 and 5 both read (5 writes 'TokenizersBackend',
    unknown to 4), so a folder trained here also loads on a machine with the older library."""
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check_tokenizer_dir(path: str | Path) -> Path:
    """The folder as a Path when it holds tokenizer files; FileNotFoundError / ValueError naming it otherwise."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(
            f"tokenizer folder not found: {folder} (expected a local Hugging Face tokenizer or model folder; "
            "names on the Hugging Face hub are not looked up)"
        )
    if not folder.is_dir():
        raise ValueError(f"tokenizer path {folder} is a file, expected a folder holding one of {TOKENIZER_FILES}")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        present = sorted(p.name for p in folder.iterdir())[:10]
        raise ValueError(
            f"no tokenizer in {folder}: expected one of {', '.join(TOKENIZER_FILES)} "
            f"(found: {', '.join(present) or 'nothing'})"
        )
    return folder


def load_tokenizer(path: str | Path) -> Any:
    """Load a tokenizer from a local folder: one saved by train_tokenizer or any Hugging Face tokenizer or model
    folder (e.g. a hospital's clinical BERT; a folder with nothing but vocab.txt is read as a lower-cased BERT
    WordPiece vocabulary). Never downloads and never runs code shipped in the folder."""
    folder = check_tokenizer_dir(path)
    import transformers

    configured = any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "config.json"))
    loader = transformers.AutoTokenizer if configured or not (folder / "vocab.txt").is_file() else None
    try:
        if loader is None:
            return transformers.BertTokenizerFast.from_pretrained(str(folder), local_files_only=True)
        return loader.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # transformers raises many kinds; the caller needs the folder and the reason
        raise ValueError(f"could not load a tokenizer from {folder}: {type(exc).__name__}: {exc}") from exc
