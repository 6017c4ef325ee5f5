"""_variables.yml holds strings only: pandoc would print an unquoted 0.01 as 1.0e-2."""

from __future__ import annotations

import yaml

from radsurv.report.variables import as_strings
from radsurv.report.variables import write_variables


def test_every_published_value_is_the_string_the_stage_meant(tmp_path):
    merged = {"a": {"n": 104, "p": 0.01, "flag": True, "off": False, "none": None, "s": "0.70"},
              "list": [1, "x"]}
    path = write_variables(as_strings(merged), tmp_path / "_variables.yml")
    text = path.read_text(encoding="utf-8")
    back = yaml.safe_load(text)
    assert back == {"a": {"n": "104", "p": "0.01", "flag": "true", "off": "false", "none": "", "s": "0.70"},
                    "list": ["1", "x"]}
    assert "p: '0.01'" in text and "n: '104'" in text   # quoted in the file, so no reader retypes them
