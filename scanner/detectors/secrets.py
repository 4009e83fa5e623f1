"""Secrets in request strings: gitleaks' rule set, a few rules of our own, key context and entropy.

The rules are one list, `RULES`, of `SecretRule` records in gitleaks' shape (id, pattern,
secret group, entropy, keywords, allowlists; see secret_rules.py):

- **gitleaks' maintained catalogue** of vendor token formats (`config/gitleaks.toml`, shipped
  beside this module and translated to Python `re` by secret_rules.py): 221 rules. Its
  generic-api-key also skips digests, UUIDs and base64 of text (ZenML metadata).
- **rules for formats gitleaks has none for** (`OWN_RULES`, listed first: on the same span
  their entity is reported), kept from detect-secrets' plugins (AWS secret access keys next
  to `aws`, a private key's BEGIN line alone, Discord bot tokens, Square OAuth secrets,
  Mailchimp keys and Telegram bot tokens by their shape alone,
  `.npmrc` auth lines, URL credentials, Azure storage keys, IBM Cloud, Cloudant, Softlayer)
  and our own (Hugging
  Face tokens with digits and OpenAI project keys of any length, which gitleaks' rules leave
  out; ZenML API keys, GCP service-account JSON, Azure connection strings and SAS signatures,
  database URLs, HTTP basic credentials anywhere, `.netrc` and `.pgpass` lines, base64 PEM
  as kubeconfig `client-key-data` holds it).

Key context: a value under a key that names a secret (`password`, `apiKey`, `x-api-key`,
`DB_PASSWORD`, `db.password`, `client_secret` ... in any naming style, see `_key_words`) is a
SECRET_KEYWORD finding; under a parent key or a plural that names secrets
(`{"api_key": {"value": ...}}`, `api_keys[0]`), a random-looking value is; a docker config's
`auth` that decodes to `user:password` is BASIC_AUTH_CREDENTIALS. Each decoded view of a value
is judged (an encoded password is still under `password`). The same value under a neutral
key is judged by the rules and by entropy only. detect-secrets' keyword patterns find `password = "..."` inside text and code,
and its Shannon-entropy measure judges random-looking tokens.

Bounded: each rule runs only on the leaves where one of its keywords occurs (one pass over
all leaves joined, see `prefilter`); a leaf longer than `WHOLE_LEAF` is searched only in
windows around the keywords, as long as the rule's longest match (`SecretRule.max_length`),
so Python's backtracking engine never sees more than that per candidate.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re
import string
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detect_secrets.filters import heuristic
from detect_secrets.plugins import keyword as ds_keyword
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from metagate.scanner.decoders import base64_bytes, reads_as_text
from metagate.scanner.detectors.base import Detector, Hit
from metagate.scanner.detectors.secret_rules import (
    CURL_LINES,
    MAX_CANDIDATE,
    WHOLE_LEAF,
    SecretRule,
    gitleaks_rules,
)
from metagate.scanner.model import PROVEN_CLASSES, Leaf, views
from metagate.scanner.prefilter import JoinedTexts, Trigger, context_keys, last_key

__all__ = ["RULES", "SecretDetector", "SecretRule", "SecretSettings"]


def _caseless(*literals: str) -> tuple[Trigger, ...]:
    return tuple(Trigger.text(literal, ignore_case=True) for literal in literals)


def _rule(id: str, pattern: str, keywords: tuple[Trigger, ...], score: float, **more: object) -> SecretRule:
    return SecretRule(id, re.compile(pattern, re.MULTILINE), keywords, score, **more)  # type: ignore[arg-type]


def _from_plugin(
    plugin: type[RegexBasedDetector], id: str, score: float, keywords: tuple[Trigger, ...],
    only: slice = slice(None), **more: object,
) -> tuple[SecretRule, ...]:
    """A detect-secrets plugin's patterns as rules. detect-secrets applies each pattern to one
    line, so `^` and `$` stay per line."""
    return tuple(
        SecretRule(id, re.compile(p.pattern, p.flags | re.MULTILINE), keywords, score,  # type: ignore[arg-type]
                   source=f"detect-secrets:{plugin.__name__}", **more)
        for p in plugin.denylist[only]  # type: ignore[attr-defined]
    )


def _is_basic_credentials(encoded: str) -> bool:
    """`Basic <base64>`: base64 of `user:password`, both non-empty printable text."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, colon, password = decoded.partition(":")
    return bool(colon and user and password) and decoded.isprintable()


def _is_base64_private_key(encoded: str) -> bool:
    """base64 of a PEM private key (kubeconfig `client-key-data`, a key file uploaded whole)."""
    try:
        decoded = base64.b64decode(encoded[:4096] + "=" * (-len(encoded[:4096]) % 4))
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY" in decoded[:128]


# Keywords of the keyword-shaped plugins (IBM, Cloudant, Softlayer): all need key|pw|pass|token
# in the name. Patterns start with a literal where they can (no alternation at the front),
# which lets `re` skip to it as fast as `str.find`.
_CREDENTIAL_WORDS = _caseless("key", "pw", "pass", "token")
_DB_SCHEMES = (
    r"(?:postgres(?:ql)?|mysql|mariadb|mssql|sqlserver|oracle|redshift|snowflake|clickhouse"
    r"|mongodb(?:\+srv)?|rediss?|amqps?)"
)

