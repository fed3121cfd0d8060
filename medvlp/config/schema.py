"""The config schema: one dataclass per section, with defaults equal to configs/base/default.yaml.

Constraints live beside the fields (`choices`, `min`, `max` in field metadata, or a Literal type), so validation
can name the bad key and what is allowed. Later stages add their sections here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def knob(default: Any, *, help: str, min: float | None = None, max: float | None = None, **kw: Any) -> Any:
    """A config field with a help text and optional numeric bounds (checked on load)."""
    meta = {"help": help, "min": min, "max": max}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class RunConfig:
    """Settings shared by every stage."""

    seed: int = knob(0, help="global seed; every random choice derives from it", min=0)
    workers: int = knob(2, help="worker processes for parallel stages", min=1, max=256)


@dataclass
class SynthConfig:
    """The phantom hospital archive (`medvlp synth`)."""

    n_cxr: int = knob(160, help="chest X-ray studies", min=0, max=1_000_000)
    n_ct: int = knob(40, help="CT studies", min=0, max=1_000_000)
    cxr_size: list[int] = knob([448, 768], help="[min, max] detector matrix side in pixels", min=64, max=4096)
    lateral_fraction: float = knob(0.2, help="share of CXR studies with an extra lateral view", min=0, max=1)
    ap_fraction: float = knob(0.3, help="share of CXR studies taken AP (portable) instead of PA", min=0, max=1)
    ct_matrix: list[int] = knob([128, 160, 192], help="axial matrix sizes to draw from", min=32, max=1024)
    ct_slice_spacing: list[float] = knob([2.5, 5.0], help="[min, max] slice spacing in mm", min=0.5, max=10)
    ct_coverage_mm: list[float] = knob([280.0, 360.0], help="[min, max] craniocaudal coverage in mm", min=50, max=600)
    ct_localizer_fraction: float = knob(0.5, help="share of CT studies with a scout (localizer) series", min=0, max=1)
    normal_fraction: float = knob(0.33, help="share of studies without findings", min=0, max=1)
    omit_rate: float = knob(0.05, help="chance a subtle finding is left out of the report", min=0, max=1)
    hedge_rate: float = knob(0.15, help="chance a subtle finding is hedged in the report", min=0, max=1)
    phi_rate: float = knob(0.5, help="chance a report carries PHI in its text", min=0, max=1)
    report_text_fraction: float = knob(
        0.2, help="share of reports exported as plain-text files instead of CSV rows", min=0, max=1
    )
    broken_files: bool = knob(False, help="add deliberately broken files for ingestion tests")


@dataclass
class IngestConfig:
    """Series selection, decoding, canonical cache and de-identification (`medvlp ingest`)."""

    modalities: list[Literal["cxr", "ct"]] = knob(["cxr", "ct"], help="which of cxr, ct to ingest")
    cxr_views: list[str] = knob(["PA", "AP"], help="ViewPosition values kept for radiographs (LL/LATERAL = lateral)")
    ct_slice_thickness: list[float] = knob([0.5, 5.0], help="[min, max] SliceThickness (mm) of CT series kept")
    ct_min_slices: int = knob(16, help="CT series with fewer slices are skipped (scouts, partial series)", min=1)
    one_series_per_study: bool = knob(True, help="keep the best series per study (CT: thinnest; CXR: PA first)")
    ct_spacing: list[float] = knob([1.5, 1.5, 3.0], help="canonical CT voxel size (x, y, z) in mm, RAS", min=0.1)
    cxr_size: int = knob(512, help="canonical CXR: the longer side in pixels (aspect ratio kept)", min=32, max=8192)
    compress: bool = knob(False, help="gzip the cached NIfTI (smaller; uncompressed .nii loads ~10x faster)")
    spacing_tolerance: float = knob(0.1, help="relative slice-gap deviation tolerated before resampling", min=0)
    max_gap_factor: float = knob(1.6, help="a slice gap above this x the median counts as missing slices", min=1)
    max_tilt_degrees: float = knob(0.5, help="slice stacking off the slice normal by more counts as gantry tilt", min=0)
    allow_burned_in: bool = knob(False, help="keep images whose BurnedInAnnotation is YES (PHI in the pixels)")
    secret_env: str = knob("MEDVLP_DEID_SECRET", help="environment variable holding the de-identification secret")
    secret_file: str = knob(
        "~/.config/medvlp/deid.secret",
        help="used when the variable is unset; created (mode 600) on first use. Keep it private",
    )
    splits: dict[str, float] = knob(
        {"train": 0.8, "val": 0.1, "test": 0.1}, help="patient-level split ratios (hash of the pseudonymous patient id)"
    )


@dataclass
class TextConfig:
    """Report labels, text augmentation for pre-training, and tokenization."""

    label_set: str = knob(
        "chexpert",
        help="findings to label: a label set of the knowledge graph (chexpert, "
        "phantom_cxr, phantom_ct) or comma-separated entity ids",
    )
    knowledge_dir: str = knob("", help="knowledge graph folder; empty = the knowledge/ folder shipped with medvlp")
    synonym_swap: float = knob(0.0, help="chance per mention of swapping in a synonym (training only)", min=0, max=1)
    sentence_shuffle: bool = knob(False, help="shuffle sentences within each section (training only)")
    sentence_keep: float = knob(
        1.0,
        help="chance each report sentence is kept (sentence sampling; short texts such as prompts; 1 = off)",
        min=0.05,
        max=1,
    )
    prompts_per_step: int = knob(
        4, help="prompt loss: prompts per finding and side encoded each step, drawn from the prompt ensemble", min=1
    )
    knowledge_append: float = knob(
        0.0, help="chance per positive finding of appending its graph description", min=0, max=1
    )
    knowledge_max_sentences: int = knob(3, help="at most this many appended knowledge sentences", min=0)
    knowledge_source: Literal["description", "definition", "both"] = knob(
        "description", help="what knowledge appending adds"
    )
    laterality_swap: float = knob(0.0, help="chance of a paired left-right image flip and report swap", min=0, max=1)


@dataclass
class DataConfig:
    """Datasets, the cached CPU prefix, the on-device random stage, and loaders (`medvlp pretrain` and heads)."""

    dataset: Literal["plain", "cache", "persistent"] = knob(
        "cache", help="MONAI Dataset, CacheDataset (memory) or PersistentDataset (disk, safetensors)"
    )
    cache_dir: str = knob("", help="persistent cache folder; empty = <dataset>/.pipeline_cache")
    cxr_size: int = knob(224, help="CXR side after the prefix (longer side resized, then padded square)", min=16)
    ct_size: list[int] = knob([128, 128], help="CT in-plane size [H, W] after the prefix", min=8)
    ct_max_depth: int = knob(64, help="CT slices kept (centre crop); shorter volumes are padded in the batch", min=1)
    ct_windows: list[Literal["lung", "mediastinum", "bone", "wide"]] = knob(
        ["wide"], help="CT intensity windows, one channel each (wide = -1000..1000 HU)"
    )
    text_sections: list[Literal["findings", "impression", "indication", "comparison", "technique", "exam"]] = knob(
        ["findings", "impression"], help="report sections joined into the text the model reads"
    )
    max_tokens: int = knob(128, help="text length in tokens (longer reports are truncated here)", min=8)
    tokenizer: str = knob("", help="tokenizer folder (Hugging Face format); required by pretraining")
    batch_size: int = knob(16, help="samples per batch (per process)", min=1)
    workers: int = knob(2, help="loader worker processes (threads for the thread loader)", min=0)
    loader: Literal["torch", "thread"] = knob("torch", help="torch DataLoader or MONAI ThreadDataLoader")
    augment_on: Literal["device", "cpu"] = knob(
        "device", help="random image transforms: batched on the device (GPU when present) or per item in CPU workers"
    )
    crop_scale: list[float] = knob([0.8, 1.0], help="random crop keeps this share of each side", min=0.1, max=1)
    rotate_degrees: float = knob(10.0, help="random in-plane rotation range (+/-)", min=0, max=180)
    scale_range: float = knob(0.1, help="random zoom range (+/-)", min=0, max=0.9)
    translate: float = knob(0.05, help="random shift range as a share of the size (+/-)", min=0, max=0.5)
    brightness: float = knob(0.1, help="random additive intensity shift (+/-)", min=0, max=1)
    contrast: float = knob(0.2, help="random contrast factor range (+/-)", min=0, max=1)
    noise_std: float = knob(0.02, help="std of added smooth noise", min=0, max=1)
    normalize: list[float] = knob([0.5, 0.25], help="[mean, std] subtracted and divided after augmentation")


@dataclass
class ModelSection:
    """Which model to build: a name from medvlp/models/model_configs (or a YAML path) plus overrides."""

    name: str = knob("tiny-cxr-resnet", help="model config name (medvlp.models.list_models()) or a YAML path")
    overrides: list[str] = knob([], help="model config overrides, e.g. [embed_dim=256, image.freeze=true]")


@dataclass
class LossSection:
    """The composite loss: weights per registered loss and per-loss options."""

    weights: dict[str, float] = knob(
        {"clip": 1.0}, help="loss name -> weight (clip, siglip, local, pathology, anatomy, stream_proto)"
    )
    options: dict[str, Any] = knob({}, help="loss name -> options, e.g. {clip: {soft_labels: true}}")


@dataclass
class TrainConfig:
    """Pre-training (`medvlp pretrain`)."""

    dataset: str = knob("", help="ingested dataset folder (holds manifest.parquet)")
    out: str = knob("runs/pretrain", help="run folder: checkpoints, MLflow store, plots, resolved config")
    modality: Literal["cxr", "ct"] = knob("cxr", help="which samples of the manifest to train on")
    steps: int = knob(200, help="optimizer steps", min=1)
    lr: float = knob(5e-4, help="peak learning rate", min=0)
    warmup_steps: int = knob(20, help="linear warm-up steps", min=0)
    weight_decay: float = knob(0.05, help="AdamW weight decay (not on biases, norms, temperature)", min=0)
    grad_clip: float = knob(1.0, help="max global gradient norm (0 = off)", min=0)
    accum_steps: int = knob(
        1, help="micro-batches per batch: contrastive accumulation, the loss still sees all negatives", min=1
    )
    ema_decay: float = knob(0.0, help="EMA of the weights (0 = off), e.g. 0.999", min=0, max=1)
    log_every: int = knob(10, help="steps between metric logs (host syncs happen only here)", min=1)
    val_every: int = knob(
        0, help="steps between validations on the val split (retrieval R@K, zero-shot AUROC); 0 = at the end", min=0
    )
    ckpt_every: int = knob(50, help="steps between checkpoints", min=1)
    keep_last: int = knob(3, help="checkpoints kept besides the best", min=1)
    parallel: Literal["ddp", "fsdp"] = knob("ddp", help="how several processes (torchrun) share the model")
    precision: Literal["auto", "bf16", "fp32"] = knob(
        "auto", help="auto = bf16 autocast on CUDA, fp32 on CPU; bf16 also on a CPU with native bf16 (channels-last)"
    )
    tokenizer_vocab: int = knob(
        4000, help="vocabulary of the tokenizer trained on the training reports when data.tokenizer is empty", min=100
    )


@dataclass
class Config:
    """The whole resolved configuration of a run."""

    run: RunConfig = field(default_factory=RunConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    text: TextConfig = field(default_factory=TextConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    loss: LossSection = field(default_factory=LossSection)
    train: TrainConfig = field(default_factory=TrainConfig)
