"""Every Redis key Switchboard uses, built here and nowhere else.

All keys share one `{hash tag}` so that multi-key Lua scripts stay on one Redis Cluster
slot. Add a function here for a new key; never format a key string elsewhere.
"""

from __future__ import annotations

PREFIX = "sb:{desk}:"


def desk_events() -> str:
    """Pub/sub channel: live events for operator consoles and the admin bot."""
    return f"{PREFIX}events"


def kb_version() -> str:
    """Counter bumped whenever an article changes; every process reloads its index on a change."""
    return f"{PREFIX}kb:version"


def kb_updates() -> str:
    """Pub/sub channel announcing a new `kb_version`."""
    return f"{PREFIX}kb:updates"


def poller_lease(poller: str) -> str:
    """Lease held by the one process polling a bot (`poller` like "telegram:123456")."""
    return f"{PREFIX}poller:{poller}:lease"


def job_lease(job: str) -> str:
    """Lease held by the one process running a periodic job ("idle-closer", "sla-watcher")
    or reading a mailbox ("email:<address>")."""
    return f"{PREFIX}job:{job}:lease"


def web_chat_frames() -> str:
    """Pub/sub channel: frames for web chat visitors, delivered by the process holding the
    visitor's socket."""
    return f"{PREFIX}web:frames"


def send_rate(scope: str) -> str:
    """GCRA state (the next theoretical send time) of one send-rate bucket, shared by every
    process: `scope` like "telegram:<bot>" (bot-wide) or "telegram:<bot>:<chat>"."""
    return f"{PREFIX}rate:{scope}"


def poller_cursor(poller: str) -> str:
    """Where that poller resumes (VK long-poll `ts`); written only by the lease holder."""
    return f"{PREFIX}poller:{poller}:cursor"


# The live operator queue (routing/queue.py, routing/queue.lua). Every script receives all of
# these as KEYS, in the order of `queue_keys()`, so no script ever builds a key itself.


def queue_order() -> str:
    """Hash: conversation id → its order key `group|lane priority|deadline|arrival|id`."""
    return f"{PREFIX}q:order"


def queue_entries() -> str:
    """Hash: conversation id → JSON details (client, channel, category)."""
    return f"{PREFIX}q:entries"


def queue_waiting() -> str:
    """Sorted set, all scores 0: waiting order keys, so lexicographic order is take order."""
    return f"{PREFIX}q:waiting"


def queue_assigned() -> str:
    """Sorted set: conversation id scored by the operator id that holds it."""
    return f"{PREFIX}q:assigned"


def queue_leases() -> str:
    """Sorted set: conversation id scored by its lease expiry (µs since the epoch)."""
    return f"{PREFIX}q:leases"


def sla_pending() -> str:
    """Sorted set: waiting conversations not yet warned, scored by deadline (µs)."""
    return f"{PREFIX}sla:pending"


def sla_warned() -> str:
    """Sorted set: waiting conversations warned about, not yet breached, scored by deadline."""
    return f"{PREFIX}sla:warned"


def sla_overdue() -> str:
    """Sorted set: waiting conversations past their deadline, scored by deadline."""
    return f"{PREFIX}sla:overdue"


def sla_marks() -> str:
    """Hash: conversation id → "w" (warned) or "b" (breached): each is reported once."""
    return f"{PREFIX}sla:marks"


def queue_repairs() -> str:
    """Hash: repair kind ("added", "removed") → how many times the reconciler made the live
    queue agree with the database (`/metrics`)."""
    return f"{PREFIX}q:repairs"


def operator_presence() -> str:
    """Hash: operator id → JSON presence (state, capacity, groups)."""
    return f"{PREFIX}op:presence"


def operator_seen() -> str:
    """Sorted set: operator id scored by the last heartbeat or action (µs)."""
    return f"{PREFIX}op:seen"


def operator_consoles(operator_id: int) -> str:
    """Sorted set: the operator's open console sockets (any process), scored by when each
    is given up for gone if its heartbeat stops (µs)."""
    return f"{PREFIX}op:consoles:{operator_id}"


def operator_in_admin_bot(operator_id: int) -> str:
    """String, expiring: set while the operator has used the admin bot lately, so closing
    their last console does not make them offline."""
    return f"{PREFIX}op:admin_bot:{operator_id}"


def assignment_cursor() -> str:
    """Hash: group → the operator id assigned last (round-robin among equals)."""
    return f"{PREFIX}op:cursor"


