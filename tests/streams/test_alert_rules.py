"""Alert rules: defaults that work untouched, a TOML file, one-line errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsradar.settings import Settings
from streams.alerting.rules import RuleError, load_alert_config


def settings(tmp_path: Path, text: str | None = None, **overrides: object) -> Settings:
    rules = None
    if text is not None:
        rules = tmp_path / "alerts.toml"
        rules.write_text(text)
    return Settings(data_dir=tmp_path, alert_rules=rules, **overrides)  # type: ignore[arg-type]


def test_defaults_watch_every_dimension_without_notifiers(tmp_path: Path) -> None:
    config = load_alert_config(settings(tmp_path))
    assert {rule.dimension for rule in config.rules} == {
        "overall",
        "provider",
        "device",
        "sim",
        "country",
    }
    assert config.notifiers == ()
    device = config.rule("device-failure-spike")
    assert (device.window_s, device.min_volume, device.for_s) == (300, 20, 120)
    assert config.rule("overall-failure-spike").min_volume == 50


def test_file_defaults_rules_and_notifiers(tmp_path: Path) -> None:
    config = load_alert_config(
        settings(
            tmp_path,
            """
[defaults]
for_s = 60

[[rules]]
name = "devices"
dimension = "device"
min_volume = 5

[[rules]]
name = "countries"
dimension = "country"
for_s = 0

[[notifiers]]
type = "slack"
url = "https://hooks.example.com/T/B/x"
""",
            alert_webhook_url="http://127.0.0.1:9/hook",
        )
    )
    assert [(r.name, r.for_s, r.min_volume) for r in config.rules] == [
        ("devices", 60, 5),
        ("countries", 0, 20),
    ]
    assert [(n.type, str(n.url)) for n in config.notifiers] == [
        ("slack", "https://hooks.example.com/T/B/x"),
        ("webhook", "http://127.0.0.1:9/hook"),
    ]
    assert config.rules_for("device")[0].name == "devices"
    assert config.rules_for("sim") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rules]]\nname = 'x'\ndimension = 'planet'", "rules[0].dimension"),
        ("[[rules]]\nname = 'x'\ndimension = 'device'\nmin_volum = 3", "min_volum"),
        ("[defaults]\nresolve_increase = 0.2", "hysteresis"),
        ("[defaults]\nwindow_s = 90", "multiple of SMSRADAR_FAILURE_WINDOW_S"),
        ("[[notifiers]]\ntype = 'webhook'\nurl = 'not a url'", "notifiers[0].url"),
        ("[alerts]\nx = 1", "unknown table(s) alerts"),
        ("rules = 'x", "not valid TOML"),
        (
            "[[rules]]\nname = 'a'\ndimension = 'device'\n[[rules]]\nname = 'a'\ndimension = 'sim'",
            "unique",
        ),
    ],
)
def test_bad_rules_are_refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        load_alert_config(settings(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="SMSRADAR_ALERT_RULES: cannot read"):
        load_alert_config(Settings(data_dir=tmp_path, alert_rules=tmp_path / "nope.toml"))
