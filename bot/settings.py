"""Settings: environment > .env file > defaults, validated once at start-up; secrets hidden in repr."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.sealing import parse_keys

#: The real platform hosts; tests and staging point these at fakes.
WECHAT_API = "https://api.weixin.qq.com"


class Settings(BaseSettings):
    """All configuration, from ``LONGTUAN_*`` variables. Tests build ``Settings(...)`` directly."""

    model_config = SettingsConfigDict(
        env_prefix="LONGTUAN_", env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    wechat_token: SecretStr = SecretStr("longtuan-dev-token")
    wechat_app_id: str = "wx-longtuan-dev"
    wechat_app_secret: SecretStr = SecretStr("")
    wechat_aes_key: SecretStr | None = None
    wechat_allow_plain: bool = False
    wechat_api_base: str = WECHAT_API
    wechat_replay_window: int = Field(default=300, ge=0)
    #: Seconds the gateway waits for a handler before answering ``success`` and replying later
    #: through the customer-service API. WeChat gives up at 5 s and retries.
    wechat_reply_deadline: float = Field(default=4.5, gt=0, lt=5)
    #: The scheduler pushes content/menu.toml with menu/create once at start-up (it replaces the menu).
    wechat_push_menu: bool = False
    max_body_bytes: int = Field(default=64 * 1024, gt=0)

    #: ``postgresql+asyncpg://…``; empty: the embedded server of a first run (``bot.embedded``).
    database_url: str = ""
    #: Connections each process keeps to PostgreSQL (no overflow: a burst waits for one, in order,
    #: instead of opening and closing extra connections at a few hundred µs each).
    db_pool: int = Field(default=20, ge=2, le=200)
    #: Where the embedded PostgreSQL keeps its data (a first run only).
    data_dir: str = ".longtuan"
    redis_url: str | None = None
    #: Prefix of every Redis key this service writes; lets several deployments share one Redis.
    redis_prefix: str = "lt:"
    session_ttl: int = Field(default=7 * 24 * 3600, gt=0)
    flow_timeout: int = Field(default=600, gt=0)
    dedupe_ttl: int = Field(default=300, gt=0)
    #: Seconds a message waits for the same user's previous one to finish before it is answered
    #: "busy" (the handler never runs beside the other); must leave time inside the reply deadline.
    lock_wait: float = Field(default=3.5, gt=0, lt=5)
    last_seen_resolution: float = Field(default=60, ge=0)
    #: Care: days a question the bot could not answer is kept (masked) for staff to learn from.
    unanswered_days: int = Field(default=90, ge=1)
    #: Care: salt of the hash that stands for the asker of an unanswered question (secret in production).
    unanswered_salt: SecretStr = SecretStr("longtuan-dev-salt")
    #: The key that encrypts ID numbers at rest (``bot.sealing``); several, comma-separated, while
    #: rotating (the first seals). Empty with the embedded server: its data folder keeps one.
    data_key: SecretStr | None = None
    #: Care: days a closed staff-inbox thread is kept before it is deleted.
    inbox_days: int = Field(default=180, ge=1)

    #: The night school (handlers/courses): seconds before a class a seat can still be given back,
    #: the check-in window around its start, the second reminder, and the no-show rule (limit
    #: no-shows within window days block new signups for block days).
    courses_cancel_before: int = Field(default=2 * 3600, ge=0)
    courses_checkin_before: int = Field(default=30 * 60, ge=0)
    courses_checkin_after: int = Field(default=30 * 60, ge=0)
    courses_remind_before: int = Field(default=2 * 3600, gt=0)
    courses_noshow_limit: int = Field(default=2, ge=1)
    courses_noshow_window_days: int = Field(default=90, gt=0)
    courses_block_days: int = Field(default=30, ge=0)
    #: Keyword subscriptions one person may keep in 展翅计划.
    internship_max_subscriptions: int = Field(default=5, ge=1, le=50)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    content_dir: str = ""
    timezone: str = "Asia/Shanghai"
    #: 青年大学习: seconds after a reminder rule's time in which a missed run still sends (6 hours).
    study_reminder_window: int = Field(default=6 * 3600, gt=0, le=7 * 24 * 3600)
    #: 青年大学习: members claimed per transaction while sending reminders.
    study_reminder_batch: int = Field(default=200, gt=0, le=10_000)

    #: Volunteer hours: whole hours count in full; of the remainder, less than ``half_hour_from``
    #: minutes counts as nothing, up to ``full_hour_above`` as half an hour, more as a full hour.
    volunteer_half_hour_from: int = Field(default=15, ge=0, le=60)
    volunteer_full_hour_above: int = Field(default=45, ge=0, le=60)
    #: Seconds a shared location stays good for checking a check-in's distance.
    volunteer_location_ttl: int = Field(default=600, gt=0)
    #: Seconds before a shift's start from which its code and QR check volunteers in.
    volunteer_checkin_opens: int = Field(default=3600, ge=0)
    #: Kilometres around a sent location that 「附近」 searches.
    volunteer_nearby_km: float = Field(default=5.0, gt=0, le=50)

    # The delivery engine (bot/outbox): WeChat's sending rules, every number a setting.
    #: Notices and late replies go through the transactional outbox and a worker (off: sent at once,
    #: after the transaction that queued them has committed).
    outbox: bool = True
    #: With the outbox on, each ``longtuan serve`` process runs one worker of its own, so that a
    #: single process delivers what it queues; a deployment with ``longtuan worker`` processes turns it off.
    worker_in_serve: bool = True
    #: API calls a second, all workers together (a limiter shared through Redis).
    outbox_rate: float = Field(default=50.0, gt=0)
    #: Rows a worker claims at a time (one transaction while they are sent).
    outbox_claim: int = Field(default=50, ge=1, le=1000)
    #: Seconds an idle worker waits before looking for due rows again.
    outbox_poll: float = Field(default=0.5, gt=0)
    #: First retry delay (seconds) for a busy platform (-1, 45011); doubled each attempt, with jitter.
    outbox_retry_base: float = Field(default=5.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    #: Seconds a notice no way can reach waits for the user's next interaction before it is dropped.
    outbox_wait: int = Field(default=7 * 24 * 3600, ge=0)
    #: Customer-service messages: seconds after the user last wrote, and messages in that window.
    outbox_cs_window: int = Field(default=48 * 3600, gt=0)
    outbox_cs_allowance: int = Field(default=5, ge=0)
    #: Template messages a day for the whole account.
    outbox_template_daily: int = Field(default=100_000, ge=0)
    #: Mass sends a follower may receive in a calendar month; calls a minute; openids a call.
    outbox_mass_monthly: int = Field(default=4, ge=0)
    outbox_mass_per_minute: int = Field(default=60, ge=1)
    #: At least 4, so that batches dealt round-robin hold 2 openids each at the least.
    outbox_mass_batch: int = Field(default=10_000, ge=4, le=10_000)
    #: Purpose -> template configuration (TOML); empty means content/outbox.toml.
    outbox_purposes: str = ""
    #: A campaign to more people than this needs a second cadre's approval.
    campaign_two_person: int = Field(default=1000, ge=0)
    #: Seconds the one-scheduler lock lives in Redis unless its holder extends it (a standby takes over then).
    scheduler_lock_ttl: float = Field(default=30.0, ge=1)

    @field_validator("wechat_aes_key", "data_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        # The EncodingAESKey is 43 base64 characters; with one "=" it decodes to the 32-byte AES key.
        try:
            ok = len(raw) == 43 and len(base64.b64decode(raw + "=", validate=True)) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ValueError("must be the 43-character EncodingAESKey from the WeChat console")
        return value

    @field_validator("data_key")
    @classmethod
    def _data_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keys(value.get_secret_value())
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must start with postgresql+asyncpg:// (or be empty for the embedded server)")
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if value in ("", None):
            return None
        if not str(value).startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("wechat_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _token_present(self) -> Settings:
        if not self.wechat_token.get_secret_value():
            raise ValueError("LONGTUAN_WECHAT_TOKEN must not be empty")
        return self

    @model_validator(mode="after")
    def _volunteer_rounding(self) -> Settings:
        if self.volunteer_half_hour_from > self.volunteer_full_hour_above:
            raise ValueError("LONGTUAN_VOLUNTEER_HALF_HOUR_FROM must not exceed LONGTUAN_VOLUNTEER_FULL_HOUR_ABOVE")
        return self

    @property
    def embedded(self) -> bool:
        """No database URL: the CLI starts the embedded PostgreSQL and fills it in."""
        return not self.database_url

    @property
    def safe_mode(self) -> bool:
        return self.wechat_aes_key is not None


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
    """Build settings from ``environ`` (default: the process environment) and an optional .env file.

    Raises ``ConfigError`` naming every bad variable; the values themselves are never echoed.
    """
    try:
        if environ is None:
            return Settings(_env_file=env_file)  # type: ignore[call-arg]
        values: dict[str, Any] = {
            k[len("LONGTUAN_") :].lower(): v for k, v in environ.items() if k.startswith("LONGTUAN_")
        }
        return Settings(_env_file=env_file, **values)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "LONGTUAN_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
