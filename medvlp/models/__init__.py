"""Models: image towers (2D timm, 3D MONAI, slice pooling), text towers, projections, streams and VLPModel.

Build by name: `create_model("tiny-cxr-resnet", tokenizer=tok)`; `list_models()` lists the bundled configs
(model_configs/*.yaml). timm, MONAI and transformers are imported only when a tower that needs them is built.
"""

from medvlp.models.config import (
    ModelConfig,
    ProjectionConfig,
    StreamsConfig,
    TextTowerConfig,
    TowerConfig,
    dump_model_config,
    model_config_to_dict,
    parse_model_config,
)
from medvlp.models.factory import (
    create_image_tower,
    create_model,
    create_text_tower,
    list_models,
    load_model_config,
)
from medvlp.models.outputs import ImageOutput, StreamOutput, TextOutput, VLPOutput
from medvlp.models.streams import tokenize_entities
from medvlp.models.towers import ImageTower, TowerFeatures
from medvlp.models.vlp import VLPModel

__all__ = [
    "ImageOutput",
    "ImageTower",
    "ModelConfig",
    "ProjectionConfig",
    "StreamOutput",
    "StreamsConfig",
    "TextOutput",
    "TextTowerConfig",
    "TowerConfig",
    "TowerFeatures",
    "VLPModel",
    "VLPOutput",
    "create_image_tower",
    "create_model",
    "create_text_tower",
    "dump_model_config",
    "list_models",
    "load_model_config",
    "model_config_to_dict",
    "parse_model_config",
    "tokenize_entities",
]
