"""The data key that seals ID numbers at rest (``bot.sealing``), on the command line.

longtuan keys new       a new key, for LONGTUAN_DATA_KEY
longtuan keys rotate    seal every stored ID number again with the first key of LONGTUAN_DATA_KEY

To change keys: put the new key first and keep the old one after it
(``LONGTUAN_DATA_KEY=NEW,OLD``), restart, run ``longtuan keys rotate``, then drop the old key.
"""

from __future__ import annotations

import argparse
import sys

from bot.commands import Commands, with_services
from bot.context import Services
from bot.db.volunteer import profiles
from bot.sealing import SealError, new_key

#: People resealed a transaction.
BATCH = 500


def print_new_key(args: argparse.Namespace) -> None:
    print(new_key())


async def rotate(svc: Services, args: argparse.Namespace) -> int:
    """Reseal what the first key does not open yet; again on the same keys, it changes nothing."""
    sealer = svc.sealer
    stale: list[tuple[int, str]] = []
    current = resealed = failed = 0
    async with svc.db.session() as s:
        async for user_id, value in profiles.sealed(s):
            if sealer.current(value):
                current += 1
            else:
                stale.append((user_id, value))
    bar = None
    if sys.stderr.isatty() and stale:
        from tqdm import tqdm

        bar = tqdm(total=len(stale), desc="重新加密", unit="人", leave=False)
    for at in range(0, len(stale), BATCH):
        async with svc.db.session() as s:
            for user_id, value in stale[at : at + BATCH]:
                try:
                    after = sealer.reseal(value)
                except SealError:
                    failed += 1
                    continue
                # Conditional: someone who re-registered meanwhile keeps the newer number.
                resealed += await profiles.reseal(s, user_id, value, after)
        if bar is not None:
            bar.update(len(stale[at : at + BATCH]))
    if bar is not None:
        bar.close()
    print(f"重新加密 {resealed} 人的身份证号，{current} 人的本来就是第一个密钥加密的")
    if failed:
        print(f"longtuan: 有 {failed} 人的身份证号哪个密钥都解不开（不是这些密钥加密的），没有改动", file=sys.stderr)
        return 1
    return 0


def register(commands: Commands) -> None:
    keys = commands.root.add_parser("keys", help="加密身份证号的数据密钥（LONGTUAN_DATA_KEY）")
    sub = keys.add_subparsers(dest="action", required=True)
    sub.add_parser("new", help="生成一个新密钥").set_defaults(func=print_new_key)
    sub.add_parser("rotate", help="用第一个密钥重新加密所有身份证号（换密钥时用）").set_defaults(
        func=with_services(rotate)
    )
