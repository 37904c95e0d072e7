"""Small helpers shared by every module: ids, time formatting, JSON."""

import base64
import datetime
import hashlib
import json
import uuid

UTC = datetime.timezone.utc


def det_guid(*parts):
    """A GUID derived from `parts`, so scenarios without ids load the same way every time."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def rand_guid():
    return str(uuid.uuid4())


def guid_to_immutable_id(guid):
    """ImmutableId of an on-premises objectGUID.

    Base64 of the GUID's .NET ToByteArray() bytes
    (https://learn.microsoft.com/entra/identity/enterprise-apps/migrate-okta-sync-provisioning),
    the mixed-endian layout, i.e. uuid.UUID.bytes_le (docs/graph-facts.md#source-anchors).
    """
    return base64.b64encode(uuid.UUID(guid).bytes_le).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def iso(dt):
    """ISO 8601 with a Z, e.g. 2013-02-16T03:04:54Z, as onPremisesLastSyncDateTime
    (https://learn.microsoft.com/graph/api/resources/user)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_fraction(dt):
    """Seven fractional digits, as seen in real provisioning errors
    ("2022-06-27T10:29:29.0922053Z", docs/graph-facts.md#provisioning-errors)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (dt.microsecond * 10) + "Z"


def parse_iso(text):
    if text is None:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts up to 6 fractional digits; trim longer ones.
    if "." in text:
        head, rest = text.split(".", 1)
        frac = ""
        while rest and rest[0].isdigit():
            frac, rest = frac + rest[0], rest[1:]
        text = head + "." + frac[:6].ljust(6, "0") + rest
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def smtp_address(proxy):
    """Return the lower-cased address of an SMTP proxy address, or None for other types.

    Duplicate Attribute Resiliency handles only UPNs and SMTP proxy addresses
    (docs/graph-facts.md#duplicate-attribute-resiliency).  Prefix `SMTP:` marks the
    primary address, `smtp:` a secondary one
    (https://learn.microsoft.com/graph/api/resources/user).
    """
    if not isinstance(proxy, str) or ":" not in proxy:
        return None
    prefix, address = proxy.split(":", 1)
    if prefix.lower() != "smtp":
        return None
    return address.strip().lower()


def is_primary_smtp(proxy):
    return isinstance(proxy, str) and proxy.startswith("SMTP:")
