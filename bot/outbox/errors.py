"""What each platform refusal means for a notice (issue 11's error table, in one place).

```
errcode                      ->  what the engine does
-1 busy, 45011 minute limit  ->  retry: back-off doubling from LONGTUAN_OUTBOX_RETRY_BASE, with jitter
40001 40014 42001 token      ->  the client refreshed the token once already: retry like busy
45015 window closed,         ->  re-plan without the customer-service way (template, consent, or wait)
45047 allowance used
43101 consent refused/used   ->  re-plan without the subscription way (the consent is spent)
43004 not a follower         ->  the user is marked unsubscribed; dropped
45009 template daily quota   ->  the template way pauses for the account until the next local day
45028 no mass quota          ->  the batch's rows wait for their next interaction
45065 clientmsgid used       ->  the earlier call went through: sent
40037 bad template id        ->  dropped (a configuration error, logged as one)
anything else                ->  dropped with its errcode
```
"""

from __future__ import annotations

from bot.channels.wechat.api import BUSY_ERRCODE, TOKEN_ERRCODES

RETRY = frozenset({BUSY_ERRCODE, 45011}) | TOKEN_ERRCODES
REPLAN = {45015: "custom", 45047: "custom", 43101: "subscribe"}
NOT_FOLLOWER = 43004
DAILY_QUOTA = 45009
NO_MASS_QUOTA = 45028
CLIENTMSGID_USED = 45065
BAD_TEMPLATE = 40037
#: Refusals that mean a quota or window was overrun: the benchmark wants none of them.
QUOTA = frozenset({45009, 45011, 45015, 45028, 45047, 43101})
