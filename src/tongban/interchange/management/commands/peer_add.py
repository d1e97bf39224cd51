"""Add or update a peer region for 跨省通办 messages (`tongban manage peer_add ...`)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.core.crypto import key_fingerprint
from tongban.core.errors import DomainError
from tongban.interchange.services import peer_save


class Command(BaseCommand):
    help = (
        "添加/更新对端区域。Add or update a peer region (its key from --public-key or --fetch-key)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="区域代码, e.g. 330000")
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", default="", help="对端部署地址; 空 = 本部署内的区域租户")
        parser.add_argument(
            "--revoke-previous",
            action="store_true",
            help="不再接受该对端的上一把公钥（旧钥泄露时）: stop accepting its previous key now",
        )
        key = parser.add_mutually_exclusive_group(required=True)
        key.add_argument("--public-key", help="SM2 公钥 hex (x‖y)")
        key.add_argument(
            "--fetch-key",
            action="store_true",
            help="从对端 /api/v1/interchange/regions/CODE 读取公钥（请核对打印的指纹）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        public_key = options["public_key"]
        if options["fetch_key"]:
            if not options["url"]:
                raise CommandError("--fetch-key needs --url")
            url = f"{options['url'].rstrip('/')}/api/v1/interchange/regions/{options['code']}"
            try:
                with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                    public_key = json.loads(response.read())["public_key"]
            except (OSError, ValueError, KeyError) as error:
                raise CommandError(f"could not fetch the key from {url}: {error}") from error
        try:
            peer = peer_save(
                code=options["code"],
                name=options["name"],
                base_url=options["url"],
                public_key=public_key,
                keep_previous=not options["revoke_previous"],
            )
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        fingerprint = key_fingerprint(peer.public_key)
        self.stdout.write(f"peer {peer.code} saved; key fingerprint (SM3) {fingerprint}")
