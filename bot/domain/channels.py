"""Contact channels a partner handles."""

from enum import StrEnum


class ContactChannel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SOCIAL = "social"