# The operators' admin bot (admin/telegram/).


def operator_active(operator_id: int) -> str:
    """The conversation the operator's admin bot chat is talking to now (/switch)."""
    return f"{PREFIX}op:{operator_id}:active"


def operator_invite(digest: str) -> str:
    """A one-time invite code (by its digest) → the operator id it links to a Telegram
    account (expires)."""
    return f"{PREFIX}op:invite:{digest}"


def admin_cards(conversation_id: int) -> str:
    """Hash: "chat_id:thread_id" → message id of the conversation's card, edited when taken."""
    return f"{PREFIX}admin:cards:{conversation_id}"


def channel_fault_told(channel: str) -> str:
    """Set (expiring) while the admins have been told that `channel` refuses replies."""
    return f"{PREFIX}admin:channel-fault:{channel}"


def admin_topics() -> str:
    """Hash: conversation id → its forum topic (message_thread_id) in the operators' group."""
    return f"{PREFIX}admin:topics"


def admin_topic_conversations() -> str:
    """Hash: forum topic id → conversation id (the reverse of `admin_topics`)."""
    return f"{PREFIX}admin:topic-conversations"


# Client recognition (identity/codes.py): link codes, email verification, attempt limits.


def link_code(digest: str) -> str:
    """A live link code (by its digest, never the code) → JSON {identity}; expires with the
    code (single use: GETDEL)."""
    return f"{PREFIX}link:{digest}"


def link_code_seen(digest: str) -> str:
    """ "issued" or "used": outlives the code, so a miss can tell expired or reused from wrong."""
    return f"{PREFIX}link:{digest}:seen"


def link_code_of(identity_id: int) -> str:
    """The digest of the live link code issued to an identity (voided when it asks again)."""
    return f"{PREFIX}link:by:{identity_id}"


def code_attempts(kind: str, subject: str) -> str:
    """Counter of wrong codes in the current window, per "client" (its id) or per
    "source" (a network address)."""
    return f"{PREFIX}codes:tries:{kind}:{subject}"


def email_offer(identity_id: int) -> str:
    """The address a chat client typed, waiting for their yes to mail a code to it."""
    return f"{PREFIX}verify:{identity_id}:offer"


def email_verification(identity_id: int) -> str:
    """Hash: a pending email verification of a chat identity (address, code, email identity)."""
    return f"{PREFIX}verify:{identity_id}"


def email_verification_seen(identity_id: int) -> str:
    """Marker that outlives a verification code, so a late code is told "expired"."""
    return f"{PREFIX}verify:{identity_id}:seen"


def verification_mails_by(identity_id: int) -> str:
    """Counter of verification mails one chat identity asked for in the current window."""
    return f"{PREFIX}verify:{identity_id}:mails"


def verification_mails_from(source: str) -> str:
    """Counter of verification mails asked for from one network address in the window."""
    return f"{PREFIX}verify:mails-from:{source}"


def verification_mails(address: str) -> str:
    """Counter of verification mails sent to one address in the current window (no mail bombs)."""
    return f"{PREFIX}verify:mails:{address}"


def bucket(kind: str, subject: str) -> str:
    """Hash {tokens, at}: one token bucket of an abuse limit (`core/buckets.py`), e.g.
    kind "web:message", subject a visitor id or a network address."""
    return f"{PREFIX}bucket:{kind}:{subject}"


def queue_keys() -> list[str]:
    """The KEYS of every call into routing/queue.lua, in the order the script unpacks them."""
    return [
        queue_order(),
        queue_entries(),
        queue_waiting(),
        queue_assigned(),
        queue_leases(),
        sla_pending(),
        sla_warned(),
        sla_overdue(),
        sla_marks(),
        operator_presence(),
        operator_seen(),
        assignment_cursor(),
    ]


def sent_piece(piece: str) -> str:
    """A message piece a platform accepted (`piece` like "telegram:<chat>:<outbound id>:<n>")."""
    return f"{PREFIX}sent:{piece}"


def sign_in_failures(subject: str) -> str:
    """Counter of recent failed console sign-ins of `subject` ("account:<name>" or
    "address:<ip>"); expires a day after the last failure."""
    return f"{PREFIX}signin:{subject}:failures"


def sign_in_blocked(subject: str) -> str:
    """Present while `subject` must wait before its next sign-in attempt (expires then)."""
    return f"{PREFIX}signin:{subject}:blocked"