# Formats gitleaks has no rule for (or, for Hugging Face and OpenAI, a narrower one than the
# tokens users paste): detect-secrets' plugins and our own. Public IPs are the PII detector's.
OWN_RULES: tuple[SecretRule, ...] = (
    # `aws_secret = "<40 characters>"`: AWS secret access keys (gitleaks: only the key id).
    *_from_plugin(AWSKeyDetector, "AWS_SECRET_ACCESS_KEY", 0.9, _caseless("aws"), only=slice(1, None)),
    # The BEGIN line alone (a key cut by a URL path, a truncated paste): gitleaks' rule needs
    # the whole block.
    *_from_plugin(PrivateKeyDetector, "PRIVATE_KEY", 0.99, (Trigger.text("PRIVATE KEY"), Trigger.text("PuTTY-User-Key-File-2"))),
    *_from_plugin(DiscordBotTokenDetector, "DISCORD_TOKEN", 0.9, (Trigger.regex(r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}"),)),
    *_from_plugin(SquareOAuthDetector, "SQUARE_OAUTH_SECRET", 0.95, (Trigger.text("sq0csp-"),)),
    *_from_plugin(NpmDetector, "NPM_TOKEN", 0.9, (Trigger.text(":_authToken="),)),
    *_from_plugin(BasicAuthDetector, "BASIC_AUTH_URL", 0.9, (Trigger.text("://"),)),
    *_from_plugin(AzureStorageKeyDetector, "AZURE_STORAGE_KEY", 0.95, (Trigger.text("AccountKey="),)),
    *_from_plugin(SoftlayerDetector, "SOFTLAYER_KEY", 0.85, _CREDENTIAL_WORDS + _caseless("softlayer")),
    *_from_plugin(IbmCloudIamDetector, "IBM_CLOUD_IAM_KEY", 0.85, _CREDENTIAL_WORDS),
    *_from_plugin(IbmCosHmacDetector, "IBM_COS_HMAC_KEY", 0.85, _caseless("key")),
    *_from_plugin(CloudantDetector, "CLOUDANT_KEY", 0.85, _CREDENTIAL_WORDS + _caseless("cloudant")),
    # Hugging Face user access tokens: hf_ and 30-40 alphanumerics (gitleaks allows 34 letters
    # only; tokens with digits are pasted too).
    _rule("HUGGINGFACE_TOKEN", r"\bhf_[A-Za-z0-9]{30,40}\b", (Trigger.text("hf_"),), 0.95),
    # OpenAI project, service-account and admin keys of any length (gitleaks: only those with
    # the T3BlbkFJ marker at its fixed offsets).
    _rule("OPENAI_KEY", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,200}", (Trigger.text("sk-"),), 0.95),
    _rule("ZENML_API_KEY", r"\bZEN(?:PRO)?KEY_[A-Za-z0-9_\-=]{20,}", (Trigger.text("KEY_"),), 0.95),
    # Shapes distinctive without the vendor's name beside them (gitleaks' rules need
    # "mailchimp"/"telegram" in front; a key pasted under any name has neither; detect-secrets'
    # Mailchimp plugin matched the shape alone): 32 hex and a datacentre suffix; a bot id, a
    # colon and `AA` with 33 token characters.
    _rule("MAILCHIMP_API_KEY", r"(?<![0-9A-Za-z])[0-9a-f]{32}-us[0-9]{1,2}(?![0-9A-Za-z])", (Trigger.text("-us"),), 0.9),
    _rule("TELEGRAM_BOT_TOKEN", r"(?<![0-9A-Za-z])[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}(?![0-9A-Za-z_\-])", (Trigger.text(":AA"),), 0.9),
    # A service-account key file pasted as a string: the private key's value.
    _rule(
        "GCP_SERVICE_ACCOUNT_KEY",
        r"\"private_key\"\s*:\s*\"(-----BEGIN[^\"]{20,})\"",
        (Trigger.text('"private_key"'),),
        0.99,
        secret_group=1,
    ),
    _rule(
        "GCP_SERVICE_ACCOUNT_KEY",
        r"\"private_key_id\"\s*:\s*\"([0-9a-f]{40})\"",
        (Trigger.text('"private_key_id"'),),
        0.9,
        secret_group=1,
    ),
    # Azure storage, Service Bus and Event Hub connection strings, and SAS signatures.
    _rule(
        "AZURE_CONNECTION_STRING",
        r"(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})",
        (Trigger.text("AccountKey"), Trigger.text("SharedAccessKey")),
        0.95,
        secret_group=1,
    ),
    _rule("AZURE_SAS_TOKEN", r"[?&]sig=([A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})", (Trigger.text("sig="),), 0.9, secret_group=1),
    # scheme://user:password@host for databases and brokers; the password may hold any
    # character but whitespace (detect-secrets' basic-auth rule excludes RFC 3986 delimiters).
    _rule(
        "DATABASE_URL_PASSWORD",
        _DB_SCHEMES + r"(?:\+\w+)?://[^\s:/?#@]+:([^\s/?#]+)@[\w.\-\[\]]",
        (Trigger.text("://"),),
        0.95,
        secret_group=1,
    ),
    # HTTP basic credentials wherever they are written (a custom header, a config value, a
    # docker config's `"auth"`): `Basic <base64 of user:password>`. It must decode so.
    _rule(
        "BASIC_AUTH_CREDENTIALS",
        r"(?i:\bbasic)[ \t]+([A-Za-z0-9+/]{4,512}={0,2})(?![A-Za-z0-9+/=])",
        _caseless("basic"),
        0.9,
        secret_group=1,
        validate=_is_basic_credentials,
    ),
    _rule(
        "BASIC_AUTH_CREDENTIALS",
        r"\\{0,7}\"auth\\{0,7}\"\s*:\s*\\{0,7}\"([A-Za-z0-9+/]{4,512}={0,2})\\{0,7}\"",  # escaped in code too
        (Trigger.text('"auth"'), Trigger.text('auth\\')),
        0.9,
        secret_group=1,
        validate=_is_basic_credentials,
    ),
    # `user:password@host[:port][/path]` as a whole value, without a scheme (a proxy setting, a
    # header). Only a whole value: in prose `note:jane@acme.com` is an address. The host has a
    # dot (an image pinned `name:tag@sha256:...` has none).
    _rule(
        "BASIC_AUTH_URL",
        r"\A[ \t]*(?!mailto:)[A-Za-z0-9_.%+\-]{1,64}:([^\s:/?#@]{3,128})@"
        r"(?:[A-Za-z0-9\-]+\.)+[A-Za-z0-9\-]+(?::\d{1,5})?(?:/\S*)?[ \t]*\Z",
        (Trigger.text("@"),),
        0.9,
        secret_group=1,
    ),
    # ~/.netrc: `machine <host> login <user> password <password>` (one line or several).
    _rule(
        "NETRC_PASSWORD",
        r"\bmachine[ \t]+\S{1,253}\s+(?:login[ \t]+\S{1,128}\s+)?password[ \t]+(\S{1,256})",
        (Trigger.text("machine"),),
        0.9,
        secret_group=1,
    ),
    # ~/.pgpass: `hostname:port:database:username:password`, one entry per line (or quoted).
    _rule(
        "PGPASS_PASSWORD",
        r"(?<![^\s\"'=])(?=[^:\s]{0,252}[A-Za-z.*\[])[A-Za-z0-9_.\-*\[\]]{1,253}:(?:\d{1,5}|\*):"
        r"[^:\s\"']{1,63}:[^:\s\"']{1,63}:([^\s\"']{4,256})(?![^\s\"',;)\]}])",
        (Trigger.regex(r":(?:\d{1,5}|\*):"),),
        0.9,
        secret_group=1,
    ),
    # A PEM private key in base64, as kubeconfig `client-key-data` and key uploads hold it.
    _rule(
        "PRIVATE_KEY",
        r"\bLS0tLS1CRUdJTi[A-Za-z0-9+/]{60,16384}={0,2}",
        (Trigger.text("LS0tLS1CRUdJTi"),),
        0.95,
        validate=_is_base64_private_key,
    ),
)

# Every rule the detector runs: the formats gitleaks has none for, then gitleaks' catalogue
# (where two find the same span, the first rule's entity is reported: `Basic` credentials in a
# curl line are BASIC_AUTH_CREDENTIALS rather than gitleaks' CURL_AUTH_HEADER).
def _not_encoded_text(value: str) -> bool:
    return not _base64_of_text(value)


# gitleaks' generic rule takes any random-looking value after a keyword; base64 of a text (a
# small config after `KeyError:`) is an encoding, whose decoded view the pipeline judges.
RULES: tuple[SecretRule, ...] = (*OWN_RULES, *(
    dataclasses.replace(rule, validate=_not_encoded_text) if rule.source == "gitleaks:generic-api-key" else rule
    for rule in gitleaks_rules().rules
))
_GLOBAL_ALLOWLIST = gitleaks_rules().global_allowlist

# Keys are matched in one naming style, their words joined by `_` in lower case (`_key_words`:
# `apiKey`, `x-api-key`, `X_API_KEY`, `api.key` and `Api Key` are all `api_key`).
_KEYWORD_IN_KEY = re.compile(
    r"(?:" + "|".join(ds_keyword.DENYLIST)
    + r"|passphrase|(?:access|auth|bearer|refresh|session|api|id|oauth|github|gitlab|hf|slack|personal_access)_?token"
    + r"|^token$|access_?key|signing_?key|encryption_?key|master_?key|credentials?$)",
    re.IGNORECASE,
)
# A key that names, points at or describes a secret rather than holding one.
_KEY_NOT_A_VALUE = re.compile(
    r"(?:_|-|^)?(?:name|names|id|ids|ref|refs|type|path|file|env|var|arn|uri|url|field|fields|length|len|"
    r"count|enabled|required|secrets|keys|policy|prefix|store|manager|provider|source|version|expires?|expiry|rotation|"
    r"tokens|tokenizer|method|mode|kind|scheme|format|algorithm|header|endpoint|host|port|user|username|region|"
    r"timeout|ttl|scope|scopes|hint|description|label|location|mount|mount_point|backend)$",
    re.IGNORECASE,
)
# Plural secret words: a list or map of secrets (`api_keys: [...]`, `passwords: {...}`), or
# names of secrets kept elsewhere (ZenML's `secrets: ["aws_creds"]`): only a random-looking
# value under one is a finding.
_SECRETS_PLURAL = re.compile(r"(?:^|_)(?:api_?keys|access_?keys|secret_?keys|private_?keys|passwords|passwds|"
                             r"passphrases|client_secrets|secrets|(?:access|auth|api|bearer|refresh)_?tokens|tokens|"
                             r"credentials)$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_KEY_SEPARATORS = re.compile(r"[^0-9a-z\u00c0-\uffff]+")


def _key_words(key: str) -> str:
    """A key in one naming style: `apiKey` → `api_key`, `x-api-key` → `x_api_key`,
    `DB_PASSWORD` → `db_password`, `db.password` → `db_password`, `AWSSecret` → `aws_secret`."""
    if key.islower() and key.isidentifier():
        return key
    return _KEY_SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", key).lower()).strip("_")


_KEYWORD_PREFILTER = re.compile(
    "|".join(ds_keyword.DENYLIST), re.IGNORECASE
)
# Every word of detect-secrets' DENYLIST contains one of these (contraseña: "contrase").
_KEYWORD_TRIGGERS = _caseless("key", "pass", "pwd", "secret", "contrase")
# Every key `_KEYWORD_IN_KEY` matches contains one of these; a path that JSON-escapes a
# non-ASCII key is looked at too (a caseless match may fold, e.g. the Kelvin sign to "k").
_KEY_TRIGGERS = _caseless("key", "pass", "pwd", "secret", "contrase", "token", "credential", "auth") + (
    Trigger.text("\\u"),
)
_MIN_TOKEN_LENGTH = 20  # both high-entropy shapes need 20 token characters
# Every keyword regex of detect-secrets needs one of these after the keyword (`:`, `=`,
# `==`/`!=`, `=>`, or a quoted value and `;`): a line without any cannot match.
_ASSIGNMENT = re.compile(r"[:=!;]")
# A value that is wholly a reference to a secret kept elsewhere: `{{ name.key }}` (ZenML, Jinja
# with a filter), `${VAR}`, `{var}`, `$VAR`, `<placeholder words>`. Only the whole value: a
# reference next to other text (`hunter2{{x.y}}`) does not make that text a reference.
_REFERENCE = re.compile(
    r"\{\{[ \t]*[A-Za-z0-9_][\w.\-]{0,127}(?:[ \t]*\|[ \t]*[A-Za-z_]\w{0,31})?[ \t]*\}\}"
    r"|\$?\{[A-Za-z_][\w.\-]{0,127}\}"
    r"|\$\{(?:env|ENV|secrets?|vars?):[A-Za-z_][\w.\-]{0,127}\}"
    r"|\$[A-Z_][A-Z0-9_]{0,127}"
    r"|<[A-Za-z][A-Za-z0-9 _.\-]{0,63}>"
)
_REFERENCE_PART = re.compile(r"[A-Za-z0-9_\-]+")  # the name and the key of `{{ name.key }}`
# In program text a template is how code builds a value (`f"{prefix}-{suffix}"`, Jinja,
# `.format`): there any templated part keeps detect-secrets' looser reading.
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\$\{.*?\}|^\$[A-Z_][A-Z0-9_]*$|^<[^<>]+>$")
_PLACEHOLDER = re.compile(
    r"^(?:\*+|x+|\.+|-+|\?+|null|none|true|false|changeme|change_me|redacted|<redacted>|password|secret|\d{1,5})$",
    re.IGNORECASE,
)
_CLOSING_PUNCTUATION = "`,;)]}>.\"'"
_CLASS_NAME = re.compile(r"^(?:[A-Z][a-z0-9]+){2,}$")  # `secret: SecretRequest` is a type
_ENV_VAR_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_KEY_PREFIX = re.compile(r"[A-Za-z_]+=")
_VALUE_END = re.compile(r"[\s;]")
_ENV_STYLE_LINE = re.compile(r"^\s*(?:(?:ENV|ARG|export|set)\s+|[A-Z][A-Z0-9_]*=)")
_QUOTED = re.compile(r"""(['"])([A-Za-z0-9+/=_\-]{20,})\1""")
_MIN_CLASS_CHANGES = 0.35  # misses under 1% of random 20-character tokens
_WHOLE_TOKEN = re.compile(r"^\s*([A-Za-z0-9+/=_\-.~]{20,512})\s*$")
_HEX_OR_UUID = re.compile(r"^(?:[0-9a-fA-F\-]+)$")
_ASCII_DIGIT = re.compile(r"[0-9]")
# A path or URI as one value (`_is_path_like`): no blanks, a `/` or `\` in it (`s3://`, `gs://`,
# `az://`, `file://`, `/mnt/...`, `C:\...`). Artifact stores put ids and hashes in every path: a fresh UUID per
# step run, eight hex digits per artifact, digests. Those never decide a verdict, whatever the
# root; the rest of the path is judged like any token.
_BLANK = re.compile(r"\s")
# PATH_MAX on Linux: a longer value is no path (and its size is the blob detectors' to judge).
_MAX_PATH_LENGTH = 4096
# A token with `/` in it is standard base64 of 30 bytes or more (an AWS secret access key: 40
# characters): shorter runs of parts, or runs with `-`, `_` or `.` in them, are path words.
_MIN_SPLIT_TOKEN = 40
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]+=*")
# Separators between path parts: the path's own, the URI's scheme, query and fragment marks.
_PATH_PART = re.compile(r"[^/\\?&#=:;,@\s]+")
# A part that is an id: a UUID, a run of one-case hex of 6 or more (digests, ZenML's eight-hex
# artifact folder), a number; with a file extension or not.
_ID_PART = re.compile(
    r"(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|[0-9a-f]{6,}|[0-9A-F]{6,}|[0-9]+)(?:\.[A-Za-z0-9]{1,8})?"
)


# A path part made of words: lower-case, Capitalised or CamelCase, a version or counter after it.
# The parts a random key is cut into by its `/` characters rarely are (`wJalrXUtnFEMI/K7MDENG/...`).
_WORD_PART = re.compile(r"[A-Za-z][a-z]+(?:[A-Z][a-z]+)*[0-9]{0,4}")


def _mostly_words(run: str) -> bool:
    """Whether at least half the parts of a run joined by `/` are words: a path of folder
    names (`acme/TeamAlpha/ChurnModel2024`), however random the letters of each look."""
    parts = run.replace("\\", "/").split("/")
    return 2 * sum(1 for part in parts if _WORD_PART.fullmatch(part)) >= len(parts)


def _is_path_like(text: str) -> bool:
    value = text.strip()
    return ("/" in value or "\\" in value) and _BLANK.search(value) is None


def _path_parts(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, parts) of the spans of a path to judge for randomness: each part that is not
    an id, and each run of consecutive such parts with the separators between them (a key with `/` in it, as AWS
    secret keys have, spans parts). Ids break runs, so a path of words and ids has no random
    run, whatever its root. Linear: each part is in one run."""
    run_start = run_end = -1
    run_parts = 0
    for part in _PATH_PART.finditer(text):
        is_id = _ID_PART.fullmatch(part.group()) is not None
        joins = run_start >= 0 and not is_id and text[run_end:part.start()] in ("/", "\\")
        if not joins:
            if run_parts > 1:
                yield run_start, run_end, run_parts
            run_start, run_parts = -1, 0
        if is_id:
            continue
        yield part.start(), part.end(), 1
        if run_start < 0:
            run_start = part.start()
        run_end = part.end()
        run_parts += 1
    if run_parts > 1:
        yield run_start, run_end, run_parts
# Rule anchors such as `(?:\s|=|:|"|^)TOKEN(?:\s|"|$)` that are not part of the secret; a
# trailing '=' is base64 padding and stays.
_LEADING_DELIMITERS = " \t\r\n\"'=:`"
_TRAILING_DELIMITERS = " \t\r\n\"'`"


def _secret_span(match: re.Match[str], group: int | None = None) -> tuple[int, int]:
    """The secret inside a match: `group` when the rule names one; else its longest capturing
    group when that closes the match (detect-secrets captures the value in assignment rules),
    else the whole match less delimiter characters."""
    if group is not None:
        start, end = match.span(group)
        return _strip_delimiters(match.string, start, end)
    best = None
    for index in range(1, (match.re.groups or 0) + 1):
        if match.group(index) and (best is None or len(match.group(index)) > len(match.group(best))):
            best = index
    # A group that ends the match (but for a closing quote or '@') is the captured value; one
    # that starts it is a token prefix such as GitLab's `glpat`.
    if best is not None and match.end() - match.end(best) <= 2:
        start, end = match.span(best)
    else:
        start, end = match.span()
        prefix = _KEY_PREFIX.match(match.string, start, end)  # AccountKey=<key>
        if prefix:
            start = prefix.end()
    return _strip_delimiters(match.string, start, end)


def _strip_delimiters(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _LEADING_DELIMITERS:
        start += 1
    while end > start and text[end - 1] in _TRAILING_DELIMITERS:
        end -= 1
    return start, end


# detect-secrets' `is_indirect_reference` (`secret = get_secret()`, `key = headers["k"]`)
# without its leading `([^\v=!:]*)\s*`: that prefix may match empty, so dropping it changes
# no answer, and without it the search no longer retries every start position of a long
# line (quadratic). `tests/unit/test_detectors_secrets.py` checks the two agree.
_INDIRECT_REFERENCE = re.compile(r"(?::=?|[!=]{1,3})\s*[\w.-]+[\[\(][^\v]*[\]\)]")


def _is_indirect_reference(line: str) -> bool:
    return len(line) <= 1000 and _INDIRECT_REFERENCE.search(line) is not None


def _is_reference(value: str, in_code: bool = False) -> bool:
    """`{{secret.key}}`, `${VAR}`, `$VAR`, `<placeholder>`: names a secret, holds none. In
    program text (`in_code`), a value with any template part in it."""
    if _REFERENCE.fullmatch(value.strip()):
        return True
    return in_code and (bool(_TEMPLATE.search(value)) or heuristic.is_templated_secret(value))


def _looks_like_value(value: str, in_code: bool = False) -> bool:
    value = value.strip()
    return (
        len(value) >= 4
        and not _is_reference(value, in_code)
        and not _PLACEHOLDER.match(value)
        and not heuristic.is_potential_uuid(value)
        and not heuristic.is_sequential_string(value)
        and not _is_indirect_reference(f"x = {value}")
    )


def _identifier_at(line: str, position: int) -> str:
    """The whole identifier around `position` (detect-secrets matches from the keyword on,
    so `read_secret_value` is seen as `secret_value`)."""
    start = position
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    end = position
    while end < len(line) and (line[end].isalnum() or line[end] == "_"):
        end += 1
    return line[start:end]


def _looks_like_literal_secret(value: str, identifier: str, in_code: bool = False) -> bool:
    """Stricter than `_looks_like_value`, for `name = "literal"` inside code and text, where
    most keyword hits are enum constants, env var names and plain words."""
    if not _looks_like_value(value, in_code) or _CLASS_NAME.match(value) or _ENV_VAR_NAME.match(value):
        return False
    if _KEY_NOT_A_VALUE.search(identifier) or value.replace("-", "_").lower() == identifier.lower():
        return False  # secret_name = "...", SECRET_EXISTS = "secret_exists"
    has_digit = any(c.isdigit() for c in value)
    mixed_case = any(c.isupper() for c in value) and any(c.islower() for c in value)
    has_symbol = any(not c.isalnum() and c not in "-_./:" for c in value)
    return has_digit or mixed_case or has_symbol


_CLASS_RUN = re.compile(r"[a-z]+|[A-Z]+|[0-9]+|[^a-zA-Z0-9]+")


def _class_change_ratio(value: str) -> float:
    """How often neighbouring ASCII characters differ in class (lower, upper, digit, other):
    about 0.6 for random tokens, under 0.3 for words, paths and identifiers."""
    changes = len(_CLASS_RUN.findall(value)) - 1
    return max(changes, 0) / max(len(value) - 1, 1)


_RANDOM_VALUE = re.compile(r"[!-~]{8,512}")


def _random_looking(value: str) -> bool:
    """A value that reads as a generated secret, not a word, a name or an id: one run of 8 or
    more printable characters, letters with digits (or both cases with symbols), 3 bits per
    character or more, changing character class often (`prod-openai` does not), and no UUID
    or digest (those are ZenML's ids)."""
    if not _RANDOM_VALUE.fullmatch(value) or _HEX_OR_UUID.match(value) or _is_reference(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    mixed_case = any(c.isupper() for c in value) and any(c.islower() for c in value)
    has_symbol = any(not c.isalnum() for c in value)
    generated = (has_digit and any(c.isalpha() for c in value)) or (mixed_case and has_symbol)
    return generated and _shannon_entropy(value) >= 3.0 and _class_change_ratio(value) >= 0.3


_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")


def _base64_of_text(value: str) -> bool:
    """Whether `value` is base64 (standard or URL-safe) of printable UTF-8 text, such as a
    small JSON config. A generated key decodes to bytes that are no text; a secret inside an
    encoded text is found in the decoded view the pipeline adds (scanner/evasion.py)."""
    if not _BASE64_TOKEN.fullmatch(value):
        return False
    padded = value + "=" * (-len(value) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return len(decoded) >= 8 and all(c.isprintable() or c in "\n\r\t" for c in decoded)


def _shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _members_with(texts: JoinedTexts, lowered: str, keyword: str) -> Iterator[int]:
    """Indexes of the joined texts whose lowered form contains `keyword`, each once."""
    starts = texts.starts
    position, end = 0, len(lowered)
    while position < end:
        at = lowered.find(keyword, position)
        if at < 0:
            return
        index = bisect_right(starts, at) - 1
        yield index
        position = starts[index + 1]


def _keyword_windows(rule: SecretRule, text: str) -> list[tuple[int, int]] | None:
    """Where in a long leaf the rule can match: around each occurrence of its keywords, as far
    as its longest match reaches, merged. None: search the whole leaf (a short leaf, a rule
    without literal keywords). Lowering A-Z only keeps every offset."""
    if len(text) <= WHOLE_LEAF or not rule.keyword_texts:
        return None
    lowered = text.translate(_ASCII_LOWER)
    reach = rule.max_length
    size = len(text)
    spans: list[tuple[int, int]] = []
    for keyword in rule.keyword_texts:
        width = len(keyword) + reach + 1
        at = lowered.find(keyword)
        while at >= 0:
            start, end = max(0, at - reach), min(size, at + width)
            # The last occurrence that starts inside the window widens it: one rfind per
            # step, so a text full of keywords costs a step per `reach` characters.
            while end < size:
                last = lowered.rfind(keyword, at + 1, end + len(keyword) - 1)
                if last < 0:
                    break
                at, end = last, min(size, last + width)
            spans.append((start, end))
            at = lowered.find(keyword, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _matches(rule: SecretRule, text: str) -> Iterator[re.Match[str]]:
    """The rule's matches in `text`: the whole leaf when it is short, else the keyword windows.
    A match that runs into a window's cut end is longer than the rule's longest candidate
    (`max_length`): no token of the rule's format, so it is dropped."""
    windows = _keyword_windows(rule, text)
    if windows is None:
        yield from rule.pattern.finditer(text)
        return
    for start, end in windows:
        for match in rule.pattern.finditer(text, start, end):
            if match.end() >= end and end < len(text):
                continue
            yield match


_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-]{0,64}")   # bounded: a text of one endless token stays linear


def _gitleaks_secret_span(match: re.Match[str], group: int | None) -> tuple[int, int]:
    """gitleaks' secret: group `secretGroup` when set, else the first non-empty group, else the
    whole match less line breaks round it."""
    if group is not None and group <= (match.re.groups or 0):
        return match.span(group)
    for index in range(1, (match.re.groups or 0) + 1):
        if match.group(index):
            return match.span(index)
    start, end = match.span()
    text = match.string
    while start < end and text[start] == "\n":
        start += 1
    while end > start and text[end - 1] == "\n":
        end -= 1
    return start, end


def _preceded(word: re.Pattern[str], text: str, position: int) -> bool:
    """Whether `word` occurs before `position` on its line or up to five lines above (the
    curl rules' `curl ...` opening, checked backwards: see secret_rules.CURL_BEFORE)."""
    floor = max(0, position - MAX_CANDIDATE)
    start = position
    for _ in range(CURL_LINES):         # the option's line and the five above it
        start = text.rfind("\n", floor, start)
        if start < 0:
            start = floor
            break
    return word.search(text, start, position) is not None


def _allowed(rule: SecretRule, match: re.Match[str], secret: str) -> bool:
    """Whether gitleaks' global allowlist or one of the rule's own excuses the finding. The
    match includes the identifier before the keyword (`public_key = ...`), which the rule's
    pattern leaves out (see secret_rules.py)."""
    if _GLOBAL_ALLOWLIST is not None and _GLOBAL_ALLOWLIST.allows(secret, "", ""):
        return True
    if not rule.allowlists:
        return False
    text = match.string
    start = match.start()
    if rule.identifier_prefix:
        floor = max(0, start - rule.identifier_prefix)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
            start -= 1
    line_start = text.rfind("\n", 0, match.start()) + 1
    line_end = text.find("\n", match.end())
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    whole = text[start : match.end()]
    return any(allowlist.allows(secret, whole, line) for allowlist in rule.allowlists)


@dataclass(frozen=True, slots=True)
class SecretSettings:
    """The `detectors.secrets` config section (`enabled` aside)."""

    entropy_limit: float = 4.5          # detect-secrets' limit for base64-ish tokens, bits/char
    min_entropy_length: int = 20        # shorter tokens are never judged random
    keyword_score: float = 0.7          # `password = "..."`, {"db_password": "..."}
    high_entropy_score: float = 0.5     # a random-looking token


class SecretDetector(Detector):
    name = "secrets"
    category = "secret"
    settings_type = SecretSettings
    # Hits depend only on a leaf's text, class, key flag and nearest key: cacheable.
    leaf_local = True
    # A `{{ name.key }}` reference names a secret and holds none, but a vendor token written as
    # its name or key is still that token: references are scanned by the rules (whose hits
    # skip a value that is itself a reference), never by the keyword and entropy checks.
    skip_classes = PROVEN_CLASSES

    def __init__(self, settings: SecretSettings | None = None, /, **overrides: Any) -> None:
        """`SecretDetector(SecretSettings(...))`, or its fields as keywords (a config section)."""
        settings = dataclasses.replace(settings or SecretSettings(), **overrides)
        self.settings = settings
        self.rules = RULES
        self.keyword_score = settings.keyword_score
        self.high_entropy_score = settings.high_entropy_score
        self.min_entropy_length = settings.min_entropy_length
        entropy_limit = settings.entropy_limit
        # detect-secrets' own measure and limit for quoted base64-ish strings.
        self._entropy = Base64HighEntropyString(limit=entropy_limit)
        # Trigger → the rules it gates, so each trigger is looked for once per request.
        # Trigger → the rules it gates, so each trigger is looked for once per request; gitleaks'
        # keywords (ASCII, lowercase) apart, looked for in the request's text lowered once.
        self._rules_by_trigger: dict[Trigger, list[int]] = {}
        self._rules_by_keyword: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            if rule.keyword_texts:
                for keyword in rule.keyword_texts:
                    self._rules_by_keyword.setdefault(keyword, []).append(index)
                continue
            for trigger in rule.keywords:
                self._rules_by_trigger.setdefault(trigger, []).append(index)
        self._secret_keys: dict[str, bool] = {}

    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        wanted = [i for i, leaf in enumerate(leaves) if self.wants(leaf)]
        if not wanted:
            return []
        hits: dict[tuple[int, int, int], Hit] = {}

        def add(hit: Hit) -> None:
            key = (hit.leaf, hit.start, hit.end)
            if key not in hits or hits[key].score < hit.score:
                hits[key] = hit

        texts = JoinedTexts([leaves[i].text for i in wanted])
        rules_for: dict[int, set[int]] = {}
        for trigger in texts.firing(self._rules_by_trigger):
            rule_indexes = self._rules_by_trigger[trigger]
            for member in texts.members(trigger):
                rules_for.setdefault(member, set()).update(rule_indexes)
        # gitleaks lowercases the text and looks for each rule's keywords in it. Lowering only
        # A-Z keeps every offset, whatever else the text holds (the keywords are ASCII).
        lowered = texts.text.translate(_ASCII_LOWER)
        for keyword, rule_indexes in self._rules_by_keyword.items():
            if keyword in lowered:
                for member in _members_with(texts, lowered, keyword):
                    rules_for.setdefault(member, set()).update(rule_indexes)
        for member in sorted(rules_for):
            index = wanted[member]
            for rule_index in sorted(rules_for[member]):
                for hit in self._rule_hits(index, leaves[index], self.rules[rule_index]):
                    add(hit)

        keyword_keys = set(JoinedTexts([leaves[i].path for i in wanted]).members_any(_KEY_TRIGGERS))
        keyword_texts = texts.members_any(_KEYWORD_TRIGGERS)
        for member, index in enumerate(wanted):
            leaf = leaves[index]
            if leaf.field_class == "secret_ref":
                # It names a secret: only a name or key that is itself a random token (a
                # secret written as a reference) is a finding; the rules above ran on it too.
                for hit in self._random_reference_parts(index, leaf.text):
                    add(hit)
                continue
            if member in keyword_keys:
                for hit in self._keyword_in_key(index, leaf):
                    add(hit)
            if member in keyword_texts:
                for hit in self._keyword_in_text(index, leaf):
                    add(hit)
            if len(leaf.text) >= _MIN_TOKEN_LENGTH:
                for hit in self._high_entropy(index, leaf):
                    add(hit)
        return self._drop_contained(list(hits.values()))

    @staticmethod
    def _rule_hits(index: int, leaf: Leaf, rule: SecretRule) -> Iterator[Hit]:
        text = leaf.text
        in_code = leaf.field_class == "code"
        for match in _matches(rule, text):
            if rule.first_group:
                start, end = _gitleaks_secret_span(match, rule.secret_group)
                # A rule with no end anchor (`glpat-[\w-]{20}`) stops inside a longer token:
                # the finding is the whole token, so redaction leaves none of it behind.
                end = _TOKEN_TAIL.match(text, end).end()
            else:
                start, end = _secret_span(match, rule.secret_group)
            value = text[start:end]
            if end <= start or _is_reference(value, in_code) or (rule.validate and not rule.validate(value)):
                continue
            if rule.entropy is not None and _shannon_entropy(value) <= rule.entropy:
                continue  # gitleaks keeps a secret only above the rule's entropy
            if rule.first_group and _allowed(rule, match, value):
                continue
            if rule.preceded_by is not None and not _preceded(rule.preceded_by, text, match.start()):
                continue
            yield Hit(index, rule.id, start, end, rule.score)

    def _is_secret_key(self, key: str) -> bool:
        """The key names a secret value (`db_password`, `apiKey`, `x-api-key`), not a reference
        to one (`secret_name`) nor a collection of them (`api_keys`)."""
        known = self._secret_keys.get(key)
        if known is None:
            words = _key_words(key)
            known = (bool(words) and bool(_KEYWORD_IN_KEY.search(words)) and not _KEY_NOT_A_VALUE.search(words)
                     and not _SECRETS_PLURAL.search(words))
            if len(self._secret_keys) >= 4096:
                self._secret_keys.clear()
            self._secret_keys[key] = known
        return known

    def _holds_secrets(self, keys: tuple[str, ...]) -> bool:
        """Whether a value at the end of `keys` (nearest last) sits in a collection of secrets
        or under a secret's key: `api_keys[0]`, `passwords.prod`, `api_key.value`,
        `private_key.pem`. Its own key must not name something else (`api_key.name`)."""
        if not keys:
            return False
        own = _key_words(keys[-1])
        if _SECRETS_PLURAL.search(own):
            return True
        if _KEY_NOT_A_VALUE.search(own):
            return False
        return any(self._is_secret_key(parent) or bool(_SECRETS_PLURAL.search(_key_words(parent)))
                   for parent in keys[:-1])

    # --- keyword rules -----------------------------------------------------------------

    def _keyword_in_key(self, index: int, leaf: Leaf) -> Iterator[Hit]:
        """{"db_password": "hunter22"}: the JSON key says the value is a secret, in any naming
        style. Under a parent key or a plural that says so (`{"api_key": {"value": ...}}`,
        `{"passwords": [...]}`), a random-looking value is one. A docker config's `auth` is
        one when it is base64 of `user:password`. The value as sent and each decoded view of
        it (percent, HTML, escapes ... see `model.views`) are judged alike; one hit per leaf."""
        if leaf.is_key:
            return
        key = last_key(leaf.path)
        docker_auth = key.lower() == "auth"
        named = not docker_auth and self._is_secret_key(key)
        held = not docker_auth and not named and self._holds_secrets(context_keys(leaf.path))
        if not (docker_auth or named or held):
            return
        for offset, view in views(leaf.text):
            value = view.strip()
            if "\n" in value or not value:
                continue
            start = offset + len(view) - len(view.lstrip())
            end = start + len(value)
            if docker_auth:
                if _is_basic_credentials(value):
                    yield Hit(index, "BASIC_AUTH_CREDENTIALS", start, end, 0.9)
                    return
            elif named:
                if _looks_like_value(value, leaf.field_class == "code"):
                    score = self.keyword_score + (0.15 if _shannon_entropy(value) >= 3.0 else 0.0)
                    yield Hit(index, "SECRET_KEYWORD", start, end, min(score, 1.0))
                    return
            elif _random_looking(value):
                yield Hit(index, "SECRET_KEYWORD", start, end, self.keyword_score)
                return

    def _keyword_in_text(self, index: int, leaf: Leaf) -> Iterator[Hit]:
        """`password = "..."` in code, `PASSWORD=...` in a Dockerfile, `api_key: ...` in YAML."""
        text = leaf.text
        if not _KEYWORD_PREFILTER.search(text):
            return
        offset = 0
        for line in text.split("\n"):
            if (
                len(line) <= 1000
                and _ASSIGNMENT.search(line)
                and _KEYWORD_PREFILTER.search(line)
                and not _is_indirect_reference(line)
            ):
                # Program code needs quotes round a literal (`password = var` is no secret);
                # config text, env files and Dockerfile ENV lines do not.
                quoted = leaf.field_class == "code" and not _ENV_STYLE_LINE.match(line)
                regexes = (
                    ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
                    if quoted
                    else ds_keyword.CONFIG_DENYLIST_REGEX_TO_GROUP
                )
                for regex, group in regexes.items():
                    match = regex.search(line)
                    if match is None:
                        continue
                    start, end = match.span(group)
                    cut = _VALUE_END.search(line, start, end)  # key=value;next=... or trailing words
                    end = cut.start() if cut else end
                    while end > start and line[end - 1] in _CLOSING_PUNCTUATION:
                        end -= 1
                    value = line[start:end]
                    identifier = _identifier_at(line, match.start())
                    if not _looks_like_literal_secret(value, identifier, leaf.field_class == "code"):
                        continue
                    if heuristic.is_likely_id_string(value, line):
                        continue
                    yield Hit(index, "SECRET_KEYWORD", offset + start, offset + end, self.keyword_score)
                    break  # one finding per line, as detect-secrets reports
            offset += len(line) + 1

    def _high_entropy(self, index: int, leaf: Leaf) -> Iterator[Hit]:
        """A random-looking token: a quoted literal inside text or code (as detect-secrets
        scans lines), or a whole JSON value that is one token, over detect-secrets' limit. A
        path or URI is judged by its parts, ids left out (see `_path_parts`)."""
        text = leaf.text
        if leaf.field_class != "code" and not leaf.is_key:
            if len(text) <= _MAX_PATH_LENGTH and _is_path_like(text):
                yield from self._random_path_parts(index, text)
            else:
                token = _WHOLE_TOKEN.match(text)
                if token and self._is_random_token(token.group(1)):
                    yield Hit(index, "HIGH_ENTROPY_STRING", token.start(1), token.end(1), self.high_entropy_score)
                    return
        if '"' not in text and "'" not in text:
            return
        for match in _QUOTED.finditer(text):
            if self._is_random_token(match.group(2)):
                yield Hit(index, "HIGH_ENTROPY_STRING", match.start(2), match.end(2), self.high_entropy_score)

    def _random_reference_parts(self, index: int, text: str) -> Iterator[Hit]:
        for part in _REFERENCE_PART.finditer(text):
            if self._is_random_token(part.group()):
                yield Hit(index, "HIGH_ENTROPY_STRING", part.start(), part.end(), self.high_entropy_score)

    def _random_path_parts(self, index: int, text: str) -> Iterator[Hit]:
        if text == text.lower() or text == text.upper() or _ASCII_DIGIT.search(text) is None:
            return  # a random token has both cases and a digit: no part of this can be one
        last_found = -1   # start of the last random span: parts come before the run holding them
        for start, end, parts in _path_parts(text):
            if last_found >= start:
                continue  # a run with a random part in it: that part is the finding
            if parts > 1 and (
                end - start < _MIN_SPLIT_TOKEN
                or not _BASE64_TEXT.fullmatch(text, start, end)
                or _mostly_words(text[start:end])
            ):
                continue  # words joined by `/`: a path, not one token
            if self._is_random_token(text[start:end]):
                last_found = start
                yield Hit(index, "HIGH_ENTROPY_STRING", start, end, self.high_entropy_score)

    def _is_random_token(self, value: str, decoded: bool = False) -> bool:
        if len(value) < self.min_entropy_length or _HEX_OR_UUID.match(value):
            return False  # hashes and UUIDs are ZenML metadata
        # Token characters are ASCII, where these C-level tests equal isupper/islower/isdigit.
        if value == value.lower() or value == value.upper() or _ASCII_DIGIT.search(value) is None:
            return False
        if _class_change_ratio(value) < _MIN_CLASS_CHANGES:
            return False  # paths and identifiers (projects/123/networks/myVPC) change class rarely
        if self._entropy.calculate_shannon_entropy(value) <= self._entropy.entropy_limit:
            return False
        # Base64 of words or of a small document (a JSON config) is random only as encoded;
        # its decoded view is scanned as text (scanner/decoders.py `reads_as_text`).
        return decoded or not reads_as_text(base64_bytes(value), lambda token: self._is_random_token(token, True))

    @staticmethod
    def _drop_contained(hits: list[Hit]) -> list[Hit]:
        """Drop a hit that lies inside a longer one on the same leaf (the PEM marker inside the
        PEM block, the key inside its connection string): it adds nothing. One sweep over the
        hits sorted by leaf, start and longest first: an earlier hit on the leaf that ends at
        or after this one's end starts no later, so it covers it (a pairwise test was quadratic
        in the hits of a request: 20,000 flagged URIs took 48 s)."""
        ordered = sorted(hits, key=lambda h: (h.leaf, h.start, -h.end, h.entity))
        kept: list[Hit] = []
        leaf, reach = -1, -1        # furthest end of the earlier spans on this leaf
        index = 0
        while index < len(ordered):
            span = (ordered[index].leaf, ordered[index].start, ordered[index].end)
            group_end = index
            while group_end < len(ordered) and (ordered[group_end].leaf, ordered[group_end].start,
                                                ordered[group_end].end) == span:
                group_end += 1
            if span[0] != leaf:
                leaf, reach = span[0], -1
            if reach < span[2]:     # no earlier, longer span covers this one
                kept.extend(ordered[index:group_end])
            reach = max(reach, span[2])
            index = group_end
        return sorted(kept, key=lambda h: (h.leaf, h.start, h.end, h.entity))
