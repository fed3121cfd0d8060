"""The radiology knowledge graph: typed entities loaded from knowledge/, validated, and queried by id or words."""

from medvlp.knowledge.graph import DEFAULT_DIR, Entity, KnowledgeGraph, entity_from_dict, load_graph
from medvlp.knowledge.validate import KINDS, KnowledgeGraphError, normalize

__all__ = [
    "DEFAULT_DIR",
    "KINDS",
    "Entity",
    "KnowledgeGraph",
    "KnowledgeGraphError",
    "entity_from_dict",
    "load_graph",
    "normalize",
]
