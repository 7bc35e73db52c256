"""The course configuration (`cnnkit.toml`): which phases the graders grade."""

import argparse
import re

import pytest

from cnnkit.config import Grading, add_arguments, graded_numbers, load_grading
from cnnkit.phases import BONUS_PHASES, CORE_PHASES, PHASES

CORE = [p.number for p in CORE_PHASES]
ALL = [p.number for p in PHASES]


def parse(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--phases")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_bonus_phases_exist_and_are_graded_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no cnnkit.toml here
    assert BONUS_PHASES and all(p.number > max(CORE) for p in BONUS_PHASES)
    assert load_grading() == Grading(bonus=True)
    assert graded_numbers(parse()) == ALL


def test_the_configuration_switches_bonus_phases_off(tmp_path, monkeypatch):
    (tmp_path / "cnnkit.toml").write_text("[grading]\nbonus = false\n")
    monkeypatch.chdir(tmp_path)
    assert graded_numbers(parse()) == CORE
    assert graded_numbers(parse("--bonus")) == ALL  # the command line overrides the file
    assert graded_numbers(parse("--phases", "2,11")) == [2, 11]  # explicit phases win


def test_an_explicit_config_file_and_no_bonus_flag(tmp_path):
    config = tmp_path / "course.toml"
    config.write_text("[grading]\nbonus = true\n")
    assert graded_numbers(parse("--config", str(config))) == ALL
    assert graded_numbers(parse("--config", str(config), "--no-bonus")) == CORE


@pytest.mark.parametrize("text, message", [
    ("[grading]\nbonus = 'no'\n", "grading.bonus must be true or false (got 'no')"),
    ("[grading]\nbonsu = false\n", "unknown settings ['grading.bonsu']"),
    ("[grade]\nbonus = false\n", "unknown settings ['grade']"),
    ("[grading\n", "is not valid TOML"),
])
def test_a_bad_configuration_is_a_clear_error(tmp_path, text, message):
    config = tmp_path / "cnnkit.toml"
    config.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_grading(config)


def test_a_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_grading(tmp_path / "nowhere.toml")
