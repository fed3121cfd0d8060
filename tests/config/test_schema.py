"""The schema's defaults are the complete base config: the YAML and the dataclasses must never drift."""

from __future__ import annotations

import dataclasses

import yaml

from medvlp.config import Config, load_config, to_dict


def test_base_yaml_equals_schema_defaults(repo_root):
    base = yaml.safe_load((repo_root / "configs/base/default.yaml").read_text())
    assert base == to_dict(Config())


def test_base_yaml_is_complete_and_loads(repo_root):
    cfg = load_config([repo_root / "configs/base/default.yaml"])
    assert cfg == Config()


def test_every_field_has_help():
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            assert f.metadata.get("help"), f"{section.name}.{f.name} has no help text"


def test_experiments_load(repo_root):
    for path in sorted((repo_root / "configs/experiments").glob("*.yaml")):
        load_config([path])
