"""harness.spec.profile_check: Locust imports the profile in a child, with the run's arguments."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from harness.spec.models import LoadSpec
from harness.spec.profile_check import problems

ROOT = Path(__file__).resolve().parents[2]
INFERENCE = ROOT / "loadprofiles" / "inference.py"


def load(profile: Path, **options) -> LoadSpec:
    return LoadSpec(
        str(profile), "constant_rate", 10.0, MappingProxyType({"rate": 5.0}), None, MappingProxyType(options)
    )


def test_the_projects_profile_with_its_own_options_has_no_problems():
    assert problems(INFERENCE, load(INFERENCE, score_weight=3)) == []


def test_a_profile_raising_at_import_is_reported_on_load_profile_with_its_line(tmp_path):
    profile = tmp_path / "p.py"
    profile.write_text("import os\n\nos.environ['X'] = '1'\nraise KeyError('missing setting')\n")
    [(where, message)] = problems(profile, load(profile))
    assert where == "load.profile"
    assert "raised KeyError: 'missing setting'" in message and f"{profile}, line 4" in message


def test_an_option_the_profile_does_not_define_is_reported_on_its_own_key():
    [(where, message)] = problems(INFERENCE, load(INFERENCE, turbo=1))
    assert where == "load.options.turbo"
    assert "unrecognized option --turbo" in message and "score_weight" in message
