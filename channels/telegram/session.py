"""aiogram's HTTP session, posting a method without files as a JSON body.

The Bot API takes a JSON body as well as a form. aiogram always builds a urlencoded form,
and percent-encoding a long Cyrillic answer (six characters per letter) cost a busy bot
more than the rest of the request; a JSON body keeps the text as it is. Uploads still go
as multipart forms.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods.base import TelegramMethod, TelegramType
from aiohttp import FormData
from aiohttp.payload import JsonPayload

__all__ = ["JsonBodySession"]


class JsonBodySession(AiohttpSession):
    def build_form_data(
        self, bot: Bot, method: TelegramMethod[TelegramType]
    ) -> FormData:  # what aiohttp posts: a JsonPayload serves as well
        files: dict[str, Any] = {}
        fields = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared:  # what aiogram's form leaves out, this leaves out too
                fields[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        return JsonPayload(fields, dumps=self.json_dumps)  # type: ignore[return-value]
