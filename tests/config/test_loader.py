"""Loading, merging, overriding and validating configs; every error names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlp.config import ConfigError, load_config, merge, parse_overrides, save_config


def test_overrides_parse_types():
    assert parse_overrides(["synth.n_ct=7", "synth.cxr_size=[64, 96]", "synth.broken_files=true"]) == {
        "synth": {"n_ct": 7, "cxr_size": [64, 96], "broken_files": True}
    }


def test_precedence_defaults_file_override(tmp_path: Path):
    cfg_file = tmp_path / "exp.yaml"
    cfg_file.write_text("synth:\n  n_ct: 3\n  n_cxr: 5\n")
    cfg = load_config([cfg_file], ["synth.n_ct=9"])
    assert (cfg.synth.n_ct, cfg.synth.n_cxr, cfg.synth.n_cxr != 160) == (9, 5, True)
    assert cfg.synth.omit_rate == 0.05  # untouched default


def test_unknown_key_names_key_and_allowed():
    with pytest.raises(ConfigError) as err:
        load_config([], ["synth.n_cxrr=3"])
    msg = str(err.value)
    assert "synth.n_cxrr" in msg and "n_cxr" in msg and "n_ct" in msg and "\n" not in msg


def test_unknown_section_lists_sections():
    with pytest.raises(ConfigError, match="allowed in the config: run, synth"):
        load_config([], ["sinth.n_ct=1"])


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("synth.n_ct=abc", "expected int"),
        ("synth.n_ct=-1", "out of range"),
        ("synth.omit_rate=1.5", "out of range"),
        ("synth.broken_files=3", "true or false"),
        ("synth.cxr_size=5", "expected a list"),
        ("synth.cxr_size=[64, x]", "synth.cxr_size[1]"),
        ("n_ct=3", "section.key=value"),
    ],
)
def test_bad_values_are_named(override: str, needle: str):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_config([], [override])


def test_int_accepted_for_float():
    assert load_config([], ["synth.omit_rate=0"]).synth.omit_rate == 0.0


def test_extends_chain_and_sandbox(tmp_path: Path):
    (tmp_path / "base").mkdir()
    (tmp_path / "exp").mkdir()
    (tmp_path / "base/b.yaml").write_text("synth:\n  n_ct: 2\n  n_cxr: 4\n")
    (tmp_path / "exp/e.yaml").write_text("extends: ../base/b.yaml\nsynth:\n  n_ct: 6\n")
    cfg = load_config([tmp_path / "exp/e.yaml"])
    assert (cfg.synth.n_ct, cfg.synth.n_cxr) == (6, 4)
    (tmp_path / "exp/evil.yaml").write_text("extends: ../../../etc/passwd\n")
    with pytest.raises(ConfigError, match="outside the config folder"):
        load_config([tmp_path / "exp/evil.yaml"])


def test_python_expressions_are_not_evaluated(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("synth:\n  n_ct: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([bad])


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config([tmp_path / "nope.yaml"])


def test_merge_is_recursive():
    assert merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}}) == {"a": {"x": 1, "y": 3}, "b": 1}


def test_save_roundtrip(tmp_path: Path):
    cfg = load_config([], ["synth.n_ct=11", "run.seed=4"])
    path = save_config(cfg, tmp_path / "run/config.yaml")
    assert load_config([path]) == cfg
