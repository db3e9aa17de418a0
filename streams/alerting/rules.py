"""Alert rules and notification targets: built-in defaults, or a TOML file.

``SMSRADAR_ALERT_RULES`` names the file; without it the defaults below apply, one rule
per dimension. A file replaces the default rules when it has ``[[rules]]`` and adds
notifiers with ``[[notifiers]]``; ``[defaults]`` changes what every rule inherits. The
README explains each field and the maths (``streams.alerting.detector``).

    [defaults]
    for_s = 120

    [[rules]]
    name = "device-failure-spike"
    dimension = "device"
    min_volume = 20

    [[notifiers]]
    type = "webhook"          # or "slack"
    url = "https://ops.example.com/hooks/sms"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from smsradar.settings import Settings

# The failure_rates dimensions a rule may watch (error_category rows count failures only).
Dimension = Literal["overall", "provider", "device", "sim", "country"]


_Model = TypeVar("_Model", bound=BaseModel)


class RuleError(Exception):
    """The rules file is missing or invalid; the message says where and why."""


class Thresholds(BaseModel):
    """What every rule inherits unless it sets its own (the ``[defaults]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The failure rate tested is that of the outcomes in the last window_s of event time.
    window_s: int = Field(default=300, gt=0)
    # Below this many decided outcomes (delivered + failed) in the window nothing is judged.
    min_volume: int = Field(default=20, ge=1)
    # Spike: the rate's lower confidence bound is at least baseline + min_increase ...
    min_increase: float = Field(default=0.10, gt=0, lt=1)
    # ... at this one-sided confidence, as a normal quantile (3.09: 99.9%).
    confidence_z: float = Field(default=3.09, gt=0)
    # ... or the observed rate itself is at least this, whatever the baseline.
    ceiling: float = Field(default=0.5, gt=0, le=1)
    # The spike must hold this long (event time) before the alert fires.
    for_s: int = Field(default=120, ge=0)
    # Resolved once the rate stays at or below baseline + resolve_increase this long.
    resolve_increase: float = Field(default=0.05, ge=0, lt=1)
    resolve_for_s: int = Field(default=180, ge=0)
    # After resolving, no new alert of the same rule and value before this much event time.
    cooldown_s: int = Field(default=600, ge=0)
    # Baseline: exponentially weighted failure rate of past windows (not those of a
    # spike), with this half-life, starting from prior_rate weighted as prior_weight
    # outcomes so that a new series is judged against a sane rate.
    baseline_half_life_s: int = Field(default=3600, gt=0)
    prior_rate: float = Field(default=0.05, ge=0, lt=1)
    prior_weight: float = Field(default=50.0, gt=0)
    # Until the baseline has learned from this much history, only the ceiling fires: a
    # series that has always failed at 20% is not spiking the minute smsradar starts.
    warmup_s: int = Field(default=1800, ge=0)

    @model_validator(mode="after")
    def _resolve_below_fire(self) -> Thresholds:
        if self.resolve_increase >= self.min_increase:
            raise ValueError("resolve_increase must be below min_increase (hysteresis)")
        return self


class Rule(Thresholds):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    dimension: Dimension


class Notifier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook", "slack"]
    url: HttpUrl
    timeout_s: float = Field(default=5.0, gt=0)
    # Tries per notification, with exponential back-off from backoff_s, before giving up.
    max_attempts: int = Field(default=8, ge=1)
    backoff_s: float = Field(default=1.0, ge=0)


class AlertConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[Rule, ...]
    notifiers: tuple[Notifier, ...] = ()

    def rules_for(self, dimension: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.dimension == dimension]

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertConfig:
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self


# Busier series get a higher minimum volume: an overall rate over few outcomes means little.
DEFAULT_MIN_VOLUME: dict[str, int] = {
    "overall": 50,
    "provider": 50,
    "device": 20,
    "sim": 20,
    "country": 30,
}


def default_rules(defaults: Thresholds | None = None) -> tuple[Rule, ...]:
    inherited = (defaults or Thresholds()).model_dump(exclude_unset=True)
    return tuple(
        Rule(
            name=f"{dimension}-failure-spike",
            dimension=dimension,
            **{"min_volume": min_volume, **inherited},
        )
        for dimension, min_volume in DEFAULT_MIN_VOLUME.items()
    )


def load_alert_config(settings: Settings) -> AlertConfig:
    """The rules and notifiers in force: the file's, the defaults, and the env's URLs."""
    source = str(settings.alert_rules) if settings.alert_rules else "alert rules"
    document: dict[str, Any] = {}
    if settings.alert_rules is not None:
        document = _read(settings.alert_rules)
    unknown = set(document) - {"defaults", "rules", "notifiers"}
    if unknown:
        raise RuleError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}")
    defaults = _build(source, "defaults", Thresholds, document.get("defaults", {}))
    inherited = defaults.model_dump(exclude_unset=True)
    if "rules" in document:
        rules = tuple(
            _build(source, f"rules[{i}]", Rule, {**inherited, **_table(source, "rules", rule)})
            for i, rule in enumerate(document["rules"])
        )
    else:
        rules = default_rules(defaults)
    notifiers = [
        _build(source, f"notifiers[{i}]", Notifier, _table(source, "notifiers", notifier))
        for i, notifier in enumerate(document.get("notifiers", []))
    ]
    for variable, kind, secret in (
        ("SMSRADAR_ALERT_WEBHOOK_URL", "webhook", settings.alert_webhook_url),
        ("SMSRADAR_ALERT_SLACK_URL", "slack", settings.alert_slack_url),
    ):
        if secret is not None:
            target = {"type": kind, "url": secret.get_secret_value()}
            notifiers.append(_build(variable, "", Notifier, target))
    config = _build(source, "", AlertConfig, {"rules": rules, "notifiers": tuple(notifiers)})
    for rule in config.rules:
        if rule.window_s % settings.failure_window_s:
            raise RuleError(
                f"{source}: rule {rule.name}: window_s must be a multiple of"
                f" SMSRADAR_FAILURE_WINDOW_S ({settings.failure_window_s})"
            )
    return config


def _build(source: str, where: str, model: type[_Model], data: Any) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join([where, *(str(part) for part in error["loc"])]).strip(".")
        # Never the value itself: a notifier URL is a secret.
        raise RuleError(f"{source}: {path or 'value'}: {error['msg']}") from None


def _table(source: str, name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError(f"{source}: {name} must be an array of tables ([[{name}]])")
    return value


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"SMSRADAR_ALERT_RULES: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: not valid TOML: {exc}") from None
